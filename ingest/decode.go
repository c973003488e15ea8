package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/streamlearn/streamlearn/wire"
)

// Reason classifies why a record was rejected. It is sent with every dead letter and used as a
// metric label, so the set is small and fixed.
type Reason string

// The reasons a record is rejected.
const (
	ReasonOversize     Reason = "oversize"
	ReasonBadJSON      Reason = "bad_json"
	ReasonNotObject    Reason = "not_object"
	ReasonMissingID    Reason = "missing_id"
	ReasonBadID        Reason = "bad_id"
	ReasonBadEntity    Reason = "bad_entity"
	ReasonBadTime      Reason = "bad_time"
	ReasonBadFields    Reason = "bad_fields"
	ReasonBadFieldType Reason = "bad_field_type"
	ReasonTooMany      Reason = "too_many_fields"
	ReasonBadLabel     Reason = "bad_label"
)

// InvalidError says why a record was rejected: a fixed Reason and a readable detail.
type InvalidError struct {
	Reason Reason
	Detail string
}

func (e *InvalidError) Error() string { return string(e.Reason) + ": " + e.Detail }

func invalid(r Reason, format string, args ...any) error {
	return &InvalidError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the Reason of an error from a decoder, or "" when err is not an InvalidError.
func ReasonOf(err error) Reason {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return ""
}

type rawEvent struct {
	ID     json.RawMessage `json:"id"`
	Entity json.RawMessage `json:"entity"`
	Time   json.RawMessage `json:"time"`
	Fields json.RawMessage `json:"fields"`
}

type rawOutcome struct {
	ID    json.RawMessage `json:"id"`
	Label json.RawMessage `json:"label"`
	Time  json.RawMessage `json:"time"`
}

// DecodeEvent decodes and validates one event. now is the wall clock: the time of events that carry
// none, and the reference for MaxFutureSkew. Errors are *InvalidError.
func DecodeEvent(b []byte, now time.Time, lim Limits) (wire.Event, error) {
	var raw rawEvent
	if err := decodeObject(b, lim, &raw); err != nil {
		return wire.Event{}, err
	}
	ev := wire.Event{}
	var err error
	if ev.ID, err = decodeID(raw.ID, lim); err != nil {
		return wire.Event{}, err
	}
	if ev.Entity, err = decodeEntity(raw.Entity, lim); err != nil {
		return wire.Event{}, err
	}
	if ev.Time, err = decodeTime(raw.Time, now, lim); err != nil {
		return wire.Event{}, err
	}
	if ev.Fields, err = decodeFields(raw.Fields, lim); err != nil {
		return wire.Event{}, err
	}
	return ev, nil
}

// DecodeOutcome decodes and validates one outcome. Errors are *InvalidError.
func DecodeOutcome(b []byte, now time.Time, lim Limits) (wire.Outcome, error) {
	var raw rawOutcome
	if err := decodeObject(b, lim, &raw); err != nil {
		return wire.Outcome{}, err
	}
	var o wire.Outcome
	var err error
	if o.ID, err = decodeID(raw.ID, lim); err != nil {
		return wire.Outcome{}, err
	}
	if o.Time, err = decodeTime(raw.Time, now, lim); err != nil {
		return wire.Outcome{}, err
	}
	if len(raw.Label) == 0 || isNull(raw.Label) {
		return wire.Outcome{}, invalid(ReasonBadLabel, `"label" is required`)
	}
	v, err := decodeScalar(raw.Label, lim)
	if err != nil {
		return wire.Outcome{}, invalid(ReasonBadLabel, `"label": %v`, err)
	}
	switch l := v.(type) {
	case float64:
		o.Value = l
	case bool:
		if l {
			o.Value = 1
		}
	case string:
		o.Class = l
	}
	return o, nil
}

func decodeObject(b []byte, lim Limits, dst any) error {
	if lim.MaxRecordBytes > 0 && len(b) > lim.MaxRecordBytes {
		return invalid(ReasonOversize, "record is %d bytes, the limit is %d", len(b), lim.MaxRecordBytes)
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return invalid(ReasonBadJSON, "empty record")
	}
	if !utf8.Valid(trimmed) {
		return invalid(ReasonBadJSON, "record is not valid UTF-8")
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return invalid(ReasonBadJSON, "not valid JSON")
		}
		return invalid(ReasonNotObject, "record is JSON but not an object")
	}
	if err := wire.Unmarshal(trimmed, dst); err != nil {
		return invalid(ReasonBadJSON, "not valid JSON: %v", err)
	}
	return nil
}

func isNull(r json.RawMessage) bool { return string(r) == "null" }

func decodeID(r json.RawMessage, lim Limits) (string, error) {
	if len(r) == 0 || isNull(r) {
		return "", invalid(ReasonMissingID, `"id" is required`)
	}
	var id string
	if err := wire.Unmarshal(r, &id); err != nil {
		return "", invalid(ReasonBadID, `"id" must be a string, got %s`, jsonKind(r))
	}
	if id == "" {
		return "", invalid(ReasonMissingID, `"id" is empty`)
	}
	if len(id) > lim.MaxIDBytes {
		return "", invalid(ReasonBadID, `"id" is %d bytes, the limit is %d`, len(id), lim.MaxIDBytes)
	}
	return id, nil
}

