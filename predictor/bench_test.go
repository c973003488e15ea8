package predictor_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkScoreHandler is the cost of POST /v1/score in the handler alone (no HTTP transport):
// decode, read the entity's features from Redis, route, score, encode.
func BenchmarkScoreHandler(b *testing.B) {
	for _, tc := range []struct{ name, entity string }{{"entity", `"entity": "u-7", `}, {"no_entity", ""}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b)
			e.promote(b, "default", e.publish(b, "default", trained(b, "default", 0), 0))
			e.seedEntities(b, 10)
			api := e.api(b, router(b, abConfig))
			mux := http.NewServeMux()
			api.Register(mux)
			body := []byte(fmt.Sprintf(`{"id": "b-1", %s"fields": {"amount": 12.5, "age": 31, "country": "DE", "mobile": true, "visits": 3}}`, tc.entity))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, httptest.NewRequest("POST", "/v1/score", bytes.NewReader(body)))
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkScoreBatch is the cost of a POST /v1/score of 100 events of 100 entities in the
// handler alone: one pipelined Redis round trip for the batch.
func BenchmarkScoreBatch(b *testing.B) {
	e := newEnv(b)
	e.promote(b, "default", e.publish(b, "default", trained(b, "default", 0), 0))
	e.seedHistory(b, 100)
	api := e.api(b, router(b, abConfig))
	api.MaxEvents = 100
	mux := http.NewServeMux()
	api.Register(mux)
	events := make([]string, 100)
	for i := range events {
		events[i] = fmt.Sprintf(`{"id": "b-%d", "entity": "u-%d", "fields": {"amount": 12.5, "age": 31, "country": "DE", "mobile": true, "visits": 3}}`, i, i)
	}
	body := []byte(`{"events": [` + strings.Join(events, ",") + `]}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("POST", "/v1/score", bytes.NewReader(body)))
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/event")
}
