package chsink

import (
	"strings"
	"time"
)

// column maps one field of row type R to a ClickHouse column.
type column[R any] struct {
	name string
	// values returns one value per row as a slice of the column's Go type, for columnar appends.
	values func(rows []R) any
}

func col[R, V any](name string, get func(*R) V) column[R] {
	return column[R]{name: name, values: func(rows []R) any {
		out := make([]V, len(rows))
		for i := range rows {
			out[i] = get(&rows[i])
		}
		return out
	}}
}

func insertQuery[R any](database, table string, cols []column[R]) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	// 18.16 rejects INSERTs that do not name their columns.
	return "INSERT INTO " + database + "." + table + " (" + strings.Join(names, ", ") + ")"
}

var epoch = time.Unix(0, 0).UTC()

// dateTime clamps t into DateTime's range: the driver writes times before 1970 (the zero time
// included) as garbage.
func dateTime(t time.Time) time.Time {
	if t.Before(epoch) {
		return epoch
	}
	return t
}

// millis is the milliseconds within the second of t, for the <column>_ms columns.
func millis(t time.Time) uint16 {
	if t.Before(epoch) {
		return 0
	}
	return uint16(t.Nanosecond() / int(time.Millisecond))
}

// rowVersion is the row_version of a row whose version time is t.
func rowVersion(t time.Time) uint64 {
	if t.Before(epoch) {
		return 0
	}
	return uint64(t.UnixMilli())
}

func boolean(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// day and month are the partition keys toYYYYMMDD and toYYYYMM of a DateTime('UTC') column.
func day(t time.Time) uint32 {
	t = dateTime(t).UTC()
	return uint32(t.Year()*10000 + int(t.Month())*100 + t.Day())
}

func month(t time.Time) uint32 {
	t = dateTime(t).UTC()
	return uint32(t.Year()*100 + int(t.Month()))
}