func decodeEntity(r json.RawMessage, lim Limits) (string, error) {
	if len(r) == 0 || isNull(r) {
		return "", nil
	}
	var e string
	if err := wire.Unmarshal(r, &e); err != nil {
		// Numeric entity ids are common (user 42): accept integers, keep their text.
		var n json.Number
		if wire.Unmarshal(r, &n) == nil {
			if _, ierr := n.Int64(); ierr == nil {
				return n.String(), nil
			}
		}
		return "", invalid(ReasonBadEntity, `"entity" must be a string or an integer, got %s`, jsonKind(r))
	}
	if len(e) > lim.MaxIDBytes {
		return "", invalid(ReasonBadEntity, `"entity" is %d bytes, the limit is %d`, len(e), lim.MaxIDBytes)
	}
	return e, nil
}

// minTime keeps obviously wrong clocks (seconds sent as milliseconds, zero dates) out of the windows.
var minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func decodeTime(r json.RawMessage, now time.Time, lim Limits) (time.Time, error) {
	if len(r) == 0 || isNull(r) {
		return now.UTC(), nil
	}
	var t time.Time
	switch r[0] {
	case '"':
		var s string
		if err := wire.Unmarshal(r, &s); err != nil {
			return time.Time{}, invalid(ReasonBadTime, `"time": %v`, err)
		}
		parsed, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, invalid(ReasonBadTime, `"time" %q is not RFC 3339 (2006-01-02T15:04:05Z) or unix milliseconds`, truncate(s, 64))
		}
		t = parsed
	default:
		var n json.Number
		if err := wire.Unmarshal(r, &n); err != nil {
			return time.Time{}, invalid(ReasonBadTime, `"time" must be an RFC 3339 string or unix milliseconds, got %s`, jsonKind(r))
		}
		ms, err := strconv.ParseFloat(n.String(), 64)
		if err != nil || math.IsInf(ms, 0) || math.Abs(ms) > 1e15 {
			return time.Time{}, invalid(ReasonBadTime, `"time" %s is out of range for unix milliseconds`, truncate(n.String(), 32))
		}
		t = time.UnixMilli(int64(ms))
	}
	t = t.UTC()
	if t.Before(minTime) {
		return time.Time{}, invalid(ReasonBadTime, `"time" %s is before %s`, t.Format(time.RFC3339), minTime.Format("2006-01-02"))
	}
	if lim.MaxFutureSkew > 0 && t.After(now.Add(lim.MaxFutureSkew)) {
		return time.Time{}, invalid(ReasonBadTime, `"time" %s is more than %s in the future`, t.Format(time.RFC3339), lim.MaxFutureSkew)
	}
	return t, nil
}

var rawFieldsPool = sync.Pool{New: func() any { return make(map[string]json.RawMessage, 16) }}

func decodeFields(r json.RawMessage, lim Limits) (map[string]any, error) {
	if len(r) == 0 || isNull(r) {
		return map[string]any{}, nil
	}
	if r[0] != '{' {
		return nil, invalid(ReasonBadFields, `"fields" must be an object, got %s`, jsonKind(r))
	}
	// The codec makes a map of 64 entries (5 KiB) when given none: a pooled one is reused.
	raw := rawFieldsPool.Get().(map[string]json.RawMessage)
	defer func() { clear(raw); rawFieldsPool.Put(raw) }()
	if err := wire.Unmarshal(r, &raw); err != nil {
		return nil, invalid(ReasonBadFields, `"fields": %v`, err)
	}
	if len(raw) > lim.MaxFields {
		return nil, invalid(ReasonTooMany, `"fields" has %d entries, the limit is %d`, len(raw), lim.MaxFields)
	}
	fields := make(map[string]any, len(raw))
	for name, v := range raw {
		if name == "" || len(name) > lim.MaxStringBytes {
			return nil, invalid(ReasonBadFields, "field name %q must be 1 to %d bytes", truncate(name, 64), lim.MaxStringBytes)
		}
		if isNull(v) {
			continue // a missing value: the feature is absent for this event
		}
		val, err := decodeScalar(v, lim)
		if err != nil {
			return nil, invalid(ReasonBadFieldType, "field %q: %v", truncate(name, 64), err)
		}
		fields[name] = val
	}
	return fields, nil
}

// decodeScalar returns a float64, string or bool.
func decodeScalar(r json.RawMessage, lim Limits) (any, error) {
	switch r[0] {
	case '"':
		var s string
		if plainString(r) {
			s = string(r[1 : len(r)-1])
		} else if err := wire.Unmarshal(r, &s); err != nil {
			return nil, err
		}
		if len(s) > lim.MaxStringBytes {
			return nil, fmt.Errorf("string of %d bytes, the limit is %d", len(s), lim.MaxStringBytes)
		}
		return s, nil
	case 't', 'f':
		switch string(r) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		var b bool
		if err := wire.Unmarshal(r, &b); err != nil {
			return nil, err
		}
		return b, nil
	case '{', '[':
		return nil, fmt.Errorf("must be a number, string or boolean, got %s", jsonKind(r))
	default:
		f, err := strconv.ParseFloat(string(r), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("number %s is out of range", truncate(string(r), 32))
		}
		return f, nil
	}
}

// plainString reports whether r is a JSON string without escapes or control characters, whose
// text between the quotes is its value (the record was checked to be UTF-8).
func plainString(r []byte) bool {
	if len(r) < 2 || r[0] != '"' || r[len(r)-1] != '"' {
		return false
	}
	for _, c := range r[1 : len(r)-1] {
		if c < 0x20 || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}

func jsonKind(r json.RawMessage) string {
	if len(r) == 0 {
		return "nothing"
	}
	switch r[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
