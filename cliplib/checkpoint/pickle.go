package checkpoint

// Safe unpickling of the data.pkl of PyTorch zip archives, with internal/pickle (the project's
// one safe unpickler over github.com/nlpodyssey/gopickle). Nothing a pickle names is ever
// executed: every global a pickle references goes through findClass below, an allowlist that
// maps the few names a checkpoint legitimately uses to inert Go stand-ins and refuses everything
// else; persistent ids resolve to the archive's storage records.

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/clipkit/clipkit/internal/pickle"
)

// ErrUnsafePickle is wrapped by every error that refuses a pickle because it references a Python
// global outside the allowlist (see UnsafePickleError).
var ErrUnsafePickle = errors.New("pickle references a global that is not a tensor type")

// UnsafePickleError reports a pickle global outside the allowlist; nothing was executed.
type UnsafePickleError struct {
	File   string // the checkpoint file
	Global string // "module.name" as the pickle spells it
	Hint   string // optional extra explanation
}

func (e *UnsafePickleError) Error() string {
	msg := fmt.Sprintf("refusing to load %s: pickle references %s, which is not a tensor type", e.File, printable(e.Global))
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrUnsafePickle) true.
func (e *UnsafePickleError) Unwrap() error { return ErrUnsafePickle }

// Limits on a data.pkl, far above what real checkpoints need (data.pkl holds only the object
// tree: the torch.save of a full ViT-B/32 state dict has a 38 KB one) and low enough that
// gopickle's allocations stay bounded even for a data.pkl that compresses well (a deflated
// record can expand about 1000×). maxPickleCost bounds the memory unpickling may need, as
// internal/pickle.Scan estimates it from the opcodes.
const (
	maxPickleBytes = 32 << 20
	maxPickleCost  = 256 << 20
)

// pickleMode selects which globals the allowlist accepts.
type pickleMode int

const (
	modeTorchSave   pickleMode = iota // torch.save archive: tensors in (Ordered)Dicts only
	modeTorchScript                   // torch.jit.save archive: __torch__.* objects as well
)

// storageType stands for a torch.*Storage class; it only carries the element type.
type storageType struct {
	name  string
	dtype DType
}

// storageTypes are the torch storage classes allowed in a pickle and their element types.
var storageTypes = map[string]DType{
	"FloatStorage":    F32,
	"HalfStorage":     F16,
	"BFloat16Storage": BF16,
	"DoubleStorage":   F64,
	"LongStorage":     I64,
	"IntStorage":      I32,
	"ShortStorage":    I16,
	"CharStorage":     I8,
	"ByteStorage":     U8,
	"BoolStorage":     Bool,
}

// storageRef is a storage a pickle's persistent id points to: the archive record that holds it.
type storageRef struct {
	key   string // record name relative to <prefix>/data/
	dtype DType
	numel int64
}

// tensorRef is a tensor rebuilt by _rebuild_tensor_v2 and friends: a strided view of a storage.
// Its data is read only after unpickling, once its name is known.
type tensorRef struct {
	storage *storageRef
	offset  int64
	shape   []int64
	stride  []int64
}

// rebuildFunc is an allowlisted torch._utils function, evaluated as pure data manipulation.
type rebuildFunc struct{ name string }

func (f *rebuildFunc) Call(args ...interface{}) (interface{}, error) {
	switch f.name {
	case "_rebuild_tensor", "_rebuild_tensor_v2":
		// (storage, storage_offset, size, stride, [requires_grad, backward_hooks, [metadata]])
		if len(args) < 4 {
			return nil, fmt.Errorf("torch._utils.%s: got %d arguments, want at least 4", f.name, len(args))
		}
		st, ok := args[0].(*storageRef)
		if !ok {
			return nil, fmt.Errorf("torch._utils.%s: first argument is %s, want a storage", f.name, describe(args[0]))
		}
		off, err := pickleInt(args[1])
		if err != nil {
			return nil, fmt.Errorf("torch._utils.%s: storage offset: %w", f.name, err)
		}
		shape, err := pickleInts(args[2])
		if err != nil {
			return nil, fmt.Errorf("torch._utils.%s: size: %w", f.name, err)
		}
		stride, err := pickleInts(args[3])
		if err != nil {
			return nil, fmt.Errorf("torch._utils.%s: stride: %w", f.name, err)
		}
		if len(shape) != len(stride) {
			return nil, fmt.Errorf("torch._utils.%s: size %v and stride %v differ in rank", f.name, shape, stride)
		}
		return &tensorRef{storage: st, offset: off, shape: shape, stride: stride}, nil
	case "_rebuild_parameter", "_rebuild_parameter_with_state":
		// (data, requires_grad, backward_hooks, [state]): a Parameter is its data tensor.
		if len(args) < 1 {
			return nil, fmt.Errorf("torch._utils.%s: no arguments", f.name)
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("torch._utils.%s: first argument is %s, want a tensor", f.name, describe(args[0]))
		}
		return t, nil
	case "build_intlist", "build_tensorlist", "build_doublelist", "build_boollist", "restore_type_tag":
		// torch.jit._pickle helpers: each returns its first argument unchanged.
		if len(args) < 1 {
			return nil, fmt.Errorf("torch.jit._pickle.%s: no arguments", f.name)
		}
		return args[0], nil
	}
	return nil, fmt.Errorf("internal error: no rebuild function %s", f.name)
}

