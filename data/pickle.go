package data

// Reading the CIFAR "python version" batches: pickles of dicts holding lists, strings and numpy
// arrays. github.com/nlpodyssey/gopickle decodes the pickle opcodes; it never executes anything (Go
// cannot run Python), and our FindClass allows exactly the globals a numpy array needs. Any other
// global is an error, so a file that is not a plain CIFAR batch is rejected instead of half-read.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
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

// unpickle decodes the pickle in b with the numpy allowlist. gopickle allocates the lengths a pickle
// declares before reading them, so a damaged length could make it allocate gigabytes or panic:
// checkPickleLengths rejects those first, and a panic that still happens becomes an error.
func unpickle(b []byte) (v any, err error) {
	if err := checkPickleLengths(b); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("malformed pickle: %v", p)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(b))
	u.FindClass = allowedGlobal
	u.PersistentLoad = func(any) (any, error) { return nil, fmt.Errorf("pickle uses persistent ids") }
	u.GetExtension = func(int) (any, error) { return nil, fmt.Errorf("pickle uses the extension registry") }
	return u.Load()
}

// checkPickleLengths walks the opcodes of a pickle (protocols 0 to 5) without interpreting them and
// fails when an argument runs past the end of b. It is written here because gopickle trusts the
// declared lengths; the opcode table follows Python's pickletools.
func checkPickleLengths(b []byte) error {
	n := len(b)
	need := func(at, k int, op byte) error {
		if k < 0 || k > n-at {
			return fmt.Errorf("malformed pickle: opcode 0x%02x at byte %d declares %d bytes, %d remain (truncated?)", op, at-1, k, n-at)
		}
		return nil
	}
	line := func(at int, op byte) (int, error) {
		i := bytes.IndexByte(b[at:], '\n')
		if i < 0 {
			return 0, fmt.Errorf("malformed pickle: opcode 0x%02x at byte %d has no end of line (truncated?)", op, at-1)
		}
		return at + i + 1, nil
	}
	for i := 0; i < n; {
		op := b[i]
		i++
		var err error
		switch op {
		case '.': // STOP
			return nil
		case '(', '0', '1', '2', 'N', ')', ']', '}', 'a', 'b', 'd', 'e', 'l', 'o', 's', 't', 'u', 'R', 'Q',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
		case 'K', 'q', 'h', 0x80, 0x82:
			err = need(i, 1, op)
			i++
		case 'M', 0x83:
			err = need(i, 2, op)
			i += 2
		case 'J', 'j', 'r', 0x84:
			err = need(i, 4, op)
			i += 4
		case 'G':
			err = need(i, 8, op)
			i += 8
		case 0x95: // FRAME: an eight-byte length, then the framed opcodes, which the loop walks on
			if err = need(i, 8, op); err == nil {
				k64 := binary.LittleEndian.Uint64(b[i:])
				i += 8
				k := -1
				if k64 <= uint64(n) {
					k = int(k64)
				}
				err = need(i, k, op)
			}
		case 'I', 'L', 'F', 'S', 'V', 'P', 'p', 'g':
			i, err = line(i, op)
		case 'c', 'i':
			if i, err = line(i, op); err == nil {
				i, err = line(i, op)
			}
		case 'U', 'C', 0x8c, 0x8a: // one-byte length
			if err = need(i, 1, op); err == nil {
				k := int(b[i])
				i++
				err = need(i, k, op)
				i += k
			}
		case 'T', 'B', 'X', 0x8b: // four-byte length
			if err = need(i, 4, op); err == nil {
				k := int(int32(binary.LittleEndian.Uint32(b[i:])))
				i += 4
				err = need(i, k, op)
				i += k
			}
		case 0x8d, 0x8e, 0x96: // eight-byte length
			if err = need(i, 8, op); err == nil {
				k64 := binary.LittleEndian.Uint64(b[i:])
				i += 8
				k := -1
				if k64 <= uint64(n) {
					k = int(k64)
				}
				err = need(i, k, op)
				i += max(k, 0)
			}
		default:
			return fmt.Errorf("malformed pickle: unknown opcode 0x%02x at byte %d", op, i-1)
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("malformed pickle: no STOP opcode (truncated?)")
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
