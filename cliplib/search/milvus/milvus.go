// Package milvus is a search.Store on a Milvus server or cluster (through
// Milvus's official Go SDK, github.com/milvus-io/milvus-sdk-go/v2, pinned
// to v2.3.x to match Milvus 2.3 servers): the store for collections that
// outgrow one process. Importing it registers the URL schemes "milvus"
// (plain gRPC) and "milvuss" (TLS) with search.OpenStore:
//
//	milvus://[user:password@]host[:port]/collection[?param=value&...]
//
// The port defaults to 19530. Parameters:
//
//	index           hnsw (default), ivf_flat or flat — used when the collection is created
//	M, efConstruction   HNSW build parameters (default 16, 100: our in-process HNSW's)
//	ef              HNSW search beam width (default 64; at least k)
//	nlist, nprobe   IVF_FLAT parameters (default 1024, 16)
//	metric          ip (default) or cosine; vectors are L2-normalised either way, so the score is the cosine
//	db              database name (default: the server's default database)
//	tls             true to use TLS (as the milvuss scheme does)
//	timeout         per-attempt connect timeout (default 10s)
//	retries         connect attempts before giving up (default 3)
//	consistency     strong (default: a search sees every acknowledged upsert and delete; it waits for the
//	                next time tick, ≈200 ms on a 2.3 standalone), bounded (serving: may lag a few
//	                seconds), session (measured: SDK v2.3.6 does not see its own deletes at once) or eventually
//	token           API key or "user:password" (prefer the CLIPKIT_MILVUS_TOKEN environment variable:
//	                URLs end up in logs and shell history)
//
// # Collection layout
//
// A collection made here has three fields: "id" (Int64 primary key: the
// uint64 search.Item ID, bit for bit), "vector" (FloatVector of the model's
// dimension, L2-normalised before upsert) and "meta" (JSON: the item's
// metadata, e.g. path, caption, label, shard). Filters become Milvus
// boolean expressions on the JSON field (meta["label"] == "cat" && ...),
// values quoted as string literals. Opening an existing collection checks
// that it has this layout and the expected dimension.
package milvus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"

	"github.com/clipkit/clipkit/cliplib/search"
)

func init() {
	for _, s := range []string{"milvus", "milvuss"} {
		if err := search.RegisterStore(s, func(ctx context.Context, u *url.URL, opt search.StoreOptions) (search.Store, error) {
			cfg, err := ParseURL(u.String())
			if err != nil {
				return nil, err
			}
			if opt.MustExist {
				return OpenExisting(ctx, cfg, opt.Dim)
			}
			return Open(ctx, cfg, opt.Dim)
		}); err != nil {
			panic(err)
		}
	}
}

// Field names of a collection made by this package.
const (
	FieldID     = "id"
	FieldVector = "vector"
	FieldMeta   = "meta"
)

// TokenEnv names the environment variable read for the API key or
// "user:password" when the URL has none.
const TokenEnv = "CLIPKIT_MILVUS_TOKEN"

// DefaultPort is Milvus's gRPC port.
const DefaultPort = "19530"

// Config is a parsed store URL.
type Config struct {
	// URL is the store URL with secrets redacted (for messages).
	URL string
	// Address is host:port.
	Address string
	// Collection is the collection name.
	Collection string
	// DB is the database name ("" = the server's default).
	DB string
	// TLS enables transport security.
	TLS bool
	// Username, Password authenticate (from the URL's user info).
	Username, Password string
	// Token is an API key or "user:password" (from ?token= or TokenEnv).
	Token string
	// Index is "HNSW", "IVF_FLAT" or "FLAT".
	Index string
	// M, EfConstruction configure HNSW; Ef is its search beam width.
	M, EfConstruction, Ef int
	// Nlist, Nprobe configure IVF_FLAT.
	Nlist, Nprobe int
	// Metric is "IP" or "COSINE".
	Metric string
	// Consistency is the collection's and the searches' consistency level.
	Consistency string
	// Timeout bounds one connection attempt; Retries is the number of attempts.
	Timeout time.Duration
	Retries int
}

