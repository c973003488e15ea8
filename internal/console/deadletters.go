package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/wire"
)

// readBound bounds the reading of the records once their offsets are known.
const readBound = 3 * time.Second

// maxShownValue bounds the bytes of a dead letter's value the console shows.
const maxShownValue = 4 << 10

// DeadLetter is one record of the dead-letter topic.
type DeadLetter struct {
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Time      int64             `json:"time"` // produced at, unix milliseconds
	Reason    string            `json:"reason"`
	Key       string            `json:"key"`
	Value     string            `json:"value"` // at most 4 KiB, invalid UTF-8 replaced
	Cut       bool              `json:"value_cut"`
	Headers   map[string]string `json:"headers"`
}

// DeadLetters is the answer of GET /v1/console/deadletters: the latest records of each reason,
// newest first, among the last Scanned records of the topic.
type DeadLetters struct {
	Topic   string `json:"topic"`
	Scanned int    `json:"scanned"`
	Total   int64  `json:"total"` // records on the topic now
	// Complete is false when the read stopped at its time bound before reaching the end of every
	// partition (a partition that ends with transaction markers, a slow broker): the records are
	// those read by then.
	Complete bool                    `json:"complete"`
	Reasons  map[string][]DeadLetter `json:"reasons"`
}

func (c *Console) deadLetters(w http.ResponseWriter, r *http.Request) {
	n, ok := intParam(w, r, "n", 20, 1, 200)
	if !ok {
		return
	}
	if c.opts.Kafka == nil || c.opts.DeadLetterTopic == "" {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "this process does not read the dead-letter topic")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.opts.QueryTimeout)
	defer cancel()
	out, err := c.readDeadLetters(ctx, n)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "kafka: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// readDeadLetters reads the last 10·n records of each partition (at most 2,000) and keeps the
// newest n of each reason.
func (c *Console) readDeadLetters(ctx context.Context, n int) (DeadLetters, error) {
	topic := c.opts.DeadLetterTopic
	out := DeadLetters{Topic: topic, Reasons: map[string][]DeadLetter{}}
	adm := kadm.NewClient(c.opts.Kafka)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return out, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return out, err
	}
	if err := errors.Join(starts.Error(), ends.Error()); err != nil {
		return out, err
	}
	scan := int64(min(10*n, 2000))
	from := map[int32]kgo.Offset{}
	last := map[int32]int64{} // the offset of each partition's last record
	ends.Each(func(e kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, e.Partition)
		out.Total += e.Offset - s.Offset
		if e.Offset <= s.Offset {
			return
		}
		from[e.Partition] = kgo.NewOffset().At(max(s.Offset, e.Offset-scan))
		last[e.Partition] = e.Offset - 1
	})
	if len(from) == 0 {
		out.Complete = true
		return out, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, c.opts.KafkaOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return out, fmt.Errorf("dead-letter reader: %w", err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	rctx, cancel := context.WithTimeout(ctx, readBound)
	defer cancel()
	for len(last) > 0 {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			if ctx.Err() != nil {
				return out, fmt.Errorf("read %s: %w", topic, ctx.Err())
			}
			break // the read's own bound: answer with what was read
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return out, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			if r.Offset >= last[r.Partition] {
				delete(last, r.Partition)
			}
		})
	}
	out.Scanned, out.Complete = len(recs), len(last) == 0
	sort.Slice(recs, func(i, j int) bool { return recs[i].Timestamp.After(recs[j].Timestamp) })
	for _, r := range recs {
		d := deadLetter(r)
		if len(out.Reasons[d.Reason]) < n {
			out.Reasons[d.Reason] = append(out.Reasons[d.Reason], d)
		}
	}
	return out, nil
}

func deadLetter(r *kgo.Record) DeadLetter {
	d := DeadLetter{Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp.UnixMilli(), Key: printable(r.Key, 256), Headers: map[string]string{}}
	d.Value = printable(r.Value, maxShownValue)
	d.Cut = len(r.Value) > maxShownValue
	for _, h := range r.Headers {
		d.Headers[h.Key] = printable(h.Value, 1024)
	}
	d.Reason = d.Headers[wire.HeaderReason]
	if d.Reason == "" {
		d.Reason = "unknown"
	}
	return d
}

// printable returns at most limit bytes of b as text, invalid UTF-8 replaced.
func printable(b []byte, limit int) string {
	if len(b) > limit {
		b = b[:limit]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
