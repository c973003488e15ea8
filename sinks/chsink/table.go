package chsink

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// table buffers the rows of one ClickHouse table.
type table[R any] struct {
	name    string
	columns []column[R]
	insert  string
	// prepare fills defaults of a row when it is added, so a retried INSERT sends the same values.
	prepare func(*R)
	// partition returns the row's partition (the table's PARTITION BY); nil when unpartitioned.
	partition func(*R) uint32

	pending []R // rows added since the last flush began; guarded by Writer.mu
	// inflight holds the rows a flush took and has not written yet. Only the flush that holds
	// Writer.flushing touches it, and a failed flush leaves its rows here for the next one.
	inflight []R
}

func newTable[R any](database, name string, columns []column[R], partition func(*R) uint32, prepare func(*R)) *table[R] {
	return &table[R]{name: name, columns: columns, insert: insertQuery(database, name, columns), partition: partition, prepare: prepare}
}

// maxPartitionsPerInsert is modern ClickHouse's default max_partitions_per_insert_block: an INSERT
// touching more partitions fails, as a replay of old events could.
const maxPartitionsPerInsert = 100

// buffer is the part of a table that the Writer handles without knowing the row type.
type buffer interface {
	tableName() string
	// take moves the pending rows behind the inflight ones; the caller holds Writer.mu.
	take()
	inflightLen() int
	// fit returns how many of the first n inflight rows one INSERT may take.
	fit(n int) int
	// write inserts the first n inflight rows in one INSERT.
	write(ctx context.Context, conn driver.Conn, n int) error
	// done drops the first n inflight rows, written.
	done(n int)
}

func (t *table[R]) tableName() string { return t.name }
func (t *table[R]) inflightLen() int  { return len(t.inflight) }

// append adds rows to pending; the caller holds Writer.mu.
func (t *table[R]) append(rows []R) {
	start := len(t.pending)
	t.pending = append(t.pending, rows...)
	if t.prepare != nil {
		for i := start; i < len(t.pending); i++ {
			t.prepare(&t.pending[i])
		}
	}
}

func (t *table[R]) take() {
	if len(t.inflight) == 0 {
		// Swap so both slices keep their capacity between flushes.
		t.inflight, t.pending = t.pending, t.inflight[:0]
		return
	}
	t.inflight = append(t.inflight, t.pending...)
	clear(t.pending)
	t.pending = t.pending[:0]
}

func (t *table[R]) fit(n int) int {
	if t.partition == nil {
		return n
	}
	seen := make(map[uint32]struct{}, 8)
	for i := range n {
		seen[t.partition(&t.inflight[i])] = struct{}{}
		if len(seen) > maxPartitionsPerInsert {
			return i
		}
	}
	return n
}

func (t *table[R]) write(ctx context.Context, conn driver.Conn, n int) error {
	rows := t.inflight[:n]
	batch, err := conn.PrepareBatch(ctx, t.insert)
	if err != nil {
		return fmt.Errorf("insert into %s: prepare: %w", t.name, err)
	}
	defer batch.Abort() //nolint:errcheck // no-op after Send
	for i, c := range t.columns {
		if err := batch.Column(i).Append(c.values(rows)); err != nil {
			return permanentError{fmt.Errorf("insert into %s: column %s: %w", t.name, c.name, err)}
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", t.name, err)
	}
	return nil
}

func (t *table[R]) done(n int) {
	clear(t.inflight[:n])
	if n == len(t.inflight) {
		t.inflight = t.inflight[:0]
		return
	}
	t.inflight = t.inflight[n:]
}
