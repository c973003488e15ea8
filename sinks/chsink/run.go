package chsink

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Run flushes every FlushInterval, and as soon as BatchRows rows are buffered, until ctx ends; then
// it makes a final flush, bounded by CloseTimeout, and returns its error. End Run before Close.
func (w *Writer) Run(ctx context.Context) error {
	ticker := time.NewTicker(w.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.CloseTimeout)
			defer cancel()
			if err := w.Flush(final); err != nil {
				return fmt.Errorf("final flush: %w", err)
			}
			return nil
		case <-ticker.C:
		case <-w.kick:
		}
		// Flush retries transient errors until ctx ends, so an error here is permanent (or ctx ended);
		// the rows stay buffered and the next tick tries again.
		err := w.Flush(ctx)
		if errors.Is(err, ErrClosed) {
			return err
		}
		if err != nil && ctx.Err() == nil {
			w.logger.Error("clickhouse flush failed", "err", err, "buffered", w.Buffered())
		}
	}
}
