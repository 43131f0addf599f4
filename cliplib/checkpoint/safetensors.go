package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"sync"
	"unsafe"

	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/internal/parallel"
)

// MaxSafetensorsHeader is the largest safetensors JSON header accepted, in bytes (100 MiB, the
// limit the reference Rust implementation uses). A header claiming more is refused before any
// allocation.
const MaxSafetensorsHeader = 100 << 20

// SafetensorsEntry describes one tensor of a safetensors file as its header declares it.
type SafetensorsEntry struct {
	Name  string
	DType DType
	Shape []int
	// Begin and End are byte offsets of the tensor's data, relative to the start of the data
	// section (which follows the header); End-Begin == NumElements*DType.Size().
	Begin, End int64
}

// SafetensorsHeader is the validated header of a safetensors file.
type SafetensorsHeader struct {
	// Entries lists the tensors in the order of their data in the file.
	Entries []SafetensorsEntry
	// Metadata is the optional "__metadata__" string map (nil when absent).
	Metadata map[string]string
	// DataStart is the absolute file offset of the data section (8 + header length).
	DataStart int64
}

// safetensorsJSONEntry is the JSON form of one tensor in a safetensors header.
type safetensorsJSONEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ReadSafetensorsHeader reads and validates the header of a safetensors file of the given size
// without reading any tensor data. name is used in error messages (usually the file path).
//
// It checks the header length against the file size and MaxSafetensorsHeader, the JSON syntax,
// duplicate names, dtype names, that shape×dtype size equals each tensor's data_offsets extent,
// that all offsets lie inside the file and that no two tensors overlap.
func ReadSafetensorsHeader(r io.ReaderAt, size int64, name string) (*SafetensorsHeader, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors %s: file is %d bytes, too short for the 8-byte header length", name, size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors %s: reading header length: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxSafetensorsHeader {
		return nil, fmt.Errorf("safetensors %s: header length %d exceeds the %d-byte limit (corrupt or not a safetensors file)", name, n, MaxSafetensorsHeader)
	}
	if n > uint64(size-8) {
		return nil, fmt.Errorf("safetensors %s: header length %d but only %d bytes follow (truncated file?)", name, n, size-8)
	}
	if n < 2 {
		return nil, fmt.Errorf("safetensors %s: header length %d is too short for a JSON object", name, n)
	}
	raw := make([]byte, n)
	if _, err := r.ReadAt(raw, 8); err != nil {
		return nil, fmt.Errorf("safetensors %s: reading %d-byte header: %w", name, n, err)
	}
	h := &SafetensorsHeader{DataStart: 8 + int64(n)}
	dataLen := size - h.DataStart
	if err := parseSafetensorsJSON(raw, h, dataLen); err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", name, err)
	}
	return h, nil
}

// parseSafetensorsJSON decodes the header JSON into h and validates every entry against the
// dataLen bytes of the data section.
func parseSafetensorsJSON(raw []byte, h *SafetensorsHeader, dataLen int64) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("header is not valid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("header is not a JSON object")
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("header is not valid JSON: %w", err)
		}
		key, _ := tok.(string) // object keys are always strings
		if err := checkName(key); err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("header names %q twice", key)
		}
		seen[key] = true
		if key == "__metadata__" {
			var meta map[string]string
			if err := dec.Decode(&meta); err != nil {
				return fmt.Errorf("__metadata__ must map strings to strings: %w", err)
			}
			h.Metadata = meta
			continue
		}
		var je safetensorsJSONEntry
		if err := dec.Decode(&je); err != nil {
			return fmt.Errorf("tensor %q: invalid header entry: %w", key, err)
		}
		e, err := validateSafetensorsEntry(key, je, dataLen)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", key, err)
		}
		h.Entries = append(h.Entries, e)
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return fmt.Errorf("header is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF { // only whitespace padding may follow
		return fmt.Errorf("header has trailing bytes after the JSON object")
	}
	sort.SliceStable(h.Entries, func(i, j int) bool { return h.Entries[i].Begin < h.Entries[j].Begin })
	var prev *SafetensorsEntry
	for i := range h.Entries {
		e := &h.Entries[i]
		if e.Begin == e.End {
			continue
		}
		if prev != nil && e.Begin < prev.End {
			return fmt.Errorf("tensors %q [%d,%d) and %q [%d,%d) overlap", prev.Name, prev.Begin, prev.End, e.Name, e.Begin, e.End)
		}
		prev = e
	}
	return nil
}

