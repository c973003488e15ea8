package predictor_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/streamlearn/streamlearn/predictor"
)

// serveAuthenticated serves api behind a stand-in for the server's authentication, which marks
// the bearer tokens in valid as checked.
func serveAuthenticated(t *testing.T, api *predictor.API, valid ...string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		for _, v := range valid {
			if tok == v {
				r = r.WithContext(predictor.WithValidToken(r.Context(), tok))
			}
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRateLimitByValidToken: by token, a valid token has its own bucket; any other token is
// limited with the other requests of its address.
func TestRateLimitByValidToken(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		valid  []string
		tokens []string
		want   []int
	}{
		{"valid tokens", []string{"a", "b"}, []string{"a", "a", "b", "b"}, []int{200, 429, 200, 429}},
		{"invented tokens", nil, []string{"a", "b", "c"}, []int{200, 429, 429}},
		{"invented after valid", []string{"a"}, []string{"a", "x", "y"}, []int{200, 200, 429}},
		{"no token", []string{"a"}, []string{"", "", "a"}, []int{200, 429, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := e.api(t, router(t, predictor.Config{}))
			api.RateLimit = predictor.RateLimit{PerSecond: 0.01, Burst: 1, By: predictor.ClientByToken}
			srv := serveAuthenticated(t, api, tt.valid...)
			for i, tok := range tt.tokens {
				req, _ := http.NewRequest("POST", srv.URL+"/v1/score", strings.NewReader(`{"id": "x"}`))
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if got := decode(t, resp, nil); got != tt.want[i] {
					t.Errorf("request %d (token %q) = %d, want %d", i, tok, got, tt.want[i])
				}
			}
		})
	}
}
