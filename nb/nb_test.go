package nb

import (
	"errors"
	"math"
	"testing"
)

// failed replaces fail for one test and returns the errors it received.
func failed(t *testing.T) *[]error {
	t.Helper()
	var got []error
	old := fail
	fail = func(err error) { got = append(got, err) }
	t.Cleanup(func() { fail = old })
	return &got
}

func TestMustAndCheck(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		run      func()
		wantFail bool
	}{
		{"Must ok", func() {
			if v := Must(7, nil); v != 7 {
				t.Errorf("Must(7, nil) = %d", v)
			}
		}, false},
		{"Must error", func() { Must(0, boom) }, true},
		{"Must2 ok", func() {
			if a, b := Must2(1, true, nil); a != 1 || !b {
				t.Errorf("Must2(1, true, nil) = %v, %v", a, b)
			}
		}, false},
		{"Must2 error", func() { Must2(0, false, boom) }, true},
		{"Check ok", func() { Check(nil) }, false},
		{"Check error", func() { Check(boom) }, true},
		{"Fail", func() { Fail(boom) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := failed(t)
			tt.run()
			if tt.wantFail != (len(*got) == 1) || (tt.wantFail && !errors.Is((*got)[0], boom)) {
				t.Errorf("failures %v, want fail=%v", *got, tt.wantFail)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	tests := []struct{ got, want string }{
		{MiB(0), "0 MiB"},
		{MiB(3 << 20), "3 MiB"},
		{MiB(1536 << 10), "2 MiB"},
		{Millions(151_277_313), "151.28 M"},
		{Millions(0), "0.00 M"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if !math.IsNaN(NaN()) {
		t.Error("NaN() is not NaN")
	}
}

func TestByBackendAndSessionKey(t *testing.T) {
	tests := []struct {
		smoke, backend string
		want           string
	}{
		{"1", "go", "smoke"},
		{"", "go", "simplego"},
		{"", "xla:cpu", "accelerated"},
	}
	for _, tt := range tests {
		t.Setenv("CLIP_SMOKE", tt.smoke)
		t.Setenv("GOMLX_BACKEND", tt.backend)
		if got := ByBackend("smoke", "simplego", "accelerated"); got != tt.want {
			t.Errorf("CLIP_SMOKE=%q GOMLX_BACKEND=%q: ByBackend = %q, want %q", tt.smoke, tt.backend, got, tt.want)
		}
	}
	t.Setenv("CLIP_SMOKE", "")
	t.Setenv("GOMLX_BACKEND", "go")
	t.Setenv("GONB_TMP_DIR", "/tmp/k1")
	a := SessionKey("07", []int{1, 2})
	t.Setenv("GONB_TMP_DIR", "/tmp/k2")
	b := SessionKey("07", []int{1, 2})
	if a == b {
		t.Errorf("SessionKey ignores the kernel session: %q", a)
	}
	if c := SessionKey("07", []int{1, 4}); c == b {
		t.Errorf("SessionKey ignores its parts: %q", c)
	}
}
