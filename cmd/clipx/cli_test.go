package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// errHelp is what clipx returns for a help request (-h, --help): the usage was printed, exit 0.
var errHelp = errors.New("help requested")

// clipx runs clipx with args as main does and returns the error that run would print; a help
// request (-h, --help) returns errHelp.
func clipx(args ...string) error {
	cmd, err := execute(args)
	if err == nil && cmd != nil {
		if h, _ := cmd.Flags().GetBool("help"); h {
			return errHelp
		}
	}
	return err
}

// runSearch, runData and runWeights run a command group with args (the tests of those groups use
// them).
func runSearch(args []string) error  { return clipx(append([]string{"search"}, args...)...) }
func runData(args []string) error    { return clipx(append([]string{"data"}, args...)...) }
func runWeights(args []string) error { return clipx(append([]string{"weights"}, args...)...) }

// captureStd runs fn with os.Stdout and os.Stderr redirected, returning what each received.
func captureStd(t *testing.T, fn func()) (stdout, stderr string) {
	t.Helper()
	oldOut, oldErr := os.Stdout, os.Stderr
	defer func() { os.Stdout, os.Stderr = oldOut, oldErr }()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	os.Stdout, os.Stderr = outW, errW
	outC, errC := make(chan string), make(chan string)
	go func() { b, _ := io.ReadAll(outR); outC <- string(b) }()
	go func() { b, _ := io.ReadAll(errR); errC <- string(b) }()
	fn()
	outW.Close()
	errW.Close()
	return <-outC, <-errC
}

// allCommands returns every command of the tree below root, depth first.
func allCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range root.Commands() {
		out = append(out, c)
		out = append(out, allCommands(c)...)
	}
	return out
}

// TestEveryCommandHasHelpListingItsFlags: `clipx <path> --help` (and -h, and `clipx help <path>`)
// exits 0 and prints the command's description, usage, and every one of its flags.
func TestEveryCommandHasHelpListingItsFlags(t *testing.T) {
	cmds := allCommands(newRootCmd())
	if len(cmds) < 40 { // more once a command is added
		t.Errorf("%d commands in the tree, want at least clipx's 40: 11 top-level (6 of them groups) and 29 in the groups", len(cmds))
	}
	for _, c := range cmds {
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(path, "_"), func(t *testing.T) {
			if c.Short == "" || c.Long == "" || c.Example == "" {
				t.Errorf("clipx %s lacks Short, Long or Example", strings.Join(path, " "))
			}
			for _, form := range [][]string{append(slices.Clone(path), "--help"), append(slices.Clone(path), "-h"), append([]string{"help"}, path...)} {
				var code int
				out, _ := captureStd(t, func() { code = run(form) })
				if code != 0 {
					t.Fatalf("clipx %q exited %d", form, code)
				}
				if !strings.Contains(out, "Usage:") || !strings.Contains(out, "clipx "+strings.Join(path, " ")) {
					t.Errorf("clipx %q printed no usage:\n%s", form, out)
				}
				c.Flags().VisitAll(func(f *pflag.Flag) {
					if !strings.Contains(out, "--"+f.Name+" ") {
						t.Errorf("clipx %q does not list --%s:\n%s", form, f.Name, out)
					}
				})
				for _, s := range c.Commands() {
					if s.IsAvailableCommand() && !strings.Contains(out, s.Name()) {
						t.Errorf("clipx %q does not list the sub-command %s", form, s.Name())
					}
				}
			}
		})
	}
}

// TestSearchHelpIsMoreThanOneLine: the example.
func TestSearchHelpIsMoreThanOneLine(t *testing.T) {
	out, _ := captureStd(t, func() { run([]string{"search", "--help"}) })
	if n := strings.Count(out, "\n"); n < 10 {
		t.Errorf("clipx search --help printed %d lines:\n%s", n, out)
	}
	for _, sub := range []string{"index", "query", "embed", "load", "delete"} {
		if !strings.Contains(out, "  "+sub+" ") {
			t.Errorf("clipx search --help does not list %s", sub)
		}
	}
}

