// Package ingest decodes and validates the records producers publish — events and outcomes — and
// sends everything it cannot accept to the dead-letter topic with a readable reason. Nothing here
// stops on bad input: every record either becomes a value the pipeline can use or a dead letter.
package ingest

import (
	"time"
)

// Limits bound what a record may contain. The zero value is not useful: start from DefaultLimits.
type Limits struct {
	// MaxRecordBytes is the largest record value accepted (default 64 KiB).
	MaxRecordBytes int `yaml:"max_record_bytes"`
	// MaxFields is the most fields an event may have (default 256).
	MaxFields int `yaml:"max_fields"`
	// MaxIDBytes bounds ids and entity keys (default 256).
	MaxIDBytes int `yaml:"max_id_bytes"`
	// MaxStringBytes bounds string field values and field names (default 1024).
	MaxStringBytes int `yaml:"max_string_bytes"`
	// MaxFutureSkew is how far past the wall clock an event time may lie (default 24h).
	MaxFutureSkew time.Duration `yaml:"max_future_skew"`
}

// DefaultLimits returns the limits used when the config names none.
func DefaultLimits() Limits {
	return Limits{
		MaxRecordBytes: 64 << 10,
		MaxFields:      256,
		MaxIDBytes:     256,
		MaxStringBytes: 1024,
		MaxFutureSkew:  24 * time.Hour,
	}
}