// ParseURL parses a milvus:// or milvuss:// store URL (see the package
// documentation); every parameter is checked, and unknown ones are errors.
func ParseURL(raw string) (Config, error) {
	red := search.Redact(raw)
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("milvus store URL %q: %s", red, fmt.Sprintf(format, a...))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("%v", err)
	}
	c := Config{URL: red, Index: "HNSW", M: 16, EfConstruction: 100, Ef: 64, Nlist: 1024, Nprobe: 16, Metric: "IP",
		Consistency: "strong", Timeout: 10 * time.Second, Retries: 3}
	switch u.Scheme {
	case "milvus":
	case "milvuss":
		c.TLS = true
	default:
		return bad("scheme %q, want milvus or milvuss", u.Scheme)
	}
	if u.Hostname() == "" {
		return bad("no host (want milvus://host:port/collection)")
	}
	port := u.Port()
	if port == "" {
		port = DefaultPort
	}
	c.Address = net.JoinHostPort(u.Hostname(), port)
	c.Collection = strings.Trim(u.Path, "/")
	if err := checkName(c.Collection); err != nil {
		return bad("collection: %v", err)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	intParam := func(name string, dst *int, lo, hi int) error {
		if !q.Has(name) {
			return nil
		}
		v, err := strconv.Atoi(q.Get(name))
		if err != nil || v < lo || v > hi {
			return fmt.Errorf("%s=%q: want an integer in [%d, %d]", name, q.Get(name), lo, hi)
		}
		*dst = v
		return nil
	}
	for name := range q {
		var err error
		switch name {
		case "index":
			switch strings.ToLower(q.Get(name)) {
			case "hnsw":
				c.Index = "HNSW"
			case "ivf_flat", "ivf":
				c.Index = "IVF_FLAT"
			case "flat":
				c.Index = "FLAT"
			default:
				err = fmt.Errorf("index=%q: want hnsw, ivf_flat or flat", q.Get(name))
			}
		case "M":
			err = intParam(name, &c.M, 4, 64)
		case "efConstruction":
			err = intParam(name, &c.EfConstruction, 8, 512)
		case "ef":
			err = intParam(name, &c.Ef, 1, 32768)
		case "nlist":
			err = intParam(name, &c.Nlist, 1, 65536)
		case "nprobe":
			err = intParam(name, &c.Nprobe, 1, 65536)
		case "retries":
			err = intParam(name, &c.Retries, 1, 100)
		case "metric":
			switch strings.ToLower(q.Get(name)) {
			case "ip":
				c.Metric = "IP"
			case "cosine":
				c.Metric = "COSINE"
			default:
				err = fmt.Errorf("metric=%q: want ip or cosine (CLIP similarity is the cosine; L2 would change the score's meaning)", q.Get(name))
			}
		case "consistency":
			switch v := strings.ToLower(q.Get(name)); v {
			case "strong", "bounded", "eventually", "session":
				c.Consistency = v
			default:
				err = fmt.Errorf("consistency=%q: want strong, bounded, session or eventually", q.Get(name))
			}
		case "db":
			c.DB = q.Get(name)
			if c.DB != "" {
				if e := checkName(c.DB); e != nil {
					err = fmt.Errorf("db: %v", e)
				}
			}
		case "tls":
			c.TLS, err = strconv.ParseBool(q.Get(name))
			if err != nil {
				err = fmt.Errorf("tls=%q: want true or false", q.Get(name))
			}
		case "timeout":
			c.Timeout, err = time.ParseDuration(q.Get(name))
			if err != nil || c.Timeout <= 0 {
				err = fmt.Errorf("timeout=%q: want a positive duration such as 10s", q.Get(name))
			}
		case "token":
			c.Token = q.Get(name)
		default:
			err = fmt.Errorf("unknown parameter %q (want index, M, efConstruction, ef, nlist, nprobe, metric, consistency, db, tls, timeout, retries, token)", name)
		}
		if err != nil {
			return bad("%v", err)
		}
	}
	if c.Token == "" {
		c.Token = os.Getenv(TokenEnv)
	}
	return c, nil
}

// checkName checks a Milvus collection or database name: a letter or '_'
// first, then letters, digits and '_', at most 255 characters.
func checkName(s string) error {
	if s == "" {
		return errors.New("missing (want milvus://host:port/collection)")
	}
	if len(s) > 255 {
		return fmt.Errorf("%q is longer than 255 characters", s)
	}
	for i, r := range s {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')) {
			return fmt.Errorf("%q: want letters, digits and '_', starting with a letter or '_'", s)
		}
	}
	return nil
}

