package chsink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// minInsertRows is the least number of rows per INSERT when a backlog is written in parts.
const minInsertRows = 100_000

const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// ErrClosed is returned by Flush after Close.
var ErrClosed = errors.New("clickhouse writer closed")

// Flush writes every row buffered before the call, one INSERT per table, retrying transient errors
// with backoff until ctx ends. (A backlog of more than max(BatchRows, 100000) rows, or of rows in
// more than 100 partitions, takes several INSERTs.) It returns nil only when all those rows are
// written; otherwise the rows stay buffered for the next Flush. Flushes run one at a time: a Flush
// first waits for the one in progress.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case w.flushing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("flush clickhouse: wait for the flush in progress: %w", context.Cause(ctx))
	}
	defer func() { <-w.flushing }()

	w.mu.Lock()
	for _, t := range w.tables {
		t.take()
	}
	w.mu.Unlock()

	start := time.Now()
	wrote := false
	var errs []error
	for _, t := range w.tables {
		for t.inflightLen() > 0 && ctx.Err() == nil {
			n := t.fit(min(t.inflightLen(), max(w.cfg.BatchRows, minInsertRows)))
			if err := w.insert(ctx, t, n); err != nil {
				errs = append(errs, err)
				break
			}
			t.done(n)
			wrote = true
			w.metrics.rowsWritten.WithLabelValues(t.tableName()).Add(float64(n))
			w.metrics.inserts.WithLabelValues(t.tableName()).Inc()
			w.mu.Lock()
			w.buffered -= n
			w.room.Broadcast()
			w.mu.Unlock()
		}
	}
	if wrote {
		w.metrics.flushDuration.Observe(time.Since(start).Seconds())
	}
	if len(errs) == 0 && ctx.Err() != nil && w.inflight() > 0 {
		errs = append(errs, context.Cause(ctx))
	}
	if len(errs) > 0 {
		return fmt.Errorf("flush clickhouse: %w", errors.Join(errs...))
	}
	return nil
}

// inflight counts the rows taken by the flush in progress and not written; the caller holds the
// flush token.
func (w *Writer) inflight() int {
	n := 0
	for _, t := range w.tables {
		n += t.inflightLen()
	}
	return n
}

// insert writes the first n inflight rows of t, retrying transient errors until ctx ends.
func (w *Writer) insert(ctx context.Context, t buffer, n int) error {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := t.write(ctx, w.conn, n)
		if err == nil {
			if attempt > 1 {
				w.logger.Info("clickhouse insert succeeded after retries", "table", t.tableName(), "rows", n, "attempts", attempt)
			}
			return nil
		}
		w.metrics.flushErrors.WithLabelValues(t.tableName()).Inc()
		if ctx.Err() != nil || !transient(err) {
			return err
		}
		// Jitter keeps several writers from retrying in step after an outage.
		wait := backoff/2 + rand.N(backoff/2+1)
		w.logger.Warn("clickhouse insert failed, retrying", "table", t.tableName(), "rows", n,
			"attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// transientCodes are the server errors that may pass on retry.
var transientCodes = map[int32]bool{
	3:   true, // UNEXPECTED_END_OF_FILE
	159: true, // TIMEOUT_EXCEEDED
	160: true, // TOO_SLOW
	164: true, // READONLY
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	236: true, // ABORTED
	241: true, // MEMORY_LIMIT_EXCEEDED
	242: true, // TABLE_IS_READ_ONLY
	252: true, // TOO_MANY_PARTS
	279: true, // ALL_CONNECTION_TRIES_FAILED (a shard of a cluster is down)
	285: true, // TOO_FEW_LIVE_REPLICAS
	319: true, // UNKNOWN_STATUS_OF_INSERT
	425: true, // SYSTEM_ERROR
	999: true, // KEEPER_EXCEPTION
}

// permanentError marks an error that no retry can pass, such as a value the driver cannot encode.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// transient reports whether err may pass on retry: network and connection errors do, server
// exceptions only when their code says so (a missing table or a type mismatch does not pass).
func transient(err error) bool {
	if _, ok := errors.AsType[permanentError](err); ok {
		return false
	}
	if ex, ok := errors.AsType[*clickhouse.Exception](err); ok {
		return transientCodes[ex.Code]
	}
	return true
}
