// Package demo drives the full loop for people to watch: it runs streamlearn with a synthetic
// producer whose data drifts at a known time, and prints progress on screen.
package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/synth"
	"github.com/streamlearn/streamlearn/internal/telemetry"
)

// Options control the demo.
type Options struct {
	// Rate is events per second (default 2000).
	Rate int
	// Duration stops the demo after this long (0: until interrupted).
	Duration time.Duration
	// Synth describes the stream; its change point is what the drift tables should show.
	Synth synth.Config
	// OutcomeLag is how many events after an event its outcome is published (default Rate: ~1 s).
	OutcomeLag int
	// BadEvery sends a malformed record every n events to show the dead-letter topic (0: never).
	BadEvery int
	// Interval between progress lines (default 2s).
	Interval time.Duration
}

// Run runs m with a synthetic producer until ctx ends or the duration passes, printing progress to w.
func Run(ctx context.Context, m *app.Main, opts Options, w io.Writer) error {
	if opts.Rate <= 0 {
		opts.Rate = 2000
	}
	if opts.OutcomeLag <= 0 {
		opts.OutcomeLag = opts.Rate
	}
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.Run(gctx) })
	select {
	case <-m.Ready:
	case <-gctx.Done():
		return g.Wait()
	}
	fmt.Fprintf(w, "streamlearn demo: Kafka %s, HTTP http://%s, ClickHouse %s, Redis %s\n",
		m.KafkaAddr, m.HTTPAddr, strings.Join(m.Config.ClickHouse.Addr, ","), m.Config.Redis.Addr)
	fmt.Fprintf(w, "console: %s\n", ConsoleURL(m))
	fmt.Fprintf(w, "producing %d events/s; the data drifts at event %d (event time %s); Ctrl-C stops\n\n",
		opts.Rate, opts.Synth.DriftAt, opts.Synth.Start.Add(time.Duration(opts.Synth.DriftAt)*opts.Synth.Step).Format(time.RFC3339))
	var produced atomic.Int64
	g.Go(func() error { return produce(gctx, m, opts, &produced) })
	g.Go(func() error { return progress(gctx, m, opts, &produced, w) })
	err := g.Wait()
	host, port, _ := net.SplitHostPort(m.Config.ClickHouse.Addr[0])
	fmt.Fprintf(w, "\nstopped. Query the tables: clickhouse-client --host %s --port %s -q 'SELECT * FROM %s.model_performance FINAL ORDER BY window_start'\n",
		host, port, m.Config.ClickHouse.Database)
	return err
}

func produce(ctx context.Context, m *app.Main, opts Options, produced *atomic.Int64) error {
	kopts, err := m.Config.Kafka.ClientOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(kopts, kgo.ProducerLinger(5*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	gen := synth.New(opts.Synth)
	topics := m.Config.Kafka.Topics
	var queue []synth.Event
	bad := synth.Malformed()
	tick := 50 * time.Millisecond
	perTick := max(1, opts.Rate*int(tick/time.Millisecond)/1000)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var n int64
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = cl.Flush(fctx)
			cancel()
			return nil
		case <-ticker.C:
		}
		recs := make([]*kgo.Record, 0, 2*perTick)
		for range perTick {
			ev := gen.Next()
			n++
			recs = append(recs, &kgo.Record{Topic: topics.Events, Key: []byte(ev.Entity), Value: ev.JSON()})
			queue = append(queue, ev)
			if opts.BadEvery > 0 && n%int64(opts.BadEvery) == 0 {
				b := bad[int(n/int64(opts.BadEvery))%len(bad)]
				recs = append(recs, &kgo.Record{Topic: topics.Events, Value: b.Value})
			}
		}
		for len(queue) > opts.OutcomeLag {
			o := queue[0]
			queue = queue[1:]
			recs = append(recs, &kgo.Record{Topic: topics.Outcomes, Key: []byte(o.ID), Value: o.OutcomeJSON()})
		}
		for _, r := range recs {
			cl.Produce(ctx, r, nil)
		}
		produced.Store(n)
	}
}

func progress(ctx context.Context, m *app.Main, opts Options, produced *atomic.Int64, w io.Writer) error {
	ticker := time.NewTicker(opts.Interval)
	defer ticker.Stop()
	start := time.Now()
	var lastScored float64
	var lastRetrain string
	lastT := start
	fmt.Fprintf(w, "%8s %9s %10s %10s %6s %8s %9s %9s  %s\n", "elapsed", "events/s", "produced", "scored", "dlq", "model", "prog AUC", "win AUC", "drift (latest window)")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		sent := produced.Load()
		scored := telemetry.Sum(m.Registry, "streamlearn_events_total")
		dlq := telemetry.Sum(m.Registry, "streamlearn_invalid_records_total")
		now := time.Now()
		rate := (scored - lastScored) / now.Sub(lastT).Seconds()
		lastScored, lastT = scored, now
		st := m.Status()
		driftText := "no scored window yet"
		if !st.DriftWindow.IsZero() {
			driftText = fmt.Sprintf("%s  max PSI %.2f", st.DriftWindow.Format("01-02 15:04"), st.MaxPSI)
			if len(st.Drifted) > 0 {
				driftText += "  DRIFTED: " + strings.Join(st.Drifted, ", ")
			}
		}
		if st.Retrain != "" && st.Retrain != lastRetrain {
			fmt.Fprintf(w, "%8s retrain: %s\n", "", st.Retrain)
			lastRetrain = st.Retrain
		}
		fmt.Fprintf(w, "%8s %9.0f %10d %10.0f %6.0f %8s %9.3f %9.3f  %s\n",
			now.Sub(start).Truncate(time.Second), rate, sent, scored, dlq,
			fmt.Sprintf("v%d", st.ServingVersion), st.ProgressiveAUC, st.WindowAUC, driftText)
	}
}

// ConsoleURL is the address of the web console the process serves (a wildcard listen address is
// shown as the loopback one, which a browser on this machine can open).
func ConsoleURL(m *app.Main) string {
	scheme := "http"
	if m.Config.HTTP.TLSCertFile != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(m.HTTPAddr)
	if err != nil {
		return scheme + "://" + m.HTTPAddr + "/ui/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/ui/"
}
