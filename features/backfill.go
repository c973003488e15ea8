package features

import (
	"context"
	"fmt"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// BackfillResult counts what Backfill did.
type BackfillResult struct {
	Applied  int // events applied to the store
	Skipped  int // events of entities that already had state (left alone)
	Entities int // entities loaded
}

// Backfill loads history into the store: it applies events, in order, to the aggregates of
// entities that have no state yet, and leaves every entity that does (a live entity) untouched,
// so that live state is never rewritten by old events. known remembers, across calls, which
// entities were found with state (false) or are being loaded (true); pass the same map to every
// batch of one backfill. Nothing is scored or learned.
func Backfill(ctx context.Context, store OnlineStore, events []wire.Event, known map[string]bool) (BackfillResult, error) {
	var res BackfillResult
	load := make([]wire.Event, 0, len(events))
	for _, ev := range events {
		if ev.Entity == "" {
			res.Skipped++ // no entity: nothing to keep
			continue
		}
		loading, seen := known[ev.Entity]
		if !seen {
			_, has, err := store.Aggregates(ctx, ev.Entity, time.Time{})
			if err != nil {
				return res, fmt.Errorf("backfill: state of %q: %w", ev.Entity, err)
			}
			loading, known[ev.Entity] = !has, !has
			if loading {
				res.Entities++
			}
		}
		if !loading {
			res.Skipped++
			continue
		}
		load = append(load, ev)
	}
	if len(load) > 0 {
		if _, err := store.Apply(ctx, load); err != nil {
			return res, fmt.Errorf("backfill: %w", err)
		}
	}
	res.Applied = len(load)
	return res, nil
}
