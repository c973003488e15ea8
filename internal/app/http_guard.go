package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/predictor"
)

// Reasons of the errors the server's own checks answer with.
const (
	reasonUnauthorized = "unauthorized"
	reasonCrossOrigin  = "cross_origin"
	reasonMediaType    = "unsupported_media_type"
	reasonOverloaded   = "overloaded"
)

// guard wraps mux in the server's checks, outermost first: the bound on requests in flight, the
// cross-origin check, CORS for the allowed origins, authentication and JSON bodies.
func guard(cfg config.HTTP, tokens []string, mux http.Handler) (http.Handler, error) {
	cop := http.NewCrossOriginProtection()
	trusted := map[string]bool{}
	for i, o := range cfg.AllowedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("http.allowed_origins[%d]: %w", i, err)
		}
		trusted[o] = true
	}
	h := cors(trusted, authenticate(tokens, requireJSON(mux)))
	return limitConcurrency(cfg.MaxConcurrent, sameOrigin(cop, trusted, h)), nil
}

// authTokens returns the bearer tokens of cfg: auth_token and every non-blank line of
// auth_token_file. A blank one is an error, so that a broken secret never turns authentication off.
func authTokens(cfg config.HTTP) ([]string, error) {
	var tokens []string
	if cfg.AuthToken != "" {
		t := strings.TrimSpace(cfg.AuthToken)
		if t == "" {
			return nil, errors.New("http.auth_token: is blank; leave it unset to turn authentication off")
		}
		tokens = append(tokens, t)
	}
	if cfg.AuthTokenFile == "" {
		return tokens, nil
	}
	b, err := os.ReadFile(cfg.AuthTokenFile)
	if err != nil {
		return nil, fmt.Errorf("http.auth_token_file: %w", err)
	}
	n := len(tokens)
	for line := range strings.Lines(string(b)) {
		if t := strings.TrimSpace(line); t != "" {
			tokens = append(tokens, t)
		}
	}
	if len(tokens) == n {
		return nil, fmt.Errorf("http.auth_token_file %s: holds no token; remove the setting to turn authentication off", cfg.AuthTokenFile)
	}
	return tokens, nil
}

// authenticate requires "Authorization: Bearer <token>" with one of tokens on /v1/ routes when
// there are tokens, and marks the request with it for the rate limit.
func authenticate(tokens []string, next http.Handler) http.Handler {
	if len(tokens) == 0 {
		return next
	}
	// Digests have one length, so the comparisons take the same time whatever was sent.
	sums := make([][sha256.Size]byte, len(tokens))
	for i, t := range tokens {
		sums[i] = sha256.Sum256([]byte(t))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !knownToken(sums, tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="streamlearn"`)
			predictor.WriteError(w, http.StatusUnauthorized, predictor.Error{Error: "missing or wrong bearer token", Reason: reasonUnauthorized})
			return
		}
		next.ServeHTTP(w, r.WithContext(predictor.WithValidToken(r.Context(), tok)))
	})
}

// knownToken compares tok with every token, without stopping at a match.
func knownToken(sums [][sha256.Size]byte, tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	found := 0
	for _, s := range sums {
		found |= subtle.ConstantTimeCompare(sum[:], s[:])
	}
	return found == 1
}

func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// sameOrigin refuses unsafe requests sent by other origins' pages: http.CrossOriginProtection
// decides on Sec-Fetch-Site and Origin, and the Referer decides for browsers that send neither.
// Requests without any of them (curl, SDKs) pass.
func sameOrigin(cop *http.CrossOriginProtection, trusted map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cop.Check(r) != nil || !refererAllowed(r, trusted) {
			predictor.WriteError(w, http.StatusForbidden, predictor.Error{
				Error:  "cross-origin request refused: the page's origin is neither this server's nor in http.allowed_origins",
				Reason: reasonCrossOrigin,
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cors lets pages of the trusted origins call the API: it answers their preflight requests and
// lets them read the answers. Other origins get no CORS headers, so browsers keep their pages
// from reading anything.
func cors(trusted map[string]bool, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if !trusted[origin] {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refererAllowed says whether an unsafe request without Origin and Sec-Fetch-Site comes from a
// page of this server or of a trusted origin, as far as its Referer tells.
func refererAllowed(r *http.Request, trusted map[string]bool) bool {
	ref := r.Header.Get("Referer")
	if safeMethod(r.Method) || ref == "" || r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" {
		return true
	}
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	return u.Host == r.Host || trusted[u.Scheme+"://"+u.Host]
}

// requireJSON answers 415 to unsafe /v1/ requests whose body is not declared JSON, so that a
// page elsewhere cannot reach them with a form or text/plain POST (a "simple" request that
// browsers send without asking first). A request without a body needs no Content-Type.
func requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) && strings.HasPrefix(r.URL.Path, "/v1/") && !jsonBody(r) {
			predictor.WriteError(w, http.StatusUnsupportedMediaType, predictor.Error{
				Error: "the body must be JSON, sent with Content-Type: application/json", Reason: reasonMediaType,
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func jsonBody(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return r.ContentLength == 0
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// limitConcurrency serves at most n requests at once (n < 1: no bound); more are answered 503
// at once rather than queued. Probes are not counted: they are cheap, and a full server is
// busy, not dead.
func limitConcurrency(n int, next http.Handler) http.Handler {
	if n < 1 {
		return next
	}
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			predictor.WriteError(w, http.StatusServiceUnavailable, predictor.Error{
				Error: fmt.Sprintf("server busy: %d requests in flight (http.max_concurrent)", n), Reason: reasonOverloaded,
			})
		}
	})
}
