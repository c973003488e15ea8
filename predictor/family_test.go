package predictor_test

import (
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// TestScoreFamilies serves non-linear models through the registry: each scores as its snapshot,
// names its family, and ?explain=1 gives contributions where the family has them (fm) and an
// explain_error that names the family where it has not (forest).
func TestScoreFamilies(t *testing.T) {
	for _, tc := range []struct {
		family  string
		explain bool
	}{{learner.FamilyFM, true}, {learner.FamilyForest, false}, {learner.FamilyMLP, false}} {
		t.Run(tc.family, func(t *testing.T) {
			e := newEnv(t)
			s := spec("default")
			s.Family = tc.family
			tr, err := learner.NewTrainer(s)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 600 {
				amount := float64(i*7%100) / 10
				country := []string{"DE", "US", "FR"}[i%3]
				label := 0.0
				if amount > 5 != (country == "US") { // an interaction
					label = 1
				}
				tr.Learn(wire.Vector{{Name: "amount", Value: amount}, {Name: "country=" + country, Value: 1}}, learner.Label{Value: label})
			}
			e.promote(t, "default", e.publish(t, "default", tr, 0))
			srv := serve(t, e.api(t, router(t, predictor.Config{})))
			var got predictor.Score
			ev := `{"id": "q-1", "fields": {"amount": 7.5, "country": "US"}}`
			if code := post(t, nil, srv.URL+"/v1/score?explain=1", ev, &got); code != 200 {
				t.Fatalf("POST /v1/score?explain=1 = %d", code)
			}
			served := e.models.Get("default").Snapshot
			want := served.Predict(wire.Vector{{Name: "amount", Value: 7.5}, {Name: "country=US", Value: 1}}).Score
			if got.Score != want || got.Family != tc.family || served.Family() != tc.family {
				t.Fatalf("score %v family %q (snapshot %q), want %v and %q", got.Score, got.Family, served.Family(), want, tc.family)
			}
			switch {
			case tc.explain && (len(got.Contributions) == 0 || got.ExplainError != ""):
				t.Errorf("fm explains: contributions %v, explain_error %q", got.Contributions, got.ExplainError)
			case !tc.explain && (len(got.Contributions) != 0 || got.ExplainError != "explain is not available for family "+tc.family):
				t.Errorf("%s: contributions %v, explain_error %q", tc.family, got.Contributions, got.ExplainError)
			}
		})
	}
}
