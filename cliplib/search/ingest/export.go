package ingest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/sbinet/npyio/npy"

	"github.com/clipkit/clipkit/cliplib/search"
)

// MetaRow is one row of an exported part's Parquet file: row i describes
// row i of the part's .npy matrix. The named columns are those
// clip-retrieval users look for; Meta holds every metadata entry as a JSON
// object so that loading a part back restores the metadata exactly.
type MetaRow struct {
	ID      uint64 `parquet:"id"`
	Key     string `parquet:"key"`
	Path    string `parquet:"image_path"`
	Caption string `parquet:"caption"`
	Label   string `parquet:"label"`
	SHA256  string `parquet:"sha256"`
	Shard   string `parquet:"shard"`
	Meta    string `parquet:"meta"`
}

// Suffixes of an exported part's two files.
const (
	NPYSuffix     = ".npy"
	ParquetSuffix = ".parquet"
)

// ExportPart writes items as dir/name.npy (float32 matrix [len(items), dim],
// little-endian, C order: numpy.load reads it) and dir/name.parquet (one
// MetaRow per item, same order), each replaced atomically.
func ExportPart(dir, name string, items []search.Item) error {
	if len(items) == 0 {
		return errors.New("ingest: export: no items")
	}
	dim := len(items[0].Vector)
	vecs := make([][]float32, len(items))
	rows := make([]MetaRow, len(items))
	for i, it := range items {
		if len(it.Vector) != dim {
			return fmt.Errorf("%w: export: item %d (id %d) has dimension %d, item 0 has %d", search.ErrDim, i, it.ID, len(it.Vector), dim)
		}
		vecs[i] = it.Vector
		mj, err := json.Marshal(it.Metadata)
		if err != nil {
			return err
		}
		m := it.Metadata
		rows[i] = MetaRow{ID: it.ID, Key: m["key"], Path: m["path"], Caption: m["caption"], Label: m["label"], SHA256: m["sha256"],
			Shard: m["shard"], Meta: string(mj)}
	}
	if err := writeAtomic(filepath.Join(dir, name+NPYSuffix), func(w io.Writer) error { return writeNPY(w, vecs, dim) }); err != nil {
		return fmt.Errorf("ingest: export %s%s: %w", name, NPYSuffix, err)
	}
	err := writeAtomic(filepath.Join(dir, name+ParquetSuffix), func(w io.Writer) error {
		pw := parquet.NewGenericWriter[MetaRow](w, parquet.Compression(&parquet.Zstd))
		if _, err := pw.Write(rows); err != nil {
			return err
		}
		return pw.Close()
	})
	if err != nil {
		return fmt.Errorf("ingest: export %s%s: %w", name, ParquetSuffix, err)
	}
	return nil
}

// writeNPY writes a float32 matrix in NumPy's .npy format 1.0: magic,
// version, a header dict padded with spaces to a multiple of 64 bytes, then
// the little-endian data in C order. Written here rather than with npyio
// (used for reading) because npyio v0.6 writes 2-D arrays only from gonum's
// float64 mat.Dense, not from [n][d]float32.
func writeNPY(w io.Writer, rows [][]float32, dim int) error {
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", len(rows), dim)
	total := 10 + len(hdr) + 1 // magic(6) version(2) len(2) + dict + '\n'
	hdr += strings.Repeat(" ", (64-total%64)%64) + "\n"
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString("\x93NUMPY\x01\x00")
	binary.Write(bw, binary.LittleEndian, uint16(len(hdr)))
	bw.WriteString(hdr)
	var buf [4]byte
	for _, r := range rows {
		for _, x := range r {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(x))
			bw.Write(buf[:])
		}
	}
	return bw.Flush()
}

// ReadPart reads the items of an exported part (dir/name.npy and
// dir/name.parquet), checking that the two agree.
func ReadPart(dir, name string) ([]search.Item, error) {
	np := filepath.Join(dir, name+NPYSuffix)
	f, err := os.Open(np)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	defer f.Close()
	r, err := npy.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("ingest: %s: not a .npy file: %w", np, err)
	}
	shape := r.Header.Descr.Shape
	if r.Header.Descr.Type != "<f4" || len(shape) != 2 || r.Header.Descr.Fortran {
		return nil, fmt.Errorf("ingest: %s holds %s %v (fortran order %v), want a C-order float32 (<f4) matrix", np, r.Header.Descr.Type, shape,
			r.Header.Descr.Fortran)
	}
	if st, err := f.Stat(); err == nil && int64(shape[0])*int64(shape[1])*4 > st.Size() {
		return nil, fmt.Errorf("ingest: %s: shape %v needs more bytes than the file's %d", np, shape, st.Size())
	}
	flat := make([]float32, shape[0]*shape[1])
	if err := r.Read(&flat); err != nil {
		return nil, fmt.Errorf("ingest: reading %s: %w", np, err)
	}
	pq := filepath.Join(dir, name+ParquetSuffix)
	rows, err := parquet.ReadFile[MetaRow](pq)
	if err != nil {
		return nil, fmt.Errorf("ingest: reading %s: %w", pq, err)
	}
	if len(rows) != shape[0] {
		return nil, fmt.Errorf("ingest: %s has %d rows but %s has %d vectors", pq, len(rows), np, shape[0])
	}
	d := shape[1]
	items := make([]search.Item, len(rows))
	for i, row := range rows {
		var m map[string]string
		if row.Meta != "" {
			if err := json.Unmarshal([]byte(row.Meta), &m); err != nil {
				return nil, fmt.Errorf("ingest: %s row %d: meta is not a JSON object of strings: %w", pq, i, err)
			}
		}
		items[i] = search.Item{ID: row.ID, Vector: flat[i*d : (i+1)*d : (i+1)*d], Metadata: m}
	}
	return items, nil
}

// Parts lists the exported parts in dir (names without suffix, sorted).
func Parts(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), NPYSuffix); ok && !e.IsDir() && !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoadExport upserts every exported part in dir into store and returns the
// number of items loaded: a collection embedded once goes into any store.
func LoadExport(ctx context.Context, store search.Store, dir string) (int, error) {
	parts, err := Parts(dir)
	if err != nil {
		return 0, err
	}
	if len(parts) == 0 {
		return 0, fmt.Errorf("ingest: %s holds no exported parts (*%s with *%s)", dir, NPYSuffix, ParquetSuffix)
	}
	n := 0
	for _, p := range parts {
		items, err := ReadPart(dir, p)
		if err != nil {
			return n, err
		}
		if err := store.Upsert(ctx, items...); err != nil {
			return n, fmt.Errorf("ingest: loading part %s: %w", p, err)
		}
		n += len(items)
	}
	return n, nil
}
