package predictor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// ModelInfo is one model in GET /v1/models.
type ModelInfo struct {
	Model    string `json:"model"`
	Serving  int64  `json:"serving_version"`
	Champion int64  `json:"champion"`
	Pinned   bool   `json:"pinned"`
	// Route is how the model serves here (champion, challenger, shadow), with its share of traffic.
	Route string  `json:"route,omitempty"`
	Share float64 `json:"share,omitempty"`
	// Live is the newest published version (absent before the first publish); Versions are the
	// newest retained snapshots, newest first.
	Live     *learner.Version  `json:"live,omitempty"`
	Versions []learner.Version `json:"versions"`
}

func (a *API) models(w http.ResponseWriter, r *http.Request) {
	infos, err := ListModels(r.Context(), a.Registry, a.Models, 20)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: err.Error(), Reason: ReasonUnavailable})
		return
	}
	for i := range infos {
		for j, rt := range a.Router.routes {
			if rt.Model == infos[i].Model {
				infos[i].Route, infos[i].Share = routeName(j), rt.Share
			}
		}
		for _, m := range a.Router.shadow {
			if m == infos[i].Model {
				infos[i].Route = wire.RouteShadow
			}
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"models": infos, "routes": a.Router.Routes(), "shadow": a.Router.Shadow()})
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
		if info.Pinned, err = reg.Pinned(ctx, n); err != nil {
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
		if live, err := reg.Live(ctx, n); err == nil {
			info.Live = &live
		} else if !errors.Is(err, learner.ErrNotFound) {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func (a *API) history(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	ctx := r.Context()
	hist, err := a.Registry.History(ctx, model)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: err.Error(), Reason: ReasonUnavailable})
		return
	}
	champ, err := a.Registry.Champion(ctx, model)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: err.Error(), Reason: ReasonUnavailable})
		return
	}
	pinned, err := a.Registry.Pinned(ctx, model)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: err.Error(), Reason: ReasonUnavailable})
		return
	}
	if hist == nil {
		hist = []learner.ChampionChange{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"model": model, "champion": champ, "pinned": pinned, "history": hist})
}

// ChampionResult is the answer to a promotion or a rollback.
type ChampionResult struct {
	Model    string `json:"model"`
	Version  int64  `json:"version"`
	Previous int64  `json:"previous"`
	Pinned   bool   `json:"pinned"`
	// Serving is the version this process serves now (0 when it does not serve the model).
	Serving int64 `json:"serving_version"`
	// Announced says whether other processes were told on the models topic; they also find the
	// change on their next poll of the registry.
	Announced bool `json:"announced"`
}

// maxAdminBody bounds the body of promote and rollback.
const maxAdminBody = 64 << 10

// decodeAdmin decodes an optional JSON body strictly; on failure it has answered the request.
func decodeAdmin(w http.ResponseWriter, r *http.Request, dst any) bool {
	body, ok := readBody(w, r, maxAdminBody)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		e := Error{Error: "body: " + err.Error(), Reason: ReasonBadRequest}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			e.Field = ute.Field
		}
		WriteError(w, http.StatusBadRequest, e)
		return false
	}
	return true
}

func (a *API) promote(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	req := struct {
		Version int64  `json:"version"`
		Reason  string `json:"reason"`
		Pin     *bool  `json:"pin"`
	}{}
	if !decodeAdmin(w, r, &req) {
		return
	}
	if req.Version < 1 {
		WriteError(w, http.StatusBadRequest, Error{Error: "version must be a published version (1 or more)", Reason: ReasonBadRequest, Field: "version"})
		return
	}
	pin := req.Pin == nil || *req.Pin // a manual promotion pauses automatic ones unless told otherwise
	if req.Reason == "" {
		req.Reason = "manual promotion over HTTP"
	}
	ctx := r.Context()
	if _, err := a.Registry.Get(ctx, model, req.Version); err != nil {
		a.writeChangeError(w, err, "promote", http.StatusNotFound)
		return
	}
	// Load the version first: a version whose weights are gone is refused before anything changes.
	if _, err := a.Loader.Load(ctx, model, req.Version); err != nil {
		WriteError(w, http.StatusConflict, Error{Error: "promote: cannot serve it: " + err.Error(), Reason: ReasonConflict, Field: "version"})
		return
	}
	var prev int64
	err := a.Loader.Change(ctx, model, func(ctx context.Context) error {
		var err error
		prev, err = a.Registry.Promote(ctx, model, req.Version, req.Reason, true, pin)
		return err
	})
	if err != nil {
		a.writeChangeError(w, err, "promote", http.StatusNotFound)
		return
	}
	a.answerChange(w, r, ChampionResult{Model: model, Version: req.Version, Previous: prev, Pinned: pin}, wire.EventPromoted)
}

