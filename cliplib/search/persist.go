package search

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"sort"
	"sync"
	"unsafe"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// FileMagic is the first 8 bytes of every index file Save writes.
const FileMagic = "CLIPKNN\x00"

// File format (all integers little-endian), one file per index:
//
//	header, 64 bytes:
//	  0  magic      [8]byte  "CLIPKNN\x00"
//	  8  version    uint32   formatVersion
//	 12  kind       uint32   1 = Exact, 2 = HNSW
//	 16  dim        uint32
//	 20  reserved   uint32   (0)
//	 24  count      uint64   stored rows / graph nodes (HNSW: including tombstones)
//	 32  payload    uint64   payload length in bytes (= file size − 64)
//	 40  payloadCRC uint32   CRC-32C (Castagnoli) of the payload
//	 44  reserved   [12]byte (0)
//	 56  headerCRC  uint32   CRC-32C of bytes 0..55
//	 60  reserved   uint32   (0)
//	payload: kind-specific sections (see Exact.writePayload, HNSW.writePayload).
//
// Save writes to a temporary file in the destination directory, fsyncs it,
// renames it over the destination and fsyncs the directory, so a crash leaves
// either the old or the new file. Load checks magic, version, kind, header
// CRC, the payload length against the file size, every length and index it
// decodes, and the payload CRC before returning anything: a foreign, truncated
// or corrupted file yields an error wrapping ErrBadFile, never an index.
const (
	formatVersion = 1
	headerSize    = 64
	kindExact     = 1
	kindHNSW      = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// nativeLE is true when the host is little-endian, so float/int slices can be
// written and read as raw bytes without conversion.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// payloadWriter streams the payload, counting bytes and updating the CRC.
type payloadWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	n   int64
	err error
	tmp [8]byte
}

func (p *payloadWriter) bytes(b []byte) {
	if p.err != nil {
		return
	}
	p.crc.Write(b)
	p.n += int64(len(b))
	_, p.err = p.w.Write(b)
}

func (p *payloadWriter) u32(v uint32) {
	binary.LittleEndian.PutUint32(p.tmp[:4], v)
	p.bytes(p.tmp[:4])
}

func (p *payloadWriter) u64(v uint64) {
	binary.LittleEndian.PutUint64(p.tmp[:8], v)
	p.bytes(p.tmp[:8])
}

func (p *payloadWriter) f32s(v []float32) {
	if nativeLE {
		if len(v) > 0 {
			p.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
		}
		return
	}
	for _, x := range v {
		p.u32(*(*uint32)(unsafe.Pointer(&x)))
	}
}

func (p *payloadWriter) u32s(v []uint32) {
	if nativeLE {
		if len(v) > 0 {
			p.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
		}
		return
	}
	for _, x := range v {
		p.u32(x)
	}
}

func (p *payloadWriter) u64s(v []uint64) {
	if nativeLE {
		if len(v) > 0 {
			p.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 8*len(v)))
		}
		return
	}
	for _, x := range v {
		p.u64(x)
	}
}

// metadata writes, per row, the number of pairs then each key and value as
// (uint32 length, bytes); keys in sorted order so files are deterministic.
func (p *payloadWriter) metadata(ms []map[string]string) {
	var keys []string
	for _, m := range ms {
		p.u32(uint32(len(m)))
		keys = keys[:0]
		for k := range m {
			keys = append(keys, k)
		}
		sortStrings(keys)
		for _, k := range keys {
			p.u32(uint32(len(k)))
			p.bytes([]byte(k))
			v := m[k]
			p.u32(uint32(len(v)))
			p.bytes([]byte(v))
		}
	}
}

// saveFile writes header+payload to path crash-safely; write emits the payload.
func saveFile(path string, kind uint32, dim int, count uint64, write func(p *payloadWriter)) (err error) {
	err = atomicfile.WriteFile(path, 0o600, func(f *os.File) error { return writeIndex(f, kind, dim, count, write) })
	if err != nil {
		return fmt.Errorf("search: saving: %w", err)
	}
	return nil
}

