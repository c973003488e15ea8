package registry_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/wire"
)

// TestExportImportRoundTripIntoFreshRedis: a tagged snapshot exported to a bundle and imported
// under another name into a fresh Redis scores 2,000 vectors exactly as the original (to 1e-12),
// becomes the champion there, and a bundle with one byte changed is refused.
func TestExportImportRoundTripIntoFreshRedis(t *testing.T) {
	ctx := context.Background()
	src, prefix := client(t)
	reg := registry.NewRegistry(src, prefix)
	spec := learner.DefaultSpec()
	spec.Name, spec.Crosses = "fraud", [][2]string{{"country", "device"}}
	tr, err := learner.NewTrainer(spec)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() wire.Vector {
		c := []string{"DE", "US", "FR"}[rng.IntN(3)]
		d := []string{"ios", "web"}[rng.IntN(2)]
		return wire.Vector{{Name: "amount", Value: rng.Float64() * 100}, {Name: "age", Value: 18 + rng.Float64()*60},
			{Name: "country=" + c, Value: 1}, {Name: "device=" + d, Value: 1}}
	}
	for range 3000 {
		v := vec()
		y := 0.0
		if v[0].Value > 60 || v[2].Name == "country=US" {
			y = 1
		}
		tr.Learn(v, learner.Label{Value: y})
	}
	b, _ := tr.Snapshot().MarshalBinary()
	v, err := reg.Publish(ctx, learner.Version{Model: "fraud", Spec: tr.Spec(), Examples: tr.Seen(), Metrics: learner.Metrics{N: 3000, AUC: 0.9}}, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.TakeSnapshot(ctx, "fraud", learner.SnapshotRequest{Tag: "golden"}); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetReport(ctx, "fraud", v.Version, learner.Report{HeldOut: &learner.HeldOut{N: 100, AUC: 0.91}}); err != nil {
		t.Fatal(err)
	}
	n, err := reg.Resolve(ctx, "fraud", "golden")
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := reg.Get(ctx, "fraud", n)
	weights, _ := reg.Snapshot(ctx, "fraud", n)
	bundle, err := learner.NewBundle(meta, weights, map[string]any{"fields": []string{"amount", "age"}})
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	if _, err := bundle.WriteTo(&file); err != nil {
		t.Fatal(err)
	}

	// Another deployment: a fresh Redis server.
	dst := goredis.NewClient(&goredis.Options{Addr: testenv.StartRedis(t)})
	t.Cleanup(func() { dst.Close() })
	if keys, _ := dst.Keys(ctx, "*").Result(); len(keys) != 0 {
		t.Fatalf("the fresh Redis holds %v", keys)
	}
	other := registry.NewRegistry(dst, "")
	got, gotMeta, _, err := learner.ReadBundle(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	renamed, err := learner.RenameSnapshot(got.Snapshot, "fraud-audit")
	if err != nil {
		t.Fatal(err)
	}
	gotMeta.Model, gotMeta.Spec.Name = "fraud-audit", "fraud-audit"
	imported, err := other.Import(ctx, gotMeta, renamed, "from the test")
	if err != nil {
		t.Fatal(err)
	}
	if imported.Version != 1 || imported.Kind != learner.SnapshotImport || imported.Examples != 3000 || imported.Report == nil || imported.Report.HeldOut.AUC != 0.91 {
		t.Fatalf("imported %+v", imported)
	}
	if c, _ := other.Champion(ctx, "fraud-audit"); c != 1 {
		t.Fatalf("champion after import = %d, want 1", c)
	}
	orig, _ := learner.UnmarshalSnapshot(weights)
	loadedBytes, err := other.Snapshot(ctx, "fraud-audit", 1)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := learner.UnmarshalSnapshot(loadedBytes)
	if err != nil || loaded.Spec().Name != "fraud-audit" {
		t.Fatalf("loaded %v, %v", loaded, err)
	}
	worst := 0.0
	for range 2000 {
		x := vec()
		worst = max(worst, math.Abs(orig.Predict(x).Score-loaded.Predict(x).Score))
	}
	if worst > 1e-12 {
		t.Fatalf("largest score difference after the round trip %g, want ≤ 1e-12", worst)
	}

	// Tampering is caught: a changed weight byte, a changed version, another format.
	for i, corrupt := range []func([]byte) []byte{
		func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"examples": 3000`), []byte(`"examples": 3001`), 1)
		},
		func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"format": "streamlearn.model/v1"`), []byte(`"format": "x"`), 1)
		},
		func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"snapshot": "`)) + len(`"snapshot": "`) + 40
			c := bytes.Clone(b)
			c[i] = map[bool]byte{true: 'B', false: 'A'}[c[i] == 'A']
			return c
		},
		func(b []byte) []byte { return b[:len(b)/2] },
	} {
		bad := corrupt(file.Bytes())
		if bytes.Equal(bad, file.Bytes()) {
			t.Fatalf("corruption %d changed nothing", i)
		}
		if _, _, _, err := learner.ReadBundle(bytes.NewReader(bad)); !errors.Is(err, learner.ErrBadBundle) {
			t.Errorf("corruption %d: %v, want ErrBadBundle", i, err)
		}
	}
	t.Logf("bundle %d bytes, largest score difference %g", file.Len(), worst)
}