// who is the requester recorded in the history: the body's "by", else the client's address.
func who(r *http.Request, by string) string {
	if by != "" {
		return by
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return "http " + host
	}
	return "http"
}

// maxRef bounds a reference (a version, a tag or a time) and a "by".
const maxRef = 256

func (a *API) rollback(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	req := struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
		By     string `json:"by"`
	}{}
	if !decodeAdmin(w, r, &req) {
		return
	}
	if len(req.To) > maxRef || len(req.By) > maxRef {
		WriteError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("to and by must be at most %d bytes", maxRef), Reason: ReasonBadRequest, Field: "to"})
		return
	}
	var to int64
	if req.To != "" {
		var err error
		if to, err = a.Registry.Resolve(r.Context(), model, req.To); err != nil {
			e := Error{Error: "rollback: " + err.Error(), Reason: ReasonUnavailable}
			code := http.StatusServiceUnavailable
			if errors.Is(err, learner.ErrNotFound) {
				code, e.Reason, e.Field = http.StatusNotFound, ReasonNotFound, "to"
			}
			WriteError(w, code, e)
			return
		}
	}
	by := who(r, req.By)
	var ch learner.ChampionChange
	err := a.Loader.Change(r.Context(), model, func(ctx context.Context) error {
		var err error
		if ch, err = a.Registry.Rollback(ctx, model, to, req.Reason, by); err != nil {
			return err
		}
		if _, lerr := a.Loader.Load(ctx, model, ch.Version); lerr != nil {
			// The registry names a champion nobody can serve: put the previous one back.
			reason := fmt.Sprintf("undo rollback to %d: %v", ch.Version, lerr)
			if _, err := a.Registry.Promote(ctx, model, ch.Previous, reason, true, true); err != nil {
				return fmt.Errorf("rollback to %d: %w; undo: %w", ch.Version, lerr, err)
			}
			return fmt.Errorf("rollback to %d (undone): %w", ch.Version, lerr)
		}
		return nil
	})
	if err != nil {
		// Nothing to roll back to, or a version that cannot be served: the request conflicts with
		// the registry's state rather than naming something missing.
		a.writeChangeError(w, err, "rollback", http.StatusConflict)
		return
	}
	a.answerChange(w, r, ChampionResult{Model: model, Version: ch.Version, Previous: ch.Previous, Pinned: ch.Pinned}, wire.EventRollback)
}

func (a *API) unpin(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	req := struct {
		Reason string `json:"reason"`
		By     string `json:"by"`
	}{}
	if !decodeAdmin(w, r, &req) {
		return
	}
	if len(req.By) > maxRef {
		WriteError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("by must be at most %d bytes", maxRef), Reason: ReasonBadRequest, Field: "by"})
		return
	}
	var ch learner.ChampionChange
	err := a.Loader.Change(r.Context(), model, func(ctx context.Context) error {
		var err error
		ch, err = a.Registry.Unpin(ctx, model, req.Reason, who(r, req.By))
		return err
	})
	if err != nil {
		a.writeChangeError(w, err, "unpin", http.StatusConflict)
		return
	}
	a.answerChange(w, r, ChampionResult{Model: model, Version: ch.Version, Previous: ch.Previous}, wire.EventPromoted)
}

// Versions is the answer of GET /v1/models/{model}/versions.
type Versions struct {
	Model    string `json:"model"`
	Champion int64  `json:"champion"`
	Pinned   bool   `json:"pinned"`
	// Live is the newest published version, which serves while the model follows fresh weights
	// (null before the first publish).
	Live *learner.Version `json:"live"`
	// Versions are the retained snapshots, newest first.
	Versions []learner.Version `json:"versions"`
}

