package data

// Reading the CIFAR "python version" batches: pickles of dicts holding lists, strings and numpy
// arrays. internal/pickle (the project's one safe unpickler, over github.com/nlpodyssey/gopickle)
// decodes the pickle opcodes; it never executes anything (Go cannot run Python), and our allowlist
// (allowedGlobal) allows exactly the globals a numpy array needs. Any other global is an error, so
// a file that is not a plain CIFAR batch is rejected instead of half-read.

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/clipkit/clipkit/internal/pickle"
)

// ndarray is a numpy array rebuilt from its pickled state.
type ndarray struct {
	shape []int
	dtype *npDtype
	data  []byte
	set   bool
}

// npDtype is a numpy dtype: kind 'u' or 'i', item size, byte order.
type npDtype struct {
	kind      byte
	size      int
	bigEndian bool
}

// ndarrayClass stands for the global numpy.ndarray (only used as _reconstruct's first argument).
type ndarrayClass struct{}

// reconstructFn stands for numpy.core.multiarray._reconstruct(cls, shape, dtype-char): it returns an
// empty array that BUILD fills.
type reconstructFn struct{}

func (reconstructFn) Call(args ...any) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("numpy _reconstruct with %d arguments", len(args))
	}
	if _, ok := args[0].(*ndarrayClass); !ok {
		return nil, fmt.Errorf("numpy _reconstruct of %T, only numpy.ndarray is allowed", args[0])
	}
	return &ndarray{}, nil
}

// dtypeClass stands for numpy.dtype(spec, align, copy).
type dtypeClass struct{}

func (dtypeClass) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("numpy.dtype without arguments")
	}
	spec, err := asString(args[0])
	if err != nil {
		return nil, fmt.Errorf("numpy.dtype spec: %w", err)
	}
	if len(spec) != 2 || (spec[0] != 'u' && spec[0] != 'i') || (spec[1] != '1' && spec[1] != '2' && spec[1] != '4' && spec[1] != '8') {
		return nil, fmt.Errorf("numpy dtype %q: only integer arrays (u1..u8, i1..i8) are supported", spec)
	}
	return &npDtype{kind: spec[0], size: int(spec[1] - '0')}, nil
}

// PySetState applies the dtype's state tuple (version, byte order, ...).
func (d *npDtype) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || t.Len() < 2 {
		return fmt.Errorf("numpy dtype state %T", state)
	}
	order, err := asString(t.Get(1))
	if err != nil {
		return fmt.Errorf("numpy dtype byte order: %w", err)
	}
	switch order {
	case "<", "|", "=":
		d.bigEndian = false
	case ">":
		d.bigEndian = true
	default:
		return fmt.Errorf("numpy dtype byte order %q", order)
	}
	return nil
}

// PySetState applies the array's state: ([version,] shape, dtype, is_fortran, raw bytes).
func (a *ndarray) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || (t.Len() != 4 && t.Len() != 5) {
		return fmt.Errorf("numpy array state %T", state)
	}
	i := t.Len() - 4
	shape, ok := t.Get(i).(*types.Tuple)
	if !ok {
		return fmt.Errorf("numpy array shape %T", t.Get(i))
	}
	total := 1
	for _, d := range *shape {
		n, err := asInt(d)
		if err != nil || n < 0 || n > 1<<31 {
			return fmt.Errorf("numpy array dimension %v", d)
		}
		a.shape = append(a.shape, n)
		total *= n
		if total > 1<<32 {
			return fmt.Errorf("numpy array shape %v is too large", a.shape)
		}
	}
	dt, ok := t.Get(i + 1).(*npDtype)
	if !ok {
		return fmt.Errorf("numpy array dtype %T", t.Get(i+1))
	}
	a.dtype = dt
	if fortran, _ := t.Get(i + 2).(bool); fortran && len(a.shape) > 1 {
		return fmt.Errorf("numpy array in Fortran order is not supported")
	}
	raw, err := asBytes(t.Get(i + 3))
	if err != nil {
		return fmt.Errorf("numpy array data: %w", err)
	}
	if len(raw) != total*dt.size {
		return fmt.Errorf("numpy array of shape %v and %d-byte items holds %d bytes, want %d", a.shape, dt.size, len(raw), total*dt.size)
	}
	a.data, a.set = raw, true
	return nil
}

// ints returns the array's elements as ints.
func (a *ndarray) ints() []int {
	n := len(a.data) / a.dtype.size
	out := make([]int, n)
	var bo binary.ByteOrder = binary.LittleEndian
	if a.dtype.bigEndian {
		bo = binary.BigEndian
	}
	for i := range n {
		b := a.data[i*a.dtype.size : (i+1)*a.dtype.size]
		switch a.dtype.size {
		case 1:
			if a.dtype.kind == 'i' {
				out[i] = int(int8(b[0]))
			} else {
				out[i] = int(b[0])
			}
		case 2:
			v := bo.Uint16(b)
			if a.dtype.kind == 'i' {
				out[i] = int(int16(v))
			} else {
				out[i] = int(v)
			}
		case 4:
			v := bo.Uint32(b)
			if a.dtype.kind == 'i' {
				out[i] = int(int32(v))
			} else {
				out[i] = int(v)
			}
		case 8:
			out[i] = int(int64(bo.Uint64(b)))
		}
	}
	return out
}

