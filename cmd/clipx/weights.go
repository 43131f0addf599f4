package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/clipkit/clipkit/weights"
)

// weightsOut receives the weights command's results (tests replace it).
var weightsOut io.Writer = os.Stdout

func init() {
	addCommand("", newWeightsCmd)
	addCommand("weights", newWeightsListCmd)
	addCommand("weights", newWeightsFetchCmd)
	addCommand("weights", newWeightsVerifyCmd)
}

func newWeightsCmd() *cobra.Command {
	return newGroup(&cobra.Command{
		Use:   "weights <sub-command> [flags] [args]",
		Short: "list, fetch and verify model weights (weights list|fetch NAME...|verify [NAME...])",
		Long: `List, fetch and verify model weights.

Environment: CLIPKIT_CACHE, HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, CLIPKIT_OPENAI_ENDPOINT,
CLIPKIT_OFFLINE=1 or HF_HUB_OFFLINE=1 (no network: caches only).`,
		Example: `  clipx weights list
  clipx weights fetch ViT-B/32 MobileCLIP-S0
  clipx weights verify`,
	})
}

// weightsSize is the size column, without spaces so that every line has five fields: exact when
// the registry has it, "~" + the source listing's rounded size, else "?".
func weightsSize(e weights.Entry) string {
	switch {
	case e.Source.Size > 0:
		return strings.ReplaceAll(humanize.Bytes(uint64(e.Source.Size)), " ", "")
	case e.ListedSize != "":
		return "~" + strings.ReplaceAll(e.ListedSize, " ", "")
	}
	return "?"
}

// weightsListOptions are the flags of clipx weights list.
type weightsListOptions struct {
	asJSON bool
}

func newWeightsListCmd() *cobra.Command {
	o := &weightsListOptions{}
	c := &cobra.Command{
		Use:   "list [--json]",
		Short: "one line per model: name, architecture, format, size, source",
		Long: `List the weights registry, one line per model: name, architecture, format, size (exact, ~ the
source listing's, or ?), source. With --json, the registry entries as JSON.`,
		Example: `  clipx weights list
  clipx weights list --json`,
		Args: noArgs(""),
		RunE: func(*cobra.Command, []string) error { return weightsList(o) },
	}
	f := c.Flags()
	f.BoolVar(&o.asJSON, "json", false, "print the registry entries as JSON")
	return c
}

func weightsList(o *weightsListOptions) error {
	if o.asJSON {
		enc := json.NewEncoder(weightsOut)
		enc.SetIndent("", "  ")
		return enc.Encode(weights.List())
	}
	tw := tabwriter.NewWriter(weightsOut, 0, 0, 2, ' ', 0)
	for _, e := range weights.List() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Arch, e.Format, weightsSize(e), e.Source)
	}
	return tw.Flush()
}

func weightsOptions(offline, quiet bool) weights.Options {
	return weights.Options{Offline: offline, Quiet: quiet}
}

// weightsFetchOptions are the flags of clipx weights fetch.
type weightsFetchOptions struct {
	names   []string // the models
	offline bool
	quiet   bool
}

func newWeightsFetchCmd() *cobra.Command {
	o := &weightsFetchOptions{}
	c := &cobra.Command{
		Use:   "fetch [--offline] [--quiet] NAME...",
		Short: "download (or find in the caches) and verify the named models; prints their files",
		Long: `Download (or find in the caches) and verify the named models, then print their files: weights,
config and commit, one per line. A model that fails is reported on standard error and the others
are still fetched; the command fails if any did.`,
		Example: `  clipx weights fetch ViT-B/32
  clipx weights fetch --offline --quiet MobileCLIP-S0`,
		Args: minArgs(1, "at least one model name (see 'clipx weights list')"),
		RunE: func(_ *cobra.Command, args []string) error {
			o.names = args
			return weightsFetch(o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.offline, "offline", false, "use only the caches, never the network")
	f.BoolVar(&o.quiet, "quiet", false, "no progress output")
	return c
}

func weightsFetch(o *weightsFetchOptions) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var failed []string
	for _, name := range o.names {
		loc, err := weights.Fetch(ctx, name, weightsOptions(o.offline, o.quiet))
		if err != nil {
			fmt.Fprintf(os.Stderr, "clipx weights fetch: %v\n", err)
			failed = append(failed, name)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		fmt.Fprintf(weightsOut, "%s\tweights %s\n", name, loc.WeightsPath)
		if loc.ConfigPath != "" {
			fmt.Fprintf(weightsOut, "%s\tconfig %s\n", name, loc.ConfigPath)
		}
		if loc.Commit != "" {
			fmt.Fprintf(weightsOut, "%s\tcommit %s\n", name, loc.Commit)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not fetch %s", strings.Join(failed, ", "))
	}
	return nil
}

// weightsVerifyOptions are the arguments of clipx weights verify.
type weightsVerifyOptions struct {
	names []string // the models; none: every model with cached files
}

func newWeightsVerifyCmd() *cobra.Command {
	o := &weightsVerifyOptions{}
	c := &cobra.Command{
		Use:   "verify [NAME...]",
		Short: "re-hash the cached files of the named models (default: every model with cached files)",
		Long: `Re-hash the cached files of the named models (default: every model with cached files) and print
one line per file: model, file, state, path. It fails if a file is missing or corrupt.`,
		Example: `  clipx weights verify
  clipx weights verify ViT-B/32`,
		RunE: func(_ *cobra.Command, args []string) error {
			o.names = args
			return weightsVerify(o)
		},
	}
	return c
}

func weightsVerify(o *weightsVerifyOptions) error {
	names := o.names
	all := len(names) == 0
	if all {
		for _, e := range weights.List() {
			names = append(names, e.Name)
		}
	}
	opts := weightsOptions(true, true)
	tw := tabwriter.NewWriter(weightsOut, 0, 0, 2, ' ', 0)
	var bad []string
	notCached := 0
	for _, name := range names {
		st, err := weights.Verify(name, opts)
		if err != nil {
			return err
		}
		missing := 0
		for _, s := range st {
			if s.State == weights.StateMissing {
				missing++
			}
		}
		if all && missing == len(st) {
			notCached++
			continue // not fetched: nothing to verify
		}
		for _, s := range st {
			line := fmt.Sprintf("%s\t%s\t%s\t%s", name, s.File, s.State, s.Path)
			if s.Err != nil {
				line += "\t" + s.Err.Error()
			}
			fmt.Fprintln(tw, line)
			if s.State == weights.StateCorrupt || s.State == weights.StateMissing {
				bad = append(bad, name+" "+s.File)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if all {
		fmt.Fprintf(os.Stderr, "clipx weights verify: %d of %d models have no cached files\n", notCached, len(names))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d files missing or corrupt (fetch them again with 'clipx weights fetch NAME'): %s", len(bad), strings.Join(bad, "; "))
	}
	return nil
}
