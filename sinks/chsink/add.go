package chsink

import (
	"context"
	"fmt"

	"github.com/streamlearn/streamlearn/wire"
)

// AddPredictions buffers predictions; the next Flush writes them. Like every Add method it blocks
// while MaxBufferedRows rows are buffered, until a Flush in another goroutine (Run's, say) makes
// room: a goroutine that both adds and flushes, without Run, must flush at least every
// MaxBufferedRows rows. When ctx ends (or the Writer closes) while it waits, it returns an error
// and the rows from the first one that did not fit on are not buffered: the caller must not treat
// them as written (nor commit the offsets of their sources). With room to spare it buffers the
// rows even if ctx has ended.
func (w *Writer) AddPredictions(ctx context.Context, rows ...wire.PredictionRow) error {
	return add(ctx, w, w.predictions, rows)
}

// AddOutcomes buffers outcomes.
func (w *Writer) AddOutcomes(ctx context.Context, rows ...wire.OutcomeRow) error {
	return add(ctx, w, w.outcomes, rows)
}

// AddFeatureDrift buffers feature drift statistics; a zero Updated becomes the current time.
func (w *Writer) AddFeatureDrift(ctx context.Context, rows ...wire.FeatureDriftRow) error {
	return add(ctx, w, w.featureDrift, rows)
}

// AddPerformance buffers performance windows; a zero Updated becomes the current time.
func (w *Writer) AddPerformance(ctx context.Context, rows ...wire.PerformanceRow) error {
	return add(ctx, w, w.performance, rows)
}

// AddDriftAlerts buffers drift alerts.
func (w *Writer) AddDriftAlerts(ctx context.Context, rows ...wire.DriftAlertRow) error {
	return add(ctx, w, w.driftAlerts, rows)
}

// AddRetrainEvents buffers retrain events.
func (w *Writer) AddRetrainEvents(ctx context.Context, rows ...wire.RetrainEventRow) error {
	return add(ctx, w, w.retrainEvents, rows)
}

// AddModelVersions buffers model versions; a zero Updated becomes Time.
func (w *Writer) AddModelVersions(ctx context.Context, rows ...wire.ModelVersionRow) error {
	return add(ctx, w, w.modelVersions, rows)
}

// AddModelReports buffers figures of snapshot reports; a zero Updated becomes now.
func (w *Writer) AddModelReports(ctx context.Context, rows ...wire.ModelReportRow) error {
	return add(ctx, w, w.modelReports, rows)
}

// Buffered returns the number of rows not written yet, across tables.
func (w *Writer) Buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buffered
}

func add[R any](ctx context.Context, w *Writer, t *table[R], rows []R) error {
	if len(rows) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	total := len(rows)
	for len(rows) > 0 {
		if err := w.waitForRoom(ctx); err != nil {
			return fmt.Errorf("add to clickhouse %s: %d of %d rows not buffered: %w", t.name, len(rows), total, err)
		}
		// Take what fits, so that a call with more than MaxBufferedRows rows still makes progress.
		n := min(len(rows), w.cfg.MaxBufferedRows-w.buffered)
		t.append(rows[:n])
		w.buffered += n
		rows = rows[n:]
		if w.buffered >= w.cfg.BatchRows {
			select {
			case w.kick <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// waitForRoom waits, holding w.mu, until fewer than MaxBufferedRows rows are buffered, and fails
// when the Writer closes or ctx ends first.
func (w *Writer) waitForRoom(ctx context.Context) error {
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		if w.closed {
			return ErrClosed
		}
		if w.buffered < w.cfg.MaxBufferedRows {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if stop == nil {
			// sync.Cond knows no contexts: the end of ctx wakes the waiters like a flush does.
			stop = context.AfterFunc(ctx, func() {
				w.mu.Lock()
				defer w.mu.Unlock()
				w.room.Broadcast()
			})
		}
		w.room.Wait()
	}
}
