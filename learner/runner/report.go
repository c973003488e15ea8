package runner

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/streamlearn/streamlearn/eval"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// DefaultReportOutcomes is how many examples after a snapshot its held-out report is computed on.
const DefaultReportOutcomes = 2000

// maxPendingReports bounds the snapshots whose reports are in progress at once.
const maxPendingReports = 8

// explainedExamples is how many held-out examples the report's weights by feature are read from.
const explainedExamples = 500

// topWeights is how many features the report lists.
const topWeights = 20

// pendingReport is a snapshot scored on the examples that follow it, until it has its report.
type pendingReport struct {
	v               learner.Version
	snap            *learner.Snapshot
	scores, labels  []float64
	from, to        time.Time
	weights         map[string]float64
	explained, want int
	gate            *learner.Gate
	segments        []string            // the segment fields
	segs            map[string]*segment // by "field=value"
	values          map[string]int      // distinct values kept per field
}

// segment holds one segment's held-out scores and labels.
type segment struct{ scores, labels []float64 }

// maxSegmentValues bounds the values a report keeps per segment field; later ones are
// "field=__other__".
const maxSegmentValues = 20

// lastSnapshot is the model's newest retained snapshot (zero when none).
func (r *Runner) lastSnapshot(ctx context.Context) learner.Version {
	vs, err := r.Registry.List(ctx, r.Spec.Name)
	if err != nil || len(vs) == 0 {
		return learner.Version{}
	}
	return vs[0]
}

// retained follows a retained snapshot: it prunes the model's snapshots and starts the
// snapshot's held-out report.
func (l *learning) retained(ctx context.Context, v learner.Version, s *learner.Snapshot, now time.Time) {
	r := l.r
	l.lastSnapshot, l.lineage = now, v.Version
	if gone, err := r.Registry.Prune(ctx, l.model, r.retention(), now); err != nil {
		l.log.Warn("prune snapshots", "model", l.model, "err", err)
	} else if len(gone) > 0 {
		l.log.Debug("pruned snapshots", "model", l.model, "versions", gone)
	}
	want := r.ReportOutcomes
	if want <= 0 {
		want = DefaultReportOutcomes
	}
	l.follow(v, s, want, l.gate)
	l.gate = nil
}

// follow starts the held-out report of snapshot v (whose model is s).
func (l *learning) follow(v learner.Version, s *learner.Snapshot, want int, gate *learner.Gate) {
	if l.reported == nil {
		l.reported = map[int64]bool{}
	}
	l.reported[v.Version] = true
	if len(l.reports) == maxPendingReports {
		l.reports = l.reports[1:]
	}
	l.reports = append(l.reports, &pendingReport{v: v, snap: s, weights: map[string]float64{}, want: want, gate: gate,
		segments: l.r.Segments, segs: map[string]*segment{}, values: map[string]int{}})
}

// adoptSnapshots starts the held-out reports of retained snapshots this learner did not take
// (on demand over HTTP or the CLI, by a manual promotion, by an import): their held-out examples
// are those that follow from now on, which none of them learned.
func (l *learning) adoptSnapshots(ctx context.Context) {
	vs, err := l.r.Registry.List(ctx, l.model)
	if err != nil {
		return
	}
	want := l.r.ReportOutcomes
	if want <= 0 {
		want = DefaultReportOutcomes
	}
	for _, v := range vs {
		if l.reported[v.Version] || (v.Report != nil && v.Report.HeldOut != nil) {
			continue
		}
		b, err := l.r.Registry.Snapshot(ctx, l.model, v.Version)
		if err != nil {
			continue // pruned meanwhile
		}
		s, err := learner.UnmarshalSnapshot(b)
		if err != nil {
			l.log.Warn("snapshot not reported: it does not decode", "model", l.model, "version", v.Version, "err", err)
			if l.reported == nil {
				l.reported = map[int64]bool{}
			}
			l.reported[v.Version] = true
			continue
		}
		var gate *learner.Gate
		if v.Report != nil {
			gate = v.Report.Gate
		}
		l.follow(v, s, want, gate)
	}
}

// scoreReports scores the pending snapshots on the last poll's examples, which none of them
// learned, and writes the reports that are complete.
func (l *learning) scoreReports(ctx context.Context) {
	if len(l.reports) == 0 || len(l.exs) == 0 {
		return
	}
	keep := l.reports[:0]
	for _, p := range l.reports {
		for _, ex := range l.exs {
			if len(p.scores) == p.want {
				break
			}
			p.add(ex)
		}
		if len(p.scores) < p.want {
			keep = append(keep, p)
			continue
		}
		v := p.v
		rep := p.report()
		v.Report = &rep
		if err := l.r.Registry.SetReport(ctx, l.model, v.Version, rep); err != nil {
			l.log.Warn("write snapshot report", "model", l.model, "version", v.Version, "err", err)
			continue
		}
		if l.r.OnReport != nil {
			l.r.OnReport(v)
		}
	}
	l.reports = keep
}

