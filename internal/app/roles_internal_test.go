package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/streamlearn/streamlearn/internal/telemetry"
)

// TestSupervisedRestartsAPanickingRole: a role that panics is restarted (and counted), not allowed
// to take the process down; an error it returns still ends it.
func TestSupervisedRestartsAPanickingRole(t *testing.T) {
	m := &Main{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: telemetry.NewMetrics(prometheus.NewRegistry())}
	runs := 0
	role := m.supervised("learn default", func(context.Context) error {
		runs++
		switch runs {
		case 1, 2:
			panic("a bug on one record")
		case 3:
			return errors.New("broken for good")
		}
		return nil
	})
	err := role(context.Background())
	if err == nil || err.Error() != "broken for good" {
		t.Fatalf("supervised role = %v, want the role's own error", err)
	}
	if runs != 3 {
		t.Errorf("%d runs, want 3 (two panics restarted)", runs)
	}
	var got dto.Metric
	if err := m.metrics.RoleRestarts.WithLabelValues("learn default").Write(&got); err != nil || got.GetCounter().GetValue() != 2 {
		t.Errorf("restarts metric %v (%v), want 2", got.GetCounter().GetValue(), err)
	}
}
