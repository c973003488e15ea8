package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Failure classes of a handler error. A transient error (a dependency down or slow) is retried
// with backoff for as long as it lasts, holding the offsets. Any other error may be the record's
// fault: after bounded retries the consumer isolates the records that fail and dead-letters them.
//
// Handlers mark what they know: Transient for a dependency's failure that the checks below do not
// recognize, Permanent for a record that can never succeed.

type transientError struct{ error }

func (e transientError) Unwrap() error { return e.error }

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// Transient marks err as a dependency's failure that retrying may fix.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transientError{err}
}

// Permanent marks err as a failure that no retry of the same record fixes.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsTransient reports whether err is a dependency's failure that may pass on retry: marked
// Transient, a network error, a Kafka error the protocol calls retriable, or a Redis server
// that is loading, failing over or read-only.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := errors.AsType[permanentError](err); ok {
		return false
	}
	if _, ok := errors.AsType[transientError](err); ok {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	if ke, ok := errors.AsType[*kerr.Error](err); ok {
		return ke.Retriable
	}
	msg := err.Error()
	for _, p := range transientMessages {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// transientMessages are what Redis and its client say when the server, not the request, is the
// problem; go-redis returns them as plain errors.
var transientMessages = []string{
	"LOADING ", "BUSY ", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY ", "NOREPLICAS",
	"redis: connection pool timeout", "redis: client is closed", "connection refused", "i/o timeout",
	"broken pipe", "connection reset",
	// A Redis at maxmemory with noeviction refuses writes until memory is freed or the limit is
	// raised: the server's state, not the record's, so hold the offsets rather than dead-letter.
	"OOM command not allowed",
}

// PanicError is a panic recovered from a handler, with its stack.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// callRecovering calls fn and turns a panic into a *PanicError, so that one record that makes a
// handler panic is dead-lettered instead of killing the process.
func callRecovering(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}
