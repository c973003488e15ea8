package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/predictor"
)

// response is what a test keeps of an answer.
type response struct {
	code   int
	header http.Header
	body   []byte
	err    predictor.Error
}

// send makes one request with the given headers ("Content-Type" included) and body.
func send(t *testing.T, method, url string, header map[string]string, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{code: resp.StatusCode, header: resp.Header, body: b}
	// Go's server answers oversized headers itself, in text, and its mux unknown methods; /readyz
	// has a body of its own.
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge && method != "OPTIONS" && !strings.HasSuffix(url, "/readyz") {
		if err := json.Unmarshal(b, &r.err); err != nil || r.err.Code != resp.StatusCode || r.err.Error == "" {
			t.Errorf("%s %s = %d with body %q, want a JSON error with a message and the code", method, url, resp.StatusCode, b)
		}
	}
	return r
}

// TestHTTPAuthTokenFileBlank: a token file without a token is a start-up error naming the file,
// never a server without authentication.
func TestHTTPAuthTokenFileBlank(t *testing.T) {
	tests := []struct{ name, content string }{
		{"empty", ""},
		{"newline", "\n"},
		{"blank lines", "  \n\t\n"},
	}
	for _, tt := range tests {
		content := tt.content
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.HTTP.AuthTokenFile = filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(cfg.HTTP.AuthTokenFile, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			m := app.New(cfg, app.RoleHTTP)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), cfg.HTTP.AuthTokenFile) {
					t.Errorf("Run = %v, want an error naming %s", err, cfg.HTTP.AuthTokenFile)
				}
			case <-m.Ready:
				cancel()
				<-done
				t.Errorf("started with the token file holding %q", content)
			case <-time.After(60 * time.Second):
				t.Fatal("Run neither failed nor started in 60s")
			}
		})
	}
}

