// Package secrets reads what the config keeps outside itself: secret files (passwords, tokens) and
// the PEM files of a TLS client. Its errors name the file, never its content.
package secrets

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ReadFile returns the content of a secret file without leading and trailing white space (a final
// newline, say). An empty file is an error: it is a mistake more often than an empty secret.
func ReadFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}

// TLSFiles are the PEM files of a TLS client; each may be empty.
type TLSFiles struct {
	// CAFile holds the CAs to trust instead of the system pool.
	CAFile string
	// CertFile and KeyFile are the client certificate and its key, set together.
	CertFile, KeyFile  string
	InsecureSkipVerify bool
}

// ClientTLS returns a TLS 1.2+ client configuration from the files.
func ClientTLS(f TLSFiles) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.InsecureSkipVerify} //nolint:gosec // opt-in by the operator
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read tls ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca file %s: no PEM certificates", f.CAFile)
		}
		tc.RootCAs = pool
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, errors.New("tls cert file and key file: set both or neither")
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls cert %s, key %s: %w", f.CertFile, f.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
