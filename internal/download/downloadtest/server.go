// Package downloadtest is a local HTTP server for tests of code that downloads: it serves files in
// the layouts of the real hosts (Hugging Face resolve URLs with redirects and the hub's headers,
// OpenAI-style content-addressed URLs, plain paths) with Range support, and injects faults: dropped
// connections, error statuses, required tokens.
package downloadtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is an httptest server with files and faults. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	files    map[string][]byte // plain path -> content
	statuses map[string]int    // path -> forced status
	drops    map[string][]int  // path -> queue of byte counts after which to drop the connection
	delays   map[string]time.Duration
	repos    map[string]*hfRepo
	requests []Req
	token    string // when set, HF resolve URLs and files under /private/ need "Bearer <token>"
	hook     func(n int, r Req)
}

// OnRequest sets a function called with the number (from 1) and summary of each request, before it
// is answered; it may change the server (e.g. replace a file between two attempts).
func (s *Server) OnRequest(fn func(n int, r Req)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

// Req is one request the server received.
type Req struct {
	Method, Path, Range, IfRange, Auth string
}

type hfRepo struct {
	commit string
	files  map[string][]byte
	lfs    map[string]bool
	gated  bool
}

// New starts a server; it is closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{files: map[string][]byte{}, statuses: map[string]int{}, drops: map[string][]int{},
		delays: map[string]time.Duration{}, repos: map[string]*hfRepo{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// AddFile serves content at path (which starts with "/").
func (s *Server) AddFile(path string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = content
}

// AddOpenAIFile serves content at /clip/models/<sha256>/<name>, like openaipublic.azureedge.net,
// and returns the path.
func (s *Server) AddOpenAIFile(name string, content []byte) string {
	path := "/clip/models/" + SHA256(content) + "/" + name
	s.AddFile(path, content)
	return path
}

// AddHFRepo serves a Hugging Face model repository at one commit: /{repo}/resolve/{main|commit}/{file}.
// Files named in lfs are served like LFS files (a 302 redirect to an absolute CDN URL, X-Linked-Etag =
// sha256, X-Linked-Size); others through a relative 307 redirect to /api/resolve-cache/..., which
// answers with ETag = git blob sha1. Resolve answers carry X-Repo-Commit. /api/models/{repo}/revision/
// {rev} lists the files, like the hub's API.
// gated repos need the server's token (see RequireToken).
func (s *Server) AddHFRepo(repo, commit string, files map[string][]byte, lfs []string, gated bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &hfRepo{commit: commit, files: files, lfs: map[string]bool{}, gated: gated}
	for _, f := range lfs {
		r.lfs[f] = true
		s.files["/cdn/"+SHA256(files[f])] = files[f]
	}
	s.repos[repo] = r
}

// RequireToken sets the token that gated repositories require.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetStatus makes every request for path answer code (0 removes the fault).
func (s *Server) SetStatus(path string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.statuses, path)
	} else {
		s.statuses[path] = code
	}
}

// DropAfter makes the next len(counts) GETs of path close the connection after sending counts[i]
// bytes of the body (the headers announce the full length).
func (s *Server) DropAfter(path string, counts ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops[path] = append(s.drops[path], counts...)
}

// Delay makes every GET of path wait d before answering.
func (s *Server) Delay(path string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays[path] = d
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Req {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Req(nil), s.requests...)
}

// Count returns how many requests with the method (or any method when "") hit path.
func (s *Server) Count(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == path && (method == "" || r.Method == method) {
			n++
		}
	}
	return n
}

// SHA256 returns the lower-case hex sha256 of b.
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// GitSHA1 returns the git blob object id of b.
func GitSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	req := Req{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), IfRange: r.Header.Get("If-Range"), Auth: r.Header.Get("Authorization")}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	n, hook := len(s.requests), s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(n, req)
	}
	s.mu.Lock()
	status := s.statuses[r.URL.Path]
	delay := s.delays[r.URL.Path]
	token := s.token
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		w.Header().Set("X-Error-Message", fmt.Sprintf("forced status %d", status))
		http.Error(w, http.StatusText(status), status)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/resolve-cache/models/") {
		s.serveResolveCache(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/models/") {
		s.serveInfo(w, r)
		return
	}
	if repo, rev, file, ok := splitResolve(r.URL.Path); ok {
		s.serveResolve(w, r, repo, rev, file, token)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/private/") && r.Header.Get("Authorization") != "Bearer "+token {
		w.Header().Set("X-Error-Message", "Invalid credentials in Authorization header")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	content, ok := s.files[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		w.Header().Set("X-Error-Message", "Entry not found")
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	s.serveContent(w, r, content, `"`+SHA256(content)[:32]+`"`)
}

// splitResolve parses /{org}/{name}/resolve/{rev}/{file...}.
func splitResolve(p string) (repo, rev, file string, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5)
	if len(parts) < 5 || parts[2] != "resolve" {
		return "", "", "", false
	}
	return parts[0] + "/" + parts[1], parts[3], parts[4], true
}

