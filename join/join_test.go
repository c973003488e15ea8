package join_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/join"
	"github.com/streamlearn/streamlearn/wire"
)

// fake records the order of the calls the core makes.
type fake struct {
	calls  []string
	outErr error
}

func (f *fake) AddPending(_ context.Context, ps []wire.Pending) ([]wire.Example, error) {
	f.calls = append(f.calls, "pending")
	return nil, nil
}

func (f *fake) AddOutcomes(_ context.Context, os []wire.Outcome) ([]wire.Example, error) {
	f.calls = append(f.calls, "outcomes")
	exs := make([]wire.Example, len(os))
	for i, o := range os {
		exs[i] = join.Pair(wire.Pending{ID: o.ID}, o)
	}
	return exs, nil
}

func (f *fake) Ack(context.Context, []wire.Example) error {
	f.calls = append(f.calls, "ack")
	return nil
}

func (f *fake) Examples(context.Context, []wire.Example) error {
	f.calls = append(f.calls, "produce")
	return f.outErr
}

func TestOutcomesProduceBeforeAck(t *testing.T) {
	cases := []struct {
		name    string
		outErr  error
		want    []string
		wantN   int
		wantErr bool
	}{
		{"ok", nil, []string{"outcomes", "produce", "ack"}, 1, false},
		{"produce fails: no ack", errors.New("down"), []string{"outcomes", "produce"}, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{outErr: c.outErr}
			n := 0
			j := &join.Outcomes{Store: f, Out: f, Joined: func(k int) { n += k }}
			err := j.Handle(context.Background(), []wire.Outcome{{ID: "e-1", Value: 1, Time: time.Unix(0, 0)}})
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if got := f.calls; !slices.Equal(got, c.want) {
				t.Errorf("calls = %v, want %v", got, c.want)
			}
			if n != c.wantN {
				t.Errorf("joined = %d, want %d", n, c.wantN)
			}
		})
	}
}

func TestPairKeepsBothSides(t *testing.T) {
	at := time.Unix(100, 0)
	got := join.Pair(wire.Pending{ID: "e-1", Model: "m"}, wire.Outcome{ID: "e-1", Value: 1, Class: "a", Time: at})
	if got.ID != "e-1" || got.Model != "m" || got.Label != 1 || got.Class != "a" || !got.OutcomeTime.Equal(at) {
		t.Errorf("Pair = %+v", got)
	}
}

// flakyAck fails its first fails acks.
type flakyAck struct {
	fake
	fails int
}

func (f *flakyAck) Ack(ctx context.Context, exs []wire.Example) error {
	f.calls = append(f.calls, "ack")
	if f.fails > 0 {
		f.fails--
		return errors.New("CLUSTERDOWN The cluster is down")
	}
	return nil
}

// TestOutcomesAckRetriedInPlace: an ack that fails after the examples were produced is retried by
// itself; failing the batch would produce the examples again on its retry.
func TestOutcomesAckRetriedInPlace(t *testing.T) {
	f := &flakyAck{fails: 2}
	n := 0
	j := &join.Outcomes{Store: f, Out: f, Joined: func(k int) { n += k }}
	if err := j.Handle(context.Background(), []wire.Outcome{{ID: "e-1", Value: 1, Time: time.Unix(0, 0)}}); err != nil {
		t.Fatal(err)
	}
	if got, want := f.calls, []string{"outcomes", "produce", "ack", "ack", "ack"}; !slices.Equal(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	if n != 1 {
		t.Errorf("joined = %d, want 1", n)
	}

	// A stop while the ack keeps failing returns its error.
	f = &flakyAck{fails: 1 << 30}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	j = &join.Outcomes{Store: f, Out: f}
	if err := j.Handle(ctx, []wire.Outcome{{ID: "e-1", Value: 1, Time: time.Unix(0, 0)}}); err == nil {
		t.Error("Handle returned nil with every ack failing")
	}
}
