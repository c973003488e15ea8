package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/wire"
)

// TestModelsSnapshotRollbackExportImport drives the registry's command line against a real Redis
// and broker: a tagged snapshot, the versions table, a rollback to the tag recorded with who and
// why, unpin, and an export imported under another name into a fresh Redis that scores alike.
func TestModelsSnapshotRollbackExportImport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	ctx := context.Background()
	addrA, addrB := testenv.StartRedis(t), testenv.StartRedis(t)
	brokers := testenv.Kafka(t, 1, "models")
	cli := func(wantOK bool, redisAddr string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"models"}, append(args, "--redis", redisAddr, "--kafka", brokers)...)...)
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("streamlearn models %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: addrA})
	t.Cleanup(func() { rdb.Close() })
	reg := registry.NewRegistry(rdb, config.DefaultConfig().Redis.KeyPrefix)
	spec := learner.DefaultSpec()
	tr, err := learner.NewTrainer(spec)
	if err != nil {
		t.Fatal(err)
	}
	snaps := map[int64]*learner.Snapshot{}
	learn := func() int64 { // the learner's publish: the live head, auto-promoted unless pinned
		t.Helper()
		for i := range 50 {
			tr.Learn(wire.Vector{{Name: "amount", Value: float64(i % 7)}}, learner.Label{Value: float64(i % 2)})
		}
		b, _ := tr.Snapshot().MarshalBinary()
		v, err := reg.Publish(ctx, learner.Version{Model: "default", Spec: tr.Spec(), Examples: tr.Seen()}, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		snaps[v.Version] = tr.Snapshot()
		if _, err := reg.Promote(ctx, "default", v.Version, "auto", false, false); err != nil && !errors.Is(err, learner.ErrPinned) {
			t.Fatal(err)
		}
		return v.Version
	}
	learn()
	learn()
	if out := cli(true, addrA, "snapshot", "default", "--tag", "good", "--by", "ana"); !strings.Contains(out, "snapshot of version 2 (100 examples) tags [good]") {
		t.Errorf("snapshot: %s", out)
	}
	learn()
	out := cli(true, addrA, "versions", "default")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "3 ") || !strings.Contains(lines[1], " live ") ||
		!strings.HasPrefix(lines[2], "2 ") || !strings.Contains(lines[2], " manual ") || !strings.Contains(lines[2], " good ") {
		t.Errorf("versions:\n%s", out)
	}
	if out := cli(true, addrA, "rollback", "default", "--to", "good", "--reason", "bad release", "--by", "ana"); !strings.Contains(out, "champion 3 -> 2 (pinned") {
		t.Errorf("rollback: %s", out)
	}
	learn() // 4: learning goes on, the pin holds
	if c, _ := reg.Champion(ctx, "default"); c != 2 {
		t.Fatalf("champion %d after a rollback to the tag, want 2", c)
	}
	hist, _ := reg.History(ctx, "default")
	if len(hist) != 1 || hist[0].By != "ana" || hist[0].Reason != "bad release" || !hist[0].Pinned {
		t.Errorf("history %+v", hist)
	}
	if out := cli(true, addrA, "show", "default", "good"); !strings.Contains(out, `"tags": [`) || !strings.Contains(out, `"version": 2,`) {
		t.Errorf("show good: %s", out)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "good.json")
	if out := cli(true, addrA, "export", "default@good", file); !strings.Contains(out, "default version 2 (100 examples) -> ") {
		t.Errorf("export: %s", out)
	}
	if out := cli(true, addrB, "import", file, "--as", "audit"); !strings.Contains(out, "audit: imported as version 1") || strings.Contains(out, "warning") {
		t.Errorf("import: %s", out)
	}
	rdbB := goredis.NewClient(&goredis.Options{Addr: addrB})
	t.Cleanup(func() { rdbB.Close() })
	regB := registry.NewRegistry(rdbB, config.DefaultConfig().Redis.KeyPrefix)
	if c, _ := regB.Champion(ctx, "audit"); c != 1 {
		t.Fatalf("champion of the import = %d, want 1", c)
	}
	b, err := regB.Snapshot(ctx, "audit", 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		x := wire.Vector{{Name: "amount", Value: float64(i)}}
		if g, w := got.Predict(x).Score, snaps[2].Predict(x).Score; g != w {
			t.Fatalf("imported scores %v, the exported version %v", g, w)
		}
	}
	// A damaged file is refused.
	data, _ := os.ReadFile(file)
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), `"examples": 100`, `"examples": 101`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := cli(false, addrB, "import", bad); !strings.Contains(out, "not an intact model bundle") {
		t.Errorf("import of a damaged file: %s", out)
	}
	if out := cli(true, addrA, "unpin", "default", "--by", "bo"); !strings.Contains(out, "champion 2 -> 4 (following the live version)") {
		t.Errorf("unpin: %s", out)
	}
}

