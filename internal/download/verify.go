package download

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// Expect is what a file must be. Zero fields are not checked; when all are zero, a download is
// checked against the size the server announced and a cached file only has to exist.
type Expect struct {
	// Size in bytes; 0 means unknown.
	Size int64
	// SHA256, MD5: lower-case hex digests of the whole file.
	SHA256, MD5 string
	// GitSHA1 is the git blob object id (SHA-1 of "blob <size>\x00" + content): the ETag Hugging Face
	// serves for files not stored in LFS.
	GitSHA1 string
}

// HasDigest reports whether e names at least one digest.
func (e Expect) HasDigest() bool { return e.SHA256 != "" || e.MD5 != "" || e.GitSHA1 != "" }

// IsZero reports whether e checks nothing.
func (e Expect) IsZero() bool { return e.Size == 0 && !e.HasDigest() }

// String describes e for messages, e.g. "sha256 40d3…, 354 MB".
func (e Expect) String() string {
	var parts []string
	if e.SHA256 != "" {
		parts = append(parts, "sha256 "+e.SHA256)
	}
	if e.MD5 != "" {
		parts = append(parts, "md5 "+e.MD5)
	}
	if e.GitSHA1 != "" {
		parts = append(parts, "git-sha1 "+e.GitSHA1)
	}
	if e.Size > 0 {
		parts = append(parts, strconv.FormatInt(e.Size, 10)+" bytes")
	}
	if len(parts) == 0 {
		return "nothing to check"
	}
	return strings.Join(parts, ", ")
}

// Validate checks that the digests are lower-case hex of the right lengths.
func (e Expect) Validate() error {
	if e.Size < 0 {
		return fmt.Errorf("negative expected size %d", e.Size)
	}
	for _, d := range []struct {
		name, hex string
		n         int
	}{{"sha256", e.SHA256, 64}, {"md5", e.MD5, 32}, {"git-sha1", e.GitSHA1, 40}} {
		if d.hex != "" && !IsHex(d.hex, d.n) {
			return fmt.Errorf("expected %s %q is not %d lower-case hex digits", d.name, d.hex, d.n)
		}
	}
	return nil
}

// IsHex reports whether s is exactly n lower-case hexadecimal digits.
func IsHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// digests are the actual digests of a file; empty when not computed.
type digests struct {
	Size                 int64
	SHA256, MD5, GitSHA1 string
}

// hashFile computes the digests that e asks for (none when e has no digest).
func hashFile(path string, e Expect) (digests, error) {
	f, err := os.Open(path)
	if err != nil {
		return digests{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return digests{}, err
	}
	d := digests{Size: st.Size()}
	var writers []io.Writer
	var hs, hm, hg hash.Hash
	if e.SHA256 != "" {
		hs = sha256.New()
		writers = append(writers, hs)
	}
	if e.MD5 != "" {
		hm = md5.New()
		writers = append(writers, hm)
	}
	if e.GitSHA1 != "" {
		hg = sha1.New()
		fmt.Fprintf(hg, "blob %d\x00", st.Size())
		writers = append(writers, hg)
	}
	if len(writers) == 0 {
		return d, nil
	}
	n, err := io.CopyBuffer(io.MultiWriter(writers...), f, make([]byte, 1<<20))
	if err != nil {
		return digests{}, fmt.Errorf("reading %s: %w", path, err)
	}
	if n != st.Size() {
		return digests{}, fmt.Errorf("reading %s: got %d bytes, the file has %d (modified while reading?)", path, n, st.Size())
	}
	if hs != nil {
		d.SHA256 = hex.EncodeToString(hs.Sum(nil))
	}
	if hm != nil {
		d.MD5 = hex.EncodeToString(hm.Sum(nil))
	}
	if hg != nil {
		d.GitSHA1 = hex.EncodeToString(hg.Sum(nil))
	}
	return d, nil
}

// compare returns a *MismatchError for the first expectation d does not meet.
func (d digests) compare(path string, e Expect) error {
	if e.Size > 0 && d.Size != e.Size {
		return &MismatchError{Path: path, What: "size", Got: strconv.FormatInt(d.Size, 10) + " bytes",
			Want: strconv.FormatInt(e.Size, 10) + " bytes"}
	}
	for _, c := range []struct{ what, got, want string }{
		{"sha256", d.SHA256, e.SHA256}, {"md5", d.MD5, e.MD5}, {"git-sha1", d.GitSHA1, e.GitSHA1}} {
		if c.want != "" && c.got != c.want {
			return &MismatchError{Path: path, What: c.what, Got: c.got, Want: c.want}
		}
	}
	return nil
}

// stamp records the digests of a file at a given size and modification time, so that an unchanged
// file need not be hashed again.
type stamp struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256,omitempty"`
	MD5     string `json:"md5,omitempty"`
	GitSHA1 string `json:"git_sha1,omitempty"`
}

