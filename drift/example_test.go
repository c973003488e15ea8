package drift_test

import (
	"fmt"
	"time"

	"github.com/streamlearn/streamlearn/drift"
)

func ExampleMonitor() {
	m := drift.NewMonitor(drift.DefaultMonitorConfig())
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3*600; i++ {
		t := start.Add(time.Duration(i) * 6 * time.Second) // 600 events an hour
		amount := float64(i % 100)
		if t.Sub(start) >= 2*time.Hour {
			amount += 60 // the third hour shifts
		}
		m.ObserveEvent("fraud", t, map[string]any{"amount": amount, "country": "DE"})
	}
	m.Flush() // end of the replay: close every window
	rows, _ := m.Rows(time.Now())
	for _, r := range rows {
		fmt.Printf("%s %-7s PSI=%.2f drifted=%v\n", r.WindowStart.Format("15:04"), r.Feature, r.PSI, r.Drifted)
	}
	// Output:
	// 00:00 amount  PSI=0.00 drifted=false
	// 00:00 country PSI=0.00 drifted=false
	// 01:00 amount  PSI=0.00 drifted=false
	// 01:00 country PSI=0.00 drifted=false
	// 02:00 amount  PSI=5.31 drifted=true
	// 02:00 country PSI=0.00 drifted=false
}

func ExampleKS() {
	stat, p := drift.KS([]float64{1, 2, 3, 4}, []float64{10, 11, 12})
	fmt.Printf("D=%.2f p=%.4f\n", stat, p)
	// Output: D=1.00 p=0.0571
}
