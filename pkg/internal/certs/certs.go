// Package certs makes the certificates a TLS listener serves: from a PKCS#12 keystore
// (TorchServe's keystore), or self-signed at start when none is given (as TorchServe does).
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"slices"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// jksMagic starts a Java KeyStore (JKS) file, Java's type before PKCS12.
var jksMagic = []byte{0xfe, 0xed, 0xfe, 0xed}

// LoadKeystore reads a PKCS#12 keystore (Java's keytool and OpenSSL write them): its private
// key, the key's certificate and the certificates of its chain.
func LoadKeystore(path, password string) (tls.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("keystore: %w", err)
	}
	if bytes.HasPrefix(b, jksMagic) {
		return tls.Certificate{}, fmt.Errorf("keystore %s is a Java JKS keystore; ts reads PKCS12 keystores: convert it with keytool -importkeystore -srckeystore %s -destkeystore keystore.p12 -deststoretype PKCS12", path, path)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return tls.Certificate{}, fmt.Errorf("keystore %s: the password (keystore_pass) is not its password", path)
		}
		return tls.Certificate{}, fmt.Errorf("keystore %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("keystore %s: a %T key cannot sign", path, key)
	}
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(signer.Public()) {
		return tls.Certificate{}, fmt.Errorf("keystore %s: its private key is not its certificate's (%s)", path, leaf.Subject)
	}
	cert := tls.Certificate{PrivateKey: signer, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

// SelfSigned makes an ECDSA P-256 certificate for hosts (names and IP addresses) valid from now
// for validFor, signed by its own key. It may also sign client certificates and stand as its
// own authority.
func SelfSigned(hosts []string, validFor time.Duration) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "ts self-signed"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validFor),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, IsCA: true, BasicConstraintsValid: true}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" && !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Fingerprint is the SHA-256 of a certificate, in hex: what a client may pin.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
