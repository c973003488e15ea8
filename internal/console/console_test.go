package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamlearn/streamlearn/internal/console"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newServer(t *testing.T, opts console.Options) (*httptest.Server, *console.Console) {
	t.Helper()
	c := console.New(opts)
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, c
}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestOverviewRates: the overview turns counter totals into per-second rates between samples, by
// reason for dead letters, with a null first point, and reports gauges as they are.
func TestOverviewRates(t *testing.T) {
	reg := prometheus.NewRegistry()
	events := prometheus.NewCounter(prometheus.CounterOpts{Name: "streamlearn_events_total"})
	invalid := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_invalid_records_total"}, []string{"topic", "reason"})
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamlearn_kafka_consumer_lag"}, []string{"group", "topic", "partition"})
	published := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamlearn_model_published_timestamp_seconds"}, []string{"model"})
	reg.MustRegister(events, invalid, lag, published)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	srv, c := newServer(t, console.Options{Gatherer: reg, Now: clk.now})

	published.WithLabelValues("m").Set(float64(clk.t.Unix() - 30))
	c.Sample()
	clk.t = clk.t.Add(2 * time.Second)
	events.Add(10)
	invalid.WithLabelValues("events", "bad_json").Add(4)
	invalid.WithLabelValues("outcomes", "bad_json").Add(2)
	lag.WithLabelValues("g-score", "events", "0").Set(7)
	lag.WithLabelValues("g-score", "events", "1").Set(3)
	c.Sample()

	code, _, body := get(t, srv.URL+"/v1/console/overview")
	if code != http.StatusOK {
		t.Fatalf("overview: %d %s", code, body)
	}
	var o struct {
		Time   []int64               `json:"time"`
		Events []*float64            `json:"events_per_s"`
		Dead   map[string][]*float64 `json:"dead_letters_per_s"`
		Lag    []float64             `json:"consumer_lag"`
		ByGrp  map[string]float64    `json:"consumer_lag_by_group"`
		Age    map[string]float64    `json:"model_age_s"`
	}
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(o.Time) != 2 || o.Events[0] != nil || o.Events[1] == nil || *o.Events[1] != 5 {
		t.Errorf("events_per_s = %v over %v, want [null 5]", o.Events, o.Time)
	}
	if d := o.Dead["bad_json"]; len(d) != 2 || d[0] != nil || d[1] == nil || *d[1] != 3 {
		t.Errorf("dead_letters_per_s = %s", body)
	}
	if o.Lag[1] != 10 || o.ByGrp["g-score"] != 10 || o.Age["m"] != 32 {
		t.Errorf("lag %v by group %v, model age %v; want 10, 10, 32", o.Lag, o.ByGrp, o.Age)
	}
}

// TestBadRequestsAndMissingBackends: bad parameters are 400 JSON errors naming the field; a
// process without ClickHouse or the dead-letter topic answers 503, never a crash.
func TestBadRequestsAndMissingBackends(t *testing.T) {
	srv, _ := newServer(t, console.Options{Gatherer: prometheus.NewRegistry(), Model: "m"})
	for _, tt := range []struct {
		path  string
		code  int
		field string
	}{
		{"/v1/console/drift?windows=0", 400, "windows"},
		{"/v1/console/drift?windows=abc", 400, "windows"},
		{"/v1/console/drift?model=" + strings.Repeat("x", 201), 400, "model"},
		{"/v1/console/deadletters?n=201", 400, "n"},
		{"/v1/console/models/m/performance?hours=-1", 400, "hours"},
		{"/v1/console/drift", 503, ""},
		{"/v1/console/models/m/performance", 503, ""},
		{"/v1/console/deadletters", 503, ""},
	} {
		code, h, body := get(t, srv.URL+tt.path)
		var e struct {
			Error, Field string
			Code         int
		}
		if err := json.Unmarshal(body, &e); err != nil || code != tt.code || e.Code != tt.code || e.Field != tt.field || e.Error == "" || h.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s = %d %s; want %d with field %q", tt.path, code, body, tt.code, tt.field)
		}
	}
}

// TestStatic: the pages, the vendored uPlot and its licence are served from the binary, under a
// policy that lets them load nothing from elsewhere.
func TestStatic(t *testing.T) {
	srv, _ := newServer(t, console.Options{Gatherer: prometheus.NewRegistry(), Model: "m", AuthRequired: true})
	code, h, body := get(t, srv.URL+"/ui/")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(string(body), `src="console.js"`) {
		t.Fatalf("GET /ui/ = %d %s", code, h.Get("Content-Type"))
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for path, want := range map[string]string{
		"/ui/vendor/uplot/uPlot.iife.min.js": "uPlot",
		"/ui/vendor/uplot/LICENSE":           "The MIT License",
		"/ui/session.json":                   `{"auth_required":true,"model":"m"}`,
	} {
		if code, _, body := get(t, srv.URL+path); code != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, lacks %q", path, code, want)
		}
	}
	if code, _, _ := get(t, srv.URL+"/ui/nothing.js"); code != 404 {
		t.Errorf("GET /ui/nothing.js = %d, want 404", code)
	}
}
