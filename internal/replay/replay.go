// Package replay publishes a CSV file as events and outcomes, so that people can try streamlearn on
// their own data, and measures how well the live scores did once the stream has gone through.
package replay

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/eval"
	"github.com/streamlearn/streamlearn/internal/kafkaclient"
)

// Options describe a replay.
type Options struct {
	CSV string
	// Label is the column holding the outcome. With Positive set, the label is 1 where the column
	// equals Positive and 0 elsewhere; otherwise it is the column's number.
	Label    string
	Positive string
	// Time, Entity and ID name optional columns (event time as RFC 3339 or unix ms; entity key; event id).
	Time, Entity, ID string
	// Rate bounds the events per second (0: as fast as Kafka takes them).
	Rate int
	// OutcomeLag is how many events later an event's outcome is published (default 1).
	OutcomeLag int
	// Wait bounds how long to wait for the predictions at the end (default 2m; 0 waits that long).
	Wait time.Duration
	// Progress, when not nil, receives a progress bar.
	Progress io.Writer
}

// Result is what the replay measured from the predictions topic.
type Result struct {
	Events      int
	Predictions int
	// AUC and LogLoss of the scores the events were given live (each scored before its outcome was
	// published), for binary labels.
	AUC, LogLoss float64
	Elapsed      time.Duration
}

type row struct {
	id    string
	event []byte
	label float64
}

// Run publishes the file to the topics of kc and waits for every event's prediction.
func Run(ctx context.Context, kc kafkaclient.Config, opts Options) (Result, error) {
	rows, err := read(opts)
	if err != nil {
		return Result{}, err
	}
	if opts.OutcomeLag <= 0 {
		opts.OutcomeLag = 1
	}
	if opts.Wait <= 0 {
		opts.Wait = 2 * time.Minute
	}
	copts, err := kc.ClientOpts()
	if err != nil {
		return Result{}, err
	}
	// Read predictions from the current end, so earlier runs do not count.
	start, err := endOffsets(ctx, copts, kc.Topics.Predictions)
	if err != nil {
		return Result{}, err
	}
	cl, err := kgo.NewClient(append(copts, kgo.ProducerLinger(5*time.Millisecond))...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()

	began := time.Now()
	bar := progressbar.NewOptions(len(rows), progressbar.OptionSetWriter(progressWriter(opts.Progress)),
		progressbar.OptionSetDescription("replay"), progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
		progressbar.OptionThrottle(200*time.Millisecond))
	var produceErr error
	done := func(_ *kgo.Record, err error) {
		if err != nil && produceErr == nil {
			produceErr = err
		}
	}
	var tick *time.Ticker
	if opts.Rate > 0 {
		tick = time.NewTicker(time.Second / time.Duration(min(opts.Rate, 1_000_000)))
		defer tick.Stop()
	}
	for i, r := range rows {
		if tick != nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return Result{}, ctx.Err()
			}
		}
		cl.Produce(ctx, &kgo.Record{Topic: kc.Topics.Events, Value: r.event}, done)
		if j := i - opts.OutcomeLag + 1; j >= 0 {
			cl.Produce(ctx, outcome(kc.Topics.Outcomes, rows[j]), done)
		}
		_ = bar.Add(1)
	}
	for j := max(0, len(rows)-opts.OutcomeLag+1); j < len(rows); j++ {
		cl.Produce(ctx, outcome(kc.Topics.Outcomes, rows[j]), done)
	}
	if err := cl.Flush(ctx); err != nil {
		return Result{}, err
	}
	_ = bar.Finish()
	if produceErr != nil {
		return Result{}, fmt.Errorf("produce: %w", produceErr)
	}
	res, err := collect(ctx, copts, kc.Topics.Predictions, start, rows, opts.Wait)
	res.Elapsed = time.Since(began)
	return res, err
}