func (p *pendingReport) add(ex wire.Example) {
	p.scores = append(p.scores, p.snap.Predict(ex.Features).Score)
	p.labels = append(p.labels, ex.Label)
	if p.from.IsZero() || ex.Time.Before(p.from) {
		p.from = ex.Time
	}
	if ex.Time.After(p.to) {
		p.to = ex.Time
	}
	for _, f := range p.segments {
		if key, ok := p.segmentOf(f, ex.Features); ok {
			sg := p.segs[key]
			if sg == nil {
				sg = &segment{}
				p.segs[key] = sg
			}
			sg.scores = append(sg.scores, p.scores[len(p.scores)-1])
			sg.labels = append(sg.labels, ex.Label)
		}
	}
	if p.explained < explainedExamples {
		p.explained++
		for _, c := range p.snap.Contributions(ex.Features) {
			if c.Feature != "(bias)" {
				p.weights[c.Feature] = c.Weight
			}
		}
	}
}

// segmentOf is the segment of field f in v: "f=value" for a string field (its one-hot feature), or
// "f=" and the number for a numeric or boolean one; false when v lacks the field. Past
// maxSegmentValues values of a field, new ones are "f=__other__".
func (p *pendingReport) segmentOf(f string, v wire.Vector) (string, bool) {
	key := ""
	for _, ft := range v {
		if ft.Name == f {
			key = f + "=" + strconv.FormatFloat(ft.Value, 'g', -1, 64)
			break
		}
		if strings.HasPrefix(ft.Name, f+"=") {
			key = ft.Name
			break
		}
	}
	if key == "" {
		return "", false
	}
	if _, ok := p.segs[key]; !ok {
		if p.values[f] >= maxSegmentValues {
			return f + "=__other__", true
		}
		p.values[f]++
	}
	return key, true
}

// report is the finished report: progressive metrics from the version, held-out metrics and the
// calibration table for binary models, and the largest weights by feature.
func (p *pendingReport) report() learner.Report {
	rep := learner.Report{Progressive: p.v.Metrics, Gate: p.gate}
	if t := p.v.Spec.Task; t == learner.Binary || t == "" {
		rep.HeldOut = &learner.HeldOut{N: int64(len(p.scores)), AUC: finite(eval.AUC(p.scores, p.labels)),
			LogLoss: finite(eval.LogLoss(p.scores, p.labels)), Brier: finite(eval.Brier(p.scores, p.labels)), From: p.from, To: p.to}
		rep.Calibration = Calibration(p.scores, p.labels, 10)
		for key, sg := range p.segs {
			rep.Segments = append(rep.Segments, learner.SegmentMetrics{Segment: key, N: int64(len(sg.scores)),
				AUC: finite(eval.AUC(sg.scores, sg.labels)), LogLoss: finite(eval.LogLoss(sg.scores, sg.labels))})
		}
		sort.Slice(rep.Segments, func(i, j int) bool { return rep.Segments[i].Segment < rep.Segments[j].Segment })
	}
	for f, w := range p.weights {
		rep.TopWeights = append(rep.TopWeights, learner.FeatureWeight{Feature: f, Weight: w})
	}
	sort.Slice(rep.TopWeights, func(i, j int) bool {
		a, b := math.Abs(rep.TopWeights[i].Weight), math.Abs(rep.TopWeights[j].Weight)
		return a > b || a == b && rep.TopWeights[i].Feature < rep.TopWeights[j].Feature
	})
	if len(rep.TopWeights) > topWeights {
		rep.TopWeights = rep.TopWeights[:topWeights]
	}
	return rep
}

// Calibration bins scores in [0, 1] into bins equal-width bins: count, mean score and mean label
// of each (empty bins are left out).
func Calibration(scores, labels []float64, bins int) []learner.CalibrationBin {
	out := make([]learner.CalibrationBin, bins)
	for i := range out {
		out[i].Lo, out[i].Hi = float64(i)/float64(bins), float64(i+1)/float64(bins)
	}
	for i, s := range scores {
		b := min(max(int(s*float64(bins)), 0), bins-1)
		out[b].N++
		out[b].MeanScore += s
		out[b].MeanLabel += labels[i]
	}
	kept := out[:0]
	for _, b := range out {
		if b.N > 0 {
			b.MeanScore /= float64(b.N)
			b.MeanLabel /= float64(b.N)
			kept = append(kept, b)
		}
	}
	return kept
}

// finite maps NaN and infinities (one class only, a score of exactly 0 or 1) to 0: JSON has none.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