// Store is a Milvus collection behind search.Store.
type Store struct {
	cfg    Config
	c      client.Client
	dim    int
	metric entity.MetricType
	index  string // index type of the collection's vector field
	cl     entity.ConsistencyLevel
	// mustExist refuses to create a missing collection.
	mustExist bool
}

// ErrUnreachable means the server could not be reached within the
// configured attempts.
var ErrUnreachable = errors.New("milvus server unreachable")

// Open connects (Retries attempts of Timeout each), then opens the
// collection, creating it (with its index) when missing, and loads it for
// search. dim is the vector dimension the caller will use; an existing
// collection of another dimension is an error wrapping search.ErrDim.
func Open(ctx context.Context, cfg Config, dim int) (*Store, error) {
	return open(ctx, cfg, dim, false)
}

// OpenExisting is Open for a collection that must exist already (an error
// wrapping search.ErrNoStore otherwise): for queries.
func OpenExisting(ctx context.Context, cfg Config, dim int) (*Store, error) {
	return open(ctx, cfg, dim, true)
}

func open(ctx context.Context, cfg Config, dim int, mustExist bool) (*Store, error) {
	if dim <= 0 || dim > 32768 {
		return nil, fmt.Errorf("milvus store %s: vector dimension %d, want 1..32768", cfg.URL, dim)
	}
	cc := client.Config{Address: cfg.Address, Username: cfg.Username, Password: cfg.Password, DBName: cfg.DB, EnableTLSAuth: cfg.TLS, APIKey: cfg.Token}
	var c client.Client
	var err error
	for attempt := 1; attempt <= cfg.Retries; attempt++ {
		actx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		c, err = client.NewClient(actx, cc)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || attempt == cfg.Retries {
			break
		}
		select {
		case <-time.After(time.Duration(attempt) * time.Second):
		case <-ctx.Done():
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: milvus store %s: no connection to %s after %d attempt(s) of %s each: %v", ErrUnreachable, cfg.URL, cfg.Address,
			cfg.Retries, cfg.Timeout, err)
	}
	s := &Store{cfg: cfg, c: c, dim: dim, cl: consistency(cfg.Consistency), mustExist: mustExist}
	if err := s.open(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func consistency(s string) entity.ConsistencyLevel {
	switch s {
	case "bounded":
		return entity.ClBounded
	case "session":
		return entity.ClSession
	case "eventually":
		return entity.ClEventually
	}
	return entity.ClStrong
}

func (s *Store) errf(format string, a ...any) error {
	return fmt.Errorf("milvus store %s: %w", s.cfg.URL, fmt.Errorf(format, a...))
}

func (s *Store) open(ctx context.Context) error {
	name := s.cfg.Collection
	has, err := s.c.HasCollection(ctx, name)
	if err != nil {
		return s.errf("checking for collection %s: %w", name, err)
	}
	if !has && s.mustExist {
		return fmt.Errorf("%w: milvus store %s: no collection %s", search.ErrNoStore, s.cfg.URL, name)
	}
	if !has {
		schema := entity.NewSchema().WithName(name).WithDescription("clipkit embeddings").
			WithField(entity.NewField().WithName(FieldID).WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)).
			WithField(entity.NewField().WithName(FieldVector).WithDataType(entity.FieldTypeFloatVector).WithDim(int64(s.dim))).
			WithField(entity.NewField().WithName(FieldMeta).WithDataType(entity.FieldTypeJSON))
		if err := s.c.CreateCollection(ctx, schema, 1, client.WithConsistencyLevel(s.cl)); err != nil {
			// Another machine of a sharded run may have created it meanwhile.
			if has2, err2 := s.c.HasCollection(ctx, name); err2 != nil || !has2 {
				return s.errf("creating collection %s: %w", name, err)
			}
		}
	}
	coll, err := s.c.DescribeCollection(ctx, name)
	if err != nil {
		return s.errf("describing collection %s: %w", name, err)
	}
	if err := s.checkSchema(coll.Schema); err != nil {
		return err
	}
	idx, err := s.c.DescribeIndex(ctx, name, FieldVector)
	if err != nil || len(idx) == 0 {
		want, err := s.newIndex()
		if err != nil {
			return s.errf("%w", err)
		}
		if err := s.c.CreateIndex(ctx, name, FieldVector, want, false); err != nil {
			idx, err2 := s.c.DescribeIndex(ctx, name, FieldVector)
			if err2 != nil || len(idx) == 0 {
				return s.errf("creating the %s index on %s: %w", s.cfg.Index, name, err)
			}
		}
		idx, err = s.c.DescribeIndex(ctx, name, FieldVector)
		if err != nil || len(idx) == 0 {
			return s.errf("describing the index of %s: %v", name, err)
		}
	}
	p := idx[0].Params()
	s.index = strings.ToUpper(p["index_type"])
	s.metric = entity.MetricType(strings.ToUpper(p["metric_type"]))
	if s.metric != entity.IP && s.metric != entity.COSINE {
		return s.errf("collection %s is indexed with metric %q; this store needs IP or COSINE (cosine similarity)", name, s.metric)
	}
	if err := s.c.LoadCollection(ctx, name, false); err != nil {
		return s.errf("loading collection %s: %w", name, err)
	}
	return nil
}

func (s *Store) checkSchema(sc *entity.Schema) error {
	want := map[string]entity.FieldType{FieldID: entity.FieldTypeInt64, FieldVector: entity.FieldTypeFloatVector, FieldMeta: entity.FieldTypeJSON}
	got := map[string]*entity.Field{}
	for _, f := range sc.Fields {
		got[f.Name] = f
	}
	for n, t := range want {
		f, ok := got[n]
		if !ok || f.DataType != t {
			return s.errf("collection %s was not made by clipkit: want fields id (Int64 primary key), vector (FloatVector), meta (JSON)", s.cfg.Collection)
		}
	}
	if !got[FieldID].PrimaryKey || got[FieldID].AutoID {
		return s.errf("collection %s: field id must be the primary key without auto id", s.cfg.Collection)
	}
	d, err := strconv.Atoi(got[FieldVector].TypeParams["dim"])
	if err != nil || d != s.dim {
		return fmt.Errorf("%w: milvus store %s: collection %s holds vectors of dimension %s, the model's is %d", search.ErrDim, s.cfg.URL,
			s.cfg.Collection, got[FieldVector].TypeParams["dim"], s.dim)
	}
	return nil
}

func (s *Store) newIndex() (entity.Index, error) {
	mt := entity.MetricType(s.cfg.Metric)
	switch s.cfg.Index {
	case "IVF_FLAT":
		return entity.NewIndexIvfFlat(mt, s.cfg.Nlist)
	case "FLAT":
		return entity.NewIndexFlat(mt)
	}
	return entity.NewIndexHNSW(mt, s.cfg.M, s.cfg.EfConstruction)
}

// Config returns the store's parsed URL.
func (s *Store) Config() Config { return s.cfg }

// IndexType is the index type of the collection's vector field (HNSW, IVF_FLAT, FLAT, ...).
func (s *Store) IndexType() string { return s.index }

// Client returns the SDK client, for operations this package does not wrap.
func (s *Store) Client() client.Client { return s.c }

// Dim implements search.Store.
func (s *Store) Dim() int { return s.dim }

// upsertBatch bounds the rows per request (gRPC messages stay far below
// Milvus's 64 MiB default limit: 2048 × 512 float32 ≈ 4 MiB + metadata).
const upsertBatch = 2048

// Upsert implements search.Store: items with an ID already stored replace it.
func (s *Store) Upsert(ctx context.Context, items ...search.Item) error {
	ids := make([]int64, len(items))
	vecs := make([][]float32, len(items))
	metas := make([][]byte, len(items))
	seen := make(map[uint64]int, len(items))
	for i, it := range items {
		v, err := search.Normalize(it.Vector, s.dim, fmt.Sprintf("item %d (id %d)", i, it.ID))
		if err != nil {
			return err
		}
		if j, dup := seen[it.ID]; dup {
			return fmt.Errorf("%w: item %d (id %d) repeats item %d of the same call", search.ErrDuplicateID, i, it.ID, j)
		}
		seen[it.ID] = i
		m := it.Metadata
		if m == nil {
			m = map[string]string{}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("milvus store: item %d (id %d) metadata: %w", i, it.ID, err)
		}
		ids[i], vecs[i], metas[i] = int64(it.ID), v, b
	}
	for lo := 0; lo < len(items); lo += upsertBatch {
		hi := min(lo+upsertBatch, len(items))
		_, err := s.c.Upsert(ctx, s.cfg.Collection, "",
			entity.NewColumnInt64(FieldID, ids[lo:hi]),
			entity.NewColumnFloatVector(FieldVector, s.dim, vecs[lo:hi]),
			entity.NewColumnJSONBytes(FieldMeta, metas[lo:hi]))
		if err != nil {
			return s.errf("upserting items %d..%d of %d: %w", lo, hi-1, len(items), err)
		}
	}
	return nil
}

// Expr returns the Milvus boolean expression for a filter (keys checked
// with search.CheckMetadataKey, values quoted as string literals), "" for
// no filter. Keys are sorted, so the expression is deterministic.
func Expr(f search.Filter) (string, error) {
	if len(f) == 0 {
		return "", nil
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		if err := search.CheckMetadataKey(k); err != nil {
			return "", fmt.Errorf("milvus store: filter: %w", err)
		}
		keys = append(keys, k)
	}
	sortStrings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s[%q] == %s", FieldMeta, k, quote(f[k]))
	}
	return strings.Join(parts, " && "), nil
}

