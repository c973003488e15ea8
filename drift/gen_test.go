package drift_test

import (
	"cmp"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/streamlearn/streamlearn/drift"
)

// streamSpec describes a synthetic stream for a fraud-like binary model
// scored by a fixed champion that learned the stream's initial concept.
// covariate(h) shifts the mean of "amount" by that many standard
// deviations at hour h; concept(h) is the probability that an event's label
// follows the new concept, in which the effects of amount and country are
// reversed. Abrupt drifts are steps, gradual drifts ramps.
type streamSpec struct {
	seed      uint64
	hours     int
	perHour   int
	delay     time.Duration // outcome time − event time
	covariate func(h float64) float64
	concept   func(h float64) float64
}

// obs is one observation with the partition and order it arrives in.
type obs struct {
	stream drift.Stream
	part   int32
	offset int64
	at     time.Time // arrival order before partition lag
	ev     drift.Event
	pr     drift.Prediction
	out    drift.Outcome
}

func (o *obs) eventTime() time.Time {
	switch o.stream {
	case drift.StreamEvents:
		return o.ev.Time
	case drift.StreamPredictions:
		return o.pr.Time
	}
	return o.out.Time
}

func step(at float64) func(float64) float64 {
	return func(h float64) float64 {
		if h >= at {
			return 1
		}
		return 0
	}
}

func ramp(from, hours float64) func(float64) float64 {
	return func(h float64) float64 { return math.Min(math.Max((h-from)/hours, 0), 1) }
}

func scale(k float64, f func(float64) float64) func(float64) float64 {
	return func(h float64) float64 { return k * f(h) }
}

func never(float64) float64 { return 0 }

var (
	genCountries = []string{"DE", "FR", "US", "GB", "IN"}
	genEffect    = map[string]float64{"DE": -1.0, "FR": -0.5, "US": 0.6, "GB": 0.2, "IN": 1.2}
)

func genLogit(z float64, country string, mobile bool, age, visits float64, reversed bool) float64 {
	amount, ce := 1.4*z, genEffect[country]
	if reversed {
		amount, ce = -amount, -ce
	}
	m := 0.0
	if mobile {
		m = 0.8
	}
	return -1.0 + amount + ce + m - 0.03*(age-40) - 0.2*(visits-3)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// each yields the stream's events, predictions and outcomes in arrival
// order: events and predictions at their event time, outcomes at their
// outcome time. Every one is of model "fraud", version 1 (one champion),
// with segment "country".
func (sp streamSpec) each(yield func(*obs)) {
	rng := rand.New(rand.NewPCG(sp.seed, 77))
	step := time.Hour / time.Duration(sp.perHour)
	var pending []obs // outcomes waiting for their time; the delay is constant, so FIFO
	for i := 0; i < sp.hours*sp.perHour; i++ {
		t := t0.Add(time.Duration(i) * step)
		for len(pending) > 0 && !pending[0].at.After(t) {
			yield(&pending[0])
			pending = pending[1:]
		}
		h := t.Sub(t0).Hours()
		z := rng.NormFloat64() + sp.covariate(h)
		country := genCountries[min(rng.IntN(6), 4)]
		mobile := rng.Float64() < 0.55
		age := math.Round(max(18, 40+12*rng.NormFloat64()))
		visits := float64(rng.IntN(7))
		id := "e-" + strconv.FormatUint(sp.seed, 10) + "-" + strconv.Itoa(i)
		fields := map[string]any{"amount": math.Round((50+20*z)*100) / 100, "age": age, "country": country, "mobile": mobile, "visits": visits}
		score := sigmoid(genLogit(z, country, mobile, age, visits, false))
		reversed := rng.Float64() < sp.concept(h)
		label := 0.0
		if rng.Float64() < sigmoid(genLogit(z, country, mobile, age, visits, reversed)) {
			label = 1
		}
		yield(&obs{stream: drift.StreamEvents, at: t, ev: drift.Event{Model: "fraud", ID: id, Time: t, Fields: fields}})
		yield(&obs{stream: drift.StreamPredictions, at: t, pr: drift.Prediction{Model: "fraud", ID: id, Version: 1, Time: t, Score: score}})
		pending = append(pending, obs{stream: drift.StreamOutcomes, at: t.Add(sp.delay), out: drift.Outcome{Model: "fraud", ID: id, Version: 1, Time: t,
			OutcomeTime: t.Add(sp.delay), Score: score, Label: label, Segments: []string{country}}})
	}
	for i := range pending {
		yield(&pending[i])
	}
}

// generate returns the observations of each.
func (sp streamSpec) generate() []obs {
	var out []obs
	sp.each(func(o *obs) { out = append(out, *o) })
	return out
}

func idPartition(id string, parts int) int32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int32(h.Sum32() % uint32(parts))
}

// partitioned assigns each observation a partition of its stream (by id)
// and an offset in it, in arrival order.
func partitioned(all []obs, parts int) []obs {
	next := map[[2]int64]int64{}
	out := slices.Clone(all)
	for i := range out {
		o := &out[i]
		id := o.ev.ID + o.pr.ID + o.out.ID
		o.part = idPartition(id, parts)
		k := [2]int64{int64(o.stream), int64(o.part)}
		o.offset = next[k]
		next[k]++
	}
	return out
}

// interleave returns the observations in the order a consumer might read
// them: each partition lags by its own random amount (up to maxLag), so
// partitions interleave differently per seed while each keeps its order.
func interleave(all []obs, seed uint64, maxLag time.Duration) []obs {
	rng := rand.New(rand.NewPCG(seed, 5))
	lag := map[[2]int64]time.Duration{}
	keys := make([]int64, len(all))
	idx := make([]int, len(all))
	for i := range all {
		k := [2]int64{int64(all[i].stream), int64(all[i].part)}
		l, ok := lag[k]
		if !ok {
			l = time.Duration(rng.Int64N(int64(maxLag) + 1))
			lag[k] = l
		}
		keys[i], idx[i] = all[i].at.Add(l).UnixNano(), i
	}
	slices.SortFunc(idx, func(x, y int) int {
		a, b := &all[x], &all[y]
		return cmp.Or(cmp.Compare(keys[x], keys[y]), cmp.Compare(a.stream, b.stream), cmp.Compare(a.part, b.part), cmp.Compare(a.offset, b.offset))
	})
	out := make([]obs, len(all))
	for i, j := range idx {
		out[i] = all[j]
	}
	return out
}

func feed(m *drift.Monitor, o *obs) {
	switch o.stream {
	case drift.StreamEvents:
		m.AddEvent(o.ev)
	case drift.StreamPredictions:
		m.AddPrediction(o.pr)
	default:
		m.AddOutcome(o.out)
	}
}
