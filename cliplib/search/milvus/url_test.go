package milvus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/milvus"
	"github.com/clipkit/clipkit/cliplib/search/milvus/milvustest"
)

func TestParseURL(t *testing.T) {
	t.Setenv(milvus.TokenEnv, "")
	cases := []struct {
		url     string
		check   func(c milvus.Config) bool
		wantErr string
	}{
		{"milvus://127.0.0.1/photos", func(c milvus.Config) bool {
			return c.Address == "127.0.0.1:19530" && c.Collection == "photos" && c.Index == "HNSW" && c.M == 16 && c.EfConstruction == 100 && !c.TLS
		}, ""},
		{"milvuss://user:pw@db.example.com:443/c1?index=ivf_flat&nlist=256&nprobe=8&db=prod&timeout=2s&retries=5", func(c milvus.Config) bool {
			return c.TLS && c.Username == "user" && c.Password == "pw" && c.Index == "IVF_FLAT" && c.Nlist == 256 && c.Nprobe == 8 &&
				c.DB == "prod" && c.Timeout == 2*time.Second && c.Retries == 5 && !strings.Contains(c.URL, "pw")
		}, ""},
		{"milvus://h/c?M=32&efConstruction=200&ef=128&metric=cosine&tls=true&consistency=bounded", func(c milvus.Config) bool {
			return c.M == 32 && c.EfConstruction == 200 && c.Ef == 128 && c.Metric == "COSINE" && c.TLS && c.Consistency == "bounded"
		}, ""},
		{"milvus://h/", nil, "collection: missing"},
		{"milvus:///c", nil, "no host"},
		{"milvus://h/1abc", nil, "starting with a letter"},
		{"milvus://h/c?M=2", nil, "M=\"2\""},
		{"milvus://h/c?index=annoy", nil, "want hnsw, ivf_flat or flat"},
		{"milvus://h/c?metric=l2", nil, "want ip or cosine"},
		{"milvus://h/c?colour=red", nil, `unknown parameter "colour"`},
		{"milvus://h/c?timeout=-1s", nil, "positive duration"},
		{"milvus://h/c?token=s3cret&M=1", nil, "M=\"1\""},
	}
	for _, c := range cases {
		got, err := milvus.ParseURL(c.url)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseURL(%q) error = %v, want %q", c.url, err, c.wantErr)
			} else if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("ParseURL(%q) error shows the token: %v", c.url, err)
			}
			continue
		}
		if err != nil || !c.check(got) {
			t.Errorf("ParseURL(%q) = %+v, %v", c.url, got, err)
		}
	}
	t.Setenv(milvus.TokenEnv, "root:Milvus")
	if c, _ := milvus.ParseURL("milvus://h/c"); c.Token != "root:Milvus" {
		t.Errorf("token from %s not used: %q", milvus.TokenEnv, c.Token)
	}
}

func TestExprQuotesValuesAndChecksKeys(t *testing.T) {
	cases := []struct {
		f       search.Filter
		want    string
		wantErr bool
	}{
		{nil, "", false},
		{search.Filter{"label": "cat"}, `meta["label"] == "cat"`, false},
		{search.Filter{"shard": "3", "label": "cat"}, `meta["label"] == "cat" && meta["shard"] == "3"`, false},
		{search.Filter{"caption": `say "hi" \ now`}, `meta["caption"] == "say \"hi\" \\ now"`, false},
		{search.Filter{`x"] || true || meta["y`: "1"}, "", true},
	}
	for _, c := range cases {
		got, err := milvus.Expr(c.f)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("Expr(%v) = %q, %v; want %q (error %v)", c.f, got, err, c.want, c.wantErr)
		}
	}
}

func TestUnreachableServerFailsNamingURLWithinBoundedRetries(t *testing.T) {
	port, err := milvustest.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	u := fmt.Sprintf("milvus://127.0.0.1:%d/photos?timeout=300ms&retries=2", port)
	start := time.Now()
	_, err = search.OpenStore(context.Background(), u, search.StoreOptions{Dim: 8})
	took := time.Since(start)
	if !errors.Is(err, milvus.ErrUnreachable) {
		t.Fatalf("OpenStore(%s) = %v, want ErrUnreachable", u, err)
	}
	for _, want := range []string{fmt.Sprintf("127.0.0.1:%d/photos", port), "2 attempt(s)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// 2 attempts of 300 ms and a 1 s pause between them.
	if took > 5*time.Second {
		t.Errorf("giving up took %s, want about 1.6 s", took)
	}
}