func progressWriter(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func outcome(topic string, r row) *kgo.Record {
	b, _ := json.Marshal(map[string]any{"id": r.id, "label": r.label})
	return &kgo.Record{Topic: topic, Key: []byte(r.id), Value: b}
}

func read(opts Options) ([]row, error) {
	f, err := os.Open(opts.CSV)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("replay %s: header: %w", opts.CSV, err)
	}
	header = append([]string(nil), header...)
	col := func(name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		for i, h := range header {
			if h == name {
				return i, nil
			}
		}
		return -1, fmt.Errorf("replay %s: no column %q (columns: %s)", opts.CSV, name, strings.Join(header, ", "))
	}
	labelCol, err := col(opts.Label)
	if err != nil {
		return nil, err
	}
	if labelCol < 0 {
		return nil, errors.New("replay: --label is required")
	}
	timeCol, err := col(opts.Time)
	if err != nil {
		return nil, err
	}
	entityCol, err := col(opts.Entity)
	if err != nil {
		return nil, err
	}
	idCol, err := col(opts.ID)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(filepath.Base(opts.CSV), filepath.Ext(opts.CSV))
	var rows []row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("replay %s line %d: %w", opts.CSV, line, err)
		}
		r := row{id: fmt.Sprintf("%s-%d", base, line-1)}
		ev := map[string]any{}
		fields := map[string]any{}
		for i, v := range rec {
			switch i {
			case labelCol:
				if opts.Positive != "" {
					if v == opts.Positive {
						r.label = 1
					}
				} else if r.label, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
					return nil, fmt.Errorf("replay %s line %d: label %q is not a number (use --positive)", opts.CSV, line, v)
				}
			case timeCol:
				if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
					ev["time"] = ms
				} else {
					ev["time"] = v
				}
			case entityCol:
				ev["entity"] = v
			case idCol:
				r.id = v
			default:
				if v == "" || v == "NA" {
					continue
				}
				if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
					fields[header[i]] = f
				} else {
					fields[header[i]] = v
				}
			}
		}
		ev["id"], ev["fields"] = r.id, fields
		if r.event, err = json.Marshal(ev); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("replay %s: no rows", opts.CSV)
	}
	return rows, nil
}

func endOffsets(ctx context.Context, copts []kgo.Opt, topic string) (map[int32]kgo.Offset, error) {
	cl, err := kgo.NewClient(copts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if err := kafkaclient.EnsureTopics(ctx, cl, 4, -1, topic); err != nil {
		return nil, err
	}
	ends, err := listEnds(ctx, cl, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]kgo.Offset{}
	for p, o := range ends {
		out[p] = kgo.NewOffset().At(o)
	}
	return out, nil
}

func collect(ctx context.Context, copts []kgo.Opt, topic string, start map[int32]kgo.Offset, rows []row, wait time.Duration) (Result, error) {
	cl, err := kgo.NewClient(append(copts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}))...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	want := make(map[string]float64, len(rows))
	for _, r := range rows {
		want[r.id] = r.label
	}
	scores := make(map[string]float64, len(rows))
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for len(scores) < len(want) {
		fetches := cl.PollFetches(wctx)
		if wctx.Err() != nil {
			break
		}
		fetches.EachRecord(func(r *kgo.Record) {
			var p struct {
				ID    string  `json:"id"`
				Score float64 `json:"score"`
				Route string  `json:"route"`
			}
			if json.Unmarshal(r.Value, &p) == nil && p.Route != "shadow" {
				if _, ok := want[p.ID]; ok {
					scores[p.ID] = p.Score
				}
			}
		})
	}
	res := Result{Events: len(rows), Predictions: len(scores)}
	ss, ls := make([]float64, 0, len(scores)), make([]float64, 0, len(scores))
	for _, r := range rows {
		if s, ok := scores[r.id]; ok {
			ss, ls = append(ss, s), append(ls, r.label)
		}
	}
	res.AUC, res.LogLoss = eval.AUC(ss, ls), eval.LogLoss(ss, ls)
	if res.Predictions < res.Events {
		return res, fmt.Errorf("replay: %d of %d events got a prediction within %s; is streamlearn serving these topics?", res.Predictions, res.Events, wait)
	}
	return res, nil
}
