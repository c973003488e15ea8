package predictor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// API serves the scoring, lookup and model-management routes of the HTTP contract:
//
//	POST /v1/score                      one event, or {"events": [...]}; ?explain=1 adds features and contributions
//	GET  /v1/features/{entity}          an entity's current features
//	GET  /v1/models                     models, their versions, which one serves and the routes
//	GET  /v1/models/{model}/history     the champion changes of a model
//	POST /v1/models/{model}/promote     {"version": N, "reason": "...", "pin": true}
//	GET  /v1/models/{model}/versions    the retained snapshots, newest first, and the live head
//	POST /v1/models/{model}/snapshots   {"tag": "...", "reason": "...", "by": "..."}: retain the live head
//	POST /v1/models/{model}/rollback    {"to": "<version | tag | RFC 3339 time>", "reason": "...", "by": "..."}
//	POST /v1/models/{model}/unpin       {"reason": "...", "by": "..."}: follow the live head again
//
// Scoring and lookups never change stored state.
type API struct {
	Features features.OnlineStore
	Models   *Models
	Registry learner.Registry
	Router   *Router
	// Loader swaps a promoted or rolled-back champion in at once; other processes follow the
	// announcement or their next poll of the registry.
	Loader *Loader
	// Announce, when set, tells other processes of a champion change (on the models topic).
	Announce func(ctx context.Context, a wire.Announcement) error
	// Shadow, when set, receives the predictions of shadow models for scored requests.
	Shadow ShadowLog
	Limits ingest.Limits
	// MaxBodyBytes bounds a request body (default 1 MiB); MaxEvents bounds a batch (default 1000).
	MaxBodyBytes int64
	MaxEvents    int
	// RateLimit bounds the requests of each client on these routes.
	RateLimit RateLimit
	Now       func() time.Time
	// OnSnapshot, when set, receives every snapshot taken on demand (for the model_versions table).
	OnSnapshot func(v learner.Version)

	coalesceOnce sync.Once
	coalesce     *coalescer
}

// ShadowLog receives shadow predictions made while serving requests. It must not block the
// request: an implementation drops what it cannot take at once.
type ShadowLog interface {
	LogShadow(ps []wire.Prediction)
}

// Mux is where Register adds the routes: an *http.ServeMux, or a wrapper that also records the
// patterns (the binary lists them to keep its OpenAPI description true).
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// Register adds the API's routes to mux.
func (a *API) Register(mux Mux) {
	lim := newLimiter(a.RateLimit)
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, lim.wrap(h)) }
	handle("POST /v1/score", a.score)
	handle("GET /v1/features/{entity}", a.features)
	handle("GET /v1/models", a.models)
	handle("GET /v1/models/{model}/history", a.history)
	handle("POST /v1/models/{model}/promote", a.promote)
	handle("POST /v1/models/{model}/rollback", a.rollback)
	handle("GET /v1/models/{model}/versions", a.versions)
	handle("POST /v1/models/{model}/snapshots", a.snapshot)
	handle("POST /v1/models/{model}/unpin", a.unpin)
}

// Score is the answer for one scored event.
type Score struct {
	ID            string                 `json:"id"`
	Entity        string                 `json:"entity,omitempty"`
	Model         string                 `json:"model"`
	Version       int64                  `json:"version"`
	Delta         int64                  `json:"delta,omitempty"` // see wire.Prediction
	Score         float64                `json:"score"`
	Class         string                 `json:"class,omitempty"`
	Route         string                 `json:"route"`
	Features      map[string]float64     `json:"features,omitempty"`
	Contributions []learner.Contribution `json:"contributions,omitempty"`
	// Family is the serving model's family when it is not linear (fm, mlp, tree, forest).
	Family string `json:"family,omitempty"`
	// ExplainError says why ?explain=1 brought no contributions: the family cannot split its
	// score into per-feature shares (mlp, tree, forest).
	ExplainError string `json:"explain_error,omitempty"`
}

// defaultTop is how many contributions ?explain=1 returns unless ?top=N says otherwise.
const defaultTop = 10

func (a *API) maxBody() int64 {
	if a.MaxBodyBytes > 0 {
		return a.MaxBodyBytes
	}
	return 1 << 20
}

func (a *API) maxEvents() int {
	if a.MaxEvents > 0 {
		return a.MaxEvents
	}
	return 1000
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// readBody reads a body of at most limit bytes; on failure it has answered the request.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteError(w, http.StatusRequestEntityTooLarge, Error{Error: fmt.Sprintf("body is larger than %d bytes", mbe.Limit), Reason: ReasonTooLarge})
			return nil, false
		}
		WriteError(w, http.StatusBadRequest, Error{Error: "read body: " + err.Error(), Reason: ReasonBadRequest})
		return nil, false
	}
	return body, true
}

