package search_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/storetest"
)

func TestLocalStoreConformance(t *testing.T) {
	for _, kind := range []string{search.KindExact, search.KindHNSW} {
		t.Run(kind, func(t *testing.T) {
			minRecall := 1.0
			if kind == search.KindHNSW {
				minRecall = 0.9
			}
			storetest.Run(t, func(t *testing.T, dim int) search.Store {
				s, err := search.OpenStore(context.Background(), "", search.StoreOptions{Dim: dim, Kind: kind})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}, minRecall)
		})
	}
}

func TestLocalStoreFileSavesOnCloseAndReopens(t *testing.T) {
	ctx := context.Background()
	for _, form := range []string{"path", "file-url"} {
		t.Run(form, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "photos.idx")
			u := p
			if form == "file-url" {
				u = "file://" + p
			}
			s, err := search.OpenStore(ctx, u, search.StoreOptions{Dim: storetest.Dim})
			if err != nil {
				t.Fatal(err)
			}
			items := storetest.Items(t, 0, 30)
			if err := s.Upsert(ctx, items...); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := search.OpenStore(ctx, u, search.StoreOptions{Dim: storetest.Dim})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if n, _ := s2.Count(ctx); n != 30 {
				t.Fatalf("reopened store has %d items, want 30", n)
			}
			if _, err := search.OpenStore(ctx, u, search.StoreOptions{Dim: storetest.Dim + 1}); !errors.Is(err, search.ErrDim) {
				t.Fatalf("reopening with another dimension: %v, want ErrDim", err)
			}
		})
	}
}

func TestOpenStoreRejectsBadURLs(t *testing.T) {
	cases := []struct{ url, want string }{
		{"nosuch://host/x", `scheme "nosuch"`},
		{"file://otherhost/x", "must be local"},
		{"mem:", ""},
	}
	for _, c := range cases {
		_, err := search.OpenStore(context.Background(), c.url, search.StoreOptions{Dim: 4})
		if c.want == "" {
			if err != nil {
				t.Errorf("OpenStore(%q): %v", c.url, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OpenStore(%q) = %v, want an error containing %q", c.url, err, c.want)
		}
	}
	if _, err := search.OpenStore(context.Background(), "", search.StoreOptions{Dim: 4, Kind: "ivf"}); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestParseFilter(t *testing.T) {
	cases := []struct {
		in      string
		want    search.Filter
		wantErr string
	}{
		{"", nil, ""},
		{"label=cat", search.Filter{"label": "cat"}, ""},
		{"label=cat, shard=3", search.Filter{"label": "cat", "shard": "3"}, ""},
		{"label", nil, "not key=value"},
		{"1abc=x", nil, "not starting with a digit"},
		{"a-b=x", nil, "ASCII letters"},
		{"a=1,a=2", nil, "twice"},
	}
	for _, c := range cases {
		got, err := search.ParseFilter(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseFilter(%q) error %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("ParseFilter(%q) = %v, %v; want %v", c.in, got, err, c.want)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("ParseFilter(%q)[%q] = %q, want %q", c.in, k, got[k], v)
			}
		}
	}
}

func TestRedactHidesSecrets(t *testing.T) {
	for _, u := range []string{"milvus://user:s3cret@host:19530/c", "milvus://host/c?token=s3cret"} {
		if r := search.Redact(u); strings.Contains(r, "s3cret") {
			t.Errorf("Redact(%q) = %q still shows the secret", u, r)
		}
	}
}