func (a *API) versions(w http.ResponseWriter, r *http.Request) {
	model, ctx := r.PathValue("model"), r.Context()
	out := Versions{Model: model, Versions: []learner.Version{}}
	fail := func(err error) {
		WriteError(w, http.StatusServiceUnavailable, Error{Error: err.Error(), Reason: ReasonUnavailable})
	}
	vs, err := a.Registry.List(ctx, model)
	if err != nil {
		fail(err)
		return
	}
	out.Versions = append(out.Versions, vs...)
	live, err := a.Registry.Live(ctx, model)
	switch {
	case err == nil:
		out.Live = &live
	case !errors.Is(err, learner.ErrNotFound):
		fail(err)
		return
	case len(vs) == 0 && a.Models.Get(model) == nil:
		WriteError(w, http.StatusNotFound, Error{Error: fmt.Sprintf("model %q is not in the registry", model), Reason: ReasonNotFound})
		return
	}
	if out.Champion, err = a.Registry.Champion(ctx, model); err != nil {
		fail(err)
		return
	}
	if out.Pinned, err = a.Registry.Pinned(ctx, model); err != nil {
		fail(err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

func (a *API) snapshot(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	req := struct {
		Tag    string `json:"tag"`
		Reason string `json:"reason"`
		By     string `json:"by"`
	}{}
	if !decodeAdmin(w, r, &req) {
		return
	}
	if req.Tag != "" {
		if err := learner.ValidTag(req.Tag); err != nil {
			WriteError(w, http.StatusBadRequest, Error{Error: err.Error(), Reason: ReasonBadRequest, Field: "tag"})
			return
		}
	}
	if len(req.By) > maxRef || len(req.Reason) > maxAdminBody/2 {
		WriteError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("by must be at most %d bytes", maxRef), Reason: ReasonBadRequest, Field: "by"})
		return
	}
	v, err := a.Registry.TakeSnapshot(r.Context(), model, learner.SnapshotRequest{Tag: req.Tag, Reason: req.Reason, By: who(r, req.By)})
	switch {
	case errors.Is(err, learner.ErrTagTaken):
		WriteError(w, http.StatusConflict, Error{Error: err.Error(), Reason: ReasonConflict, Field: "tag"})
		return
	case errors.Is(err, learner.ErrNotFound):
		WriteError(w, http.StatusNotFound, Error{Error: err.Error(), Reason: ReasonNotFound})
		return
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, Error{Error: err.Error(), Reason: ReasonUnavailable})
		return
	}
	if a.OnSnapshot != nil {
		a.OnSnapshot(v)
	}
	WriteJSON(w, http.StatusCreated, v)
}

// writeChangeError maps the errors of a champion change to status codes; notFound is the code
// for learner.ErrNotFound.
func (a *API) writeChangeError(w http.ResponseWriter, err error, op string, notFound int) {
	e := Error{Error: op + ": " + err.Error()}
	code := http.StatusServiceUnavailable
	switch {
	case errors.Is(err, learner.ErrNotFound) && notFound == http.StatusNotFound:
		code, e.Reason, e.Field = notFound, ReasonNotFound, "version"
	case errors.Is(err, learner.ErrNotFound):
		code, e.Reason = notFound, ReasonConflict
	case errors.Is(err, learner.ErrPinned):
		code, e.Reason = http.StatusConflict, ReasonConflict
	default:
		e.Reason = ReasonUnavailable
	}
	WriteError(w, code, e)
}

func (a *API) answerChange(w http.ResponseWriter, r *http.Request, res ChampionResult, event string) {
	if s := a.Models.Get(res.Model); s != nil {
		res.Serving = s.Version
	}
	if a.Announce != nil {
		err := a.Announce(r.Context(), wire.Announcement{Model: res.Model, Version: res.Version, Event: event, Time: a.now().UTC()})
		res.Announced = err == nil
	}
	WriteJSON(w, http.StatusOK, res)
}
