// Package pickle is the project's one safe unpickler, shared by the PyTorch checkpoint reader
// (cliplib/checkpoint) and the CIFAR reader (data). Callers give the allowlist.
//
// The pickle virtual machine is github.com/nlpodyssey/gopickle (a well-kept pure-Go unpickler).
// Nothing a pickle names is ever executed: gopickle only builds Go values, and every global a
// pickle references goes through the caller's FindClass, an allowlist that maps the few names a
// file legitimately uses to inert Go stand-ins and refuses everything else. (gopickle resolves
// three inert built-ins itself before consulting it, collections.OrderedDict, __builtin__.object
// and copy_reg._reconstructor; they only build plain containers.) Persistent ids go to the
// caller's PersistentLoad or are refused; the extension registry and out-of-band buffers are
// refused.
//
// gopickle trusts length fields and panics on some malformed inputs, so Load first walks the
// opcode stream (Scan) and checks every length against the bytes that remain and the memory
// unpickling would take, and turns any remaining panic into an error.
package pickle

import (
	"bytes"
	"encoding/binary"
	"fmt"

	gopickle "github.com/nlpodyssey/gopickle/pickle"
)

// DefaultMaxCost is the default bound on the memory unpickling may need (Options.MaxCost).
const DefaultMaxCost = 256 << 20

// Cost model of Scan: every opcode may push one object (OpCost bytes with its stack slot and
// memo entry), a MARK starts a new stack slice (MarkCost), and data arguments are copied.
const (
	OpCost   = 64
	MarkCost = 320
)

// Options configures Load.
type Options struct {
	// FindClass resolves a global (module, name) to an inert Go stand-in, or returns an error:
	// it is the allowlist, and is required. Its errors are returned by Load unchanged.
	FindClass func(module, name string) (any, error)
	// PersistentLoad resolves a persistent id (PyTorch storages); nil refuses them.
	PersistentLoad func(pid any) (any, error)
	// MaxCost bounds the estimated memory of unpickling in bytes (see Scan); 0 means
	// DefaultMaxCost.
	MaxCost int64
}

// Load decodes the pickle p (protocols 0 to 5, up to its first STOP) with the allowlist of opt.
// A malformed, truncated or too costly pickle gives an error starting "malformed pickle" or
// "unpickling would need"; nothing is ever executed.
func Load(p []byte, opt Options) (result any, err error) {
	if opt.FindClass == nil {
		return nil, fmt.Errorf("pickle.Load: no FindClass allowlist")
	}
	maxCost := opt.MaxCost
	if maxCost <= 0 {
		maxCost = DefaultMaxCost
	}
	if err := Scan(p, maxCost); err != nil {
		return nil, err
	}
	u := gopickle.NewUnpickler(bytes.NewReader(p))
	u.FindClass = opt.FindClass
	u.PersistentLoad = opt.PersistentLoad
	if u.PersistentLoad == nil {
		u.PersistentLoad = func(any) (any, error) { return nil, fmt.Errorf("pickle uses persistent ids") }
	}
	u.GetExtension = func(int) (any, error) { return nil, fmt.Errorf("pickle uses the extension registry") }
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("malformed pickle: %s", truncate(fmt.Sprint(r), 200))
		}
	}()
	return u.Load()
}

// Scan walks the opcodes of p up to the first STOP without executing them (the opcode table
// follows Python's pickletools). It checks that every opcode is known and supported (the
// extension registry and out-of-band buffers are not), that every length argument fits in the
// remaining bytes and that text arguments end with a newline, so gopickle never allocates more
// than the input holds, and it refuses pickles whose estimated unpickling cost exceeds maxCost
// bytes.
func Scan(p []byte, maxCost int64) error {
	var cost int64
	i := 0
	need := func(n uint64, op byte, at int) error {
		if n > uint64(len(p)-i) {
			return fmt.Errorf("malformed pickle: opcode 0x%02x at byte %d needs %d bytes but only %d remain (truncated or corrupt pickle)",
				op, at, n, len(p)-i)
		}
		return nil
	}
	line := func(op byte, at int) error {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			return fmt.Errorf("malformed pickle: opcode 0x%02x at byte %d has an unterminated text argument (truncated or corrupt pickle)", op, at)
		}
		i += j + 1
		return nil
	}
	for i < len(p) {
		op := p[i]
		at := i
		i++
		var err error
		cost += OpCost
		switch op {
		case '.': // STOP
			return nil
		case '(':
			cost += MarkCost
		case '0', '1', '2', 'N', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u', 'Q',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94:
			// no argument
		case 'K', 'h', 'q', 0x80: // 1-byte argument
			err = need(1, op, at)
			i++
		case 'M': // 2-byte argument
			err = need(2, op, at)
			i += 2
		case 'J', 'j', 'r': // 4-byte argument
			err = need(4, op, at)
			i += 4
		case 'G': // 8-byte float
			err = need(8, op, at)
			i += 8
		case 'U', 'C', 0x8c, 0x8a: // 1-byte length + data
			if err = need(1, op, at); err == nil {
				n := uint64(p[i])
				i++
				if err = need(n, op, at); err == nil {
					i += int(n)
				}
			}
		case 'T', 'X', 'B', 0x8b: // 4-byte length + data (signed for BINSTRING and LONG4)
			if err = need(4, op, at); err == nil {
				n := binary.LittleEndian.Uint32(p[i:])
				i += 4
				if (op == 'T' || op == 0x8b) && int32(n) < 0 {
					return fmt.Errorf("malformed pickle: opcode 0x%02x at byte %d has a negative length", op, at)
				}
				if err = need(uint64(n), op, at); err == nil {
					i += int(n)
				}
			}
		case 0x8d, 0x8e, 0x96: // 8-byte length + data
			if err = need(8, op, at); err == nil {
				n := binary.LittleEndian.Uint64(p[i:])
				i += 8
				if err = need(n, op, at); err == nil {
					i += int(n)
				}
			}
		case 0x95: // FRAME: 8-byte length of the frame, whose opcodes the loop walks on
			if err = need(8, op, at); err == nil {
				n := binary.LittleEndian.Uint64(p[i:])
				i += 8
				if err = need(n, op, at); err == nil {
					cost += int64(n) // gopickle copies the frame
				}
			}
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p': // newline-terminated argument
			err = line(op, at)
		case 'c', 'i': // two newline-terminated arguments
			if err = line(op, at); err == nil {
				err = line(op, at)
			}
		case 0x82, 0x83, 0x84, 0x97, 0x98:
			return fmt.Errorf("unsupported pickle opcode 0x%02x at byte %d (extension registry or out-of-band buffer)", op, at)
		default:
			return fmt.Errorf("malformed pickle: unknown opcode 0x%02x at byte %d", op, at)
		}
		if err != nil {
			return err
		}
		cost += int64(i - at) // arguments are copied (frames and strings)
		if cost > maxCost {
			return fmt.Errorf("unpickling would need more than %d MiB (%d bytes of pickle read so far)", maxCost>>20, i)
		}
	}
	return fmt.Errorf("malformed pickle: no STOP opcode (truncated?)")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
