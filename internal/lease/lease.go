// Package lease keeps a single active instance where one is required (a model's learner, the
// correlator): a lease in Redis, renewed while its holder works, with a fencing token that grows
// with every new holder. Writes that must come from the holder alone check the token in the same
// Redis transaction (Fenced), so a holder that lost its lease (paused, partitioned) has its writes
// refused; a standby takes over within the lease's TTL when the holder dies.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrLost is the cause of a held context's end when the lease was lost (not renewed in time, or
// taken over).
var ErrLost = errors.New("lease lost")

// ErrFenced is returned by a fenced write whose token no longer holds the lease.
var ErrFenced = errors.New("fenced: the lease is held by another instance")

// Lease is one named lease. Key must share its Redis Cluster slot with the keys its fenced writes
// touch (a hash tag).
type Lease struct {
	rdb    goredis.UniversalClient
	key    string
	holder string
	ttl    time.Duration
	log    *slog.Logger
}

// New returns the lease at key for holder (unique per process), lapsing ttl after its last renewal.
func New(rdb goredis.UniversalClient, key, holder string, ttl time.Duration, log *slog.Logger) *Lease {
	if log == nil {
		log = slog.Default()
	}
	return &Lease{rdb: rdb, key: key, holder: holder, ttl: ttl, log: log}
}

// Key returns the lease's Redis key.
func (l *Lease) Key() string { return l.key }

// acquire takes the lease if it is free or already ours and returns the fence ("" when another
// holds it). The token counter lives in the same slot as the lease.
var acquireScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  if sep and string.sub(cur, sep + 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return cur
  end
  return false
end
local token = redis.call('INCR', KEYS[2])
local fence = token .. '|' .. ARGV[1]
redis.call('SET', KEYS[1], fence, 'PX', ARGV[2])
return fence
`)

// renew extends the lease only while fence still holds it.
var renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// release gives the lease up only while fence still holds it.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func (l *Lease) tokenKey() string { return l.key + ":token" }

// TryAcquire takes the lease when it is free (or already held by this holder) and returns its
// fence, "token|holder"; "" when another holds it.
func (l *Lease) TryAcquire(ctx context.Context) (string, error) {
	v, err := acquireScript.Run(ctx, l.rdb, []string{l.key, l.tokenKey()}, l.holder, l.ttl.Milliseconds()).Text()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("acquire lease %s: %w", l.key, err)
	}
	return v, nil
}

func (l *Lease) renew(ctx context.Context, fence string) (bool, error) {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, fence, l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", l.key, err)
	}
	return n == 1, nil
}

func (l *Lease) release(ctx context.Context, fence string) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{l.key}, fence).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}

// Token returns the fencing token of a fence.
func Token(fence string) int64 {
	n, _ := strconv.ParseInt(strings.SplitN(fence, "|", 2)[0], 10, 64)
	return n
}

// Run holds the lease and runs work while it is held, until ctx ends. It waits as a standby while
// another holds the lease; once acquired it renews it every third of the TTL and runs work with a
// context that ends, with cause ErrLost, when a renewal fails to keep it. Work that ends because
// the lease was lost is run again once the lease is acquired again. Run returns work's error, or
// nil when ctx ends; the lease is released on the way out.
func (l *Lease) Run(ctx context.Context, work func(ctx context.Context, fence string) error) error {
	for {
		fence, err := l.wait(ctx)
		if err != nil {
			return nil // ctx ended while standing by
		}
		l.log.Info("lease acquired", "lease", l.key, "token", Token(fence))
		held, lose := context.WithCancelCause(ctx)
		renewed := make(chan struct{})
		go func() {
			defer close(renewed)
			l.keep(held, fence, lose)
		}()
		werr := work(held, fence)
		lost := errors.Is(context.Cause(held), ErrLost)
		lose(nil)
		<-renewed
		if !lost {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if err := l.release(rctx, fence); err != nil {
				l.log.Warn("release lease", "lease", l.key, "err", err)
			}
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			return werr
		}
		l.log.Warn("lease lost: work stopped, standing by", "lease", l.key, "token", Token(fence), "work_err", werr)
	}
}

// wait polls until the lease is acquired or ctx ends.
func (l *Lease) wait(ctx context.Context) (string, error) {
	every := max(l.ttl/5, 50*time.Millisecond)
	standby := false
	for {
		fence, err := l.TryAcquire(ctx)
		if err != nil && ctx.Err() == nil {
			l.log.Warn("lease: cannot reach redis", "lease", l.key, "err", err)
		}
		if fence != "" {
			return fence, nil
		}
		if !standby && err == nil {
			l.log.Info("lease held by another instance: standing by", "lease", l.key)
			standby = true
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
	}
}

// keep renews the lease until held ends; it ends held with ErrLost once the lease cannot have
// been kept: another took it, or no renewal succeeded for a whole TTL.
func (l *Lease) keep(held context.Context, fence string, lose context.CancelCauseFunc) {
	every := max(l.ttl/3, 20*time.Millisecond)
	lastRenewed := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-held.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(held, every)
		ok, err := l.renew(rctx, fence)
		cancel()
		switch {
		case err == nil && ok:
			lastRenewed = time.Now()
		case err == nil:
			lose(ErrLost)
			return
		case time.Since(lastRenewed) >= l.ttl-every:
			// The lease may lapse before the next try: stop before another can take over.
			lose(fmt.Errorf("%w: %w", ErrLost, err))
			return
		}
	}
}

// Check reports ErrFenced unless fence holds the lease at key. Use it inside a WATCH of key, so
// that the write that follows is refused if the lease changes hands meanwhile.
func Check(ctx context.Context, tx *goredis.Tx, key, fence string) error {
	cur, err := tx.Get(ctx, key).Result()
	if errors.Is(err, goredis.Nil) || (err == nil && cur != fence) {
		return ErrFenced
	}
	if err != nil {
		return fmt.Errorf("check lease %s: %w", key, err)
	}
	return nil
}

// FencedWrite runs write as one transaction that commits only while fence holds the lease at key
// (which must share the written keys' Redis Cluster slot); ErrFenced otherwise. A renewal touches
// the lease key and fails the WATCH, so the check is tried again a few times.
func FencedWrite(ctx context.Context, rdb goredis.UniversalClient, key, fence string, write func(goredis.Pipeliner) error) error {
	for range 10 {
		err := rdb.Watch(ctx, func(tx *goredis.Tx) error {
			if err := Check(ctx, tx, key, fence); err != nil {
				return err
			}
			_, err := tx.TxPipelined(ctx, write)
			return err
		}, key)
		if !errors.Is(err, goredis.TxFailedErr) {
			return err
		}
	}
	return fmt.Errorf("%w: the lease kept changing", ErrFenced)
}
