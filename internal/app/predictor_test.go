package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	segkafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// startRoles runs the given roles of cfg in the background until the test ends.
func startRoles(t *testing.T, cfg config.Config, roles ...app.Role) *running {
	t.Helper()
	m := app.New(cfg, roles...)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Main: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	select {
	case <-m.Ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("streamlearn %v did not start: %v", roles, err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("streamlearn not ready after 60s")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// learnerSide publishes versions of a model as a separate learner does: registry, then the models topic.
type learnerSide struct {
	reg      *registry.Registry
	producer *kgo.Client
	topic    string
}

func newLearnerSide(t *testing.T, cfg config.Config) *learnerSide {
	t.Helper()
	rdb, err := app.RedisClient(cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &learnerSide{reg: registry.NewRegistry(rdb, cfg.Redis.KeyPrefix), producer: cl, topic: cfg.Kafka.Topics.Models}
}

// publish adds a version of model that learned examples of label 1 (so its bias is its own),
// and promotes it automatically.
func (l *learnerSide) publish(t *testing.T, model string, examples int) int64 {
	t.Helper()
	spec := learner.DefaultSpec()
	spec.Name = model
	tr, err := learner.NewTrainer(spec)
	if err != nil {
		t.Fatal(err)
	}
	for range examples {
		tr.Learn(wire.Vector{}, learner.Label{Value: 1})
	}
	snap, _ := tr.Snapshot().MarshalBinary()
	ctx := context.Background()
	// Retained, as a scheduled snapshot: the tests promote versions older than the live head.
	v, err := l.reg.Publish(ctx, learner.Version{Model: model, Spec: spec, Examples: tr.Seen(), Kind: learner.SnapshotScheduled}, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.reg.Promote(ctx, model, v.Version, "published", false, false); err != nil {
		t.Fatal(err)
	}
	return v.Version
}

// announce tells the predictors on the models topic.
func (l *learnerSide) announce(t *testing.T, model string, version int64) {
	t.Helper()
	b, _ := json.Marshal(wire.Announcement{Model: model, Version: version, Event: "published", Time: time.Now()})
	if err := l.producer.ProduceSync(context.Background(), &kgo.Record{Topic: l.topic, Value: b}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func scoreVersion(t *testing.T, client *http.Client, base string) (int64, int) {
	t.Helper()
	resp, err := client.Post(base+"/v1/score", "application/json", strings.NewReader(`{"id": "probe"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s predictor.Score
	_ = json.NewDecoder(resp.Body).Decode(&s)
	return s.Version, resp.StatusCode
}

func waitVersion(t *testing.T, base string, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, code := scoreVersion(t, http.DefaultClient, base)
		if code == 200 && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s serves version %d (status %d), want %d", base, got, code, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPredictorRoleAlone runs two `streamlearn predictor` processes (the HTTP role alone) with no
// ClickHouse reachable: they are ready, serve the versions a separate learner publishes, and a
// promotion over HTTP on one reaches the other through the models topic.
func TestPredictorRoleAlone(t *testing.T) {
	cfg := testConfig(t)
	cfg.ClickHouse.Addr = []string{"127.0.0.1:1"} // nothing listens: the predictor must not need it
	a := startRoles(t, cfg, app.RoleHTTP)
	b := startRoles(t, cfg, app.RoleHTTP)
	urlA, urlB := "http://"+a.HTTPAddr, "http://"+b.HTTPAddr
	if code := getJSON(t, urlA+"/readyz", nil); code != 200 {
		t.Errorf("/readyz = %d without ClickHouse, want 200", code)
	}
	waitVersion(t, urlA, 0)

	side := newLearnerSide(t, cfg)
	v1 := side.publish(t, cfg.Model.Name, 1)
	side.announce(t, cfg.Model.Name, v1)
	waitVersion(t, urlA, v1)
	waitVersion(t, urlB, v1)
	v2 := side.publish(t, cfg.Model.Name, 5)
	side.announce(t, cfg.Model.Name, v2)
	waitVersion(t, urlA, v2)
	waitVersion(t, urlB, v2)

	var res predictor.ChampionResult
	if code := postJSON(t, urlA+"/v1/models/"+cfg.Model.Name+"/promote", fmt.Sprintf(`{"version": %d}`, v1), &res); code != 200 || !res.Announced || res.Serving != v1 {
		t.Fatalf("promote = %d %+v", code, res)
	}
	start := time.Now()
	waitVersion(t, urlB, v1)
	t.Logf("the other predictor swapped %s after the promotion", time.Since(start))
}

// TestPredictorUnknownModel: a route naming a model nobody has is a start-up error that names it.
func TestPredictorUnknownModel(t *testing.T) {
	cfg := testConfig(t)
	cfg.Predictor.Routes = []predictor.Route{{Model: cfg.Model.Name, Share: 0.5}, {Model: "ghost", Share: 0.5}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := app.New(cfg, app.RoleHTTP).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), `"ghost"`) {
		t.Fatalf("Run = %v, want an error naming model ghost", err)
	}
}

// TestPredictorAuthTLSRateLimit runs the HTTP role with a bearer token from a file, HTTPS and a
// rate limit per token.
func TestPredictorAuthTLSRateLimit(t *testing.T) {
	cfg := testConfig(t)
	dir := t.TempDir()
	cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile = selfSigned(t, dir)
	cfg.HTTP.AuthTokenFile = filepath.Join(dir, "token")
	if err := os.WriteFile(cfg.HTTP.AuthTokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Predictor.RateLimit = predictor.RateLimit{PerSecond: 0.1, Burst: 3, By: predictor.ClientByToken}
	r := startRoles(t, cfg, app.RoleHTTP)

	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cfg.HTTP.TLSCertFile)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + r.HTTPAddr
	send := func(method, path, token string) (int, predictor.Error) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(`{"id": "x"}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var e predictor.Error
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e
	}
	tests := []struct {
		method, path, token string
		code                int
		reason              string
	}{
		{"GET", "/healthz", "", 200, ""},
		{"GET", "/readyz", "", 200, ""},
		{"POST", "/v1/score", "", 401, "unauthorized"},
		{"POST", "/v1/score", "wrong", 401, "unauthorized"},
		{"GET", "/v1/models", "", 401, "unauthorized"},
		{"POST", "/v1/score", "s3cret", 200, ""},
		{"GET", "/v1/models", "s3cret", 200, ""},
		{"POST", "/v1/score", "s3cret", 200, ""},
		{"POST", "/v1/score", "s3cret", 429, "rate_limited"}, // the fourth request of the token
	}
	for _, tt := range tests {
		if code, e := send(tt.method, tt.path, tt.token); code != tt.code || e.Reason != tt.reason {
			t.Errorf("%s %s (token %q) = %d %+v, want %d %s", tt.method, tt.path, tt.token, code, e, tt.code, tt.reason)
		}
	}
	// Plain HTTP on the TLS port gets nothing useful.
	if resp, err := http.Post("http://"+r.HTTPAddr+"/v1/score", "application/json", strings.NewReader(`{"id": "x"}`)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP was served on the TLS port")
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "streamlearn test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestScoreRoleWithShadow runs stream scoring alone with a shadow model published by someone
// else: every event gets one champion and one shadow prediction.
func TestScoreRoleWithShadow(t *testing.T) {
	cfg := testConfig(t)
	cfg.ClickHouse.Addr = []string{"127.0.0.1:1"}
	side := newLearnerSide(t, cfg)
	shadowVersion := side.publish(t, "slow", 3)
	cfg.Predictor.Shadow = []string{"slow"}
	startRoles(t, cfg, app.RoleScore)

	evs := stream(50, 5)
	var msgs []segkafka.Message
	for _, ev := range evs {
		msgs = append(msgs, segkafka.Message{Key: []byte(ev.Entity), Value: ev.JSON()})
	}
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, msgs...)
	recs := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Predictions, 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 2*len(evs) })
	routes := map[string]int{}
	for _, r := range recs {
		var p wire.Prediction
		if err := json.Unmarshal(r.Value, &p); err != nil {
			t.Fatal(err)
		}
		routes[p.Route+"/"+p.Model]++
		if p.Route == wire.RouteShadow && p.Version != shadowVersion {
			t.Errorf("shadow prediction by version %d, want %d", p.Version, shadowVersion)
		}
	}
	if routes["champion/"+cfg.Model.Name] != len(evs) || routes["shadow/slow"] != len(evs) || len(recs) != 2*len(evs) {
		t.Errorf("predictions by route/model = %v, want %d of champion/%s and of shadow/slow", routes, len(evs), cfg.Model.Name)
	}
}