// codecsEncode stands for _codecs.encode(text, "latin1"), which Python 3 pickles use to rebuild
// bytes objects at protocols 2 and below.
type codecsEncode struct{}

func (codecsEncode) Call(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("_codecs.encode with %d arguments", len(args))
	}
	s, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1") {
		return nil, fmt.Errorf("_codecs.encode(%T, %v): only latin1 text is supported", args[0], args[1])
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, fmt.Errorf("_codecs.encode: character %U is not latin1", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// allowedGlobal resolves the globals a pickled numpy array needs; everything else is refused.
func allowedGlobal(module, name string) (any, error) {
	switch module + "." + name {
	case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
		return reconstructFn{}, nil
	case "numpy.ndarray":
		return &ndarrayClass{}, nil
	case "numpy.dtype":
		return dtypeClass{}, nil
	case "_codecs.encode":
		return codecsEncode{}, nil
	}
	return nil, fmt.Errorf("pickle refers to %s.%s, which a CIFAR batch never does (allowed: numpy arrays, lists, dicts, strings, numbers)", module, name)
}

// unpickle decodes the pickle in b with the numpy allowlist (internal/pickle checks every length
// and the memory unpickling needs before decoding, and turns a panic into an error). The cost bound
// leaves room for the batch's own bytes (a CIFAR-100 training batch holds 150 MB of pixels).
func unpickle(b []byte) (any, error) {
	return pickle.Load(b, pickle.Options{FindClass: allowedGlobal, MaxCost: int64(len(b)) + pickle.DefaultMaxCost})
}

// pickledDict is a decoded Python dict with string or bytes keys.
type pickledDict struct {
	d    *types.Dict
	file string
}

func asDict(v any, file string) (pickledDict, error) {
	d, ok := v.(*types.Dict)
	if !ok {
		return pickledDict{}, fmt.Errorf("%s: the pickle holds a %T, want a dict", file, v)
	}
	return pickledDict{d: d, file: file}, nil
}

// get returns the value of key (a str or bytes key in the file).
func (p pickledDict) get(key string) (any, error) {
	for _, e := range *p.d {
		if k, err := asString(e.Key); err == nil && k == key {
			return e.Value, nil
		}
	}
	var keys []string
	for _, e := range *p.d {
		if k, err := asString(e.Key); err == nil {
			keys = append(keys, k)
		}
	}
	return nil, fmt.Errorf("%s: the dict has no key %q (keys: %v)", p.file, key, keys)
}

func (p pickledDict) intList(key string) ([]int, error) {
	v, err := p.get(key)
	if err != nil {
		return nil, err
	}
	switch l := v.(type) {
	case *types.List:
		out := make([]int, l.Len())
		for i, x := range *l {
			if out[i], err = asInt(x); err != nil {
				return nil, fmt.Errorf("%s: %s[%d]: %w", p.file, key, i, err)
			}
		}
		return out, nil
	case *ndarray:
		if !l.set || len(l.shape) != 1 {
			return nil, fmt.Errorf("%s: %s is an array of shape %v, want a list", p.file, key, l.shape)
		}
		return l.ints(), nil
	}
	return nil, fmt.Errorf("%s: %s is a %T, want a list of ints", p.file, key, v)
}

func (p pickledDict) stringList(key string) ([]string, error) {
	v, err := p.get(key)
	if err != nil {
		return nil, err
	}
	l, ok := v.(*types.List)
	if !ok {
		return nil, fmt.Errorf("%s: %s is a %T, want a list of strings", p.file, key, v)
	}
	out := make([]string, l.Len())
	for i, x := range *l {
		if out[i], err = asString(x); err != nil {
			return nil, fmt.Errorf("%s: %s[%d]: %w", p.file, key, i, err)
		}
	}
	return out, nil
}

func (p pickledDict) uint8Matrix(key string, cols int) ([]byte, int, error) {
	v, err := p.get(key)
	if err != nil {
		return nil, 0, err
	}
	a, ok := v.(*ndarray)
	if !ok || !a.set {
		return nil, 0, fmt.Errorf("%s: %s is a %T, want a numpy array", p.file, key, v)
	}
	if a.dtype.size != 1 || a.dtype.kind != 'u' || len(a.shape) != 2 || a.shape[1] != cols {
		return nil, 0, fmt.Errorf("%s: %s is an array of shape %v and dtype %c%d, want uint8 [n, %d]", p.file, key, a.shape, a.dtype.kind, a.dtype.size, cols)
	}
	return a.data, a.shape[0], nil
}

func asString(v any) (string, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case []byte:
		return string(s), nil
	}
	return "", fmt.Errorf("%T is not a string", v)
}

func asBytes(v any) ([]byte, error) {
	switch s := v.(type) {
	case string: // Python 2 str
		return []byte(s), nil
	case []byte:
		return s, nil
	case *types.ByteArray:
		return []byte(*s), nil
	}
	return nil, fmt.Errorf("%T is not bytes", v)
}

func asInt(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case bool:
		if n {
			return 1, nil
		}
		return 0, nil
	case *big.Int:
		if n.IsInt64() {
			return int(n.Int64()), nil
		}
	}
	return 0, fmt.Errorf("%v (%T) is not an int", v, v)
}
