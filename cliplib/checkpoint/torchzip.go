package checkpoint

// Readers for the zip archives PyTorch writes: torch.save (since torch 1.6) and torch.jit.save.
//
// Layout of both (all records under one top-level folder <prefix>/):
//   data.pkl        pickle of the saved object; tensors are _rebuild_tensor_v2 calls whose storage
//                   is a persistent id ('storage', torch.FloatStorage, key, location, numel)
//   data/<key>      raw little-endian storage bytes, stored uncompressed
//   byteorder       "little" (absent in old archives, which are little-endian)
//   version, .format_version, .storage_alignment, .data/serialization_id
// TorchScript archives add constants.pkl, code/ (TorchScript source of every class) and
// optionally extra/. Their data.pkl pickles the module tree as __torch__.* objects whose
// attributes hold the parameters, buffers and submodules.

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

// ErrLegacyTorch is returned for files written by torch.save before torch 1.6 (a bare pickle
// stream rather than a zip archive).
var ErrLegacyTorch = errors.New("legacy torch.save format is not supported; re-save with torch>=1.6")

// Limits for the metadata records of an archive, far above real files (the traced tiny CLIP in
// testdata has 34 KB of code/*.py).
const (
	maxCodeBytes      = 64 << 20 // all code/*.py records together
	maxSmallRecord    = 1 << 10  // byteorder, version
	maxNestingDepth   = 64       // dicts within dicts in a torch.save pickle
	maxModuleDepth    = 512      // submodule nesting in a TorchScript archive
	viewBudgetPerElem = 4        // a file may materialise at most 4× the elements its storages hold
)

// ReadTorch reads a PyTorch zip archive written by torch.save or torch.jit.save and returns its
// tensors by name together with the detected format (FormatTorchZip or FormatTorchScript).
//
// For torch.save files the pickled object must be a dict (or OrderedDict) of tensors, possibly
// nested (names are joined with "."); when the top-level dict has a "state_dict" entry that is a
// dict, only that entry is read (the convention of training checkpoints). Non-tensor values are
// skipped. For TorchScript archives the module tree is walked and tensors are named by their
// dotted attribute path, keeping exactly the attributes the class code declares in
// __parameters__ and __buffers__, so the names equal model.state_dict() keys.
func ReadTorch(path string) (StateDict, Format, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	return ReadTorchFrom(f, size, path)
}

// ReadTorchFrom is ReadTorch over an io.ReaderAt of the given size; name labels errors.
func ReadTorchFrom(r io.ReaderAt, size int64, name string) (StateDict, Format, error) {
	a, err := openTorchArchive(r, size, name)
	if err != nil {
		return nil, "", err
	}
	sd, err := a.read()
	if err != nil {
		return nil, "", err
	}
	return sd, a.format, nil
}

// torchArchive is an opened PyTorch zip archive.
type torchArchive struct {
	name   string
	r      io.ReaderAt
	size   int64
	zr     *zip.Reader
	prefix string // "<folder>/" or ""
	files  map[string]*zip.File
	format Format
}

// openTorchArchive opens the zip, finds <prefix>/data.pkl and decides between torch.save and
// TorchScript by the presence of constants.pkl or code/.
func openTorchArchive(r io.ReaderAt, size int64, name string) (*torchArchive, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("torch archive %s: not a readable zip archive (truncated or corrupt?): %w", name, err)
	}
	a := &torchArchive{name: name, r: r, size: size, zr: zr, files: make(map[string]*zip.File, len(zr.File))}
	var pkls []string
	for _, f := range zr.File {
		if _, dup := a.files[f.Name]; dup {
			return nil, fmt.Errorf("torch archive %s: record %q appears twice", name, f.Name)
		}
		a.files[f.Name] = f
		if f.Name == "data.pkl" || (path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1) {
			pkls = append(pkls, f.Name)
		}
	}
	switch len(pkls) {
	case 0:
		return nil, fmt.Errorf("torch archive %s: zip archive has no data.pkl record, so it is not a PyTorch checkpoint", name)
	case 1:
	default:
		return nil, fmt.Errorf("torch archive %s: zip archive has %d data.pkl records (%s), want one", name, len(pkls), strings.Join(pkls, ", "))
	}
	a.prefix = strings.TrimSuffix(pkls[0], "data.pkl")
	a.format = FormatTorchZip
	if _, ok := a.files[a.prefix+"constants.pkl"]; ok {
		a.format = FormatTorchScript
	} else {
		for n := range a.files {
			if strings.HasPrefix(n, a.prefix+"code/") {
				a.format = FormatTorchScript
				break
			}
		}
	}
	return a, nil
}