func validateSafetensorsEntry(name string, je safetensorsJSONEntry, dataLen int64) (SafetensorsEntry, error) {
	e := SafetensorsEntry{Name: name}
	dt, err := ParseDType(je.DType)
	if err != nil {
		return e, err
	}
	e.DType = dt
	if je.Shape == nil {
		return e, fmt.Errorf("missing shape")
	}
	if len(je.DataOffsets) != 2 {
		return e, fmt.Errorf("data_offsets must be [begin, end], got %v", je.DataOffsets)
	}
	b, end := je.DataOffsets[0], je.DataOffsets[1]
	if b < 0 || end < b {
		return e, fmt.Errorf("invalid data_offsets [%d, %d]", b, end)
	}
	if end > dataLen {
		return e, fmt.Errorf("data_offsets [%d, %d] run past the %d data bytes of the file (truncated file?)", b, end, dataLen)
	}
	numel, err := numElements(je.Shape, dataLen/int64(dt.Size()))
	if err != nil {
		return e, err
	}
	if want := numel * int64(dt.Size()); want != end-b {
		return e, fmt.Errorf("shape %v of %s needs %d bytes but data_offsets [%d, %d] hold %d", je.Shape, dt, want, b, end, end-b)
	}
	e.Shape = make([]int, len(je.Shape))
	for i, d := range je.Shape {
		e.Shape[i] = int(d)
	}
	e.Begin, e.End = b, end
	return e, nil
}

// ReadSafetensors reads every tensor of the safetensors file at path. Floating tensors (F64, F32,
// F16, BF16) are converted to float32 in Tensor.Data (F16 and BF16 exactly, F64 rounded to
// nearest); integer and boolean tensors go to Tensor.Ints.
func ReadSafetensors(path string) (StateDict, error) {
	sd, _, err := ReadSafetensorsFile(path)
	return sd, err
}

// ReadSafetensorsFile is ReadSafetensors that also returns the file's "__metadata__" map (nil
// when absent).
func ReadSafetensorsFile(path string) (StateDict, map[string]string, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return ReadSafetensorsFrom(f, size, path)
}

// ReadSafetensorsFrom reads a safetensors file of the given size from r; name labels errors.
// The whole header is validated before any tensor is allocated, and each tensor is read with
// its own ReadAt calls, so peak memory is the converted tensors plus a bounded scratch buffer per
// reader. The tensors are read by as many goroutines as GOMAXPROCS (r must allow concurrent
// ReadAt calls, as io.ReaderAt promises): copying a file from the page cache and faulting in the
// fresh destination pages is CPU work, which two cores halve for a 600 MB checkpoint.
func ReadSafetensorsFrom(r io.ReaderAt, size int64, name string) (StateDict, map[string]string, error) {
	h, err := ReadSafetensorsHeader(r, size, name)
	if err != nil {
		return nil, nil, err
	}
	tensors := make([]*Tensor, len(h.Entries))
	errs := make([]error, len(h.Entries))
	var scratch sync.Pool // conversion buffers, at most one per reader at a time
	parallel.For(len(h.Entries), func(i int) {
		e := h.Entries[i]
		numel := int((e.End - e.Begin) / int64(e.DType.Size()))
		t := newTensorFor(e.DType, e.Shape, numel)
		buf, _ := scratch.Get().(*[]byte)
		if buf == nil {
			buf = new([]byte)
		}
		var err error
		*buf, err = readElements(r, h.DataStart+e.Begin, t, 0, numel, *buf)
		scratch.Put(buf)
		if err != nil {
			errs[i] = fmt.Errorf("safetensors %s: tensor %q: reading %d bytes at offset %d: %w", name, e.Name, e.End-e.Begin, h.DataStart+e.Begin, err)
			return
		}
		tensors[i] = t
	})
	if err := firstError(errs); err != nil {
		return nil, nil, err
	}
	sd := make(StateDict, len(h.Entries))
	for i, e := range h.Entries {
		sd[e.Name] = tensors[i]
	}
	return sd, h.Metadata, nil
}

// firstError returns the first non-nil error of errs, in their order (file or name order: the
// error a sequential pass would have met first), or nil.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// chunkBytes is the size of the scratch buffer used to convert non-float32 data.
const chunkBytes = 1 << 20

// hostLittleEndian is true when float32 values in memory have the file's byte order, so F32
// data can be read straight into the destination slice.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// readElements reads n elements of t.DType starting at absolute offset off of r and converts them
// into t starting at element at. scratch is reused between calls and returned.
func readElements(r io.ReaderAt, off int64, t *Tensor, at, n int, scratch []byte) ([]byte, error) {
	if n == 0 {
		return scratch, nil
	}
	es := t.DType.Size()
	if t.DType == F32 && hostLittleEndian {
		dst := t.Data[at : at+n]
		b := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), n*4)
		_, err := r.ReadAt(b, off)
		return scratch, ioErr(err)
	}
	if scratch == nil {
		scratch = make([]byte, chunkBytes)
	}
	per := len(scratch) / 8 // elements per chunk, a multiple of every element size
	for done := 0; done < n; {
		k := min(per, n-done)
		buf := scratch[:k*es]
		if _, err := r.ReadAt(buf, off+int64(done*es)); err != nil {
			return scratch, ioErr(err)
		}
		decodeInto(t, at+done, buf)
		done += k
	}
	return scratch, nil
}

