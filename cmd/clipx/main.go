// Command clipx runs headless what the notebooks do: tokenize, embed, zero-shot, bench, search,
// report, and manage weights and datasets.
//
// Usage:
//
//	clipx <command> [sub-command] [flags] [args]
//	clipx help [command]
//	clipx completion bash|zsh|fish|powershell
//
// The command line is built on github.com/spf13/cobra: every command and group has the same help
// (`clipx <command> --help`), a mistyped command gets "did you mean", and cobra writes the shell
// completion scripts. Go-style single-dash long flags (`-model x`) keep working (see
// normalizeArgs in cli.go).
//
// # Adding a command
//
// Each command group lives in its own file (tokenize.go, bench*.go, search*.go, ...). A command is
// three parts:
//
//   - an options struct holding its flags and arguments (type fooOptions struct{...});
//   - a constructor, func newFooCmd() *cobra.Command, that fills Use/Short/Long/Example and binds
//     the flags to a fresh options struct (a fresh one per run: tests run clipx many times);
//   - the work, func runFoo(o *fooOptions) error, which never touches flags.
//
// Wiring it is three lines in its file:
//
//	func init() {
//		addCommand("", newFooCmd) // "" for a top-level command, "bench" for `clipx bench foo`
//	}
//
// Usage errors (a missing or bad flag or argument) wrap errUsage: clipx prints them with the
// command's usage on standard error and exits 2; other errors exit 1.
package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// errUsage marks an error caused by bad command-line usage (exit status 2).
var errUsage = errors.New("usage error")

// usageErrorf returns an error wrapping errUsage with the formatted message.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// registration is one command constructor and the path of the group it belongs to.
type registration struct {
	parent string // "" for a top-level command, else the group's path below clipx, e.g. "bench"
	build  func() *cobra.Command
}

var registrations []registration

// addCommand registers a command's constructor under parent ("" for clipx itself, "bench" for
// clipx bench); called from init() functions. The tree is built afresh for every run.
func addCommand(parent string, build func() *cobra.Command) {
	registrations = append(registrations, registration{parent, build})
}

// newRootCmd builds the whole clipx command tree, with fresh flag values.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "clipx",
		Short: "CLIP and MobileCLIP on GoMLX, from the command line",
		Long: `clipx: CLIP and MobileCLIP on GoMLX, from the command line.

It runs headless what the notebooks do: tokenize, embed, zero-shot, evaluate, benchmark, search,
execute notebooks into reports, and manage weights and datasets.`,
		Example: `  clipx models
  echo "a photo of a cat" | clipx tokenize
  clipx embed --weights ViT-B/32 --text "a photo of a cat" --image cat.jpg
  clipx help search index`,
		Args:          unknownSubcommand,
		SilenceErrors: true, // run prints errors, with the usage for usage errors
		SilenceUsage:  true,
		RunE:          func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	// Groups run (to report a missing sub-command), but their usage shows only "clipx bench [command]".
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// `clipx embedd --weights x` is a mistyped command before it is an unknown flag of clipx.
		if args := c.Flags().Args(); c.HasAvailableSubCommands() && len(args) > 0 {
			return unknownSubcommand(c, args)
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	})
	byPath := map[string]*cobra.Command{"": root}
	// Groups before their members: registrations sorted by depth (stable, so in init order).
	sorted := slices.Clone(registrations)
	slices.SortStableFunc(sorted, func(a, b registration) int { return depth(a.parent) - depth(b.parent) })
	for _, r := range sorted {
		parent, ok := byPath[r.parent]
		if !ok {
			panic(fmt.Sprintf("clipx: a command is registered under %q, which is not a command group", r.parent))
		}
		c := r.build()
		path := strings.TrimSpace(r.parent + " " + c.Name())
		if _, dup := byPath[path]; dup {
			panic("clipx: command registered twice: " + path)
		}
		parent.AddCommand(c)
		byPath[path] = c
	}
	return root
}

// depth is the number of words in a command path below clipx ("" is 0, "bench" 1).
func depth(path string) int { return len(strings.Fields(path)) }

func main() {
	os.Exit(run(os.Args[1:]))
}

// execute runs clipx with args and returns the command it ran (or the deepest one it found) and
// its error.
func execute(args []string) (*cobra.Command, error) {
	root := newRootCmd()
	if len(args) > 0 && strings.HasPrefix(args[0], "__complete") {
		// A shell asking for completions (cobra's hidden command); the registry-backed
		// completions are registered only then (cobra keeps them in a global map).
		addCompletions(root)
	}
	root.SetArgs(normalizeArgs(root, args))
	return root.ExecuteC()
}

// run runs clipx with args and returns its exit status: 0, 1 for a failure, 2 for a usage error.
func run(args []string) int {
	cmd, err := execute(args)
	if err == nil {
		return 0
	}
	name := "clipx"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	if errors.Is(err, errUsage) {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		if cmd != nil {
			fmt.Fprintf(os.Stderr, "\n%s", cmd.UsageString())
		}
		return 2
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	return 1
}
