package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/learner"
)

// registryCommand is a models subcommand that runs against the registry.
type registryRun func(ctx context.Context, cfg config.Config, reg learner.Registry, w io.Writer, args []string) error

// exportCommands are `models export MODEL[@REF] FILE` and `models import FILE [--as NAME]`.
func exportCommands(withRegistry func(registryRun) func(*cobra.Command, []string) error) []*cobra.Command {
	export := &cobra.Command{Use: "export MODEL[@VERSION|TAG|TIME] FILE", Args: cobra.ExactArgs(2),
		Short: "Write a snapshot (default: the champion) to one portable file: spec, feature plan, weights, report, checksum",
		RunE: withRegistry(func(ctx context.Context, cfg config.Config, reg learner.Registry, w io.Writer, args []string) error {
			model, version, err := resolveRef(ctx, reg, args[0])
			if err != nil {
				return err
			}
			v, err := reg.Get(ctx, model, version)
			if err != nil {
				return err
			}
			snap, err := reg.Snapshot(ctx, model, version)
			if err != nil {
				return err
			}
			b, err := learner.NewBundle(v, snap, cfg.Features)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(args[1], b); err != nil {
				return err
			}
			fmt.Fprintf(w, "%s version %d (%d examples) -> %s (sha256 %s)\n", model, version, v.Examples, args[1], b.SHA256)
			return nil
		})}
	var as, reason string
	imp := &cobra.Command{Use: "import FILE", Args: cobra.ExactArgs(1),
		Short: "Restore an exported snapshot as a new retained version (the champion of a model that has none)",
		RunE: withRegistry(func(ctx context.Context, cfg config.Config, reg learner.Registry, w io.Writer, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			b, v, _, err := learner.ReadBundle(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			snap := b.Snapshot
			if as != "" && as != v.Model {
				if snap, err = learner.RenameSnapshot(snap, as); err != nil {
					return err
				}
				v.Model, v.Spec.Name = as, as
			}
			if reason == "" {
				reason = fmt.Sprintf("imported from %s (version %d)", filepath.Base(args[0]), v.Version)
			}
			got, err := reg.Import(ctx, v, snap, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s: imported as version %d\n", got.Model, got.Version)
			var theirs bytes.Buffer
			here, _ := json.Marshal(cfg.Features)
			if err := json.Compact(&theirs, b.Features); err != nil || !bytes.Equal(here, theirs.Bytes()) {
				fmt.Fprintf(w, "warning: this deployment's features differ from the exporter's; scores match only with the same feature plan (the file's \"features\")\n")
			}
			return nil
		})}
	imp.Flags().StringVar(&as, "as", "", "the model name to import under (default the exported model's)")
	imp.Flags().StringVar(&reason, "reason", "", "recorded as the version's note")
	return []*cobra.Command{export, imp}
}

// resolveRef splits MODEL[@REF] and resolves REF (default: the champion).
func resolveRef(ctx context.Context, reg learner.Registry, arg string) (string, int64, error) {
	model, ref, found := strings.Cut(arg, "@")
	if !found {
		champ, err := reg.Champion(ctx, model)
		if err != nil {
			return "", 0, err
		}
		if champ == 0 {
			return "", 0, fmt.Errorf("model %q has no champion: name a version (%s@VERSION): %w", model, model, learner.ErrNotFound)
		}
		return model, champ, nil
	}
	n, err := reg.Resolve(ctx, model, ref)
	return model, n, err
}

// writeFileAtomic writes b to path through a temporary file, so a failed export leaves no half file.
func writeFileAtomic(path string, b *learner.Bundle) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := b.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