// writeIndex writes a zero header, the payload, then the header (with the payload's length and
// checksum) over the zeros.
func writeIndex(f *os.File, kind uint32, dim int, count uint64, write func(p *payloadWriter)) (err error) {
	var zero [headerSize]byte
	if _, err = f.Write(zero[:]); err != nil {
		return err
	}
	p := &payloadWriter{w: bufio.NewWriterSize(f, 1<<20), crc: crc32.New(castagnoli)}
	write(p)
	if p.err == nil {
		p.err = p.w.Flush()
	}
	if p.err != nil {
		return p.err
	}
	h := make([]byte, headerSize)
	copy(h, FileMagic)
	binary.LittleEndian.PutUint32(h[8:], formatVersion)
	binary.LittleEndian.PutUint32(h[12:], kind)
	binary.LittleEndian.PutUint32(h[16:], uint32(dim))
	binary.LittleEndian.PutUint64(h[24:], count)
	binary.LittleEndian.PutUint64(h[32:], uint64(p.n))
	binary.LittleEndian.PutUint32(h[40:], p.crc.Sum32())
	binary.LittleEndian.PutUint32(h[56:], crc32.Checksum(h[:56], castagnoli))
	_, err = f.WriteAt(h, 0)
	return err
}

// fileHeader is the decoded header.
type fileHeader struct {
	kind    uint32
	dim     int
	count   uint64
	payload uint64
	crc     uint32
}

// payloadReader decodes the payload, bounds-checking every read against the
// declared payload length and updating the CRC.
type payloadReader struct {
	r    *bufio.Reader
	crc  hash.Hash32
	left uint64 // payload bytes not yet read
	path string
	err  error
	tmp  [8]byte
}

func (p *payloadReader) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %s: %s", ErrBadFile, p.path, fmt.Sprintf(format, args...))
	}
}

func (p *payloadReader) bytes(b []byte) {
	if p.err != nil {
		return
	}
	if uint64(len(b)) > p.left {
		p.fail("payload ends early (needs %d more bytes, %d left)", len(b), p.left)
		return
	}
	if _, err := io.ReadFull(p.r, b); err != nil {
		p.fail("reading payload: %v", err)
		return
	}
	p.crc.Write(b)
	p.left -= uint64(len(b))
}

// need checks that n more bytes exist before allocating for them.
func (p *payloadReader) need(n uint64, what string) bool {
	if p.err != nil {
		return false
	}
	if n > p.left {
		p.fail("%s needs %d bytes but only %d remain", what, n, p.left)
		return false
	}
	return true
}

func (p *payloadReader) u32() uint32 {
	p.bytes(p.tmp[:4])
	if p.err != nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p.tmp[:4])
}

func (p *payloadReader) u64() uint64 {
	p.bytes(p.tmp[:8])
	if p.err != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p.tmp[:8])
}

func (p *payloadReader) f32s(n uint64, what string) []float32 {
	if !p.need(4*n, what) {
		return nil
	}
	v := make([]float32, n)
	if nativeLE {
		if n > 0 {
			p.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*n))
		}
		return v
	}
	for i := range v {
		u := p.u32()
		v[i] = *(*float32)(unsafe.Pointer(&u))
	}
	return v
}

func (p *payloadReader) u32s(n uint64, what string) []uint32 {
	if !p.need(4*n, what) {
		return nil
	}
	v := make([]uint32, n)
	if nativeLE {
		if n > 0 {
			p.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*n))
		}
		return v
	}
	for i := range v {
		v[i] = p.u32()
	}
	return v
}

func (p *payloadReader) u64s(n uint64, what string) []uint64 {
	if !p.need(8*n, what) {
		return nil
	}
	v := make([]uint64, n)
	if nativeLE {
		if n > 0 {
			p.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 8*n))
		}
		return v
	}
	for i := range v {
		v[i] = p.u64()
	}
	return v
}

func (p *payloadReader) u8s(n uint64, what string) []byte {
	if !p.need(n, what) {
		return nil
	}
	v := make([]byte, n)
	p.bytes(v)
	return v
}

func (p *payloadReader) str(what string) string {
	n := uint64(p.u32())
	if !p.need(n, what) {
		return ""
	}
	b := make([]byte, n)
	p.bytes(b)
	return string(b)
}

