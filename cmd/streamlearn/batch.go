package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// batchSize is how many events batch scoring and backfill read, look up and write at a time.
const batchSize = 500

// formatOf is the file format named by flag, else by the file's extension (.csv: csv, else jsonl).
func formatOf(flag, path string) string {
	if flag != "" {
		return flag
	}
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return ingest.FormatCSV
	}
	return ingest.FormatJSONL
}

// withStore runs fn with the config, the registry and the feature store of the flags.
func withStore(f *connFlags, fn func(ctx context.Context, cfg config.Config, reg learner.Registry, store features.OnlineStore) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		cfg, err := f.load()
		if err != nil {
			return err
		}
		rdb, err := app.RedisClient(cfg.Redis)
		if err != nil {
			return err
		}
		defer rdb.Close()
		store, err := featurestore.NewOnline(rdb, cfg.Features, featurestore.Options{Prefix: cfg.Redis.KeyPrefix, TTL: cfg.Redis.EntityTTL})
		if err != nil {
			return err
		}
		return fn(cmd.Context(), cfg, registry.NewRegistry(rdb, cfg.Redis.KeyPrefix), store)
	}
}

// scoreCommand is `streamlearn score`: a file of events scored by one snapshot.
func scoreCommand() *cobra.Command {
	var f connFlags
	var model, input, output, inFormat string
	cmd := &cobra.Command{Use: "score --model MODEL[@VERSION|TAG|TIME] --input FILE --output FILE", Args: cobra.NoArgs,
		Short: "Score a file of events (jsonl or csv) with a snapshot, features as of each event's time; nothing is learned or changed",
		RunE: withStore(&f, func(ctx context.Context, cfg config.Config, reg learner.Registry, store features.OnlineStore) error {
			name, version, err := resolveRef(ctx, reg, model)
			if err != nil {
				return err
			}
			b, err := reg.Snapshot(ctx, name, version)
			if err != nil {
				return err
			}
			snap, err := learner.UnmarshalSnapshot(b)
			if err != nil {
				return err
			}
			served := &predictor.Served{Model: name, Version: version, Snapshot: snap}
			in, err := os.Open(input)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := newPredictionWriter(output)
			if err != nil {
				return err
			}
			n := 0
			err = ingest.ReadEvents(in, formatOf(inFormat, input), cfg.Ingest, time.Now(), batchSize, func(evs []wire.Event) error {
				ps, err := predictor.ScoreEvents(ctx, store, served, evs, time.Now().UTC())
				if err != nil {
					return err
				}
				n += len(ps)
				return out.write(ps)
			})
			if cerr := out.close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(output)
				return fmt.Errorf("score %s: %w", input, err)
			}
			fmt.Fprintf(os.Stderr, "%d events scored by %s version %d -> %s\n", n, name, version, output)
			return nil
		})}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&model, "model", "", "MODEL[@VERSION|TAG|TIME] (default version: the champion)")
	cmd.Flags().StringVar(&input, "input", "", "events: one JSON object a line (.jsonl), or a CSV file with a header (.csv)")
	cmd.Flags().StringVar(&output, "output", "", "predictions: JSON lines, or CSV when the name ends in .csv")
	cmd.Flags().StringVar(&inFormat, "format", "", "the input's format, jsonl or csv (default: by its extension)")
	for _, fl := range []string{"model", "input", "output"} {
		_ = cmd.MarkFlagRequired(fl)
	}
	return cmd
}

// backfillCommand is `streamlearn backfill`: history into the feature store.
func backfillCommand() *cobra.Command {
	var f connFlags
	var input, inFormat string
	cmd := &cobra.Command{Use: "backfill --input FILE", Args: cobra.NoArgs,
		Short: "Load events (jsonl or csv, in time order) into the feature store for entities without state; live entities are left alone, nothing is learned",
		RunE: withStore(&f, func(ctx context.Context, cfg config.Config, _ learner.Registry, store features.OnlineStore) error {
			in, err := os.Open(input)
			if err != nil {
				return err
			}
			defer in.Close()
			known := map[string]bool{}
			var total features.BackfillResult
			err = ingest.ReadEvents(in, formatOf(inFormat, input), cfg.Ingest, time.Now(), batchSize, func(evs []wire.Event) error {
				res, err := features.Backfill(ctx, store, evs, known)
				total.Applied, total.Skipped, total.Entities = total.Applied+res.Applied, total.Skipped+res.Skipped, total.Entities+res.Entities
				return err
			})
			fmt.Fprintf(os.Stderr, "%d events applied to %d new entities; %d events skipped (their entities had state, or none)\n",
				total.Applied, total.Entities, total.Skipped)
			if err != nil {
				return fmt.Errorf("backfill %s: %w", input, err)
			}
			return nil
		})}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&input, "input", "", "events: one JSON object a line (.jsonl), or a CSV file with a header (.csv)")
	cmd.Flags().StringVar(&inFormat, "format", "", "the input's format, jsonl or csv (default: by its extension)")
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

// predictionWriter writes predictions as JSON lines or CSV.
type predictionWriter struct {
	f   *os.File
	buf *bufio.Writer
	csv *csv.Writer
}

func newPredictionWriter(path string) (*predictionWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &predictionWriter{f: f, buf: bufio.NewWriter(f)}
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		w.csv = csv.NewWriter(w.buf)
		if err := w.csv.Write([]string{"id", "entity", "model", "version", "score", "class", "time"}); err != nil {
			f.Close()
			return nil, err
		}
	}
	return w, nil
}

func (w *predictionWriter) write(ps []wire.Prediction) error {
	for _, p := range ps {
		if w.csv != nil {
			if err := w.csv.Write([]string{p.ID, p.Entity, p.Model, strconv.FormatInt(p.Version, 10),
				strconv.FormatFloat(p.Score, 'g', -1, 64), p.Class, p.Time.Format(time.RFC3339Nano)}); err != nil {
				return err
			}
			continue
		}
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err := w.buf.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

func (w *predictionWriter) close() error {
	if w.csv != nil {
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			w.f.Close()
			return err
		}
	}
	if err := w.buf.Flush(); err != nil {
		w.f.Close()
		return err
	}
	return w.f.Close()
}
