package predictor

import (
	"errors"
	"fmt"
	"math"
)

// Config says which models serve live traffic and how requests are limited (yaml key "predictor").
//
//	predictor:
//	  routes: [{model: default, share: 0.9}, {model: fast, share: 0.1}]
//	  shadow: [slow]
//	  rate_limit: {per_second: 100, burst: 200, by: ip}
//
// Every model named must be in the registry or be trained by the learner (whose untrained version 0
// serves until a version is published); the process checks that on start.
type Config struct {
	// Routes split live traffic between models: the first route is the champion, the others are
	// challengers, each taking Share of it. Assignment is sticky: by a hash of the entity, or of the
	// event id for events without one. Shares are in (0, 1] and sum to 1. Default (empty): all
	// traffic to the learner's model (model.name).
	Routes []Route `yaml:"routes"`
	// Shadow models score every event too. Their predictions go to the predictions topic with route
	// "shadow" and are never returned to a caller nor joined with outcomes. Default: none.
	Shadow []string `yaml:"shadow"`
	// RateLimit bounds the requests of each client on the API's routes. Default: off.
	RateLimit RateLimit `yaml:"rate_limit"`
}

// Route sends a share of the traffic to a model.
type Route struct {
	Model string  `yaml:"model" json:"model"`
	Share float64 `yaml:"share" json:"share"`
}

// RateLimit is a token bucket per client.
type RateLimit struct {
	// PerSecond is the sustained request rate allowed to one client; 0 (the default) turns limiting off.
	PerSecond float64 `yaml:"per_second"`
	// Burst is the number of requests a client may send at once (default: PerSecond rounded up).
	Burst int `yaml:"burst"`
	// By identifies a client: "ip" (the default; the connection's address, proxies are not trusted)
	// or "token" (the bearer token when it is one of http.auth_token's, else the IP).
	By string `yaml:"by"`
}

// The values of RateLimit.By.
const (
	ClientByIP    = "ip"
	ClientByToken = "token"
)

// DefaultConfig returns the defaults: all traffic to the learner's model, no shadow, no rate limit.
func DefaultConfig() Config { return Config{RateLimit: RateLimit{By: ClientByIP}} }

// shareTolerance absorbs decimal shares that do not add up exactly in binary (0.7 + 0.2 + 0.1).
const shareTolerance = 1e-9

// Validate reports every invalid field, each error naming it as in the config file.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("predictor.%s: "+format, append([]any{field}, args...)...))
	}
	seen := map[string]string{}
	name := func(field, model string) {
		if model == "" {
			bad(field, "a model name is required")
			return
		}
		if prev, dup := seen[model]; dup {
			bad(field, "model %q is already named by %s", model, prev)
		}
		seen[model] = "predictor." + field
	}
	sum := 0.0
	for i, r := range c.Routes {
		name(fmt.Sprintf("routes[%d].model", i), r.Model)
		if !(r.Share > 0 && r.Share <= 1) {
			bad(fmt.Sprintf("routes[%d].share", i), "must be in (0, 1], got %v", r.Share)
		}
		sum += r.Share
	}
	if len(c.Routes) > 0 && math.Abs(sum-1) > shareTolerance {
		bad("routes", "shares sum to %v, want 1", sum)
	}
	for i, m := range c.Shadow {
		name(fmt.Sprintf("shadow[%d]", i), m)
	}
	rl := c.RateLimit
	if !(rl.PerSecond >= 0) || math.IsInf(rl.PerSecond, 0) {
		bad("rate_limit.per_second", "must be a finite number >= 0, got %v", rl.PerSecond)
	}
	if rl.Burst < 0 {
		bad("rate_limit.burst", "must be >= 0, got %d", rl.Burst)
	}
	switch rl.By {
	case "", ClientByIP, ClientByToken:
	default:
		bad("rate_limit.by", "must be ip or token, got %q", rl.By)
	}
	return errors.Join(errs...)
}

func (c Config) routes(defaultModel string) []Route {
	if len(c.Routes) == 0 {
		return []Route{{Model: defaultModel, Share: 1}}
	}
	return c.Routes
}
