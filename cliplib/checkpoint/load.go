package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrUnknownFormat is wrapped by the error for a file that is none of the supported formats.
var ErrUnknownFormat = errors.New("unknown checkpoint format (want safetensors, a torch.save zip archive or a TorchScript archive)")

// File is a checkpoint read from disk.
type File struct {
	Path    string
	Format  Format
	Tensors StateDict
	// Metadata is the safetensors "__metadata__" map; nil for other formats or when absent.
	Metadata map[string]string
}

// ReadFile reads the checkpoint at path, detecting its format from the content (not the file
// extension), and returns its tensors by their names in the file.
func ReadFile(path string) (StateDict, Format, error) {
	f, err := Read(path)
	if err != nil {
		return nil, "", err
	}
	return f.Tensors, f.Format, nil
}

// Read is ReadFile returning the richer File (format and safetensors metadata).
func Read(path string) (*File, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadFrom(f, size, path)
}

// ReadFrom reads a checkpoint of the given size from r; name labels errors and File.Path.
func ReadFrom(r io.ReaderAt, size int64, name string) (*File, error) {
	format, err := DetectFormat(r, size, name)
	if err != nil {
		return nil, err
	}
	out := &File{Path: name, Format: format}
	switch format {
	case FormatSafetensors:
		out.Tensors, out.Metadata, err = ReadSafetensorsFrom(r, size, name)
	default:
		out.Tensors, out.Format, err = ReadTorchFrom(r, size, name)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// zipMagics are the signatures a zip archive can start with (local file header, or the end of
// central directory record of an empty archive).
var zipMagics = [][]byte{[]byte("PK\x03\x04"), []byte("PK\x05\x06")}

// DetectFormat decides the format of a checkpoint from its first bytes (and, for zip archives,
// its directory): a zip archive holding <prefix>/data.pkl is a torch.save archive, or a
// TorchScript archive when it also holds constants.pkl or code/; a file that starts with a sane
// 8-byte little-endian length followed by '{' is safetensors. A bare pickle stream is the legacy
// torch.save format (ErrLegacyTorch). Empty, truncated and unknown files get errors naming them.
func DetectFormat(r io.ReaderAt, size int64, name string) (Format, error) {
	if size == 0 {
		return "", fmt.Errorf("checkpoint %s: file is empty", name)
	}
	head := make([]byte, min(size, 16))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("checkpoint %s: %w", name, err)
	}
	for _, m := range zipMagics {
		if bytes.HasPrefix(head, m) {
			a, err := openTorchArchive(r, size, name)
			if err != nil {
				return "", err
			}
			return a.format, nil
		}
	}
	if len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 {
		return "", fmt.Errorf("checkpoint %s: the file is a bare pickle stream: %w", name, ErrLegacyTorch)
	}
	if len(head) >= 9 && head[8] == '{' {
		n := binary.LittleEndian.Uint64(head)
		switch {
		case n > MaxSafetensorsHeader:
			return "", fmt.Errorf("checkpoint %s: looks like safetensors but the header length %d exceeds the %d-byte limit: %w", name, n, MaxSafetensorsHeader, ErrUnknownFormat)
		case n > uint64(size-8):
			return "", fmt.Errorf("checkpoint %s: safetensors header length %d but only %d bytes follow (truncated file?)", name, n, size-8)
		}
		return FormatSafetensors, nil
	}
	if size < 9 {
		return "", fmt.Errorf("checkpoint %s: file is only %d bytes (truncated?): %w", name, size, ErrUnknownFormat)
	}
	return "", fmt.Errorf("checkpoint %s: starts with % x: %w", name, head[:min(len(head), 8)], ErrUnknownFormat)
}
