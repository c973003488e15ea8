package procstat

import (
	"os"
	"testing"
	"time"
)

func TestCPUTimeGrowsWithWork(t *testing.T) {
	before, err := CPUTime(0)
	if err != nil {
		t.Fatal(err)
	}
	x := 0.0
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		x += 1e-9
	}
	after, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Errorf("CPU time grew by %s over 200 ms of spinning (%g)", after-before, x)
	}
	if _, err := CPUTime(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
