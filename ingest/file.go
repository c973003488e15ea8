package ingest

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// File formats of ReadEvents.
const (
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"
)

// ReadEvents reads events from a file in batches of up to batch and calls fn with each, in file
// order. FormatJSONL: one event object per line, as on the events topic (blank lines skipped).
// FormatCSV: a header row naming the columns; "id", "entity" and "time" are the event's, every
// other column a field (a number where the cell parses as one, true/false as booleans, an empty
// cell missing, else a string). Every event is validated as on the topic (lim; now is the time of
// events without one); the first invalid one stops the read with an error naming its line.
func ReadEvents(r io.Reader, format string, lim Limits, now time.Time, batch int, fn func([]wire.Event) error) error {
	batch = max(batch, 1)
	buf := make([]wire.Event, 0, batch)
	add := func(line int, raw []byte) error {
		ev, err := DecodeEvent(raw, now, lim)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		buf = append(buf, ev)
		if len(buf) == batch {
			err, buf = fn(buf), buf[:0]
			return err
		}
		return nil
	}
	var err error
	switch format {
	case FormatJSONL:
		err = readJSONL(r, lim, add)
	case FormatCSV:
		err = readCSV(r, add)
	default:
		return fmt.Errorf("format %q: want %s or %s", format, FormatJSONL, FormatCSV)
	}
	if err != nil {
		return err
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

func readJSONL(r io.Reader, lim Limits, add func(int, []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), lim.MaxRecordBytes+1)
	for line := 1; sc.Scan(); line++ {
		if b := sc.Bytes(); len(b) > 0 {
			if err := add(line, b); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("a line is longer than %d bytes", lim.MaxRecordBytes)
		}
		return err
	}
	return nil
}

func readCSV(r io.Reader, add func(int, []byte) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("csv header: %w", err)
	}
	header = append([]string(nil), header...)
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		obj := map[string]any{}
		fields := map[string]any{}
		for i, cell := range row {
			switch name := header[i]; name {
			case "id", "entity":
				obj[name] = cell
			case "time":
				if ms, err := strconv.ParseInt(cell, 10, 64); err == nil {
					obj[name] = ms // unix milliseconds
				} else if cell != "" {
					obj[name] = cell
				}
			default:
				fields[name] = cellValue(cell)
			}
		}
		obj["fields"] = fields
		b, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := add(line, b); err != nil {
			return err
		}
	}
}

// cellValue reads a CSV cell as a field value: nil (missing), a number, a boolean or a string.
func cellValue(cell string) any {
	switch cell {
	case "":
		return nil
	case "true", "TRUE", "True":
		return true
	case "false", "FALSE", "False":
		return false
	}
	if f, err := strconv.ParseFloat(cell, 64); err == nil {
		return f
	}
	return cell
}