// quote writes s as a Milvus string literal: double quotes, with '"' and
// '\' escaped (Milvus unquotes literals with Go's rules).
func quote(s string) string { return strconv.Quote(s) }

func (s *Store) searchParam(k int) (entity.SearchParam, error) {
	switch s.index {
	case "HNSW":
		return entity.NewIndexHNSWSearchParam(max(s.cfg.Ef, k))
	case "IVF_FLAT", "IVF_SQ8", "IVF_PQ":
		return entity.NewIndexIvfFlatSearchParam(s.cfg.Nprobe)
	case "FLAT":
		return entity.NewIndexFlatSearchParam()
	}
	return entity.NewIndexAUTOINDEXSearchParam(1)
}

// maxTopK is Milvus's limit on k.
const maxTopK = 16384

// Search implements search.Store.
func (s *Store) Search(ctx context.Context, q []float32, k int, filter search.Filter) ([]search.Result, error) {
	res, err := s.SearchBatch(ctx, [][]float32{q}, k, filter)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// SearchBatch searches several queries in one request.
func (s *Store) SearchBatch(ctx context.Context, qs [][]float32, k int, filter search.Filter) ([][]search.Result, error) {
	if k <= 0 || k > maxTopK {
		return nil, fmt.Errorf("milvus store: k must be in [1, %d], got %d", maxTopK, k)
	}
	if len(qs) == 0 {
		return nil, nil
	}
	vs := make([]entity.Vector, len(qs))
	for i, q := range qs {
		name := "query"
		if len(qs) > 1 {
			name = fmt.Sprintf("query %d", i)
		}
		v, err := search.Normalize(q, s.dim, name)
		if err != nil {
			return nil, err
		}
		vs[i] = entity.FloatVector(v)
	}
	expr, err := Expr(filter)
	if err != nil {
		return nil, err
	}
	sp, err := s.searchParam(k)
	if err != nil {
		return nil, s.errf("search parameters: %w", err)
	}
	rs, err := s.c.Search(ctx, s.cfg.Collection, nil, expr, []string{FieldMeta}, vs, FieldVector, s.metric, k, sp,
		client.WithSearchQueryConsistencyLevel(s.cl))
	if err != nil {
		return nil, s.errf("search: %w", err)
	}
	out := make([][]search.Result, len(qs))
	if len(rs) == 0 { // the server sends no result sets when nothing matches the filter
		for i := range out {
			out[i] = []search.Result{}
		}
		return out, nil
	}
	if len(rs) != len(qs) {
		return nil, s.errf("search: %d result sets for %d queries", len(rs), len(qs))
	}
	for qi, r := range rs {
		if r.Err != nil {
			return nil, s.errf("search: %w", r.Err)
		}
		idc, ok := r.IDs.(*entity.ColumnInt64)
		if !ok {
			return nil, s.errf("search: id column has type %T, want Int64", r.IDs)
		}
		mc, _ := r.Fields.GetColumn(FieldMeta).(*entity.ColumnJSONBytes)
		hits := make([]search.Result, r.ResultCount)
		for i := range hits {
			id, err := idc.ValueByIdx(i)
			if err != nil {
				return nil, s.errf("search: %w", err)
			}
			hits[i] = search.Result{ID: uint64(id), Score: r.Scores[i]}
			if mc != nil {
				b, err := mc.ValueByIdx(i)
				if err == nil && len(b) > 0 {
					var m map[string]string
					if err := json.Unmarshal(b, &m); err != nil {
						return nil, s.errf("search: metadata of id %d is not a JSON object of strings: %w", uint64(id), err)
					}
					hits[i].Metadata = m
				}
			}
		}
		out[qi] = hits
	}
	return out, nil
}

// Delete implements search.Store.
func (s *Store) Delete(ctx context.Context, ids ...uint64) error {
	for lo := 0; lo < len(ids); lo += upsertBatch {
		hi := min(lo+upsertBatch, len(ids))
		pk := make([]int64, hi-lo)
		for i, id := range ids[lo:hi] {
			pk[i] = int64(id)
		}
		if err := s.c.DeleteByPks(ctx, s.cfg.Collection, "", entity.NewColumnInt64(FieldID, pk)); err != nil {
			return s.errf("delete: %w", err)
		}
	}
	return nil
}

// Count implements search.Store (a count(*) query at the store's consistency level).
func (s *Store) Count(ctx context.Context) (int, error) {
	rs, err := s.c.Query(ctx, s.cfg.Collection, nil, "", []string{"count(*)"}, client.WithSearchQueryConsistencyLevel(s.cl))
	if err != nil {
		return 0, s.errf("count: %w", err)
	}
	col, ok := rs.GetColumn("count(*)").(*entity.ColumnInt64)
	if !ok || col.Len() != 1 {
		return 0, s.errf("count: unexpected answer %v", rs)
	}
	n, _ := col.ValueByIdx(0)
	return int(n), nil
}

// Flush seals the collection's growing segments (so they get indexed and
// are durable in object storage, not only in the log); ingest ends with it.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.c.Flush(ctx, s.cfg.Collection, false); err != nil {
		return s.errf("flush: %w", err)
	}
	return nil
}

