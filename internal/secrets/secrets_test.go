package secrets_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/secrets"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadFile(t *testing.T) {
	tests := []struct {
		name, content, want, wantErr string
	}{
		{"trimmed", "  s3cret\n", "s3cret", ""},
		{"inner space kept", "a b\n", "a b", ""},
		{"empty", "", "", "is empty"},
		{"blank", " \n\t\n", "", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, "secret", tt.content)
			got, err := secrets.ReadFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("ReadFile = %q, %v; want an error naming %s that says %q", got, err, path, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ReadFile = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := secrets.ReadFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file = %v, want a not-exist error", err)
	}
}

// selfSigned returns the PEM of a self-signed certificate and of its key.
func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func TestClientTLS(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	cert, key := write(t, "cert.pem", certPEM), write(t, "key.pem", keyPEM)
	tests := []struct {
		name      string
		files     secrets.TLSFiles
		wantErr   string
		wantCA    bool
		wantCerts int
	}{
		{"system pool", secrets.TLSFiles{}, "", false, 0},
		{"ca", secrets.TLSFiles{CAFile: cert}, "", true, 0},
		{"client cert", secrets.TLSFiles{CertFile: cert, KeyFile: key}, "", false, 1},
		{"ca without pem", secrets.TLSFiles{CAFile: key}, "no PEM certificates", false, 0},
		{"missing ca", secrets.TLSFiles{CAFile: filepath.Join(t.TempDir(), "none")}, "read tls ca file", false, 0},
		{"cert without key", secrets.TLSFiles{CertFile: cert}, "set both or neither", false, 0},
		{"key for no cert", secrets.TLSFiles{CertFile: key, KeyFile: key}, key, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := secrets.ClientTLS(tt.files)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ClientTLS = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.RootCAs != nil; got != tt.wantCA {
				t.Errorf("RootCAs set = %v, want %v", got, tt.wantCA)
			}
			if got := len(tc.Certificates); got != tt.wantCerts {
				t.Errorf("certificates = %d, want %d", got, tt.wantCerts)
			}
			if tc.MinVersion < 0x0303 {
				t.Errorf("MinVersion = %x, want TLS 1.2 or later", tc.MinVersion)
			}
		})
	}
}
