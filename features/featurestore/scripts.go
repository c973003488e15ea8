package featurestore

import (
	"context"
	_ "embed"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

//go:embed write.lua
var writeSource string

var writeScript = goredis.NewScript(writeSource)

// scriptCall is one EVALSHA: the keys of one hash slot (on a cluster) or of one chunk of a batch.
type scriptCall struct {
	keys []string
	args []any
	cmd  *goredis.Cmd
}

// runScript runs the calls in one pipeline: one round trip per Redis node. A node that lost its
// scripts (restart, failover, SCRIPT FLUSH) answers NOSCRIPT without running anything; the script
// is then loaded on every node and those calls run again.
func runScript(ctx context.Context, rdb goredis.UniversalClient, script *goredis.Script, calls []*scriptCall) error {
	exec := func(calls []*scriptCall) error {
		pipe := rdb.Pipeline()
		for _, c := range calls {
			c.cmd = pipe.EvalSha(ctx, script.Hash(), c.keys, c.args...)
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	err := exec(calls)
	if err == nil {
		return nil
	}
	// The pipeline's error is its first failed command's; a NOSCRIPT from one node may follow
	// another node's error.
	lost := false
	for _, c := range calls {
		lost = lost || goredis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT")
	}
	if !lost {
		return err
	}
	if err := script.Load(ctx, rdb).Err(); err != nil {
		return fmt.Errorf("load script: %w", err)
	}
	var again []*scriptCall
	for _, c := range calls {
		if goredis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			again = append(again, c)
		}
	}
	return exec(again)
}
