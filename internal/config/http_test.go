package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/config"
)

func TestHTTPDefaults(t *testing.T) {
	cfg, err := config.Parse(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.HTTP
	if got.WriteTimeout != 30*time.Second || got.MaxHeaderBytes != 64<<10 || got.MaxConcurrent != 256 || len(got.AllowedOrigins) != 0 {
		t.Errorf("http defaults = %+v, want write_timeout 30s, max_header_bytes 65536, max_concurrent 256, no allowed origins", got)
	}
}

func TestHTTPValidate(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"http:\n  auth_token: \"  \"\n", "http.auth_token"},
		{"http:\n  allowed_origins: [\"https://ok.example\", \"ok.example\"]\n", "http.allowed_origins[1]"},
		{"http:\n  allowed_origins: [\"https://ok.example/path\"]\n", "http.allowed_origins[0]"},
		{"http:\n  write_timeout: 0s\n", "http.write_timeout"},
		{"http:\n  max_header_bytes: 100\n", "http.max_header_bytes"},
		{"http:\n  max_concurrent: 0\n", "http.max_concurrent"},
		{"http:\n  max_events: 0\n", "http.max_events"},
		{"http:\n  addr: \"\"\n", "http.addr"},
	}
	for _, tt := range tests {
		_, err := config.Parse([]byte(tt.yaml), env(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error naming %q", tt.yaml, err, tt.want)
		}
	}
	ok := "http:\n  allowed_origins: [\"https://console.example\", \"http://localhost:3000\"]\n  write_timeout: 5s\n  max_header_bytes: 8192\n  max_concurrent: 10\n"
	cfg, err := config.Parse([]byte(ok), env(nil))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", ok, err)
	}
	if got := cfg.HTTP; got.WriteTimeout != 5*time.Second || got.MaxHeaderBytes != 8192 || got.MaxConcurrent != 10 || len(got.AllowedOrigins) != 2 {
		t.Errorf("http = %+v", got)
	}
}