// readAll reads r to its end, in one buffer of the declared length when there is one.
func readAll(r io.Reader, declared, limit int64) ([]byte, error) {
	if declared <= 0 || declared > limit {
		return io.ReadAll(r)
	}
	// One byte more than declared, so that the end is seen without growing the buffer.
	buf := make([]byte, 0, declared+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

func (a *API) score(w http.ResponseWriter, r *http.Request) {
	explain, top, ok := scoreQuery(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, a.maxBody())
	if !ok {
		return
	}
	raws, batch, err := splitBatch(body)
	if err != nil {
		e := Error{Error: err.Error(), Reason: string(ingest.ReasonBadJSON)}
		if batch {
			e.Field = "events"
		}
		WriteError(w, http.StatusBadRequest, e)
		return
	}
	if len(raws) > a.maxEvents() {
		WriteError(w, http.StatusRequestEntityTooLarge, Error{Error: fmt.Sprintf("%d events, the limit is %d", len(raws), a.maxEvents()), Reason: ReasonTooMany, Field: "events"})
		return
	}
	now := a.now()
	// A bad event fails a single request; in a batch it gets its own error and the rest are scored.
	events := make([]wire.Event, 0, len(raws))
	var bad map[int]Error
	for i, raw := range raws {
		ev, err := ingest.DecodeEvent(raw, now, a.Limits)
		if err != nil && !batch {
			WriteError(w, http.StatusBadRequest, eventError(err, -1))
			return
		}
		if err != nil {
			if bad == nil {
				bad = map[int]Error{}
			}
			e := eventError(err, i)
			e.Code = http.StatusBadRequest
			bad[i] = e
			continue
		}
		events = append(events, ev)
	}
	lu, err := a.Router.lineup(a.Models)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: err.Error(), Reason: ReasonNotReady})
		return
	}
	var vs []wire.Vector
	if len(events) > 0 {
		if vs, err = a.lookup(r.Context(), events); err != nil {
			WriteError(w, http.StatusServiceUnavailable, Error{Error: "feature store: " + err.Error(), Reason: ReasonUnavailable})
			return
		}
	}
	sc := scoring{lu: lu, router: a.Router, explain: explain, top: top}
	if !batch {
		out, e := sc.encode(&events[0], vs[0])
		if e != nil {
			WriteError(w, e.Code, *e)
			return
		}
		writeBody(w, append(out, '\n'))
	} else {
		writeBody(w, sc.encodeBatch(len(raws), events, vs, bad))
	}
	if a.Shadow != nil && len(lu.shadow) > 0 {
		a.Shadow.LogShadow(shadowPredictions(events, vs, lu.shadow, now.UTC()))
	}
}

// scoreQuery reads ?explain and ?top; on failure it has answered the request.
func scoreQuery(w http.ResponseWriter, r *http.Request) (explain bool, top int, ok bool) {
	top = defaultTop
	if r.URL.RawQuery == "" {
		return false, top, true
	}
	q := r.URL.Query()
	explain = q.Get("explain") == "1" || q.Get("explain") == "true"
	if s := q.Get("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			WriteError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("top=%q must be a positive integer", s), Reason: ReasonBadRequest, Field: "top"})
			return false, 0, false
		}
		top = n
	}
	return explain, top, true
}

// lookup reads the vectors of events: from the store's cache when it holds them all, else merged
// with the lookups of concurrent requests.
func (a *API) lookup(ctx context.Context, events []wire.Event) ([]wire.Vector, error) {
	if c, ok := a.Features.(features.CachedLookup); ok {
		if vs, ok := c.LookupCached(events); ok {
			return vs, nil // from memory: nothing to merge with other requests
		}
	}
	a.coalesceOnce.Do(func() { a.coalesce = newCoalescer(a.Features) })
	return a.coalesce.lookup(ctx, events)
}

// scoring scores the events of one request with the versions read at its start.
type scoring struct {
	lu      lineup
	router  *Router
	explain bool
	top     int
}

