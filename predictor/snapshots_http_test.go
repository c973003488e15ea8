package predictor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// learning stands for the learner: every step learns one more example and publishes it as the
// live head, auto-promoted unless a pin holds, and the predictor follows.
type learning struct {
	e     *env
	tr    learner.Trainer
	snaps map[int64]*learner.Snapshot
}

func (l *learning) step(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	l.tr.Learn(wire.Vector{}, learner.Label{Value: 1})
	b, err := l.tr.Snapshot().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v, err := l.e.reg.Publish(ctx, learner.Version{Model: "default", Spec: l.tr.Spec(), Examples: l.tr.Seen()}, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.snaps[v.Version] = l.tr.Snapshot()
	if _, err := l.e.reg.Promote(ctx, "default", v.Version, "auto", false, false); err != nil && !errors.Is(err, learner.ErrPinned) {
		t.Fatal(err)
	}
	if err := l.e.loader.Sync(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	return v.Version
}

// TestSnapshotsVersionsRollbackToAndUnpin: snapshots on demand, the versions list, rollback to a
// tag, a time and a version, scores equal to the snapshot's while learning goes on beside the
// pin, and unpin back to the live head.
func TestSnapshotsVersionsRollbackToAndUnpin(t *testing.T) {
	e := newEnv(t)
	tr, err := learner.NewTrainer(spec("default"))
	if err != nil {
		t.Fatal(err)
	}
	l := &learning{e: e, tr: tr, snaps: map[int64]*learner.Snapshot{}}
	srv := serve(t, e.api(t, router(t, predictor.Config{})))
	url := srv.URL + "/v1/models/default/"
	scoreIs := func(version int64) {
		t.Helper()
		var s predictor.Score
		if code := post(t, nil, srv.URL+"/v1/score", `{"id": "x"}`, &s); code != 200 || s.Version != version || s.Score != l.snaps[version].Predict(wire.Vector{}).Score {
			t.Fatalf("score = %d %+v, want version %d's %v", code, s, version, l.snaps[version].Predict(wire.Vector{}).Score)
		}
	}

	l.step(t) // 1
	var v learner.Version
	if code := post(t, nil, url+"snapshots", `{"tag": "good", "by": "ana", "reason": "before the launch"}`, &v); code != 201 ||
		v.Version != 1 || v.Kind != learner.SnapshotManual || v.By != "ana" || len(v.Tags) != 1 || v.Tags[0] != "good" {
		t.Fatalf("snapshot = %d %+v", code, v)
	}
	l.step(t)
	l.step(t) // 3
	scoreIs(3)
	v = learner.Version{} // decoding fills only the fields present
	if code := post(t, nil, url+"snapshots", ``, &v); code != 201 || v.Version != 3 || len(v.Tags) != 0 || v.By != "http 127.0.0.1" {
		t.Fatalf("untagged snapshot = %d %+v", code, v)
	}
	var vs predictor.Versions
	if code := get(t, url+"versions", &vs); code != 200 || vs.Live == nil || vs.Live.Version != 3 || vs.Champion != 3 || vs.Pinned ||
		len(vs.Versions) != 2 || vs.Versions[0].Version != 3 || vs.Versions[1].Version != 1 || vs.Versions[1].Note != "before the launch" {
		t.Fatalf("versions = %d %+v", code, vs)
	}
	v3Time := vs.Versions[0].CreatedAt

	var res predictor.ChampionResult
	if code := post(t, nil, url+"rollback", `{"to": "good", "reason": "bad launch", "by": "ana"}`, &res); code != 200 ||
		res.Version != 1 || res.Previous != 3 || !res.Pinned || res.Serving != 1 {
		t.Fatalf("rollback to a tag = %d %+v", code, res)
	}
	scoreIs(1)
	// Learning goes on beside the pin: the live head moves, serving does not.
	l.step(t)
	live := l.step(t) // 5
	scoreIs(1)
	vs = predictor.Versions{}
	if code := get(t, url+"versions", &vs); code != 200 || vs.Live.Version != live || vs.Champion != 1 || !vs.Pinned {
		t.Fatalf("versions while pinned = %d %+v", code, vs)
	}
	if code := post(t, nil, url+"rollback", `{"to": "`+v3Time.Add(time.Millisecond).Format(time.RFC3339Nano)+`"}`, &res); code != 200 || res.Version != 3 || res.Serving != 3 {
		t.Fatalf("rollback to a time = %d %+v", code, res)
	}
	scoreIs(3)
	if code := post(t, nil, url+"rollback", `{"to": "5"}`, &res); code != 200 || res.Version != 5 {
		t.Fatalf("rollback to the live head = %d %+v", code, res)
	}
	l.step(t) // 6: version 5 stays, retained by its promotion
	scoreIs(5)
	if got, err := e.reg.Get(context.Background(), "default", 5); err != nil || got.Kind != learner.SnapshotPromotion {
		t.Fatalf("version 5 = %+v, %v; want retained on promotion", got, err)
	}
	if code := post(t, nil, url+"unpin", `{"by": "bo"}`, &res); code != 200 || res.Version != 6 || res.Pinned || res.Serving != 6 {
		t.Fatalf("unpin = %d %+v", code, res)
	}
	l.step(t) // 7: followed again
	scoreIs(7)

	hist, _ := e.reg.History(context.Background(), "default")
	if len(hist) != 4 || hist[0].By != "bo" || hist[3].By != "ana" || hist[3].Reason != "bad launch" || hist[2].By != "http 127.0.0.1" {
		t.Errorf("history = %+v", hist)
	}
}

func TestSnapshotAndRollbackErrors(t *testing.T) {
	e := newEnv(t)
	tr, err := learner.NewTrainer(spec("default"))
	if err != nil {
		t.Fatal(err)
	}
	l := &learning{e: e, tr: tr, snaps: map[int64]*learner.Snapshot{}}
	srv := serve(t, e.api(t, router(t, predictor.Config{})))
	l.step(t)
	if _, err := e.reg.TakeSnapshot(context.Background(), "default", learner.SnapshotRequest{Tag: "taken"}); err != nil {
		t.Fatal(err)
	}
	l.step(t)
	l.step(t) // 3; version 2 is gone
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name, method, path, body string
		code                     int
		reason, field            string
	}{
		{"tag is a number", "POST", "default/snapshots", `{"tag": "12"}`, 400, "bad_request", "tag"},
		{"tag is a time", "POST", "default/snapshots", `{"tag": "2026-11-01T00:00:00Z"}`, 400, "bad_request", "tag"},
		{"tag with a space", "POST", "default/snapshots", `{"tag": "a b"}`, 400, "bad_request", "tag"},
		{"tag taken", "POST", "default/snapshots", `{"tag": "taken"}`, 409, "conflict", "tag"},
		{"unknown key", "POST", "default/snapshots", `{"label": "x"}`, 400, "bad_request", ""},
		{"no such model", "POST", "nope/snapshots", `{}`, 404, "not_found", ""},
		{"versions of no such model", "GET", "nope/versions", ``, 404, "not_found", ""},
		{"rollback to a gone version", "POST", "default/rollback", `{"to": "2"}`, 404, "not_found", "to"},
		{"rollback to no tag", "POST", "default/rollback", `{"to": "nope"}`, 404, "not_found", "to"},
		{"rollback before everything", "POST", "default/rollback", `{"to": "2000-01-01T00:00:00Z"}`, 404, "not_found", "to"},
		{"rollback to a number", "POST", "default/rollback", `{"to": 1}`, 400, "bad_request", "to"},
		{"rollback ref too long", "POST", "default/rollback", `{"to": "` + string(long) + `"}`, 400, "bad_request", "to"},
		{"unpin a model never published", "POST", "nope/unpin", ``, 409, "conflict", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got predictor.Error
			var code int
			if tt.method == "GET" {
				code = get(t, srv.URL+"/v1/models/"+tt.path, &got)
			} else {
				code = post(t, nil, srv.URL+"/v1/models/"+tt.path, tt.body, &got)
			}
			if code != tt.code || got.Code != tt.code || got.Reason != tt.reason || got.Field != tt.field {
				t.Errorf("%s %s = %d %+v, want %d reason %q field %q", tt.method, tt.path, code, got, tt.code, tt.reason, tt.field)
			}
		})
	}
	if s := e.models.Get("default"); s.Version != 3 {
		t.Errorf("serving %d after failed requests, want 3", s.Version)
	}
	if h, _ := e.reg.History(context.Background(), "default"); len(h) != 0 {
		t.Errorf("history after failed requests: %+v", h)
	}
}