// readRecord returns the contents of record name (relative to the prefix), refusing records
// larger than limit. Compressed and stored records are both accepted; the zip reader checks the
// CRC and never yields more than the declared size.
func (a *torchArchive) readRecord(name string, limit int64) ([]byte, error) {
	f, ok := a.files[a.prefix+name]
	if !ok {
		return nil, fmt.Errorf("torch archive %s: record %s is missing", a.name, a.prefix+name)
	}
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("torch archive %s: record %s is %d bytes, more than the %d accepted", a.name, f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("torch archive %s: record %s: %w", a.name, f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("torch archive %s: record %s: %w (truncated or corrupt archive?)", a.name, f.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("torch archive %s: record %s holds more than %d bytes", a.name, f.Name, limit)
	}
	return b, nil
}

// storageRecord returns the zip record of storage key, which must be stored uncompressed so it
// can be read in place.
func (a *torchArchive) storageRecord(key string) (*zip.File, bool) {
	f, ok := a.files[a.prefix+"data/"+key]
	return f, ok
}

func (a *torchArchive) read() (StateDict, error) {
	if b, err := a.readRecord("byteorder", maxSmallRecord); err == nil {
		if bo := strings.TrimSpace(string(b)); bo != "little" {
			return nil, fmt.Errorf("torch archive %s: byteorder is %q; only little-endian archives are supported", a.name, truncate(bo, 20))
		}
	} else if _, present := a.files[a.prefix+"byteorder"]; present {
		return nil, err
	}
	pkl, err := a.readRecord("data.pkl", maxPickleBytes)
	if err != nil {
		return nil, err
	}
	mode := modeTorchSave
	if a.format == FormatTorchScript {
		mode = modeTorchScript
	}
	u := &unpickler{file: a.name, mode: mode, lookup: func(key string) (int64, bool) {
		f, ok := a.storageRecord(key)
		if !ok {
			return 0, false
		}
		return int64(f.UncompressedSize64), true
	}}
	root, err := u.unpickle(pkl)
	if err != nil {
		var unsafe *UnsafePickleError
		if errors.As(err, &unsafe) {
			return nil, err
		}
		return nil, fmt.Errorf("torch archive %s: %w", a.name, err)
	}
	c := newCollector()
	if a.format == FormatTorchScript {
		if c.decls, err = a.classDeclarations(); err != nil {
			return nil, err
		}
		obj, ok := root.(*scriptObject)
		if !ok {
			return nil, fmt.Errorf("torch archive %s: TorchScript data.pkl holds %s, want a module object", a.name, describe(root))
		}
		if err := c.module(obj, "", 0); err != nil {
			return nil, fmt.Errorf("torch archive %s: %w", a.name, err)
		}
	} else if err := c.dict(root, "", 0, true); err != nil {
		return nil, fmt.Errorf("torch archive %s: %w", a.name, err)
	}
	return a.materialize(c.out)
}

// collector gathers the tensors of an unpickled object graph by name. Its budgets keep the walk
// linear in the input even when a crafted pickle shares one container many times (a DAG of shared
// dicts would otherwise expand exponentially).
type collector struct {
	out       map[string]*tensorRef
	visits    int   // dict entries and attributes seen
	nameBytes int64 // total length of the names collected
	decls     map[string]*classDecl
	visiting  map[*scriptObject]bool
}

// Walk budgets, far above real checkpoints (a ViT-B/32 state dict has 302 tensors).
const (
	maxWalkVisits = 1 << 18
	maxNameBytes  = 64 << 20
)

func newCollector() *collector {
	return &collector{out: map[string]*tensorRef{}, visiting: map[*scriptObject]bool{}}
}

// visit charges one visited entry to the budget.
func (c *collector) visit() error {
	c.visits++
	if c.visits > maxWalkVisits {
		return fmt.Errorf("the pickled object graph has more than %d entries (shared references?)", maxWalkVisits)
	}
	return nil
}

// add records tensor name.
func (c *collector) add(name string, t *tensorRef) error {
	if _, dup := c.out[name]; dup {
		return fmt.Errorf("tensor name %q appears twice", truncate(name, 200))
	}
	c.nameBytes += int64(len(name))
	if c.nameBytes > maxNameBytes {
		return fmt.Errorf("tensor names exceed %d bytes in all", maxNameBytes)
	}
	c.out[name] = t
	return nil
}

// dict gathers the tensors of a torch.save object: (Ordered)Dicts of tensors, nested.
func (c *collector) dict(v interface{}, prefix string, depth int, top bool) error {
	if depth > maxNestingDepth {
		return fmt.Errorf("dicts nested deeper than %d at %q", maxNestingDepth, truncate(prefix, 200))
	}
	var keys []interface{}
	var vals []interface{}
	switch d := v.(type) {
	case *types.OrderedDict:
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			keys, vals = append(keys, e.Key), append(vals, e.Value)
		}
	case *types.Dict:
		for _, e := range *d {
			keys, vals = append(keys, e.Key), append(vals, e.Value)
		}
	case *tensorRef:
		if top {
			return fmt.Errorf("the file holds a single tensor, not a dict of named tensors")
		}
	default:
		if top {
			return fmt.Errorf("the pickled object is %s, want a dict of tensors", describe(v))
		}
		return nil
	}
	if top {
		for i, k := range keys {
			if k == "state_dict" {
				switch vals[i].(type) {
				case *types.Dict, *types.OrderedDict:
					return c.dict(vals[i], "", depth+1, false)
				}
			}
		}
	}
	for i, k := range keys {
		if err := c.visit(); err != nil {
			return err
		}
		ks, ok := k.(string)
		if !ok {
			return fmt.Errorf("dict key %s at %q is not a string", describe(k), truncate(prefix, 200))
		}
		name := prefix + ks
		switch x := vals[i].(type) {
		case *tensorRef:
			if err := c.add(name, x); err != nil {
				return err
			}
		case *types.Dict, *types.OrderedDict:
			if err := c.dict(x, name+".", depth+1, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// classDecl lists what a TorchScript class declares as parameters and buffers.
type classDecl struct {
	params, buffers map[string]bool
}

var (
	reClassLine = regexp.MustCompile(`^class ([A-Za-z_][A-Za-z0-9_]*)\(`)
	reDeclLine  = regexp.MustCompile(`^\s+(__parameters__|__buffers__) = \[(.*)\]\s*$`)
	reQuoted    = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
)

// classDeclarations parses the __parameters__ / __buffers__ lines of the TorchScript source in
// code/. A class defined in code/__torch__/a/b.py is __torch__.a.b.<Name>. Only these two
// declaration lines are read; the code itself is never interpreted.
func (a *torchArchive) classDeclarations() (map[string]*classDecl, error) {
	decls := map[string]*classDecl{}
	var total int64
	codePrefix := a.prefix + "code/"
	var names []string
	for n := range a.files {
		if strings.HasPrefix(n, codePrefix) && strings.HasSuffix(n, ".py") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		f := a.files[n]
		total += int64(f.UncompressedSize64)
		if total > maxCodeBytes {
			return nil, fmt.Errorf("torch archive %s: code/ records exceed %d bytes", a.name, maxCodeBytes)
		}
		src, err := a.readRecord(strings.TrimPrefix(n, a.prefix), maxCodeBytes)
		if err != nil {
			return nil, err
		}
		module := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(n, codePrefix), ".py"), "/", ".")
		var cur *classDecl
		sc := bufio.NewScanner(strings.NewReader(string(src)))
		sc.Buffer(make([]byte, 64<<10), len(src)+1)
		for sc.Scan() {
			line := sc.Text()
			if m := reClassLine.FindStringSubmatch(line); m != nil {
				cur = &classDecl{}
				decls[module+"."+m[1]] = cur
				continue
			}
			if cur == nil {
				continue
			}
			if m := reDeclLine.FindStringSubmatch(line); m != nil {
				set := map[string]bool{}
				for _, q := range reQuoted.FindAllStringSubmatch(m[2], -1) {
					set[q[1]] = true
				}
				if m[1] == "__parameters__" {
					cur.params = set
				} else {
					cur.buffers = set
				}
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("torch archive %s: record %s: %w", a.name, n, err)
		}
	}
	return decls, nil
}

// module walks a TorchScript object tree. A tensor attribute is kept when its class declares it
// as a parameter or buffer; when the class code declares neither list (or is missing), every
// tensor attribute is kept.
func (c *collector) module(o *scriptObject, prefix string, depth int) error {
	if depth > maxModuleDepth {
		return fmt.Errorf("modules nested deeper than %d at %q", maxModuleDepth, truncate(prefix, 200))
	}
	if c.visiting[o] {
		return fmt.Errorf("module %q (%s) contains itself", truncate(strings.TrimSuffix(prefix, "."), 200), o.class.qualified())
	}
	c.visiting[o] = true
	defer delete(c.visiting, o)
	d := c.decls[o.class.qualified()]
	declared := d != nil && (d.params != nil || d.buffers != nil)
	for _, k := range o.names {
		if err := c.visit(); err != nil {
			return err
		}
		switch x := o.attrs[k].(type) {
		case *tensorRef:
			if declared && !d.params[k] && !d.buffers[k] {
				continue
			}
			if err := c.add(prefix+k, x); err != nil {
				return err
			}
		case *scriptObject:
			if err := c.module(x, prefix+k+".", depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// materialize reads every tensor view from its storage record, in name order, converting to
// float32 / int64 and copying strided views into row-major order.
func (a *torchArchive) materialize(refs map[string]*tensorRef) (StateDict, error) {
	names := make([]string, 0, len(refs))
	var storageElems int64
	seen := map[*storageRef]bool{}
	for n, t := range refs {
		if err := checkName(n); err != nil {
			return nil, fmt.Errorf("torch archive %s: %w", a.name, err)
		}
		names = append(names, n)
		if !seen[t.storage] {
			seen[t.storage] = true
			storageElems += t.storage.numel
		}
	}
	sort.Strings(names)
	budget := viewBudgetPerElem*storageElems + 1024
	sd := make(StateDict, len(names))
	var scratch []byte
	for _, n := range names {
		t, err := a.readView(n, refs[n], &budget, &scratch)
		if err != nil {
			return nil, fmt.Errorf("torch archive %s: tensor %q: %w", a.name, n, err)
		}
		sd[n] = t
	}
	return sd, nil
}

// readView validates the view (offset, shape, stride) against its storage and reads it.
func (a *torchArchive) readView(name string, v *tensorRef, budget *int64, scratch *[]byte) (*Tensor, error) {
	st := v.storage
	dt := st.dtype
	if v.offset < 0 {
		return nil, fmt.Errorf("negative storage offset %d", v.offset)
	}
	numel, err := numElements(v.shape, st.numel)
	if err != nil {
		return nil, fmt.Errorf("view of storage %q (%d elements): %w", st.key, st.numel, err)
	}
	// span: one past the largest element index the view touches, relative to the offset.
	var span int64
	contiguous := true
	if numel > 0 {
		span = 1
		expect := int64(1)
		for i := len(v.shape) - 1; i >= 0; i-- {
			s, d := v.stride[i], v.shape[i]
			if s < 0 {
				return nil, fmt.Errorf("negative stride %v", v.stride)
			}
			if d > 1 && s != expect {
				contiguous = false
			}
			expect *= d
			if d > 1 {
				if s > 0 && (d-1) > (st.numel-span)/s {
					return nil, fmt.Errorf("shape %v with strides %v and offset %d reaches past the %d elements of storage %q", v.shape, v.stride, v.offset, st.numel, st.key)
				}
				span += (d - 1) * s
			}
		}
		if v.offset > st.numel-span {
			return nil, fmt.Errorf("shape %v with strides %v and offset %d reaches past the %d elements of storage %q", v.shape, v.stride, v.offset, st.numel, st.key)
		}
	}
	*budget -= numel
	if *budget < 0 {
		return nil, fmt.Errorf("the tensors of this file would need more than %d× the elements its storages hold (overlapping views?)", viewBudgetPerElem)
	}
	f, ok := a.storageRecord(st.key)
	if !ok {
		return nil, fmt.Errorf("storage record data/%s is missing", st.key)
	}
	if f.Method != zip.Store {
		return nil, fmt.Errorf("storage record %s is compressed (method %d); torch writes storages uncompressed", f.Name, f.Method)
	}
	base, err := f.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("storage record %s: %w", f.Name, err)
	}
	if base < 0 || f.CompressedSize64 != f.UncompressedSize64 || int64(f.UncompressedSize64) > a.size-base {
		return nil, fmt.Errorf("storage record %s: %d bytes at offset %d do not fit in the %d-byte file (truncated?)", f.Name, f.UncompressedSize64, base, a.size)
	}
	shape := make([]int, len(v.shape))
	for i, d := range v.shape {
		shape[i] = int(d)
	}
	out := newTensorFor(dt, shape, int(numel))
	es := int64(dt.Size())
	start := base + v.offset*es
	if contiguous {
		*scratch, err = readElements(a.r, start, out, 0, int(numel), *scratch)
		if err != nil {
			return nil, fmt.Errorf("reading storage record %s: %w", f.Name, err)
		}
		return out, nil
	}
	// Non-contiguous view: read the span it covers (bounded by the storage size), decode it,
	// then gather the elements in row-major order.
	whole := newTensorFor(dt, []int{int(span)}, int(span))
	*scratch, err = readElements(a.r, start, whole, 0, int(span), *scratch)
	if err != nil {
		return nil, fmt.Errorf("reading storage record %s: %w", f.Name, err)
	}
	gather(out, whole, v.shape, v.stride)
	return out, nil
}

// gather copies the strided view (shape, stride) of src into dst in row-major order.
func gather(dst, src *Tensor, shape, stride []int64) {
	rank := len(shape)
	idx := make([]int64, rank)
	var pos int64
	n := len(dst.Data) + len(dst.Ints)
	for i := 0; i < n; i++ {
		if dst.Data != nil {
			dst.Data[i] = src.Data[pos]
		} else {
			dst.Ints[i] = src.Ints[pos]
		}
		for ax := rank - 1; ax >= 0; ax-- {
			idx[ax]++
			pos += stride[ax]
			if idx[ax] < shape[ax] {
				break
			}
			pos -= stride[ax] * shape[ax]
			idx[ax] = 0
		}
	}
}