func (p *payloadReader) metadata(n uint64) []map[string]string {
	if !p.need(4*n, "metadata") {
		return nil
	}
	ms := make([]map[string]string, n)
	for i := range ms {
		np := uint64(p.u32())
		if np == 0 || p.err != nil {
			continue
		}
		if !p.need(8*np, "metadata pairs") {
			return nil
		}
		m := make(map[string]string, np)
		for j := uint64(0); j < np; j++ {
			k := p.str("metadata key")
			m[k] = p.str("metadata value")
		}
		if p.err != nil {
			return nil
		}
		if uint64(len(m)) != np {
			p.fail("row %d metadata has duplicate keys", i)
			return nil
		}
		ms[i] = m
	}
	return ms
}

// finish checks that the payload was consumed exactly and its CRC matches.
func (p *payloadReader) finish(want uint32) error {
	if p.err != nil {
		return p.err
	}
	if p.left != 0 {
		return fmt.Errorf("%w: %s: %d unexpected bytes after the payload's last section", ErrBadFile, p.path, p.left)
	}
	if got := p.crc.Sum32(); got != want {
		return fmt.Errorf("%w: %s: payload checksum mismatch (file corrupted: CRC-32C %08x, header says %08x)", ErrBadFile, p.path, got, want)
	}
	return nil
}

// openIndexFile opens path, validates the header and returns a reader
// positioned at the payload. The caller closes the file.
func openIndexFile(path string) (*os.File, fileHeader, *payloadReader, error) {
	// Stat before opening: opening a FIFO blocks until a writer appears.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fileHeader{}, nil, fmt.Errorf("%w: %s: not a regular file (%s)", ErrBadFile, path, st.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fileHeader{}, nil, fmt.Errorf("search: loading index: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileHeader{}, nil, fmt.Errorf("search: loading index: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fileHeader{}, nil, fmt.Errorf("%w: %s: not a regular file (%s)", ErrBadFile, path, st.Mode().Type())
	}
	hdr, pr, err := readIndexHeader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, fileHeader{}, nil, err
	}
	return f, hdr, pr, nil
}

// readIndexHeader validates the header of an index of size bytes read from r and returns a
// reader positioned at the payload; path names the input in errors.
func readIndexHeader(r io.Reader, size int64, path string) (fileHeader, *payloadReader, error) {
	fail := func(format string, args ...any) (fileHeader, *payloadReader, error) {
		return fileHeader{}, nil, fmt.Errorf("%w: %s: %s", ErrBadFile, path, fmt.Sprintf(format, args...))
	}
	h := make([]byte, headerSize)
	if n, err := io.ReadFull(r, h); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fail("file is %d bytes, shorter than the %d-byte header", n, headerSize)
		}
		return fileHeader{}, nil, fmt.Errorf("search: loading index %s: %w", path, err)
	}
	if string(h[:8]) != FileMagic {
		return fail("not a clipkit search index (magic %q, want %q)", h[:8], FileMagic)
	}
	if got, want := binary.LittleEndian.Uint32(h[56:]), crc32.Checksum(h[:56], castagnoli); got != want {
		return fail("header checksum mismatch (header corrupted)")
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != formatVersion {
		return fail("format version %d is not supported (this build reads version %d)", v, formatVersion)
	}
	hdr := fileHeader{
		kind:    binary.LittleEndian.Uint32(h[12:]),
		dim:     int(binary.LittleEndian.Uint32(h[16:])),
		count:   binary.LittleEndian.Uint64(h[24:]),
		payload: binary.LittleEndian.Uint64(h[32:]),
		crc:     binary.LittleEndian.Uint32(h[40:]),
	}
	if hdr.kind != kindExact && hdr.kind != kindHNSW {
		return fail("unknown index kind %d", hdr.kind)
	}
	if err := checkDim(hdr.dim); err != nil {
		return fail("bad dimension: %v", err)
	}
	if size := uint64(size); size != headerSize+hdr.payload {
		if size < headerSize+hdr.payload {
			return fail("file truncated: %d bytes, header declares %d", size, headerSize+hdr.payload)
		}
		return fail("file has %d trailing bytes after the declared payload", size-headerSize-hdr.payload)
	}
	if hdr.count > maxRows || hdr.count*uint64(hdr.dim)*4 > hdr.payload {
		return fail("count %d × dim %d does not fit in a %d-byte payload", hdr.count, hdr.dim, hdr.payload)
	}
	pr := &payloadReader{r: bufio.NewReaderSize(r, 1<<20), crc: crc32.New(castagnoli), left: hdr.payload, path: path}
	return hdr, pr, nil
}

