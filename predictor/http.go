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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
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

func (a *API) score(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	explain := q.Get("explain") == "1" || q.Get("explain") == "true"
	top := defaultTop
	if s := q.Get("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			WriteError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("top=%q must be a positive integer", s), Reason: ReasonBadRequest, Field: "top"})
			return
		}
		top = n
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
	events := make([]wire.Event, len(raws))
	for i, raw := range raws {
		if events[i], err = ingest.DecodeEvent(raw, now, a.Limits); err != nil {
			index := -1
			if batch {
				index = i
			}
			WriteError(w, http.StatusBadRequest, eventError(err, index))
			return
		}
	}
	lu, err := a.Router.lineup(a.Models)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: err.Error(), Reason: ReasonNotReady})
		return
	}
	vs, err := liveVectors(r.Context(), a.Features, events)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: "feature store: " + err.Error(), Reason: ReasonUnavailable})
		return
	}
	scores := make([]Score, len(events))
	for i := range events {
		ev := &events[i]
		route := a.Router.RouteOf(ev)
		served := lu.routes[route]
		p, err := predict(served, vs[i])
		if err != nil {
			WriteError(w, http.StatusInternalServerError, Error{Error: fmt.Sprintf("score event %q: %v", ev.ID, err), Reason: ReasonInternal})
			return
		}
		scores[i] = Score{ID: ev.ID, Entity: ev.Entity, Model: served.Model, Version: served.Version, Score: p.Score, Class: p.Class, Route: routeName(route)}
		if f := served.Snapshot.Family(); f != learner.FamilyLinear {
			scores[i].Family = f
		}
		if explain {
			scores[i].Features = vs[i].Map()
			if err := served.Snapshot.ExplainErr(); err != nil {
				scores[i].ExplainError = err.Error()
				continue
			}
			cs := served.Snapshot.Contributions(vs[i])
			scores[i].Contributions = cs[:min(top, len(cs))]
		}
	}
	var out any = scores[0]
	if batch {
		out = map[string]any{"results": scores}
	}
	if !writeEncoded(w, out) {
		return
	}
	if a.Shadow != nil && len(lu.shadow) > 0 {
		a.Shadow.LogShadow(shadowPredictions(events, vs, lu.shadow, now.UTC()))
	}
}

// writeEncoded answers 200 with v, or 500 where v cannot be encoded (a number that is not finite in
// an explanation), never a 200 without a body; it reports whether v was written.
func writeEncoded(w http.ResponseWriter, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, Error{Error: "encode scores: " + err.Error(), Reason: ReasonInternal})
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
	return true
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
	if json.Unmarshal(trimmed, &probe) != nil || len(probe.Events) == 0 {
		return []json.RawMessage{trimmed}, false, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(probe.Events, &list); err != nil {
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
