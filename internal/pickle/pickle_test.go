package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/types"
)

var errRefused = errors.New("refused by the allowlist")

// refuseAll is an allowlist that accepts nothing.
func refuseAll(module, name string) (any, error) {
	return nil, fmt.Errorf("%s.%s: %w", module, name, errRefused)
}

// marker is an allowlisted inert stand-in.
type marker struct{}

func (marker) Call(args ...any) (any, error) { return len(args), nil }

func allowMarker(module, name string) (any, error) {
	if module == "ok" && name == "marker" {
		return marker{}, nil
	}
	return refuseAll(module, name)
}

// dictPickle is {"a": 1, "b": [2, 3]} at protocol 2 (as Python 3's pickle.dumps writes it).
var dictPickle = []byte("\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02]q\x03(K\x02K\x03eu.")

func TestLoadDecodesPlainData(t *testing.T) {
	v, err := Load(dictPickle, Options{FindClass: refuseAll})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := v.(*types.Dict)
	if !ok || d.Len() != 2 {
		t.Fatalf("got %#v, want a dict of 2", v)
	}
	if a, _ := d.Get("a"); a != 1 {
		t.Errorf(`d["a"] = %v`, a)
	}
	// An allowlisted global is called as an inert stand-in: ok.marker(7, 8) → 2 (its argument count).
	v, err = Load([]byte("\x80\x02cok\nmarker\nK\x07K\x08\x86R."), Options{FindClass: allowMarker})
	if err != nil || v != 2 {
		t.Fatalf("allowlisted call: %v, %v", v, err)
	}
}

func TestLoadRefuses(t *testing.T) {
	bomb := append(append([]byte("\x80\x02"), bytes.Repeat([]byte("]"), 1<<20)...), '.')
	for _, c := range []struct {
		name    string
		p       []byte
		opt     Options
		want    string
		refused bool
	}{
		{"global outside the allowlist", []byte("cos\nsystem\n(S'echo'\ntR."), Options{FindClass: allowMarker}, "os.system", true},
		{"protocol 2 global", []byte("\x80\x02cbuiltins\neval\nq\x00."), Options{FindClass: allowMarker}, "builtins.eval", true},
		{"persistent id without PersistentLoad", []byte("\x80\x02K\x01Q."), Options{FindClass: refuseAll}, "persistent ids", false},
		{"no allowlist", dictPickle, Options{}, "no FindClass", false},
		{"truncated", dictPickle[:len(dictPickle)/2], Options{FindClass: refuseAll}, "truncated", false},
		{"no STOP", dictPickle[:len(dictPickle)-1], Options{FindClass: refuseAll}, "STOP", false},
		{"unknown opcode", []byte("\x80\x02\xff."), Options{FindClass: refuseAll}, "opcode 0xff", false},
		{"extension registry", []byte("\x80\x02\x82\x01."), Options{FindClass: refuseAll}, "unsupported pickle opcode 0x82", false},
		{"out-of-band buffer", []byte("\x80\x05\x97."), Options{FindClass: refuseAll}, "unsupported pickle opcode 0x97", false},
		{"oversized BINBYTES8", []byte("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f."), Options{FindClass: refuseAll}, "remain", false},
		{"negative BINSTRING", []byte("T\xff\xff\xff\xffab."), Options{FindClass: refuseAll}, "negative length", false},
		{"unterminated text", []byte("I12"), Options{FindClass: refuseAll}, "unterminated", false},
		{"oversized FRAME", []byte("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x01\x00."), Options{FindClass: refuseAll}, "remain", false},
		{"allocation bomb", bomb, Options{FindClass: refuseAll, MaxCost: 16 << 20}, "would need more than 16 MiB", false},
		{"malformed stack (gopickle)", []byte("\x80\x02s."), Options{FindClass: refuseAll}, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := Load(c.p, c.opt)
			if err == nil {
				t.Fatalf("no error (got %v)", v)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if got := errors.Is(err, errRefused); got != c.refused {
				t.Errorf("errors.Is(err, allowlist error) = %v, want %v (the allowlist's errors come back unchanged)", got, c.refused)
			}
		})
	}
}

func TestScanCostGrowsWithMarks(t *testing.T) {
	marks := append(bytes.Repeat([]byte("("), 1000), '.')
	if err := Scan(marks, 1000*(OpCost+MarkCost+1)); err != nil {
		t.Errorf("within the bound: %v", err)
	}
	if err := Scan(marks, 999*(OpCost+MarkCost+1)); err == nil {
		t.Error("over the bound: no error")
	}
}

// FuzzLoad: arbitrary bytes give a value or an error, never a panic or an unbounded allocation.
func FuzzLoad(f *testing.F) {
	f.Add(dictPickle)
	f.Add([]byte("\x80\x02cok\nmarker\nK\x07K\x08\x86R."))
	f.Add([]byte("cos\nsystem\n(S'echo'\ntR."))
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = Load(p, Options{FindClass: allowMarker, MaxCost: 64 << 20})
	})
}