// encode scores one event and encodes its Score; the error has its Code set.
func (sc *scoring) encode(ev *wire.Event, v wire.Vector) ([]byte, *Error) {
	route := sc.router.RouteOf(ev)
	served := sc.lu.routes[route]
	p, err := predict(served, v)
	if err != nil {
		return nil, &Error{Error: fmt.Sprintf("score event %q: %v", ev.ID, err), Code: http.StatusInternalServerError, Reason: ReasonInternal}
	}
	s := Score{ID: ev.ID, Entity: ev.Entity, Model: served.Model, Version: served.Version, Delta: served.DeltaSeq, Score: p.Score, Class: p.Class, Route: routeName(route)}
	if f := served.Snapshot.Family(); f != learner.FamilyLinear {
		s.Family = f
	}
	if sc.explain {
		s.Features = v.Map()
		if err := served.Snapshot.ExplainErr(); err != nil {
			s.ExplainError = err.Error()
		} else {
			cs := served.Snapshot.Contributions(v)
			s.Contributions = cs[:min(sc.top, len(cs))]
		}
	}
	b, err := wire.Marshal(&s)
	if err != nil {
		// A number that is not finite in an explanation: never a 200 without a body.
		return nil, &Error{Error: "encode scores: " + err.Error(), Code: http.StatusInternalServerError, Reason: ReasonInternal}
	}
	return b, nil
}

// encodeBatch encodes the answer of a batch of n events: {"results": [...], "errors": k}, one
// result per event in order, a Score or the Error of an event that could not be scored (bad holds
// those that did not decode; events and vs the others, in order).
func (sc *scoring) encodeBatch(n int, events []wire.Event, vs []wire.Vector, bad map[int]Error) []byte {
	out := make([]byte, 0, 160*n+32)
	out = append(out, `{"results":[`...)
	failed, next := 0, 0
	for i := range n {
		if i > 0 {
			out = append(out, ',')
		}
		e, isBad := bad[i]
		if !isBad {
			b, perr := sc.encode(&events[next], vs[next])
			next++
			if perr == nil {
				out = append(out, b...)
				continue
			}
			e = *perr
			e.Index = &i
			e.Field = "events[" + strconv.Itoa(i) + "]"
		}
		failed++
		b, _ := wire.Marshal(&e)
		out = append(out, b...)
	}
	out = append(out, `],"errors":`...)
	out = strconv.AppendInt(out, int64(failed), 10)
	return append(out, "}\n"...)
}

// writeBody answers 200 with a JSON body.
func writeBody(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// ScoreResults is the answer for a batch: one result per event, in order, either a Score or the
// Error (code 400 for a bad event, 500 for one that could not be scored; field and index name it)
// of an event that was not scored; Errors counts the latter.
type ScoreResults struct {
	Results []json.RawMessage `json:"results"`
	Errors  int               `json:"errors"`
}

func shadowPredictions(events []wire.Event, vs []wire.Vector, shadow []*Served, at time.Time) []wire.Prediction {
	ps := make([]wire.Prediction, 0, len(events)*len(shadow))
	for i := range events {
		for _, sh := range shadow {
			if p, err := predict(sh, vs[i]); err == nil {
				ps = append(ps, newPrediction(&events[i], sh, p, wire.RouteShadow, at))
			}
		}
	}
	return ps
}

var eventsKey = []byte(`"events"`)

// splitBatch returns the events of a body: one event, or the elements of {"events": [...]}.
func splitBatch(body []byte) ([]json.RawMessage, bool, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, false, errors.New("empty body: send an event or {\"events\": [...]}")
	}
	if trimmed[0] != '{' || !bytes.Contains(trimmed, eventsKey) {
		return []json.RawMessage{trimmed}, false, nil
	}
	var probe struct {
		Events json.RawMessage `json:"events"`
	}
	if wire.Unmarshal(trimmed, &probe) != nil || len(probe.Events) == 0 {
		return []json.RawMessage{trimmed}, false, nil
	}
	var list []json.RawMessage
	if err := wire.Unmarshal(probe.Events, &list); err != nil {
		return nil, true, errors.New(`"events" must be an array of events`)
	}
	if len(list) == 0 {
		return nil, true, errors.New(`"events" is empty`)
	}
	return list, true, nil
}

func (a *API) features(w http.ResponseWriter, r *http.Request) {
	entity := r.PathValue("entity")
	if entity == "" || len(entity) > a.Limits.MaxIDBytes {
		WriteError(w, http.StatusBadRequest, Error{Error: "entity must be 1 to " + strconv.Itoa(a.Limits.MaxIDBytes) + " bytes", Reason: string(ingest.ReasonBadEntity), Field: "entity"})
		return
	}
	at, err := features.ParseAt(r.URL.Query().Get("at"))
	if err != nil {
		WriteError(w, http.StatusBadRequest, Error{Error: err.Error(), Reason: ReasonBadRequest, Field: "at"})
		return
	}
	snap, ok, err := a.Features.Aggregates(r.Context(), entity, at)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: "feature store: " + err.Error(), Reason: ReasonUnavailable})
		return
	}
	if !ok {
		WriteError(w, http.StatusNotFound, Error{Error: fmt.Sprintf("entity %q has no events", entity), Reason: ReasonNotFound})
		return
	}
	WriteJSON(w, http.StatusOK, snap)
}
