// Command clipx runs headless what the notebooks do: tokenize, embed, zero-shot, bench, search,
// report, and manage weights and datasets.
//
// Usage:
//
//	clipx <command> [flags] [args]
//	clipx help [command]
//
// Each command lives in its own file and registers itself with register().
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one clipx sub-command.
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]*command{}

// register adds a sub-command; called from init() functions.
func register(name, summary string, run func(args []string) error) {
	if _, dup := commands[name]; dup {
		panic("clipx: command registered twice: " + name)
	}
	commands[name] = &command{name: name, summary: summary, run: run}
}

// errUsage marks an error caused by bad command-line usage (exit status 2).
var errUsage = errors.New("usage error")

// newFlagSet returns a FlagSet for a sub-command that reports errors instead of exiting.
func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("clipx "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: clipx %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping -h and flag errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

var errHelp = errors.New("help requested")

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "clipx: CLIP and MobileCLIP on GoMLX, from the command line.")
	fmt.Fprintln(w, "\nusage: clipx <command> [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'clipx <command> -h' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				_ = c.run([]string{"-h"})
				return 0
			}
		}
		printUsage(os.Stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "clipx: unknown command %q\n\n", args[0])
		printUsage(os.Stderr)
		return 2
	}
	if err := c.run(args[1:]); err != nil {
		switch {
		case errors.Is(err, errHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(os.Stderr, "clipx %s: %v\n", c.name, strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
			return 2
		}
		fmt.Fprintf(os.Stderr, "clipx %s: %v\n", c.name, err)
		return 1
	}
	return 0
}