// Drop deletes the whole collection (tests and benchmarks use it).
func (s *Store) Drop(ctx context.Context) error {
	if err := s.c.DropCollection(ctx, s.cfg.Collection); err != nil {
		return s.errf("drop: %w", err)
	}
	return nil
}

// Close implements search.Store.
func (s *Store) Close() error { return s.c.Close() }

// String names the store for messages.
func (s *Store) String() string { return "milvus " + s.cfg.URL }

func sortStrings(s []string) { slices.Sort(s) }

// WaitIndexed flushes the collection, then waits until the vector index
// covers every row and the collection is fully loaded: the moment searches
// run on the index rather than on brute-force growing segments. Benchmarks
// time it as Milvus's index build.
func (s *Store) WaitIndexed(ctx context.Context) error {
	if err := s.Flush(ctx); err != nil {
		return err
	}
	gc, ok := s.c.(*client.GrpcClient)
	if !ok {
		return s.errf("wait for index: client type %T", s.c)
	}
	for {
		resp, err := gc.Service.DescribeIndex(ctx, &milvuspb.DescribeIndexRequest{CollectionName: s.cfg.Collection, FieldName: FieldVector})
		if err != nil {
			return s.errf("wait for index: %w", err)
		}
		if resp.GetStatus().GetErrorCode() != commonpb.ErrorCode_Success {
			return s.errf("wait for index: %s", resp.GetStatus().GetReason())
		}
		done := len(resp.GetIndexDescriptions()) > 0
		for _, d := range resp.GetIndexDescriptions() {
			if d.GetState() == commonpb.IndexState_Failed {
				return s.errf("index build failed: %s", d.GetIndexStateFailReason())
			}
			if d.GetIndexedRows() < d.GetTotalRows() || d.GetPendingIndexRows() > 0 {
				done = false
			}
		}
		if done {
			p, err := s.c.GetLoadingProgress(ctx, s.cfg.Collection, nil)
			if err != nil {
				return s.errf("wait for index: loading progress: %w", err)
			}
			if p >= 100 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return s.errf("wait for index: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
