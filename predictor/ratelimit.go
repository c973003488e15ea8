package predictor

import (
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/time/rate"
)

// limiter keeps a token bucket per client. Buckets idle long enough to have refilled are dropped,
// so memory follows the number of recently active clients.
type limiter struct {
	limit   rate.Limit
	burst   int
	byToken bool
	idle    time.Duration

	mu        sync.Mutex
	clients   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newLimiter returns the limiter of cfg, or nil when limiting is off.
func newLimiter(cfg RateLimit) *limiter {
	if cfg.PerSecond <= 0 {
		return nil
	}
	burst := cfg.Burst
	if burst <= 0 {
		burst = int(math.Ceil(cfg.PerSecond))
	}
	idle := time.Duration(float64(burst)/cfg.PerSecond*float64(time.Second)) + time.Second
	return &limiter{
		limit: rate.Limit(cfg.PerSecond), burst: burst, byToken: cfg.By == ClientByToken, idle: idle,
		clients: map[string]*bucket{}, lastSweep: time.Now(),
	}
}

type validTokenKey struct{}

// WithValidToken returns ctx marked with the bearer token its request was authenticated with. A
// rate limit by token keys only such requests by their token: any other request, whatever
// Authorization it carries, is limited by its address, so invented tokens buy no fresh buckets.
func WithValidToken(ctx context.Context, token string) context.Context {
	// Keyed by a hash: the limiter keeps no secrets in memory.
	return context.WithValue(ctx, validTokenKey{}, strconv.FormatUint(xxhash.Sum64String(token), 16))
}

// clientOf identifies the client of r.
func (l *limiter) clientOf(r *http.Request) string {
	if l.byToken {
		if id, ok := r.Context().Value(validTokenKey{}).(string); ok {
			return "token:" + id
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

// allow takes a token from the client's bucket, or says how long until one is there.
func (l *limiter) allow(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > l.idle {
		for k, b := range l.clients {
			if now.Sub(b.seen) > l.idle {
				delete(l.clients, k)
			}
		}
		l.lastSweep = now
	}
	b := l.clients[client]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[client] = b
	}
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// wrap answers 429 with Retry-After to clients over their rate.
func (l *limiter) wrap(next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, wait := l.allow(l.clientOf(r), time.Now())
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			WriteError(w, http.StatusTooManyRequests, Error{Error: "rate limit exceeded, retry after " + wait.Round(time.Millisecond).String(), Reason: ReasonRateLimited})
			return
		}
		next.ServeHTTP(w, r)
	})
}
