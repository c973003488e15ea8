package predictor_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
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
