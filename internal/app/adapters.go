package app

import (
	"github.com/streamlearn/streamlearn/drift/correlator"
	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/join"
	"github.com/streamlearn/streamlearn/join/joinstore"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/sinks/kafkasink"
)

// Each stage declares the small interface it needs from the next; these lines check that the
// adapters the wiring hands them fit, so a changed signature fails here rather than at a call site.
var (
	_ features.OnlineStore = (*featurestore.Online)(nil)
	_ predictor.Joins      = (*joinstore.Store)(nil)
	_ predictor.Output     = (*kafkasink.Output)(nil)
	_ join.Store           = (*joinstore.Store)(nil)
	_ join.Output          = (*kafkasink.Output)(nil)
	_ learner.Registry     = (*registry.Registry)(nil)
	_ correlator.Sink      = (*chsink.Writer)(nil)
)
