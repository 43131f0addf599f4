package download

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors, for errors.Is on what Fetch and Check return.
var (
	// ErrOffline: the file is needed, offline mode is on and the cache has no valid copy.
	ErrOffline = errors.New("offline")
	// ErrNotFound: the server answered 404 or 410.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the server answered 401 or 403.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrMismatch: a file's size or digest is not the expected one.
	ErrMismatch = errors.New("checksum mismatch")
)

// HTTPError is a response with a status that is not a success.
type HTTPError struct {
	Method, URL string
	StatusCode  int
	// Message is the server's explanation, from the X-Error-Message header (Hugging Face sets it)
	// or the start of the body; may be empty.
	Message string
	// Hint is a suggestion for the user (e.g. "set HF_TOKEN ..."); may be empty.
	Hint string
}

// Error implements error.
func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		fmt.Fprintf(&b, " (%s)", e.Message)
	}
	switch {
	case e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone:
		b.WriteString(": there is no file at this URL; check the name, repository and revision")
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden:
		b.WriteString(": the server refused access")
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Is maps status codes to ErrNotFound and ErrUnauthorized.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	}
	return false
}

// transient reports whether retrying the same request may succeed.
func (e *HTTPError) transient() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooEarly ||
		e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// MismatchError is a file whose size or digest differs from the expected one.
type MismatchError struct {
	Path string
	// What is "size", "sha256", "md5" or "git-sha1".
	What      string
	Got, Want string
}

// Error implements error.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: %s mismatch: got %s, want %s", e.Path, e.What, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// OfflineError says which file offline mode could not provide, and why.
type OfflineError struct {
	// Name of the file for the user (e.g. "ViT-B-32.pt").
	Name string
	// Path where a valid copy was expected.
	Path string
	// Reason is why offline mode is on, e.g. "CLIPKIT_OFFLINE=1".
	Reason string
	// Problem is what is wrong with the cached copy: nil when it does not exist.
	Problem error
}

// Error implements error.
func (e *OfflineError) Error() string {
	state := "is not in the cache"
	if e.Problem != nil {
		state = fmt.Sprintf("is in the cache but unusable (%v)", e.Problem)
	}
	return fmt.Sprintf("offline mode (%s): %s %s (expected at %s); run the same command once with network access, or copy a valid file there",
		e.Reason, e.Name, state, e.Path)
}

// Is makes errors.Is(err, ErrOffline) true.
func (e *OfflineError) Is(target error) bool { return target == ErrOffline }

// Unwrap returns the problem with the cached copy, if any.
func (e *OfflineError) Unwrap() error { return e.Problem }
