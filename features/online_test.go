package features_test

import (
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
)

func TestParseAt(t *testing.T) {
	want := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, s := range []string{"2026-11-22T10:00:00Z", "2026-11-22T11:00:00+01:00", "1795341600000"} {
		if got, err := features.ParseAt(s); err != nil || !got.Equal(want) {
			t.Errorf("ParseAt(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if got, err := features.ParseAt(""); err != nil || !got.IsZero() {
		t.Errorf("ParseAt(\"\") = %v, %v", got, err)
	}
	if _, err := features.ParseAt("yesterday"); err == nil {
		t.Error("ParseAt(yesterday) accepted")
	}
}