// TestHTTPAuthTokens: a token file holds one token a line; each of them is accepted.
func TestHTTPAuthTokens(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.AuthTokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(cfg.HTTP.AuthTokenFile, []byte("\n  one \n\ntwo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRoles(t, cfg, app.RoleHTTP)
	base := "http://" + r.HTTPAddr
	tests := []struct {
		token string
		want  int
	}{
		{"one", 200},
		{"two", 200},
		{"", 401},
		{"three", 401},
		{"one two", 401},
	}
	for _, tt := range tests {
		h := map[string]string{}
		if tt.token != "" {
			h["Authorization"] = "Bearer " + tt.token
		}
		if got := send(t, "GET", base+"/v1/models", h, ""); got.code != tt.want {
			t.Errorf("token %q: GET /v1/models = %d %s, want %d", tt.token, got.code, got.body, tt.want)
		}
	}
}

// TestHTTPCrossOrigin: mutations from other origins' pages are refused, and JSON routes take only
// JSON, so that a page elsewhere cannot roll back a model through the operator's browser.
func TestHTTPCrossOrigin(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.AllowedOrigins = []string{"https://console.example"}
	r := startRoles(t, cfg, app.RoleHTTP)
	base := "http://" + r.HTTPAddr
	rollback := "/v1/models/" + cfg.Model.Name + "/rollback"
	const js, text = "application/json", "text/plain"
	tests := []struct {
		name, method, path string
		header             map[string]string
		body               string
		want               int
	}{
		{"evil origin, text", "POST", rollback, map[string]string{"Origin": "http://evil.example", "Content-Type": text}, "{}", 403},
		{"evil origin, json", "POST", rollback, map[string]string{"Origin": "http://evil.example", "Content-Type": js}, "{}", 403},
		{"evil origin, no body", "POST", rollback, map[string]string{"Origin": "http://evil.example"}, "", 403},
		{"cross-site fetch", "POST", rollback, map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": js}, "{}", 403},
		{"evil referer", "POST", rollback, map[string]string{"Referer": "http://evil.example/page", "Content-Type": js}, "{}", 403},
		{"evil origin score", "POST", "/v1/score", map[string]string{"Origin": "http://evil.example", "Content-Type": js}, `{"id": "x"}`, 403},
		{"own origin", "POST", rollback, map[string]string{"Origin": base, "Content-Type": js}, "{}", 409},
		{"own referer", "POST", rollback, map[string]string{"Referer": base + "/ui/", "Content-Type": js}, "{}", 409},
		{"same-origin fetch", "POST", rollback, map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": js}, "{}", 409},
		{"allowed origin", "POST", rollback, map[string]string{"Origin": "https://console.example", "Content-Type": js}, "{}", 409},
		{"no origin (curl)", "POST", rollback, map[string]string{"Content-Type": js}, "{}", 409},
		{"json with charset", "POST", rollback, map[string]string{"Content-Type": js + "; charset=utf-8"}, "{}", 409},
		{"no body, no type", "POST", rollback, nil, "", 409},
		{"text body", "POST", rollback, map[string]string{"Content-Type": text}, "{}", 415},
		{"form body", "POST", "/v1/score", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, `{"id": "x"}`, 415},
		{"body without type", "POST", "/v1/score", nil, `{"id": "x"}`, 415},
		{"text, no body", "POST", rollback, map[string]string{"Content-Type": text}, "", 415},
		{"evil origin read", "GET", "/v1/models", map[string]string{"Origin": "http://evil.example"}, "", 200},
		{"score", "POST", "/v1/score", map[string]string{"Content-Type": js}, `{"id": "x"}`, 200},
	}
	for _, tt := range tests {
		if got := send(t, tt.method, base+tt.path, tt.header, tt.body); got.code != tt.want {
			t.Errorf("%s: %s %s = %d %s, want %d", tt.name, tt.method, tt.path, got.code, got.body, tt.want)
		}
	}

	// Pages of an allowed origin may call the API from the browser (CORS); others may not read.
	preflight := func(origin string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
	}
	corsTests := []struct {
		name, method, path string
		header             map[string]string
		body               string
		wantCode           int
		wantOrigin         string
	}{
		{"allowed preflight", "OPTIONS", rollback, preflight("https://console.example"), "", 204, "https://console.example"},
		{"allowed post", "POST", rollback, map[string]string{"Origin": "https://console.example", "Content-Type": js}, "{}", 409, "https://console.example"},
		{"allowed read", "GET", "/v1/models", map[string]string{"Origin": "https://console.example"}, "", 200, "https://console.example"},
		{"evil preflight", "OPTIONS", rollback, preflight("http://evil.example"), "", 405, ""},
		{"evil read", "GET", "/v1/models", map[string]string{"Origin": "http://evil.example"}, "", 200, ""},
	}
	for _, tt := range corsTests {
		got := send(t, tt.method, base+tt.path, tt.header, tt.body)
		if acao := got.header.Get("Access-Control-Allow-Origin"); got.code != tt.wantCode || acao != tt.wantOrigin {
			t.Errorf("%s: %s %s = %d, Access-Control-Allow-Origin %q; want %d, %q", tt.name, tt.method, tt.path, got.code, acao, tt.wantCode, tt.wantOrigin)
		}
	}
}

// slowRequest is a POST /v1/score whose body is still being sent.
type slowRequest struct {
	w    *io.PipeWriter
	done chan response
}

func startSlowScore(t *testing.T, url string) *slowRequest {
	t.Helper()
	pr, pw := io.Pipe()
	s := &slowRequest{w: pw, done: make(chan response, 1)}
	req, err := http.NewRequest("POST", url+"/v1/score", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			s.done <- response{code: -1}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		s.done <- response{code: resp.StatusCode, body: b}
	}()
	if _, err := pw.Write([]byte(`{"id": `)); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *slowRequest) finish() response {
	_, _ = s.w.Write([]byte(`"slow"}`))
	_ = s.w.Close()
	return <-s.done
}

// TestHTTPServerLimits: requests beyond http.max_concurrent are refused at once, a response later
// than http.write_timeout is cut off, and headers are bounded by http.max_header_bytes.
func TestHTTPServerLimits(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.MaxConcurrent = 2
	cfg.HTTP.WriteTimeout = time.Second
	r := startRoles(t, cfg, app.RoleHTTP)
	base := "http://" + r.HTTPAddr

	t.Run("max_concurrent", func(t *testing.T) {
		a, b := startSlowScore(t, base), startSlowScore(t, base)
		defer a.finish()
		defer b.finish()
		var got response
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if got = send(t, "GET", base+"/v1/models", nil, ""); got.code == 503 {
				break
			}
		}
		if got.code != 503 || got.header.Get("Retry-After") == "" {
			t.Fatalf("a third request while two are in flight = %d (Retry-After %q) %s, want 503 with Retry-After", got.code, got.header.Get("Retry-After"), got.body)
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			if got := send(t, "GET", base+path, nil, ""); got.code != 200 {
				t.Errorf("GET %s while the server is full = %d %s, want 200", path, got.code, got.body)
			}
		}
	})
	// The slots are free again once the slow requests are gone.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := send(t, "GET", base+"/v1/models", nil, "")
		if got.code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/models after the slow requests = %d %s, want 200", got.code, got.body)
		}
	}

	t.Run("write_timeout", func(t *testing.T) {
		s := startSlowScore(t, base)
		time.Sleep(1500 * time.Millisecond)
		if got := s.finish(); got.code == 200 {
			t.Errorf("a request answered %s after its headers = 200 %s, want the connection cut", 1500*time.Millisecond, got.body)
		}
	})

	t.Run("max_header_bytes", func(t *testing.T) {
		big := map[string]string{"X-Big": strings.Repeat("a", 100<<10)}
		if got := send(t, "GET", base+"/healthz", big, ""); got.code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("GET /healthz with 100 KiB of headers = %d, want 431", got.code)
		}
	})
}

