// Package console is the operator's web console: static pages under /ui/ (plain JavaScript and a
// vendored uPlot, embedded in the binary, nothing fetched from elsewhere at run time) and the JSON
// routes under /v1/console/ that feed them from the process's own Prometheus registry, the
// ClickHouse drift and performance tables and the dead-letter topic. The pages' other data and
// every change (promote, rollback) come from the existing /v1 API, so the console holds no state of
// its own beyond a short ring of metric samples.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

//go:embed assets
var assets embed.FS

// Defaults of Options.
const (
	DefaultSampleInterval = time.Second
	DefaultSamples        = 300
	DefaultQueryTimeout   = 10 * time.Second
)

// Options are what the console reads from.
type Options struct {
	// Gatherer is the process's metric registry (required): the overview samples it.
	Gatherer prometheus.Gatherer
	// ClickHouse, when set, is queried for the drift and performance tables of Database; without
	// it those routes answer 503.
	ClickHouse driver.Conn
	Database   string
	// Kafka, when set, reads the dead-letter topic DeadLetterTopic (it is not closed); KafkaOpts
	// are the options of the short-lived clients that fetch its last records.
	Kafka           *kgo.Client
	KafkaOpts       []kgo.Opt
	DeadLetterTopic string
	// Model is the model the pages show first.
	Model string
	// AuthRequired tells the pages that the /v1 routes want a bearer token, so that they ask for
	// it before their first call.
	AuthRequired bool
	// SampleInterval is how often Run samples the metrics (default DefaultSampleInterval); Samples
	// how many samples the overview keeps (default DefaultSamples).
	SampleInterval time.Duration
	Samples        int
	// QueryTimeout bounds each ClickHouse query and dead-letter read (default DefaultQueryTimeout).
	QueryTimeout time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

// Console serves the pages and their JSON routes.
type Console struct {
	opts   Options
	static http.Handler

	mu      sync.Mutex
	samples []sample // oldest first, at most opts.Samples
}

// New returns a console reading from opts.
func New(opts Options) *Console {
	if opts.SampleInterval <= 0 {
		opts.SampleInterval = DefaultSampleInterval
	}
	if opts.Samples <= 1 {
		opts.Samples = DefaultSamples
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets/
	}
	return &Console{opts: opts, static: http.StripPrefix("/ui/", http.FileServerFS(sub))}
}

// Mux is where Register adds the routes (an *http.ServeMux or a wrapper recording the patterns).
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// Register adds the console's routes to mux:
//
//	GET /ui/                                      the pages and their scripts
//	GET /ui/session.json                          what the pages need first: whether to ask for a token
//	GET /v1/console/overview                      rates and gauges sampled from the metrics
//	GET /v1/console/models/{model}/performance    windowed AUC and logloss per version (ClickHouse)
//	GET /v1/console/drift                         feature × window drift statistics, alerts, retrains
//	GET /v1/console/deadletters                   the latest dead letters per reason
func (c *Console) Register(mux Mux) {
	mux.Handle("GET /ui/", http.HandlerFunc(c.serveStatic))
	mux.Handle("GET /ui/session.json", http.HandlerFunc(c.session))
	mux.Handle("GET /v1/console/overview", http.HandlerFunc(c.overview))
	mux.Handle("GET /v1/console/models/{model}/performance", http.HandlerFunc(c.performance))
	mux.Handle("GET /v1/console/drift", http.HandlerFunc(c.drift))
	mux.Handle("GET /v1/console/deadletters", http.HandlerFunc(c.deadLetters))
}

// serveStatic serves the embedded pages. They load nothing from other origins, so the policy
// forbids it, and no other page may frame them.
func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	c.static.ServeHTTP(w, r)
}

// Session is the answer of GET /ui/session.json, the one console route outside /v1 with data: it
// tells nothing a caller without a token could misuse.
type Session struct {
	AuthRequired bool   `json:"auth_required"`
	Model        string `json:"model"`
}

func (c *Console) session(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Session{AuthRequired: c.opts.AuthRequired, Model: c.opts.Model})
}

// Run samples the metrics every SampleInterval until ctx ends.
func (c *Console) Run(ctx context.Context) error {
	t := time.NewTicker(c.opts.SampleInterval)
	defer t.Stop()
	c.sample()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.sample()
		}
	}
}

// num is a float64 that encodes as null when it is not finite (JSON has no NaN): an AUC of a
// window without both classes, a rate before the second sample.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// apiError is the body of an error answer, the same shape as the rest of the API's.
type apiError struct {
	Error  string `json:"error"`
	Code   int    `json:"code"`
	Reason string `json:"reason,omitempty"`
	Field  string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(apiError{Error: "encode: " + err.Error(), Code: code, Reason: "internal"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, reason, field, msg string) {
	writeJSON(w, code, apiError{Error: msg, Code: code, Reason: reason, Field: field})
}

// intParam reads a bounded integer query parameter; on failure it has answered the request.
func intParam(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		writeError(w, http.StatusBadRequest, "bad_request", name, name+"="+strconv.Quote(s)+" must be an integer in "+strconv.Itoa(lo)+".."+strconv.Itoa(hi))
		return 0, false
	}
	return n, true
}

// modelParam reads ?model= (default: Options.Model), at most 200 bytes.
func (c *Console) modelParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	m := r.URL.Query().Get("model")
	if m == "" {
		m = c.opts.Model
	}
	if m == "" || len(m) > 200 {
		writeError(w, http.StatusBadRequest, "bad_request", "model", "model must be 1 to 200 bytes")
		return "", false
	}
	return m, true
}

// withTimeout bounds a query by cancellation only: clickhouse-go turns a context deadline into a
// max_execution_time setting, which ClickHouse 18.16 mishandles.
func withTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	t := time.AfterFunc(d, cancel)
	return ctx, func() { t.Stop(); cancel() }
}