// ioErr turns the io.EOF of a short ReadAt into io.ErrUnexpectedEOF.
func ioErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// openSized opens path for reading and returns its size; errors name the path.
func openSized(path string) (*os.File, int64, error) {
	// Stat before opening: opening a named pipe blocks until a writer appears.
	if st, err := os.Stat(path); err == nil && !st.IsDir() && !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("checkpoint: %s is not a regular file (%s)", path, st.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("checkpoint: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("checkpoint: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("checkpoint: %s is a directory, not a checkpoint file", path)
	}
	return f, st.Size(), nil
}

// WriteSafetensors writes sd to path as a safetensors file, floating tensors stored as dtype
// (F32, F16 or BF16; F16/BF16 round to nearest even). Integer tensors keep their DType when it is
// an integer type (values must fit) and are written as I64 otherwise. Keys are written sorted.
// The file is replaced atomically (internal/atomicfile).
func WriteSafetensors(path string, sd StateDict, dtype DType) error {
	return WriteSafetensorsWithMetadata(path, sd, dtype, nil)
}

// WriteSafetensorsWithMetadata is WriteSafetensors with a "__metadata__" string map.
func WriteSafetensorsWithMetadata(path string, sd StateDict, dtype DType, metadata map[string]string) (err error) {
	err = atomicfile.Write(path, 0o600, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if err := EncodeSafetensors(w, sd, dtype, metadata); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// EncodeSafetensors writes sd in safetensors format to w; see WriteSafetensors for the dtype rules.
func EncodeSafetensors(w io.Writer, sd StateDict, dtype DType, metadata map[string]string) error {
	if dtype != F32 && dtype != F16 && dtype != BF16 {
		return fmt.Errorf("safetensors output dtype must be F32, F16 or BF16, got %q", dtype)
	}
	names := make([]string, 0, len(sd))
	for k := range sd {
		if k == "__metadata__" {
			return fmt.Errorf("tensor name %q is reserved by the safetensors format", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	type plan struct {
		dt         DType
		begin, end int64
	}
	plans := make([]plan, len(names))
	var off int64
	// The header is built by hand so the key order is deterministic (metadata first, then
	// tensors in sorted order), which keeps written files byte-for-byte reproducible.
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	if len(metadata) > 0 {
		mb, err := json.Marshal(metadata)
		if err != nil {
			return err
		}
		hdr.WriteString(`"__metadata__":`)
		hdr.Write(mb)
	}
	for i, name := range names {
		t := sd[name]
		if err := t.Validate(); err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		dt := dtype
		if !t.isFloat() {
			dt = I64
			if t.DType.IsInt() {
				dt = t.DType
			}
		}
		n := int64(t.NumElements()) * int64(dt.Size())
		plans[i] = plan{dt, off, off + n}
		off += n
		if hdr.Len() > 1 {
			hdr.WriteByte(',')
		}
		kb, _ := json.Marshal(name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		sb, _ := json.Marshal(shape)
		fmt.Fprintf(&hdr, `%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, kb, dt, sb, plans[i].begin, plans[i].end)
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 { // align the data section to 8 bytes like the reference writer
		hdr.WriteByte(' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for i, name := range names {
		t := sd[name]
		dt := plans[i].dt
		es := dt.Size()
		n := t.NumElements()
		for start := 0; start < n; {
			k := min(n-start, cap(buf)/8)
			buf = buf[:k*es]
			if err := encodeChunk(buf, t, start, k, dt); err != nil {
				return fmt.Errorf("tensor %q: %w", name, err)
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
			start += k
		}
	}
	return nil
}

// encodeChunk writes elements [start, start+k) of t as dt into buf (len k*dt.Size()).
func encodeChunk(buf []byte, t *Tensor, start, k int, dt DType) error {
	if t.isFloat() {
		src := t.Data[start : start+k]
		for i, v := range src {
			switch dt {
			case F32:
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			case F16:
				binary.LittleEndian.PutUint16(buf[2*i:], F32ToF16(v))
			case BF16:
				binary.LittleEndian.PutUint16(buf[2*i:], F32ToBF16(v))
			}
		}
		return nil
	}
	src := t.Ints[start : start+k]
	lo, hi := intRange(dt)
	for i, v := range src {
		if v < lo || v > hi {
			return fmt.Errorf("value %d at element %d does not fit %s", v, start+i, dt)
		}
		switch dt {
		case I64:
			binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
		case I32:
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(v))
		case I16:
			binary.LittleEndian.PutUint16(buf[2*i:], uint16(v))
		case I8, U8, Bool:
			buf[i] = byte(v)
		}
	}
	return nil
}

func intRange(dt DType) (lo, hi int64) {
	switch dt {
	case I32:
		return math.MinInt32, math.MaxInt32
	case I16:
		return math.MinInt16, math.MaxInt16
	case I8:
		return math.MinInt8, math.MaxInt8
	case U8:
		return 0, math.MaxUint8
	case Bool:
		return 0, 1
	}
	return math.MinInt64, math.MaxInt64
}