// TestScoreAndBackfillFiles: backfill loads a CSV history for a new entity; score scores a JSON-lines
// file with a named snapshot, each event with its features as of its time, exactly as the store and
// the snapshot score them in process, into CSV and JSON lines, changing nothing in the store.
func TestScoreAndBackfillFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	ctx := context.Background()
	addr := testenv.StartRedis(t)
	cfg := config.DefaultConfig()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	reg := registry.NewRegistry(rdb, cfg.Redis.KeyPrefix)
	tr, err := learner.NewTrainer(learner.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		tr.Learn(wire.Vector{{Name: "amount", Value: float64(i % 9)}, {Name: "count_1h", Value: float64(i % 4)}}, learner.Label{Value: float64(i % 9 / 5)})
	}
	b, _ := tr.Snapshot().MarshalBinary()
	if _, err := reg.Publish(ctx, learner.Version{Model: "default", Spec: tr.Spec(), Kind: learner.SnapshotScheduled}, b, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Promote(ctx, "default", 1, "auto", false, false); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--redis", addr)...).CombinedOutput()
		if err != nil {
			t.Fatalf("streamlearn %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	base := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	hist := "id,entity,time,amount\n"
	for i := range 3 {
		hist += fmt.Sprintf("h-%d,u-1,%s,%d\n", i, base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), 2*i+1)
	}
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if out := run("backfill", "--input", write("hist.csv", hist)); !strings.Contains(out, "3 events applied to 1 new entities; 0 events skipped") {
		t.Errorf("backfill: %s", out)
	}
	var lines []string
	var evs []wire.Event
	for i := range 5 {
		ev := wire.Event{ID: fmt.Sprintf("e-%d", i), Entity: fmt.Sprintf("u-%d", 1+i%2), Time: base.Add(time.Duration(10+i) * time.Minute), Fields: map[string]any{"amount": float64(i)}}
		evs = append(evs, ev)
		b, _ := json.Marshal(map[string]any{"id": ev.ID, "entity": ev.Entity, "time": ev.Time, "fields": ev.Fields})
		lines = append(lines, string(b))
	}
	input := write("in.jsonl", strings.Join(lines, "\n")+"\n")
	store, err := featurestore.NewOnline(rdb, cfg.Features, featurestore.Options{Prefix: cfg.Redis.KeyPrefix, TTL: cfg.Redis.EntityTTL})
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := store.Aggregates(ctx, "u-1", time.Time{})
	vs, err := store.Lookup(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if vs[0].Map()["count_1h"] != 3 {
		t.Fatalf("the backfilled history is not in u-1's features: %v", vs[0])
	}
	outCSV, outJSON := filepath.Join(dir, "out.csv"), filepath.Join(dir, "out.jsonl")
	run("score", "--model", "default@1", "--input", input, "--output", outCSV)
	run("score", "--model", "default", "--input", input, "--output", outJSON)
	csvData, _ := os.ReadFile(outCSV)
	rows := strings.Split(strings.TrimSpace(string(csvData)), "\n")
	jsonData, _ := os.ReadFile(outJSON)
	jrows := strings.Split(strings.TrimSpace(string(jsonData)), "\n")
	if len(rows) != 6 || rows[0] != "id,entity,model,version,score,class,time" || len(jrows) != 5 {
		t.Fatalf("outputs:\n%s\n%s", csvData, jsonData)
	}
	for i, ev := range evs {
		want := tr.Snapshot().Predict(vs[i]).Score
		cells := strings.Split(rows[i+1], ",")
		got, _ := strconv.ParseFloat(cells[4], 64)
		var p wire.Prediction
		if err := json.Unmarshal([]byte(jrows[i]), &p); err != nil {
			t.Fatal(err)
		}
		if cells[0] != ev.ID || cells[3] != "1" || got != want || p.ID != ev.ID || p.Score != want || p.Version != 1 || p.Route != "batch" {
			t.Errorf("event %s: csv %v, json %+v; want score %v", ev.ID, cells, p, want)
		}
	}
	if after, _, _ := store.Aggregates(ctx, "u-1", time.Time{}); !reflect.DeepEqual(before, after) {
		t.Errorf("scoring changed the store: %+v -> %+v", before, after)
	}
}
