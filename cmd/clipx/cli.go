package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clipkit/clipkit/cliplib/eval"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/data"
	"github.com/clipkit/clipkit/weights"
)

// normalizeArgs rewrites Go-style single-dash long flags ("-model x", "-k=5", "-quiet") to
// pflag's double-dash form before cobra parses args.
//
// clipx was written on package flag, where -name and --name are the same flag, and scripts and
// docs use both (cliplib/search/MEASURED.md runs `clipx bench search -sizes 1e6 -dump DIR`).
// pflag reads "-model" as the shorthand cluster -m -o -d -e -l, and its NormalizeFunc only sees
// names after that split, so the arguments themselves are rewritten. Only arguments in flag
// position change: not "-" (standard input), not the value of a preceding flag that takes one
// ("--text -x"), nothing after "--", and not -h (cobra's one shorthand; clipx defines no other).
// The command whose flags apply is found by following the leading command words.
func normalizeArgs(root *cobra.Command, args []string) []string {
	if len(args) > 0 && strings.HasPrefix(args[0], "__") {
		return args // cobra's hidden shell-completion commands take the words as typed
	}
	cmd, i := root, 0
	for ; i < len(args); i++ {
		sub := subcommand(cmd, args[i])
		if sub == nil {
			break
		}
		cmd = sub
	}
	out := slices.Clone(args)
	takesValue := false
	for j := i; j < len(out); j++ {
		a := out[j]
		if takesValue {
			takesValue = false
			continue
		}
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		if a[1] != '-' {
			if a == "-h" {
				continue
			}
			a = "-" + a
			out[j] = a
		}
		name, _, hasValue := strings.Cut(a[2:], "=")
		f := cmd.Flags().Lookup(name)
		if f == nil {
			f = cmd.InheritedFlags().Lookup(name)
		}
		takesValue = f != nil && f.NoOptDefVal == "" && !hasValue
	}
	return out
}

// subcommand returns cmd's sub-command called name (or with that alias), or nil.
func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

// newGroup completes c as a command group: run without a sub-command it is a usage error naming
// the sub-commands, and an unknown sub-command gets suggestions.
func newGroup(c *cobra.Command) *cobra.Command {
	c.Args = unknownSubcommand
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		var names []string
		for _, s := range cmd.Commands() {
			if s.IsAvailableCommand() {
				names = append(names, s.Name())
			}
		}
		return usageErrorf("missing sub-command (want one of %s)", strings.Join(names, ", "))
	}
	return c
}

// unknownSubcommand is the argument check of clipx and its groups: any argument is a mistyped
// sub-command, reported with cobra's suggestions ("did you mean").
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if cmd.HasParent() {
		msg = fmt.Sprintf("unknown %s sub-command %q", cmd.Name(), args[0])
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply itself
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, " or "))
	} else {
		msg += fmt.Sprintf(" (run '%s --help' for the list)", cmd.CommandPath())
	}
	return usageErrorf("%s", msg)
}

// noArgs is the argument check of a command that takes only flags; hint follows the message.
func noArgs(hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("unexpected arguments %q%s", args, hint)
		}
		return nil
	}
}

// minArgs requires at least n arguments, described by what (e.g. "at least one dataset name").
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("want %s", what)
		}
		return nil
	}
}

// exactArgs requires exactly n arguments, described by what.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("want %s", what)
		}
		return nil
	}
}

// stringsVar binds a repeatable string flag (--text a --text b) to p; unlike pflag's StringSlice,
// commas inside a value are kept.
func stringsVar(fs *pflag.FlagSet, p *[]string, name, usage string) {
	fs.StringArrayVar(p, name, nil, usage)
}

// addCompletions gives the flags and arguments that name registry entries shell completions
// (cobra's completion scripts call clipx to get them): --model and --weights complete registry names
// (or files), --models the architectures, --backend and --precision their values, --dataset the
// benchmarks, and the arguments of weights fetch|verify and data fetch|info the names of
// their registries.
func addCompletions(root *cobra.Command) {
	modelNames := func() []string { return model.Names() }
	weightNames := func() []string {
		var out []string
		for _, e := range weights.List() {
			out = append(out, e.Name)
		}
		return out
	}
	dataNames := func() []string {
		var out []string
		for _, s := range data.Sources() {
			out = append(out, s.Name)
		}
		return out
	}
	benchmarkNames := func() []string {
		var out []string
		for _, b := range eval.Benchmarks() {
			out = append(out, b.Name)
		}
		return out
	}
	flagWords := map[string]func() []string{
		"model":      func() []string { return append(weightNames(), modelNames()...) },
		"weights":    func() []string { return append(weightNames(), modelNames()...) },
		"models":     modelNames,
		"backend":    func() []string { return []string{"go", "xla:cpu", "xla:cuda"} },
		"precision":  func() []string { return []string{"f32", "bf16", "f16"} },
		"precisions": func() []string { return []string{"f32", "bf16", "f16"} },
		"dataset":    benchmarkNames,
	}
	argWords := map[string]func() []string{
		"clipx weights fetch": weightNames, "clipx weights verify": weightNames,
		"clipx data fetch": dataNames, "clipx data info": dataNames,
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, words := range flagWords {
			if c.Flags().Lookup(name) != nil {
				// A model or weights name may also be a file: let the shell add files.
				directive := cobra.ShellCompDirectiveNoFileComp
				if name == "model" || name == "weights" {
					directive = cobra.ShellCompDirectiveDefault
				}
				_ = c.RegisterFlagCompletionFunc(name, completeFrom(words, directive))
			}
		}
		if words, ok := argWords[c.CommandPath()]; ok {
			directive := cobra.ShellCompDirectiveNoFileComp
			if c.Name() == "info" {
				directive = cobra.ShellCompDirectiveDefault // a path is fine too
			}
			c.ValidArgsFunction = completeFrom(words, directive)
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

// completeFrom returns a completion function offering the words that start with what was typed.
func completeFrom(words func() []string, directive cobra.ShellCompDirective) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		seen := map[string]bool{}
		for _, w := range words() {
			if strings.HasPrefix(w, toComplete) && !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
		return out, directive
	}
}
