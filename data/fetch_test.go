package data

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipkit/clipkit/internal/download"
	"github.com/clipkit/clipkit/internal/download/downloadtest"
)

func md5hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

func clearEnv(t *testing.T) {
	for _, k := range []string{"CLIPKIT_OFFLINE", "HF_HUB_OFFLINE", "CLIPKIT_DATA_MIRROR", "CLIPKIT_CACHE"} {
		t.Setenv(k, "")
	}
}

func TestSourcesAreWellFormed(t *testing.T) {
	want := []string{"clip-demo-photos", "cifar10", "cifar10-python", "cifar100", "cifar100-python", "mnist", "fashion-mnist"}
	for _, name := range want {
		s, err := LookupSource(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.validate(); err != nil {
			t.Error(err)
		}
		if s.Cite == "" || s.Title == "" {
			t.Errorf("%s: no cite or title", name)
		}
		if s.ListedSize == "" && s.TotalSize() == 0 {
			t.Errorf("%s: neither a listed nor an exact size", name)
		}
		for _, p := range s.Providers {
			for _, f := range s.Files {
				if len(p.MD5[f.Name]) != 32 {
					t.Errorf("%s: provider %s has no md5 for %s", name, p.Name, f.Name)
				}
			}
		}
	}
	if len(Sources()) != len(want) {
		t.Errorf("%d sources, want %d", len(Sources()), len(want))
	}
	if _, err := LookupSource("imagenet"); err == nil || !strings.Contains(err.Error(), "cifar10") {
		t.Errorf("unknown name: %v", err)
	}
	s, _ := LookupSource("mnist")
	if s.TotalSize() != 9912422+28881+1648877+4542 {
		t.Errorf("MNIST total %d", s.TotalSize())
	}
}

// tinySource serves a tiny CIFAR-10 binary archive as a dataset of its own.
func tinySource(t *testing.T, srv *downloadtest.Server) (Source, []byte) {
	p := filepath.Join(t.TempDir(), "tiny.tar.gz")
	writeTarGz(t, p, cifarMembers(false, false))
	archive, _ := os.ReadFile(p)
	srv.AddFile("/kriz/cifar-10-binary.tar.gz", archive)
	return Source{Name: "tiny-cifar", Title: "tiny", Loader: "cifar", Cite: "test",
		Files: []File{{Name: "cifar-10-binary.tar.gz", URL: srv.URL + "/kriz/cifar-10-binary.tar.gz", MD5: md5hex(archive)}}}, archive
}

func TestFetchDownloadsVerifiesAndLoads(t *testing.T) {
	clearEnv(t)
	srv := downloadtest.New(t)
	src, archive := tinySource(t, srv)
	srv.DropAfter("/kriz/cifar-10-binary.tar.gz", len(archive)/3) // an interrupted transfer, resumed
	var log bytes.Buffer
	opts := Options{CacheDir: t.TempDir(), Progress: &log, RetryBackoff: time.Millisecond}
	ds, err := LoadSource(context.Background(), src, Test, opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	checkCIFARItems(t, ds.(*CIFAR), []cifarBatch{cifar10Test}, false)
	dest := filepath.Join(opts.CacheDir, "data", "tiny-cifar", "cifar-10-binary.tar.gz")
	if b, _ := os.ReadFile(dest); !bytes.Equal(b, archive) {
		t.Fatal("cached archive differs")
	}
	loc, err := FetchSource(context.Background(), src, opts)
	if err != nil || loc.Origin["cifar-10-binary.tar.gz"] != "cache" {
		t.Fatalf("second fetch: %+v, %v", loc.Origin, err)
	}
	if n := srv.Count("GET", "/kriz/cifar-10-binary.tar.gz"); n != 2 {
		t.Errorf("%d GETs, want 2 (one dropped, one resumed)", n)
	}
}

func TestFetchRealSourceChecksPublishedMD5(t *testing.T) {
	clearEnv(t)
	srv := downloadtest.New(t)
	srv.AddFile("/cifar-10-binary.tar.gz", []byte("not the CIFAR archive"))
	t.Setenv("CLIPKIT_DATA_MIRROR", srv.URL+"/")
	opts := Options{CacheDir: t.TempDir(), Quiet: true, RetryBackoff: time.Millisecond}
	_, err := Fetch(context.Background(), "cifar10", opts)
	if !errors.Is(err, download.ErrMismatch) || !strings.Contains(err.Error(), "c32a1d4ab5d03f1284b67883e8d87530") {
		t.Fatalf("error %v, want an md5 mismatch against the published checksum", err)
	}
	if srv.Count("GET", "/cifar-10-binary.tar.gz") != 1 {
		t.Error("the mirror was not used")
	}
}

func TestFetchOfflineSaysWhatIsMissing(t *testing.T) {
	clearEnv(t)
	srv := downloadtest.New(t)
	src, _ := tinySource(t, srv)
	t.Setenv("CLIPKIT_OFFLINE", "1")
	_, err := FetchSource(context.Background(), src, Options{CacheDir: t.TempDir(), Quiet: true})
	if !errors.Is(err, download.ErrOffline) || !strings.Contains(err.Error(), "cifar-10-binary.tar.gz") || !strings.Contains(err.Error(), "CLIPKIT_OFFLINE=1") {
		t.Fatalf("error %v", err)
	}
	if len(srv.Requests()) != 0 {
		t.Error("offline fetch touched the network")
	}
}

func TestFetchIgnoresProviderCopyWithWrongChecksum(t *testing.T) {
	clearEnv(t)
	srv := downloadtest.New(t)
	src, archive := tinySource(t, srv)
	provider := t.TempDir()
	writeFile(t, filepath.Join(provider, "cifar-10-binary.tar.gz"), []byte("a damaged copy"))
	src.Providers = []Provider{{Name: "test package", Dir: func() string { return provider },
		MD5: map[string]string{"cifar-10-binary.tar.gz": md5hex(archive)}}}
	var log bytes.Buffer
	loc, err := FetchSource(context.Background(), src, Options{CacheDir: t.TempDir(), Progress: &log})
	if err != nil {
		t.Fatal(err)
	}
	if loc.Origin["cifar-10-binary.tar.gz"] != "download" || !strings.Contains(log.String(), "does not match the checksum") {
		t.Errorf("origin %q, log:\n%s", loc.Origin["cifar-10-binary.tar.gz"], log.String())
	}
	// A good provider copy is used in place, without a request.
	writeFile(t, filepath.Join(provider, "cifar-10-binary.tar.gz"), archive)
	n := len(srv.Requests())
	loc, err = FetchSource(context.Background(), src, Options{CacheDir: t.TempDir(), Quiet: true})
	if err != nil || loc.Origin["cifar-10-binary.tar.gz"] != "test package" || len(srv.Requests()) != n {
		t.Errorf("good provider copy: %+v, %v", loc, err)
	}
	if loc.Files["cifar-10-binary.tar.gz"] != filepath.Join(provider, "cifar-10-binary.tar.gz") {
		t.Errorf("path %s", loc.Files["cifar-10-binary.tar.gz"])
	}
}

func TestSourceValidation(t *testing.T) {
	good := Source{Name: "x", Loader: "cifar", Files: []File{{Name: "a.tar.gz", URL: "https://e.com/a.tar.gz", MD5: strings.Repeat("a", 32)}}}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(s *Source){
		"escaping name":   func(s *Source) { s.Name = "../x" },
		"unknown loader":  func(s *Source) { s.Loader = "imagenet" },
		"no files":        func(s *Source) { s.Files = nil },
		"file with slash": func(s *Source) { s.Files[0].Name = "d/a.tar.gz" },
		"ftp URL":         func(s *Source) { s.Files[0].URL = "ftp://e.com/a" },
		"bad md5":         func(s *Source) { s.Files[0].MD5 = "xyz" },
		"mnist missing files": func(s *Source) {
			s.Loader = "mnist"
		},
	} {
		s := good
		s.Files = append([]File(nil), good.Files...)
		mutate(&s)
		if s.validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