// TestHTTPRateLimitInventedTokens: with rate_limit.by token, a token the server does not know
// does not buy a fresh bucket; such requests share their address's bucket.
func TestHTTPRateLimitInventedTokens(t *testing.T) {
	cfg := testConfig(t)
	cfg.Predictor.RateLimit = predictor.RateLimit{PerSecond: 0.1, Burst: 2, By: predictor.ClientByToken}
	r := startRoles(t, cfg, app.RoleHTTP)
	base := "http://" + r.HTTPAddr
	for i, tok := range []string{"a", "b", "c", "d"} {
		h := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
		got := send(t, "POST", base+"/v1/score", h, `{"id": "x"}`)
		want := 200
		if i >= 2 {
			want = 429
		}
		if got.code != want {
			t.Errorf("request %d with invented token %q = %d %s, want %d", i, tok, got.code, got.body, want)
		}
	}
}

// redisProxy forwards TCP connections to Redis, counts the PINGs it sees and can play dead.
type redisProxy struct {
	ln     net.Listener
	target string
	pings  atomic.Int64
	down   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newRedisProxy(t *testing.T, target string) *redisProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &redisProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.accept()
	return p
}

func (p *redisProxy) addr() string { return p.ln.Addr().String() }

func (p *redisProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c, true)
		go p.pipe(c, up, false)
	}
}

func (p *redisProxy) pipe(dst, src net.Conn, count bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if count {
				p.pings.Add(int64(bytes.Count(bytes.ToLower(buf[:n]), []byte("ping"))))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}

// cut closes every connection.
func (p *redisProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestHTTPReadyz: /readyz answers from a state refreshed in the background, so a flood of probes
// does not reach the dependencies, and names what is down without the dependencies' error text.
func TestHTTPReadyz(t *testing.T) {
	cfg := testConfig(t)
	proxy := newRedisProxy(t, cfg.Redis.Addr)
	cfg.Redis.Addr = proxy.addr()
	r := startRoles(t, cfg, app.RoleHTTP)
	base := "http://" + r.HTTPAddr

	before := proxy.pings.Load()
	for range 100 {
		if got := send(t, "GET", base+"/readyz", nil, ""); got.code != 200 {
			t.Fatalf("GET /readyz = %d %s, want 200", got.code, got.body)
		}
	}
	if n := proxy.pings.Load() - before; n > 3 {
		t.Errorf("100 requests to /readyz sent %d PINGs to Redis, want at most 3", n)
	}

	proxy.down.Store(true)
	proxy.cut()
	waitReadyz(t, base, 503, readiness{Status: "not ready", Problems: []string{"redis"}})
	proxy.down.Store(false)
	waitReadyz(t, base, 200, readiness{Status: "ready"})
}

type readiness struct {
	Status   string   `json:"status"`
	Problems []string `json:"problems"`
}

func waitReadyz(t *testing.T, base string, code int, want readiness) {
	t.Helper()
	var got response
	var body readiness
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got, body = send(t, "GET", base+"/readyz", nil, ""), readiness{}
		_ = json.Unmarshal(got.body, &body)
		if got.code == code && body.Status == want.Status && slices.Equal(body.Problems, want.Problems) {
			return
		}
	}
	t.Errorf("GET /readyz = %d %s, want %d %+v", got.code, got.body, code, want)
}
