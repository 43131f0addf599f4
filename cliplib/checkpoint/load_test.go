package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The format is decided by content: fixtures copied under misleading extensions still load.
func TestReadFileDetectsFormatByContent(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		fixture, disguise string
		want              Format
		keys              int
	}{
		{"st_f32.safetensors", "weights.bin", FormatSafetensors, 5},
		{"torch_save.pt", "weights.safetensors", FormatTorchZip, 16},
		{"script_nested.pt", "model.bin", FormatTorchScript, 9},
		{"hf_tiny_clip/model.safetensors", "model.pt", FormatSafetensors, 0},
		{"openclip_tiny/traced.pt", "ViT-tiny.safetensors", FormatTorchScript, 0},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			p := filepath.Join(dir, tc.disguise)
			if err := os.WriteFile(p, readFixtureBytes(t, tc.fixture), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != tc.want || f.Path != p {
				t.Errorf("format %s path %s, want %s %s", f.Format, f.Path, tc.want, p)
			}
			if tc.keys > 0 && len(f.Tensors) != tc.keys {
				t.Errorf("%d tensors, want %d", len(f.Tensors), tc.keys)
			}
			if tc.want == FormatSafetensors && tc.fixture == "st_f32.safetensors" && f.Metadata["source"] == "" {
				t.Errorf("safetensors metadata not exposed: %v", f.Metadata)
			}
			sd, format, err := ReadFile(p)
			if err != nil || format != tc.want || len(sd) != len(f.Tensors) {
				t.Errorf("ReadFile: %d tensors, %s, %v", len(sd), format, err)
			}
		})
	}
}

func TestReadFileErrorsNameTheFileAndProblem(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	st := readFixtureBytes(t, "st_f32.safetensors")
	tz := readFixtureBytes(t, "torch_save.pt")
	for _, tc := range []struct {
		name    string
		path    string
		want    []string
		wantErr error
	}{
		{"missing file", filepath.Join(dir, "nope.safetensors"), []string{"no such file"}, os.ErrNotExist},
		{"directory", dir, []string{"is a directory"}, nil},
		{"empty file", write("empty.pt", nil), []string{"is empty"}, nil},
		{"tiny file", write("tiny.pt", []byte("abc")), []string{"only 3 bytes"}, ErrUnknownFormat},
		{"text file", write("notes.bin", []byte("these are not weights, just a text file\n")), []string{"starts with"}, ErrUnknownFormat},
		{"truncated safetensors", write("cut.safetensors", st[:len(st)/3]), []string{"truncated"}, nil},
		{"truncated torch zip", write("cut.pt", tz[:len(tz)-40]), []string{"not a readable zip"}, nil},
		{"zip without data.pkl", write("other.zip", makeArchive(t, []archiveEntry{{name: "readme.txt", data: []byte("hi")}})), []string{"no data.pkl"}, nil},
		{"legacy torch.save", write("legacy.pt", readFixtureBytes(t, "legacy.pt")), []string{"legacy torch.save"}, ErrLegacyTorch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd, format, err := ReadFile(tc.path)
			if sd != nil || format != "" {
				t.Errorf("got %d tensors, format %q along with an error", len(sd), format)
			}
			errContains(t, err, append(tc.want, tc.path)...)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
		})
	}
}

func TestDetectFormatLooksOnlyAtContent(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    Format
	}{
		{"st_bf16.safetensors", FormatSafetensors},
		{"openclip_tiny/open_clip_pytorch_model.bin", FormatTorchZip},
		{"openclip_tiny/traced.pt", FormatTorchScript},
	} {
		f, size, err := openSized(fixture(t, tc.fixture))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DetectFormat(f, size, tc.fixture)
		f.Close()
		if err != nil || got != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.fixture, got, err, tc.want)
		}
	}
	if _, err := DetectFormat(strings.NewReader("\x80\x02}q\x00."), 6, "bare.pkl"); !errors.Is(err, ErrLegacyTorch) {
		t.Errorf("bare pickle: %v, want ErrLegacyTorch", err)
	}
}
