package predictor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/learner"
)

// API serves the scoring and lookup routes of the HTTP contract:
//
//	POST /v1/score               one event, or {"events": [...]}; ?explain=1 adds feature contributions
//	GET  /v1/features/{entity}   an entity's current features
//	GET  /v1/models              models, their versions and which one serves
//
// Requests never change stored state.
type API struct {
	Features features.Store
	Models   *Models
	Registry learner.Registry
	// Model is the model that answers /v1/score.
	Model  string
	Limits ingest.Limits
	// MaxBodyBytes bounds a request body (default 1 MiB); MaxEvents bounds a batch (default 1000).
	MaxBodyBytes int64
	MaxEvents    int
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/score", a.score)
	mux.HandleFunc("GET /v1/features/{entity}", a.features)
	mux.HandleFunc("GET /v1/models", a.models)
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
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
	// Reason is the machine-readable cause (an ingest.Reason for bad events).
	Reason string `json:"reason,omitempty"`
	// Index is the position of the bad event in a batch.
	Index *int `json:"index,omitempty"`
}

// WriteJSON writes v with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes an Error body.
func WriteError(w http.ResponseWriter, code int, e Error) { WriteJSON(w, code, e) }

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

func (a *API) score(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody()))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteError(w, http.StatusRequestEntityTooLarge, Error{Error: fmt.Sprintf("body is larger than %d bytes", mbe.Limit), Reason: "too_large"})
			return
		}
		WriteError(w, http.StatusBadRequest, Error{Error: "read body: " + err.Error()})
		return
	}
	raws, batch, err := splitBatch(body)
	if err != nil {
		WriteError(w, http.StatusBadRequest, Error{Error: err.Error(), Reason: string(ingest.ReasonBadJSON)})
		return
	}
	if len(raws) > a.maxEvents() {
		WriteError(w, http.StatusRequestEntityTooLarge, Error{Error: fmt.Sprintf("%d events, the limit is %d", len(raws), a.maxEvents()), Reason: "too_many_events"})
		return
	}
	now := time.Now()
	events := make([]ingest.Event, len(raws))
	for i, raw := range raws {
		ev, err := ingest.DecodeEvent(raw, now, a.Limits)
		if err != nil {
			e := Error{Error: err.Error(), Reason: string(ingest.ReasonOf(err))}
			if batch {
				e.Index = &i
			}
			WriteError(w, http.StatusBadRequest, e)
			return
		}
		events[i] = ev
	}
	served := a.Models.Get(a.Model)
	if served == nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: fmt.Sprintf("model %q is not loaded yet", a.Model), Reason: "not_ready"})
		return
	}
	explain := r.URL.Query().Get("explain") == "1" || r.URL.Query().Get("explain") == "true"
	scores := make([]Score, len(events))
	for i, ev := range events {
		var st features.EntityState
		if ev.Entity != "" {
			st, err = a.Features.Get(r.Context(), ev.Entity)
			if err != nil {
				WriteError(w, http.StatusServiceUnavailable, Error{Error: "feature store: " + err.Error(), Reason: "unavailable"})
				return
			}
		}
		v := features.Vectorize(ev, &st)
		p := served.Snapshot.Predict(v)
		scores[i] = Score{ID: ev.ID, Entity: ev.Entity, Model: served.Model, Version: served.Version, Score: p.Score, Class: p.Class, Route: RouteChampion}
		if explain {
			scores[i].Features = v.Map()
			scores[i].Contributions = served.Snapshot.Contributions(v)
		}
	}
	if batch {
		WriteJSON(w, http.StatusOK, map[string]any{"results": scores})
		return
	}
	WriteJSON(w, http.StatusOK, scores[0])
}

// splitBatch returns the events of a body: one event, or the elements of {"events": [...]}.
func splitBatch(body []byte) ([]json.RawMessage, bool, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, false, errors.New("empty body: send an event or {\"events\": [...]}")
	}
	var probe struct {
		Events json.RawMessage `json:"events"`
	}
	if trimmed[0] == '{' && json.Unmarshal(trimmed, &probe) == nil && len(probe.Events) > 0 {
		var list []json.RawMessage
		if err := json.Unmarshal(probe.Events, &list); err != nil {
			return nil, true, errors.New(`"events" must be an array of events`)
		}
		if len(list) == 0 {
			return nil, true, errors.New(`"events" is empty`)
		}
		return list, true, nil
	}
	return []json.RawMessage{trimmed}, false, nil
}

func (a *API) features(w http.ResponseWriter, r *http.Request) {
	entity := r.PathValue("entity")
	if entity == "" || len(entity) > a.Limits.MaxIDBytes {
		WriteError(w, http.StatusBadRequest, Error{Error: "entity must be 1 to " + strconv.Itoa(a.Limits.MaxIDBytes) + " bytes", Reason: string(ingest.ReasonBadEntity)})
		return
	}
	st, err := a.Features.Get(r.Context(), entity)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: "feature store: " + err.Error(), Reason: "unavailable"})
		return
	}
	if st.Count == 0 {
		WriteError(w, http.StatusNotFound, Error{Error: fmt.Sprintf("entity %q has no events", entity), Reason: "not_found"})
		return
	}
	out := map[string]any{
		"entity": entity,
		"features": map[string]float64{
			"entity.count": float64(st.Count),
		},
	}
	if st.LastTime > 0 {
		out["last_event_time"] = time.UnixMilli(st.LastTime).UTC()
	}
	WriteJSON(w, http.StatusOK, out)
}

// ModelInfo is one model in GET /v1/models.
type ModelInfo struct {
	Model    string            `json:"model"`
	Serving  int64             `json:"serving_version"`
	Champion int64             `json:"champion"`
	Versions []learner.Version `json:"versions"`
}

func (a *API) models(w http.ResponseWriter, r *http.Request) {
	infos, err := ListModels(r.Context(), a.Registry, a.Models, 20)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: err.Error(), Reason: "unavailable"})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"models": infos})
}

// ListModels describes every model the registry knows or that is serving, with at most limit
// versions each (newest first).
func ListModels(ctx context.Context, reg learner.Registry, served *Models, limit int) ([]ModelInfo, error) {
	names, err := reg.Models(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, s := range served.All() {
		if !seen[s.Model] {
			names = append(names, s.Model)
		}
	}
	sort.Strings(names)
	infos := make([]ModelInfo, 0, len(names))
	for _, n := range names {
		info := ModelInfo{Model: n, Versions: []learner.Version{}}
		if s := served.Get(n); s != nil {
			info.Serving = s.Version
		}
		if info.Champion, err = reg.Champion(ctx, n); err != nil {
			return nil, err
		}
		vs, err := reg.List(ctx, n)
		if err != nil {
			return nil, err
		}
		if len(vs) > limit {
			vs = vs[:limit]
		}
		info.Versions = append(info.Versions, vs...)
		infos = append(infos, info)
	}
	return infos, nil
}
