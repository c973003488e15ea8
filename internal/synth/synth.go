// Package synth generates a synthetic, learnable event stream with a known change point, for the
// demo, tests and benchmarks. Before the change the label follows one logistic model of the fields;
// at the change point the amount distribution shifts (covariate drift) and the country effects flip
// (concept drift), so both the drift tables and the learner have something to show.
package synth

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Config describes a stream.
type Config struct {
	Seed     uint64
	Entities int
	// Start is the event time of the first event; each event is Step later than the one before.
	Start time.Time
	Step  time.Duration
	// DriftAt is the index of the first event after the change (0: never).
	DriftAt int
	// OutcomeDelay is how much later (event time) an outcome is observed.
	OutcomeDelay time.Duration
}

// DefaultConfig is a stream of 10,000 entities starting 3 days ago, one event per 180ms of event
// time (20,000 events an hour) and a change at event 120,000 (six hours in).
func DefaultConfig() Config {
	return Config{Seed: 1, Entities: 10000, Start: time.Now().Add(-72 * time.Hour).Truncate(time.Hour), Step: 180 * time.Millisecond, DriftAt: 120000, OutcomeDelay: time.Minute}
}

// Generator produces the stream. It is not safe for concurrent use.
type Generator struct {
	cfg Config
	rng *rand.Rand
	i   int
}

// New returns a generator.
func New(cfg Config) *Generator {
	return &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
}

// Event is one generated event with its label.
type Event struct {
	ID     string         `json:"id"`
	Entity string         `json:"entity"`
	Time   time.Time      `json:"time"`
	Fields map[string]any `json:"fields"`
	// Label and OutcomeTime are the outcome, published separately.
	Label       int       `json:"-"`
	OutcomeTime time.Time `json:"-"`
	Drifted     bool      `json:"-"`
}

var countries = []string{"DE", "FR", "US", "GB", "IN"}

// Next returns the next event.
func (g *Generator) Next() Event {
	i := g.i
	g.i++
	drifted := g.cfg.DriftAt > 0 && i >= g.cfg.DriftAt
	t := g.cfg.Start.Add(time.Duration(i) * g.cfg.Step)
	r := g.rng
	entity := r.IntN(max(g.cfg.Entities, 1))

	amountMu := 3.5
	if drifted {
		amountMu = 4.6 // amounts triple: covariate drift
	}
	amount := math.Round(math.Exp(amountMu+0.8*r.NormFloat64())*100) / 100
	age := math.Round(max(18, 40+12*r.NormFloat64()))
	country := countries[pick(r, []float64{0.3, 0.2, 0.25, 0.15, 0.1})]
	mobile := r.Float64() < 0.55
	visits := float64(poisson(r, 3))

	countryEffect := map[string]float64{"DE": -1.0, "FR": -0.5, "US": 0.6, "GB": 0.2, "IN": 1.2}[country]
	if drifted {
		countryEffect = -countryEffect // the country effects flip: concept drift
	}
	logit := -0.8 + 1.6*(math.Log(amount)-amountMu)/0.8 + 1.0*boolf(mobile) - 0.04*(age-40) + countryEffect - 0.25*(visits-3)
	label := 0
	if r.Float64() < 1/(1+math.Exp(-logit)) {
		label = 1
	}
	return Event{
		ID:     fmt.Sprintf("e-%d-%d", g.cfg.Seed, i),
		Entity: fmt.Sprintf("u-%d", entity),
		Time:   t,
		Fields: map[string]any{"amount": amount, "age": age, "country": country, "mobile": mobile, "visits": visits},
		Label:  label, OutcomeTime: t.Add(g.cfg.OutcomeDelay), Drifted: drifted,
	}
}

// JSON returns the event as the events topic carries it.
func (e Event) JSON() []byte {
	b, _ := json.Marshal(e)
	return b
}

// OutcomeJSON returns the event's outcome as the outcomes topic carries it.
func (e Event) OutcomeJSON() []byte {
	b, _ := json.Marshal(map[string]any{"id": e.ID, "label": e.Label, "time": e.OutcomeTime})
	return b
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func pick(r *rand.Rand, weights []float64) int {
	x := r.Float64()
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func poisson(r *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// Malformed returns n kinds of bad event records, each with the reason the pipeline must give.
func Malformed() []struct {
	Value  []byte
	Reason string
} {
	big := make([]byte, 70<<10)
	for i := range big {
		big[i] = 'x'
	}
	return []struct {
		Value  []byte
		Reason string
	}{
		{[]byte(`{"id": "bad-1", "fields": {`), "bad_json"},
		{[]byte(`[1, 2, 3]`), "not_object"},
		{[]byte(`{"entity": "u-1", "fields": {"amount": 1}}`), "missing_id"},
		{[]byte(`{"id": 42, "fields": {"amount": 1}}`), "bad_id"},
		{[]byte(`{"id": "bad-5", "time": "yesterday", "fields": {"amount": 1}}`), "bad_time"},
		{[]byte(`{"id": "bad-6", "fields": ["amount", 1]}`), "bad_fields"},
		{[]byte(`{"id": "bad-7", "fields": {"amount": {"value": 1}}}`), "bad_field_type"},
		{[]byte(`{"id": "bad-8", "fields": {"pad": "` + string(big) + `"}}`), "oversize"},
		{[]byte(`{"id": "bad-9", "entity": {"k": 1}, "fields": {}}`), "bad_entity"},
		{[]byte("\xff\xfe not utf8"), "bad_json"},
	}
}
