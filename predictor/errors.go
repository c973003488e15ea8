package predictor

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/streamlearn/streamlearn/ingest"
)

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
	// Code repeats the HTTP status code, for clients that only keep the body.
	Code int `json:"code"`
	// Reason is the machine-readable cause: an ingest.Reason for a bad event, else one of the
	// Reason constants below.
	Reason string `json:"reason,omitempty"`
	// Field is the JSON path of the input at fault ("time", "events[2].fields.amount", "version").
	Field string `json:"field,omitempty"`
	// Index is the position of the bad event in a batch.
	Index *int `json:"index,omitempty"`
}

// Reasons of error responses that are not about an event's content.
const (
	ReasonBadRequest  = "bad_request"
	ReasonTooLarge    = "too_large"
	ReasonTooMany     = "too_many_events"
	ReasonNotReady    = "not_ready"
	ReasonUnavailable = "unavailable"
	ReasonNotFound    = "not_found"
	ReasonConflict    = "conflict"
	ReasonRateLimited = "rate_limited"
	ReasonInternal    = "internal"
)

// WriteJSON writes v with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes an Error body; e.Code is set from code.
func WriteError(w http.ResponseWriter, code int, e Error) {
	e.Code = code
	WriteJSON(w, code, e)
}

// eventError describes a decoding error of the event at index (-1: not in a batch).
func eventError(err error, index int) Error {
	e := Error{Error: err.Error(), Reason: string(ingest.ReasonOf(err)), Field: fieldOf(err)}
	if e.Reason == "" {
		e.Reason = ReasonBadRequest
	}
	if index >= 0 {
		e.Index = &index
		prefix := "events[" + strconv.Itoa(index) + "]"
		if e.Field != "" {
			prefix += "." + e.Field
		}
		e.Field = prefix
	}
	return e
}

// fieldOf names the part of an event a decoding error is about.
func fieldOf(err error) string {
	var ie *ingest.InvalidError
	if !errors.As(err, &ie) {
		return ""
	}
	switch ie.Reason {
	case ingest.ReasonMissingID, ingest.ReasonBadID:
		return "id"
	case ingest.ReasonBadEntity:
		return "entity"
	case ingest.ReasonBadTime:
		return "time"
	case ingest.ReasonBadFields, ingest.ReasonTooMany:
		return "fields"
	case ingest.ReasonBadFieldType:
		// The detail reads `field "name": why`.
		if rest, ok := strings.CutPrefix(ie.Detail, "field "); ok {
			if name, err := strconv.QuotedPrefix(rest); err == nil {
				if n, err := strconv.Unquote(name); err == nil {
					return "fields." + n
				}
			}
		}
		return "fields"
	}
	return ""
}