// scriptClass is a TorchScript class (__torch__.*). Instances are generic attribute holders; no
// class code runs.
type scriptClass struct {
	module, name string
}

func (c *scriptClass) qualified() string { return c.module + "." + c.name }

// PyNew implements gopickle's NEWOBJ: it records a new, empty object of class c.
func (c *scriptClass) PyNew(args ...interface{}) (interface{}, error) {
	return &scriptObject{class: c, attrs: map[string]interface{}{}}, nil
}

// scriptObject is an instance of a TorchScript class: its attributes, in pickle order.
type scriptObject struct {
	class *scriptClass
	names []string
	attrs map[string]interface{}
	state interface{} // a BUILD state that is not an attribute dict, kept but unused
}

func (o *scriptObject) set(k string, v interface{}) {
	if _, ok := o.attrs[k]; !ok {
		o.names = append(o.names, k)
	}
	o.attrs[k] = v
}

// PyDictSet implements attribute assignment from a BUILD state dict.
func (o *scriptObject) PyDictSet(key, value interface{}) error {
	k, ok := key.(string)
	if !ok {
		return fmt.Errorf("%s: attribute name is %s, want a string", o.class.qualified(), describe(key))
	}
	o.set(k, value)
	return nil
}

// PySetState implements BUILD (what __setstate__ would do): a dict state becomes attributes.
func (o *scriptObject) PySetState(state interface{}) error {
	switch s := state.(type) {
	case *types.Dict:
		for _, e := range *s {
			if err := o.PyDictSet(e.Key, e.Value); err != nil {
				return err
			}
		}
	case *types.OrderedDict:
		for el := s.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			if err := o.PyDictSet(e.Key, e.Value); err != nil {
				return err
			}
		}
	default:
		o.state = state
	}
	return nil
}

// unpickler carries the per-archive state of one unpickling run.
type unpickler struct {
	file     string
	mode     pickleMode
	classes  map[string]*scriptClass
	storages map[string]*storageRef
	// lookup returns the byte size of record data/<key>, or ok=false when it is missing.
	lookup func(key string) (size int64, ok bool)
}

// findClass is the allowlist. It returns inert stand-ins for the globals a checkpoint needs and
// an *UnsafePickleError for anything else.
func (u *unpickler) findClass(module, name string) (interface{}, error) {
	full := module + "." + name
	switch module {
	case "torch._utils":
		switch name {
		case "_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter", "_rebuild_parameter_with_state":
			return &rebuildFunc{name: name}, nil
		}
	case "torch":
		if dt, ok := storageTypes[name]; ok {
			return &storageType{name: name, dtype: dt}, nil
		}
	case "torch.jit._pickle":
		if u.mode == modeTorchScript {
			switch name {
			case "build_intlist", "build_tensorlist", "build_doublelist", "build_boollist", "restore_type_tag":
				return &rebuildFunc{name: name}, nil
			}
		}
	}
	if module == "__torch__" || strings.HasPrefix(module, "__torch__.") {
		if u.mode != modeTorchScript {
			return nil, &UnsafePickleError{File: u.file, Global: full, Hint: "TorchScript classes are only accepted in TorchScript archives"}
		}
		c := u.classes[full]
		if c == nil {
			c = &scriptClass{module: module, name: name}
			u.classes[full] = c
		}
		return c, nil
	}
	return nil, &UnsafePickleError{File: u.file, Global: full}
}

