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

	"github.com/clipkit/clipkit/weights"
)

// weightsOut receives the weights command's results (tests replace it).
var weightsOut io.Writer = os.Stdout

func init() {
	register("weights", "list, fetch and verify model weights (weights list|fetch NAME...|verify [NAME...])", runWeights)
}

const weightsUsage = `list [--json] | fetch [--offline] [--quiet] NAME... | verify [NAME...]

  list     one line per model: name, architecture, format, size, source
  fetch    download (or find in the caches) and verify the named models; prints their files
  verify   re-hash the cached files of the named models (default: every model with cached files)

Environment: CLIPKIT_CACHE, HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, CLIPKIT_OPENAI_ENDPOINT,
CLIPKIT_OFFLINE=1 or HF_HUB_OFFLINE=1 (no network: caches only).`

func runWeights(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fs := newFlagSet("weights", weightsUsage)
		fs.SetOutput(os.Stderr)
		fs.Usage()
		if len(args) == 0 {
			return fmt.Errorf("%w: missing subcommand (list, fetch or verify)", errUsage)
		}
		return errHelp
	}
	switch args[0] {
	case "list":
		return weightsList(args[1:])
	case "fetch":
		return weightsFetch(args[1:])
	case "verify":
		return weightsVerify(args[1:])
	}
	return fmt.Errorf("%w: unknown subcommand %q (want list, fetch or verify)", errUsage, args[0])
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

func weightsList(args []string) error {
	fs := newFlagSet("weights list", "[--json]")
	asJSON := fs.Bool("json", false, "print the registry entries as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: weights list takes no arguments", errUsage)
	}
	if *asJSON {
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

func weightsFetch(args []string) error {
	fs := newFlagSet("weights fetch", "[--offline] [--quiet] NAME...")
	offline := fs.Bool("offline", false, "use only the caches, never the network")
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: weights fetch needs at least one model name (see 'clipx weights list')", errUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var failed []string
	for _, name := range fs.Args() {
		loc, err := weights.Fetch(ctx, name, weightsOptions(*offline, *quiet))
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

func weightsVerify(args []string) error {
	fs := newFlagSet("weights verify", "[NAME...]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	names := fs.Args()
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