// TestUnknownCommandsSuggest: a mistyped command or sub-command exits 2 with "did you mean" on
// standard error, and nothing on standard output.
func TestUnknownCommandsSuggest(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tokenzie"}, `did you mean tokenize?`},
		{[]string{"embedd", "--weights", "x"}, `did you mean embed?`},
		{[]string{"bench", "serach"}, `clipx bench: unknown bench sub-command "serach"; did you mean search?`},
		{[]string{"search", "qurey", "--index", "x"}, `did you mean query?`},
		{[]string{"weights", "lst"}, `did you mean list?`},
		{[]string{"eval", "zeroshoot"}, `did you mean zeroshot?`},
		{[]string{"nosuchcommand"}, `clipx: unknown command "nosuchcommand" (run 'clipx --help' for the list)`},
		{[]string{"data", "frobnicate", "--x"}, `clipx data: unknown data sub-command "frobnicate" (run 'clipx data --help' for the list)`},
	} {
		var code int
		out, errOut := captureStd(t, func() { code = run(tc.args) })
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("clipx %q: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestUsageErrorsPrintTheUsage: misuse exits 2 with the error and the command's usage on standard
// error; a failure that is not misuse exits 1 without the usage.
func TestUsageErrorsPrintTheUsage(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		code      int
		want      string
		withUsage bool
	}{
		{[]string{"embed", "--bogus"}, 2, "clipx embed: unknown flag: --bogus", true},
		{[]string{"embed", "-bogus"}, 2, "clipx embed: unknown flag: --bogus", true},
		{[]string{"tokenize", "extra"}, 2, `clipx tokenize: unexpected arguments ["extra"] (text is read from stdin)`, true},
		{[]string{"bench"}, 2, "clipx bench: missing sub-command (want one of", true},
		{[]string{"bench", "models", "--batches", "x"}, 2, `"x" is not a positive integer`, false},
		{[]string{"search", "query", "--index", "a.idx", "--model", "RN50", "--text", "x"}, 2, "--model applies to a store query", true},
		{[]string{"weights", "fetch"}, 2, "want at least one model name", true},
		{[]string{"data", "info", "a", "b"}, 2, "want one dataset name or path", true},
		{[]string{"embed", "--weights", "/no/such/file.pt"}, 1, "clipx embed: ", false},
	} {
		var code int
		_, errOut := captureStd(t, func() { code = run(tc.args) })
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("clipx %q: exit %d, stderr:\n%s\nwant exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
		if hasUsage := strings.Contains(errOut, "Usage:"); tc.withUsage && !hasUsage {
			t.Errorf("clipx %q: no usage on stderr:\n%s", tc.args, errOut)
		}
		if tc.code == 1 && strings.Contains(errOut, "Usage:") {
			t.Errorf("clipx %q: a failure that is not misuse printed the usage", tc.args)
		}
	}
}

// TestCompletionScripts: cobra's completion command writes a script for each shell, and the
// completion of a partial command name finds it.
func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_clipx", "zsh": "#compdef clipx", "fish": "complete -c clipx",
		"powershell": "Register-ArgumentCompleter"} {
		var code int
		out, _ := captureStd(t, func() { code = run([]string{"completion", shell}) })
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("clipx completion %s: exit %d, no %q in %d bytes", shell, code, want, len(out))
		}
	}
	out, _ := captureStd(t, func() { run([]string{"__complete", "bench", "se"}) })
	if !strings.Contains(out, "search") {
		t.Errorf("completing `clipx bench se`: %q, want search", out)
	}
	out, _ = captureStd(t, func() { run([]string{"__complete", "search", "index", "--sk"}) })
	if !strings.Contains(out, "--skip-bad") {
		t.Errorf("completing `clipx search index --sk`: %q, want --skip-bad", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"embed", "--weights", "ViT-B/3"}, "ViT-B/32\n"},
		{[]string{"weights", "fetch", "MobileCLIP-S"}, "MobileCLIP-S0\n"},
		{[]string{"eval", "zeroshot", "--dataset", "cifar"}, "cifar10\n"},
		{[]string{"bench", "models", "--precisions", "b"}, "bf16\n"},
		{[]string{"data", "fetch", "mni"}, "mnist\n"},
	} {
		out, _ := captureStd(t, func() { run(append([]string{"__complete"}, tc.args...)) })
		if strings.Count(out, tc.want) != 1 {
			t.Errorf("completing `clipx %s`: %q, want %q once", strings.Join(tc.args, " "), out, tc.want)
		}
	}
}

// TestNormalizeArgs: Go-style single-dash long flags become pflag's double-dash form, and nothing
// else changes.
func TestNormalizeArgs(t *testing.T) {
	root := newRootCmd()
	for _, tc := range []struct{ in, want string }{
		{"bench search -sizes 1e6 -dump /tmp/d -quiet", "bench search --sizes 1e6 --dump /tmp/d --quiet"},
		{"search query -index a.idx -text -dash- -k=3", "search query --index a.idx --text -dash- --k=3"},
		{"search query --text -x -k 2", "search query --text -x --k 2"},
		{"embed -weights w -offline -text t", "embed --weights w --offline --text t"},
		{"embed -offline=false -text t", "embed --offline=false --text t"},
		{"bench models -h", "bench models -h"},
		{"bench models -help", "bench models --help"},
		{"bench compare - -- -x", "bench compare - -- -x"},
		{"weights fetch --offline -quiet ViT-B/32", "weights fetch --offline --quiet ViT-B/32"},
		{"__complete search index -mo", "__complete search index -mo"},
		{"nosuch -x", "nosuch --x"},
	} {
		got := strings.Join(normalizeArgs(root, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("normalizeArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSingleDashFlagsStillWork runs commands the way docs and scripts written for package flag do.
func TestSingleDashFlagsStillWork(t *testing.T) {
	var buf bytes.Buffer
	old := weightsOut
	weightsOut = &buf
	defer func() { weightsOut = old }()
	if err := clipx("weights", "list", "-json"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(buf.String()), "[") {
		t.Errorf("weights list -json printed %.80q, want a JSON array", buf.String())
	}
	code, out := runCapture(t, "a photo\n", "tokenize", "-vocab=")
	if code != 0 || !strings.HasPrefix(out, "[49406,") {
		t.Errorf("tokenize -vocab=: exit %d, %q", code, out)
	}
}

// TestFreshFlagsPerRun: flag values do not leak from one run into the next (the tree is rebuilt).
func TestFreshFlagsPerRun(t *testing.T) {
	var buf bytes.Buffer
	old := weightsOut
	weightsOut = &buf
	defer func() { weightsOut = old }()
	if err := clipx("weights", "list", "--json"); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := clipx("weights", "list"); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(buf.String(), "[") {
		t.Error("--json of the previous run leaked into this one")
	}
}
