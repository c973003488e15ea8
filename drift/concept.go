package drift

// conceptState holds a model's concept-drift detectors. They are fed the
// errors of each closed window in event-time order, so that what they see
// does not depend on the order examples arrived in.
type conceptState struct {
	adwin *ADWIN
	ph    *PageHinkley
}

func newConceptState(cfg *ConceptDriftTrigger) *conceptState {
	return &conceptState{
		adwin: NewADWIN(cfg.ADWINDelta),
		ph:    NewPageHinkley(cfg.PageHinkleyDelta, cfg.PageHinkleyThreshold),
	}
}

// feed adds a window's errors and reports whether each detector saw the
// error rise, with the errors' mean. ADWIN reports changes both ways; a
// change is a rise when the window it keeps has a higher mean than the one
// it had before.
func (c *conceptState) feed(errs []prioritized[timedError]) (adwinUp, phUp bool, mean float64) {
	var sum float64
	for _, e := range errs {
		x := e.v.err
		sum += x
		before := c.adwin.Mean()
		if c.adwin.Add(x) && c.adwin.Mean() > before {
			adwinUp = true
		}
		if c.ph.Add(x) {
			phUp = true
		}
	}
	if len(errs) > 0 {
		mean = sum / float64(len(errs))
	}
	return adwinUp, phUp, mean
}
