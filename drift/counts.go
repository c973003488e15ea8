package drift

// windowCounts are the label-coverage denominators of one window of a
// model, kept after the window closed on its own stream until the
// window's performance rows are final.
type windowCounts struct {
	predictions int64            // all versions
	versions    map[int64]int64  // predictions per version
	segments    map[string]int64 // events per segment ("field=value")
}

// maxClosedCounts bounds the closed windows whose counts a model keeps
// while no outcome closes them (labels that stopped coming); the oldest go
// first.
const maxClosedCounts = 1024

func (ms *modelState) counts(start int64) *windowCounts {
	c := ms.closedCounts[start]
	if c == nil {
		if len(ms.closedCounts) >= maxClosedCounts {
			oldest := start
			for s := range ms.closedCounts {
				oldest = min(oldest, s)
			}
			delete(ms.closedCounts, oldest)
		}
		c = &windowCounts{}
		ms.closedCounts[start] = c
	}
	return c
}

// predictions returns the number of predictions the examples of k could
// have joined: predictions of the version, of all versions, or events of
// the segment (one prediction per event). 0 means unknown.
func (ms *modelState) predictions(k perfKey) int64 {
	var open *driftWindow
	if k.segment != "" {
		open = ms.events.windows[k.start]
	} else {
		open = ms.scores.windows[k.start]
	}
	closed := ms.closedCounts[k.start]
	switch {
	case k.segment != "" && open != nil:
		return open.segments[k.segment]
	case k.segment != "" && closed != nil:
		return closed.segments[k.segment]
	case k.version == AllVersions && open != nil:
		return open.events
	case k.version == AllVersions && closed != nil:
		return closed.predictions
	case open != nil:
		return open.versions[k.version]
	case closed != nil:
		return closed.versions[k.version]
	}
	return 0
}