func (c *Client) stampPath(abs string) string {
	if c.StampDir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(c.StampDir, hex.EncodeToString(sum[:16])+".json")
}

// stampedDigests returns the digests recorded for path if its stamp is current, i.e. the file has the
// recorded size and modification time and the stamp holds every digest e asks for.
func (c *Client) stampedDigests(abs string, st os.FileInfo, e Expect) (digests, bool) {
	sp := c.stampPath(abs)
	if sp == "" {
		return digests{}, false
	}
	data, err := os.ReadFile(sp)
	if err != nil {
		return digests{}, false
	}
	var s stamp
	if json.Unmarshal(data, &s) != nil || s.Path != abs || s.Size != st.Size() || s.ModTime != st.ModTime().UnixNano() {
		return digests{}, false
	}
	if (e.SHA256 != "" && s.SHA256 == "") || (e.MD5 != "" && s.MD5 == "") || (e.GitSHA1 != "" && s.GitSHA1 == "") {
		return digests{}, false
	}
	return digests{Size: s.Size, SHA256: s.SHA256, MD5: s.MD5, GitSHA1: s.GitSHA1}, true
}

// writeStamp records d for the file at abs; failures only cost a re-hash later, so they are ignored.
func (c *Client) writeStamp(abs string, st os.FileInfo, d digests) {
	sp := c.stampPath(abs)
	if sp == "" || (d.SHA256 == "" && d.MD5 == "" && d.GitSHA1 == "") {
		return
	}
	data, err := json.Marshal(stamp{Path: abs, Size: st.Size(), ModTime: st.ModTime().UnixNano(),
		SHA256: d.SHA256, MD5: d.MD5, GitSHA1: d.GitSHA1})
	if err != nil {
		return
	}
	if os.MkdirAll(c.StampDir, 0o755) != nil {
		return
	}
	_ = atomicfile.WriteBytes(sp, data, 0o644) // best effort: without a stamp the file is hashed again
}

func (c *Client) removeStamp(abs string) {
	if sp := c.stampPath(abs); sp != "" {
		_ = os.Remove(sp)
	}
}

// check verifies the file at path against e. With rehash false, a current stamp stands in for hashing.
// It returns an error satisfying os.IsNotExist when the file is missing, a *MismatchError when it is
// not the expected file, nil when it is.
func (c *Client) check(path string, e Expect, rehash bool) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if !e.HasDigest() {
		return digests{Size: st.Size()}.compare(path, e)
	}
	if !rehash {
		if d, ok := c.stampedDigests(abs, st, e); ok {
			return d.compare(path, e)
		}
	}
	d, err := hashFile(abs, e)
	if err != nil {
		return err
	}
	if err := d.compare(path, e); err != nil {
		c.removeStamp(abs)
		return err
	}
	c.writeStamp(abs, st, d)
	return nil
}

// Check verifies the file at path against e, always hashing it (stamps are refreshed, not trusted).
// It returns nil for a valid file, an error satisfying errors.Is(err, fs.ErrNotExist) for a missing
// one, a *MismatchError for a corrupt one.
func (c *Client) Check(path string, e Expect) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return c.check(path, e, true)
}

// CheckCached is Check, except that a current verification stamp (see the package doc) is trusted
// instead of hashing the file again.
func (c *Client) CheckCached(path string, e Expect) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return c.check(path, e, false)
}

// IsMissing reports whether err means that a file does not exist.
func IsMissing(err error) bool { return errors.Is(err, os.ErrNotExist) }