// LoadReader is Load for an index of exactly size bytes read from r (for example a section of a
// larger file); name names the input in errors.
func LoadReader(r io.Reader, size int64, name string) (Index, error) {
	hdr, pr, err := readIndexHeader(r, size, name)
	if err != nil {
		return nil, err
	}
	return readIndex(hdr, pr)
}

// Load reads an index saved by Exact.Save or HNSW.Save; the concrete type is
// *Exact or *HNSW according to the file.
func Load(path string) (Index, error) {
	f, hdr, pr, err := openIndexFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readIndex(hdr, pr)
}

func readIndex(hdr fileHeader, pr *payloadReader) (Index, error) {
	switch hdr.kind {
	case kindExact:
		return readExact(hdr, pr)
	default:
		return readHNSW(hdr, pr)
	}
}

// LoadExact is Load for a file that must hold an Exact index.
func LoadExact(path string) (*Exact, error) {
	idx, err := Load(path)
	if err != nil {
		return nil, err
	}
	e, ok := idx.(*Exact)
	if !ok {
		return nil, fmt.Errorf("search: %s holds an HNSW index, not an Exact one", path)
	}
	return e, nil
}

// LoadHNSW is Load for a file that must hold an HNSW index.
func LoadHNSW(path string) (*HNSW, error) {
	idx, err := Load(path)
	if err != nil {
		return nil, err
	}
	h, ok := idx.(*HNSW)
	if !ok {
		return nil, fmt.Errorf("search: %s holds an Exact index, not an HNSW one", path)
	}
	return h, nil
}

// Save implements Index. Payload: ids [count]uint64, vectors [count*dim]float32,
// metadata.
func (e *Exact) Save(path string) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return saveFile(path, kindExact, e.dim, uint64(len(e.ids)), func(p *payloadWriter) {
		p.u64s(e.ids)
		p.f32s(e.vecs)
		p.metadata(e.meta)
	})
}

func readExact(hdr fileHeader, p *payloadReader) (*Exact, error) {
	n := hdr.count
	e := &Exact{dim: hdr.dim}
	e.ids = p.u64s(n, "ids")
	e.vecs = p.f32s(n*uint64(hdr.dim), "vectors")
	e.meta = p.metadata(n)
	if err := p.finish(hdr.crc); err != nil {
		return nil, err
	}
	if err := checkFiniteRows(e.vecs, hdr.dim, e.ids, p.path); err != nil {
		return nil, err
	}
	e.pos = make(map[uint64]int, n)
	for r, id := range e.ids {
		if _, dup := e.pos[id]; dup {
			return nil, fmt.Errorf("%w: %s: id %d appears twice", ErrBadFile, p.path, id)
		}
		e.pos[id] = r
	}
	return e, nil
}

// Save implements Index. Payload: M, EfConstruction, EfSearch (uint32 each),
// reserved uint32, Seed uint64, maxLevel, entry, hasEntry (uint32 each),
// reserved uint32, ids [count]uint64, deleted [count]byte, levels
// [count]byte, vectors [count*dim]float32, layer-0 links [count*(2M+1)]uint32,
// upper links (for each node in order, level*(M+1) uint32), metadata.
func (h *HNSW) Save(path string) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return saveFile(path, kindHNSW, h.dim, uint64(len(h.ids)), func(p *payloadWriter) {
		p.u32(uint32(h.cfg.M))
		p.u32(uint32(h.cfg.EfConstruction))
		p.u32(uint32(h.cfg.EfSearch))
		p.u32(0)
		p.u64(h.cfg.Seed)
		p.u32(uint32(h.maxLevel))
		p.u32(h.entry)
		if h.hasEntry {
			p.u32(1)
		} else {
			p.u32(0)
		}
		p.u32(0)
		p.u64s(h.ids)
		p.bytes(boolsAsBytes(h.deleted))
		p.bytes(h.level)
		p.f32s(h.vecs)
		p.u32s(h.links0)
		for _, u := range h.upper {
			p.u32s(u)
		}
		p.metadata(h.meta)
	})
}

