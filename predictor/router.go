package predictor

import (
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"
	"github.com/streamlearn/streamlearn/wire"
)

// Router assigns each event a route: the champion or a challenger, by a hash of its entity (or of
// its id when it has none), so an entity always meets the same model while the configuration
// stays. The hash is the same in every process, so stream scoring and any number of HTTP
// predictors agree. A Router is immutable and safe for concurrent use.
type Router struct {
	routes []Route
	// bounds[i] is the upper end of route i's slice of the hash space; the last is MaxUint64.
	bounds []uint64
	shadow []string
}

// NewRouter returns the router of cfg; defaultModel is the champion when cfg has no routes.
func NewRouter(cfg Config, defaultModel string) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Router{routes: cfg.routes(defaultModel), shadow: append([]string(nil), cfg.Shadow...)}
	for _, s := range r.shadow {
		if s == r.routes[0].Model && len(cfg.Routes) == 0 {
			return nil, fmt.Errorf("predictor.shadow: model %q already serves all traffic", s)
		}
	}
	cum := 0.0
	for i, rt := range r.routes {
		cum += rt.Share
		b := uint64(math.MaxUint64)
		if f := cum * (1 << 64); i < len(r.routes)-1 && f < 1<<64 {
			b = uint64(f)
		}
		r.bounds = append(r.bounds, b)
	}
	return r, nil
}

// Routes returns the routes, the champion first.
func (r *Router) Routes() []Route { return append([]Route(nil), r.routes...) }

// Shadow returns the shadow models.
func (r *Router) Shadow() []string { return append([]string(nil), r.shadow...) }

// Models returns every model the router names: the routes' then the shadows'.
func (r *Router) Models() []string {
	out := make([]string, 0, len(r.routes)+len(r.shadow))
	for _, rt := range r.routes {
		out = append(out, rt.Model)
	}
	return append(out, r.shadow...)
}

// RouteOf returns the index of the route an event takes (0 is the champion).
func (r *Router) RouteOf(ev *wire.Event) int {
	if len(r.routes) == 1 {
		return 0
	}
	key := ev.Entity
	if key == "" {
		key = ev.ID
	}
	h := xxhash.Sum64String(key)
	for i, b := range r.bounds {
		if h <= b {
			return i
		}
	}
	return len(r.bounds) - 1
}

// routeName is what predictions record as their route.
func routeName(i int) string {
	if i == 0 {
		return wire.RouteChampion
	}
	return wire.RouteChallenger
}

// lineup is the versions one request or batch is scored with, read once at its start: a swap
// during the request does not change them.
type lineup struct {
	routes []*Served
	shadow []*Served
}

// lineup reads the serving version of every model the router names from one snapshot of models.
// A shadow model that is not loaded is left out: shadows never fail a request.
func (r *Router) lineup(models *Models) (lineup, error) {
	all := models.load()
	l := lineup{routes: make([]*Served, len(r.routes)), shadow: make([]*Served, 0, len(r.shadow))}
	for i, rt := range r.routes {
		if l.routes[i] = all[rt.Model]; l.routes[i] == nil {
			return lineup{}, fmt.Errorf("model %q is not loaded yet", rt.Model)
		}
	}
	for _, m := range r.shadow {
		if s := all[m]; s != nil {
			l.shadow = append(l.shadow, s)
		}
	}
	return l, nil
}