// persistentLoad resolves a BINPERSID ('storage', StorageType, key, location, numel).
func (u *unpickler) persistentLoad(pid interface{}) (interface{}, error) {
	t, ok := pid.(*types.Tuple)
	if !ok || t.Len() < 5 {
		return nil, fmt.Errorf("persistent id is %s, want ('storage', type, key, location, numel)", describe(pid))
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, fmt.Errorf("persistent id kind %s, want 'storage'", describe(t.Get(0)))
	}
	st, ok := t.Get(1).(*storageType)
	if !ok {
		return nil, fmt.Errorf("persistent id storage type is %s, want a torch.*Storage class", describe(t.Get(1)))
	}
	key, ok := t.Get(2).(string)
	if !ok {
		return nil, fmt.Errorf("persistent id key is %s, want a string", describe(t.Get(2)))
	}
	if len(key) > MaxTensorName {
		return nil, fmt.Errorf("storage key %s is over the %d-byte limit", shortName(key), MaxTensorName)
	}
	numel, err := pickleInt(t.Get(4))
	if err != nil {
		return nil, fmt.Errorf("storage %q: element count: %w", key, err)
	}
	if prev := u.storages[key]; prev != nil {
		if prev.dtype != st.dtype || prev.numel != numel {
			return nil, fmt.Errorf("storage %q is referenced as %d×%s and as %d×%s", key, prev.numel, prev.dtype, numel, st.dtype)
		}
		return prev, nil
	}
	size, ok := u.lookup(key)
	if !ok {
		return nil, fmt.Errorf("storage %q: record data/%s is missing from the archive", key, key)
	}
	if numel < 0 || numel > size || numel*int64(st.dtype.Size()) != size {
		return nil, fmt.Errorf("storage %q: %d elements of %s need %d bytes but record data/%s has %d", key, numel, st.dtype, numel*int64(st.dtype.Size()), key, size)
	}
	ref := &storageRef{key: key, dtype: st.dtype, numel: numel}
	u.storages[key] = ref
	return ref, nil
}

// unpickle runs data.pkl through the safe unpickler with the allowlist.
func (u *unpickler) unpickle(p []byte) (interface{}, error) {
	if len(p) > maxPickleBytes {
		return nil, fmt.Errorf("data.pkl is %d bytes, more than the %d accepted", len(p), maxPickleBytes)
	}
	u.classes = map[string]*scriptClass{}
	u.storages = map[string]*storageRef{}
	result, err := pickle.Load(p, pickle.Options{FindClass: u.findClass, PersistentLoad: u.persistentLoad,
		MaxCost: maxPickleCost})
	if err != nil {
		var unsafe *UnsafePickleError
		if errors.As(err, &unsafe) {
			return nil, err
		}
		return nil, fmt.Errorf("data.pkl: %s", truncate(err.Error(), 300))
	}
	return result, nil
}

// pickleInt converts an unpickled integer to int64.
func pickleInt(v interface{}) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case *big.Int:
		return 0, fmt.Errorf("integer %s is out of range", truncate(x.String(), 40))
	}
	return 0, fmt.Errorf("got %s, want an integer", describe(v))
}

// pickleInts converts an unpickled tuple or list of integers (a torch size or stride).
func pickleInts(v interface{}) ([]int64, error) {
	var items []interface{}
	switch x := v.(type) {
	case *types.Tuple:
		items = *x
	case *types.List:
		items = *x
	default:
		return nil, fmt.Errorf("got %s, want a tuple of integers", describe(v))
	}
	out := make([]int64, len(items))
	for i, it := range items {
		n, err := pickleInt(it)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// describe names the Go/Python type of an unpickled value for error messages, without printing
// its (possibly huge) contents.
func describe(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return fmt.Sprintf("%q", truncate(x, 60))
	case int, bool, float64:
		return fmt.Sprint(x)
	case *types.Tuple:
		return fmt.Sprintf("a tuple of %d", x.Len())
	case *types.List:
		return fmt.Sprintf("a list of %d", x.Len())
	case *types.Dict, *types.OrderedDict:
		return "a dict"
	case *storageType:
		return "torch." + x.name
	case *storageRef:
		return "a storage"
	case *tensorRef:
		return "a tensor"
	case *scriptObject:
		return "a " + x.class.qualified() + " object"
	case *rebuildFunc:
		return x.name
	case *scriptClass:
		return "the class " + printable(x.qualified())
	case []byte:
		return fmt.Sprintf("%d bytes", len(x))
	}
	return fmt.Sprintf("a %T", v)
}

// printable returns s as is when it is a short run of printable characters, else quoted and
// shortened, so names taken from a file cannot garble a message.
func printable(s string) string {
	ok := len(s) <= 200
	for _, r := range s {
		if !ok || r < 0x20 || r == 0x7f || r == utf8.RuneError || !unicode.IsPrint(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strconv.Quote(truncate(s, 200))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
