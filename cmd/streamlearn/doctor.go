package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/cuda"
)

// doctorReport is what `streamlearn doctor --json` prints.
type doctorReport struct {
	Version string      `json:"version"`
	Go      string      `json:"go"`
	CPUs    int         `json:"cpus"`
	GPU     cuda.Report `json:"gpu"`
	Learner struct {
		Device string            `json:"device"`
		Batch  int               `json:"batch"`
		Models map[string]string `json:"models"` // model name: where it would train, and why
		// Families says where a model of each family, with the settings of the first model, would
		// train: linear, fm and mlp have GPU kernels; tree, forest and auto train on the CPU only.
		Families map[string]string `json:"families"`
		Error    string            `json:"error,omitempty"`
	} `json:"learner"`
}

func doctorCommand() *cobra.Command {
	var (
		f          connFlags
		asJSON     bool
		requireGPU bool
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Report what this machine offers the learner: the NVIDIA driver, GPUs and their memory, and where each model would train",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			var r doctorReport
			r.Version, r.Go, r.CPUs = version, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU()
			r.GPU = cuda.Probe()
			r.Learner.Device, r.Learner.Batch, r.Learner.Models = cfg.Learner.Device, cfg.Learner.Batch, map[string]string{}
			sel, selErr := cuda.NewSelector(cfg.Learner.Device, cuda.Workload{Batch: cfg.Learner.Batch, Active: cfg.Learner.ActiveInputs})
			if selErr != nil {
				r.Learner.Error = selErr.Error()
			} else {
				for _, spec := range cfg.Models() {
					_, why := sel.ForSpec(spec)
					r.Learner.Models[spec.Name] = why
				}
				r.Learner.Families = familyPlacement(sel, cfg.Models())
				sel.Close()
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				printDoctor(out, &r, cfg.Models())
			}
			switch {
			case selErr != nil:
				return selErr
			case requireGPU && !r.GPU.Available:
				return fmt.Errorf("no usable GPU: %s", r.GPU.Reason)
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&requireGPU, "require-gpu", false, "exit with an error when no GPU is usable")
	return cmd
}

func printDoctor(w io.Writer, r *doctorReport, models []learner.Spec) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "streamlearn %s\t%s, %d CPUs\n", r.Version, r.Go, r.CPUs)
	fmt.Fprintln(tw, "GPU")
	if r.GPU.Available {
		fmt.Fprintln(tw, "  available\tyes")
	} else {
		fmt.Fprintln(tw, "  available\tno")
		fmt.Fprintf(tw, "  reason\t%s\n", r.GPU.Reason)
	}
	if r.GPU.Driver != "" {
		fmt.Fprintf(tw, "  driver\tCUDA %s\n", r.GPU.Driver)
	}
	for _, d := range r.GPU.Devices {
		free := ""
		if d.MemoryFree > 0 {
			free = fmt.Sprintf(" (%s free)", gib(d.MemoryFree))
		}
		fmt.Fprintf(tw, "  device %d\t%s, compute capability %s, %d multiprocessors, %s memory%s\n",
			d.Ordinal, d.Name, d.ComputeCapability, d.Multiprocessors, gib(d.MemoryTotal), free)
	}
	if r.GPU.Kernels != "" {
		fmt.Fprintf(tw, "  kernels\t%s\n", r.GPU.Kernels)
	}
	if r.GPU.SelfTest != "" {
		fmt.Fprintf(tw, "  self-test\t%s\n", r.GPU.SelfTest)
	}
	fmt.Fprintln(tw, "Learner")
	fmt.Fprintf(tw, "  device\t%s (minibatches of %d on a GPU)\n", r.Learner.Device, r.Learner.Batch)
	if r.Learner.Error != "" {
		fmt.Fprintf(tw, "  error\t%s\n", r.Learner.Error)
	}
	for _, spec := range models {
		if why, ok := r.Learner.Models[spec.Name]; ok {
			fmt.Fprintf(tw, "  %s\t%s\n", spec.Name, why)
		}
	}
	if len(r.Learner.Families) > 0 {
		fmt.Fprintln(tw, "Families (a model of each, with the first model's settings)")
		for _, f := range doctorFamilies {
			fmt.Fprintf(tw, "  %s\t%s\n", f, r.Learner.Families[f])
		}
	}
	tw.Flush()
}

var doctorFamilies = []string{learner.FamilyLinear, learner.FamilyFM, learner.FamilyMLP, learner.FamilyTree,
	learner.FamilyForest, learner.FamilyAuto}

// familyPlacement says where a model of each family would train under sel, with the settings of the
// first model (binary, as the non-linear families learn).
func familyPlacement(sel *cuda.Selector, models []learner.Spec) map[string]string {
	base := learner.DefaultSpec()
	if len(models) > 0 {
		base = models[0]
	}
	base.Task = learner.Binary
	out := map[string]string{}
	for _, f := range doctorFamilies {
		spec := base
		spec.Family = f
		_, out[f] = sel.ForSpec(spec)
	}
	return out
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
