package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// This file wires a command still written on package flag, in the style clipx had before cobra:
//
//	func init() { register("foo", "one-line summary", runFoo) }
//	func runFoo(args []string) error { fs := newFlagSet("foo", "[--x X]"); ...; parseFlags(fs, args) ... }
//
// Such a command parses its own flags (so its help is package flag's) and has no flag
// completion; convert it to an options struct and a cobra constructor (main.go) when convenient.

// errHelp is what parseFlags returns for -h or --help: the usage was printed, exit 0.
var errHelp = errors.New("help requested")

// register wires a top-level command written on package flag: run gets the arguments after the
// command name.
func register(name, summary string, run func(args []string) error) {
	addCommand("", func() *cobra.Command {
		return &cobra.Command{
			Use:                name + " [flags] [args]",
			Short:              summary,
			Long:               summary + "\n\nRun 'clipx " + name + " -h' for its flags.",
			DisableFlagParsing: true,
			RunE: func(_ *cobra.Command, args []string) error {
				if err := run(args); !errors.Is(err, errHelp) {
					return err
				}
				return nil
			},
		}
	})
}

// newFlagSet returns a FlagSet for a legacy command that reports errors instead of exiting.
func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("clipx "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: clipx %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping -h to errHelp and flag errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// multiFlag is a repeatable string flag of a legacy command.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