func boolsAsBytes(b []bool) []byte {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b))
}

func readHNSW(hdr fileHeader, p *payloadReader) (*HNSW, error) {
	bad := func(format string, args ...any) (*HNSW, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrBadFile, p.path, fmt.Sprintf(format, args...))
	}
	cfg := HNSWConfig{M: int(p.u32()), EfConstruction: int(p.u32()), EfSearch: int(p.u32())}
	p.u32()
	cfg.Seed = p.u64()
	maxLevel, entry, hasEntry := int(p.u32()), p.u32(), p.u32()
	p.u32()
	if p.err != nil {
		return nil, p.err
	}
	if err := cfg.validate(); err != nil {
		return bad("bad parameters: %v", err)
	}
	n := hdr.count
	h := newHNSW(hdr.dim, cfg)
	h.ids = p.u64s(n, "ids")
	del := p.u8s(n, "deleted flags")
	h.level = p.u8s(n, "levels")
	h.vecs = p.f32s(n*uint64(hdr.dim), "vectors")
	h.links0 = p.u32s(n*uint64(h.m0+1), "layer-0 links")
	if p.err != nil {
		return nil, p.err
	}
	h.deleted = make([]bool, n)
	for i, d := range del {
		if d > 1 {
			return bad("deleted flag %d of node %d is not 0/1", d, i)
		}
		h.deleted[i] = d == 1
	}
	h.upper = make([][]uint32, n)
	for i, l := range h.level {
		if int(l) > maxLevelCap || int(l) > maxLevel {
			return bad("node %d has level %d above the graph's max level %d", i, l, maxLevel)
		}
		if l > 0 {
			h.upper[i] = p.u32s(uint64(l)*uint64(cfg.M+1), "upper links")
		}
	}
	h.meta = p.metadata(n)
	if err := p.finish(hdr.crc); err != nil {
		return nil, err
	}
	if err := checkFiniteRows(h.vecs, hdr.dim, h.ids, p.path); err != nil {
		return nil, err
	}
	// Structural checks (the CRC catches accidents; these keep a crafted
	// file from causing out-of-range accesses).
	check := func(lst []uint32, maxN, node, lc int) error {
		if int(lst[0]) > maxN {
			return fmt.Errorf("node %d layer %d has %d links, max %d", node, lc, lst[0], maxN)
		}
		for _, x := range lst[1 : 1+lst[0]] {
			if uint64(x) >= n || int(h.level[x]) < lc {
				return fmt.Errorf("node %d layer %d links to invalid node %d", node, lc, x)
			}
		}
		return nil
	}
	for i := uint32(0); uint64(i) < n; i++ {
		if err := check(h.links(i, 0), h.m0, int(i), 0); err != nil {
			return bad("%v", err)
		}
		for lc := 1; lc <= int(h.level[i]); lc++ {
			if err := check(h.links(i, lc), cfg.M, int(i), lc); err != nil {
				return bad("%v", err)
			}
		}
	}
	switch {
	case hasEntry > 1:
		return bad("bad entry flag %d", hasEntry)
	case hasEntry == 1 && (uint64(entry) >= n || int(h.level[entry]) != maxLevel):
		return bad("entry point %d (max level %d) is not a node of that level", entry, maxLevel)
	case hasEntry == 0 && n > 0:
		return bad("graph with %d nodes has no entry point", n)
	}
	h.entry, h.maxLevel, h.hasEntry = entry, maxLevel, hasEntry == 1
	h.locks = make([]sync.Mutex, n)
	for i, id := range h.ids {
		if h.deleted[i] {
			h.nDeleted++
			continue
		}
		if _, dup := h.pos[id]; dup {
			return bad("live id %d appears twice", id)
		}
		h.pos[id] = uint32(i)
	}
	return h, nil
}

// checkFiniteRows refuses stored vectors with NaN or infinite entries: Add never stores them, and
// a search would silently never return such a row.
func checkFiniteRows(vecs []float32, dim int, ids []uint64, path string) error {
	for i, x := range vecs {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%w: %s: the vector of id %d has the non-finite value %v", ErrBadFile, path, ids[i/dim], x)
		}
	}
	return nil
}

func sortStrings(s []string) { sort.Strings(s) }

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