func (s *Server) serveResolve(w http.ResponseWriter, r *http.Request, repoID, rev, file, token string) {
	s.mu.Lock()
	repo := s.repos[repoID]
	s.mu.Unlock()
	if repo == nil {
		// The real hub answers 401 for repositories that do not exist (or are private).
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		http.Error(w, "Repository not found", http.StatusUnauthorized)
		return
	}
	if repo.gated && r.Header.Get("Authorization") != "Bearer "+token {
		w.Header().Set("X-Error-Code", "GatedRepo")
		w.Header().Set("X-Error-Message", "Access to model "+repoID+" is restricted. You must have access to it and be authenticated to access it.")
		http.Error(w, "gated", http.StatusUnauthorized)
		return
	}
	if rev != "main" && rev != repo.commit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.Header().Set("X-Error-Message", "Invalid rev id: "+rev)
		http.Error(w, "revision not found", http.StatusNotFound)
		return
	}
	content, ok := repo.files[file]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found")
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", repo.commit)
	if repo.lfs[file] {
		sum := SHA256(content)
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(content)))
		w.Header().Set("ETag", `"`+GitSHA1([]byte("version https://git-lfs.github.com/spec/v1\noid sha256:"+sum+"\n"))+`"`)
		// Like the hub, an absolute redirect to the CDN host (here the same server).
		w.Header().Set("Location", "http://"+r.Host+"/cdn/"+sum)
		w.WriteHeader(http.StatusFound)
		return
	}
	// Like the hub, small files take a relative redirect to a commit-pinned cache path.
	w.Header().Set("Location", "/api/resolve-cache/models/"+repoID+"/"+repo.commit+"/"+file)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// serveResolveCache answers /api/resolve-cache/models/{org}/{name}/{commit}/{file...}.
func (s *Server) serveResolveCache(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/api/resolve-cache/models/"), "/", 4)
	if len(parts) != 4 {
		http.Error(w, "bad path", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	repo := s.repos[parts[0]+"/"+parts[1]]
	s.mu.Unlock()
	var content []byte
	ok := false
	if repo != nil && parts[2] == repo.commit {
		content, ok = repo.files[parts[3]]
	}
	if !ok {
		w.Header().Set("X-Error-Message", "Entry not found")
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", repo.commit)
	s.serveContent(w, r, content, `"`+GitSHA1(content)+`"`)
}

func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request) {
	// /api/models/{org}/{name}/revision/{rev}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/models/"), "/")
	if len(parts) != 4 || parts[2] != "revision" {
		http.Error(w, "bad api path", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	repo := s.repos[parts[0]+"/"+parts[1]]
	s.mu.Unlock()
	if repo == nil {
		w.Header().Set("X-Error-Message", "Repository not found")
		http.Error(w, "Repository not found", http.StatusUnauthorized)
		return
	}
	type sibling struct {
		Name string `json:"rfilename"`
	}
	info := struct {
		ID       string    `json:"id"`
		SHA      string    `json:"sha"`
		Siblings []sibling `json:"siblings"`
	}{ID: parts[0] + "/" + parts[1], SHA: repo.commit}
	for name := range repo.files {
		info.Siblings = append(info.Siblings, sibling{name})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}

// serveContent answers a GET or HEAD for content, honouring Range and the drop faults.
func (s *Server) serveContent(w http.ResponseWriter, r *http.Request, content []byte, etag string) {
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	s.mu.Lock()
	drop := -1
	if q := s.drops[r.URL.Path]; len(q) > 0 && r.Method == http.MethodGet {
		drop, s.drops[r.URL.Path] = q[0], q[1:]
	}
	s.mu.Unlock()
	if drop < 0 {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
		return
	}
	// Announce the full (remaining) length, send drop bytes, then cut the connection.
	start := 0
	if rg := r.Header.Get("Range"); rg != "" && (r.Header.Get("If-Range") == "" || r.Header.Get("If-Range") == etag) {
		if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-")); err == nil && n < len(content) {
			start = n
		}
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("downloadtest: response writer cannot be hijacked")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	if start > 0 {
		fmt.Fprintf(buf, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\n", start, len(content)-1, len(content))
	} else {
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\n")
	}
	if etag != "" {
		fmt.Fprintf(buf, "ETag: %s\r\n", etag)
	}
	fmt.Fprintf(buf, "Content-Length: %d\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n", len(content)-start)
	end := min(start+drop, len(content))
	buf.Write(content[start:end])
	buf.Flush()
}
