package testenv

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"

	"github.com/tsserve/ts/pkg/internal/certs"
)

// SelfSigned writes dir/cert.pem, a self-signed certificate for 127.0.0.1 and localhost valid
// for a day (a server's, a client's, and the authority of both), and dir/key.pem, its PKCS#8
// key; it returns their paths.
func SelfSigned(dir string) (certFile, keyFile string, err error) {
	c, err := certs.SelfSigned([]string{"127.0.0.1", "localhost"}, 24*time.Hour)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Raw}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
