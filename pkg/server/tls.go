package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"time"

	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/certs"
)

// selfSignedFor is how long a self-signed certificate made at start is valid.
const selfSignedFor = 365 * 24 * time.Hour

// TLSConfig makes the TLS configuration of https:// addresses (and gRPC over TLS), nil when
// none is: as TorchServe, it serves the keystore's key and chain, else certificate_file and
// private_key_file, else a self-signed certificate made now (logged with its fingerprint).
func TLSConfig(cfg *config.Settings, log *slog.Logger) (*tls.Config, error) {
	var tlsAddresses []string
	for _, a := range cfg.Listeners() {
		if config.IsTLS(a) {
			tlsAddresses = append(tlsAddresses, a)
		}
	}
	if len(tlsAddresses) == 0 {
		return nil, nil
	}
	var cert tls.Certificate
	var err error
	switch {
	case cfg.Keystore != "":
		cert, err = certs.LoadKeystore(cfg.Keystore, cfg.KeystorePass)
	case cfg.CertificateFile != "":
		cert, err = tls.LoadX509KeyPair(cfg.CertificateFile, cfg.PrivateKeyFile)
		if err != nil {
			err = fmt.Errorf("certificate_file %s, private_key_file %s: %w", cfg.CertificateFile, cfg.PrivateKeyFile, err)
		}
	default:
		hosts := selfSignedHosts(tlsAddresses)
		if cert, err = certs.SelfSigned(hosts, selfSignedFor); err == nil {
			log.Warn("no keystore nor certificate_file: serving a self-signed certificate made at start, which clients do not trust (curl -k, ts --insecure); give keystore, or certificate_file and private_key_file",
				"hosts", hosts, "sha256", certs.Fingerprint(cert.Leaf))
		}
	}
	if err != nil {
		return nil, err
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.ClientCAFile != "" { // mutual TLS: clients show a certificate these authorities signed
		b, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client_ca_file: %w", err)
		}
		c.ClientCAs = x509.NewCertPool()
		if !c.ClientCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("client_ca_file %s holds no PEM certificate", cfg.ClientCAFile)
		}
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// selfSignedHosts are the names a self-signed certificate is made for: the loopback ones, the
// machine's name and the hosts of the TLS addresses (unless they listen on every interface).
func selfSignedHosts(addresses []string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	for _, a := range addresses {
		h, _, err := net.SplitHostPort(config.HostPort(a))
		if ip := net.ParseIP(h); err != nil || h == "" || (ip != nil && ip.IsUnspecified()) {
			continue
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}
