// Package milvustest starts and stops a real Milvus standalone server for
// tests: the milvus-server command of PyPI's milvus package (2.3.5; embedded
// etcd, local storage), on loopback, on a free port, with a data directory
// the caller chooses, so a test can stop and restart it over the same data.
package milvustest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
)

// CommandEnv names the environment variable holding the path of the
// milvus-server command (scripts/milvus-server.sh exports it).
const CommandEnv = "CLIPKIT_MILVUS_SERVER"

// Server is a running milvus-server process.
type Server struct {
	// Addr is the gRPC address, 127.0.0.1:port.
	Addr string
	// Dir is the data directory.
	Dir string
	cmd *exec.Cmd
	log *os.File
	bin string
	// ports are the embedded etcd's client and peer ports (it listens on
	// 2379/2380 unless given a config file, so two servers on one machine
	// would clash) and the internal components' ports. They are chosen once
	// and kept across restarts: Milvus registers each component's address
	// in etcd, and a restart whose components moved to other ports waits on
	// the stale addresses.
	ports map[string]int
}

// portEnv are the environment variables that set the pinned ports. Milvus
// reads its configuration keys from the environment too (proxy.port from
// PROXY_PORT, ...), ahead of the milvus.yaml the milvus-server wrapper
// writes. The ports go there rather than to the wrapper's --*-port options
// because the wrapper test-binds every port it is given without
// SO_REUSEADDR, which fails for up to a minute after a crash while the old
// connections sit in TIME_WAIT; Milvus itself binds them at once.
var portEnv = []string{"ETCD_PORT", "ETCD_PEER", "ROOTCOORD_PORT", "PROXY_INTERNALPORT", "QUERYCOORD_PORT", "QUERYNODE_PORT",
	"INDEXNODE_PORT", "DATACOORD_PORT", "DATANODE_PORT"}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs bin (the milvus-server command) with data directory dir on a
// free port and waits up to timeout until the server answers a health check.
func Start(bin, dir string, timeout time.Duration) (*Server, error) {
	// Hold every listener until all ports are chosen, so no two coincide.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	pick := func() (int, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		ls = append(ls, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	proxy, err := pick()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(proxy), Dir: dir, bin: bin, ports: map[string]int{}}
	for _, f := range portEnv {
		if s.ports[f], err = pick(); err != nil {
			return nil, err
		}
	}
	for _, l := range ls {
		l.Close()
	}
	ls = nil
	return s, s.start(timeout)
}

func (s *Server) start(timeout time.Duration) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(s.Dir, "milvus-server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	etcdConf := filepath.Join(s.Dir, "embed-etcd.yaml")
	conf := fmt.Sprintf("listen-client-urls: http://127.0.0.1:%[1]d\nadvertise-client-urls: http://127.0.0.1:%[1]d\n"+
		"listen-peer-urls: http://127.0.0.1:%[2]d\ninitial-advertise-peer-urls: http://127.0.0.1:%[2]d\n"+
		"initial-cluster: default=http://127.0.0.1:%[2]d\n", s.ports["ETCD_PORT"], s.ports["ETCD_PEER"])
	if err := os.WriteFile(etcdConf, []byte(conf), 0o644); err != nil {
		log.Close()
		return err
	}
	cmd := exec.Command(s.bin, "--data", s.Dir)
	// ETCD_CONFIG_PATH (etcd.config.path) is the embedded etcd's own config,
	// here only its ports; ETCD_ENDPOINTS tells Milvus where it listens.
	cmd.Env = append(os.Environ(), "ETCD_CONFIG_PATH="+etcdConf, "PROXY_PORT="+port,
		"ETCD_ENDPOINTS="+net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports["ETCD_PORT"])))
	// A component's etcd session outlives a crash by its TTL (default 30 s),
	// and the restarted component waits for it: 10 s keeps restarts short.
	cmd.Env = append(cmd.Env, "COMMON_SESSION_TTL=10")
	for _, e := range portEnv[2:] { // the etcd ports are in its config file
		cmd.Env = append(cmd.Env, e+"="+strconv.Itoa(s.ports[e]))
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Stop signals the whole group (the wrapper and milvus)
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("milvustest: starting %s: %w", s.bin, err)
	}
	s.cmd, s.log = cmd, log
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		select {
		case err := <-exited:
			s.cmd = nil
			log.Close()
			return fmt.Errorf("milvustest: %s exited during start-up (%v); log tail:\n%s", s.bin, err, s.LogTail(20))
		default:
		}
		if err := Healthy(ctx, s.Addr); err == nil {
			go func() { <-exited }() // reap later
			return nil
		} else if ctx.Err() == nil {
			last = err
		} else {
			s.Stop()
			return fmt.Errorf("milvustest: server at %s not healthy after %s (last answer: %v); log tail:\n%s", s.Addr, timeout, last, s.LogTail(20))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// LogTail returns the last n lines of the server's logs (its own output and
// Milvus's standalone log), for failure messages.
func (s *Server) LogTail(n int) string {
	var out []string
	for _, p := range []string{filepath.Join(s.Dir, "milvus-server.log"), filepath.Join(s.Dir, "logs", "milvus-stderr.log")} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		out = append(out, "== "+p)
		out = append(out, lines[max(0, len(lines)-n):]...)
	}
	return strings.Join(out, "\n")
}

// Healthy returns nil when the server at addr answers and reports itself healthy.
func Healthy(ctx context.Context, addr string) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := client.NewClient(cctx, client.Config{Address: addr})
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.CheckHealth(cctx)
	if err != nil {
		return err
	}
	if !st.IsHealthy {
		return fmt.Errorf("unhealthy: %v", st.Reasons)
	}
	return nil
}

// PGID is the server's process group (0 when not running): a process that
// outlives this one stops it with kill -TERM -PGID.
func (s *Server) PGID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop ends the server (SIGTERM to its process group, SIGKILL after 30 s).
func (s *Server) Stop() error { return s.signal(syscall.SIGTERM, 30*time.Second) }

// Kill ends the server abruptly (SIGKILL to its process group), as a crash would.
func (s *Server) Kill() error { return s.signal(syscall.SIGKILL, 10*time.Second) }

func (s *Server) signal(sig syscall.Signal, grace time.Duration) error {
	if s.cmd == nil {
		return nil
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, sig)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if syscall.Kill(-pgid, 0) != nil { // group gone
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if syscall.Kill(-pgid, 0) == nil {
		syscall.Kill(-pgid, syscall.SIGKILL)
		time.Sleep(time.Second)
	}
	s.cmd = nil
	s.log.Close()
	return nil
}

// Restart stops the server and starts it again on the same port and data.
func (s *Server) Restart(kill bool, timeout time.Duration) error {
	if kill {
		s.Kill()
	} else {
		s.Stop()
	}
	return s.start(timeout)
}

// ErrNoCommand means CommandEnv is not set.
var ErrNoCommand = errors.New("milvustest: " + CommandEnv + " is not set (scripts/milvus-server.sh exports it)")

// Command returns the milvus-server command from CommandEnv.
func Command() (string, error) {
	bin := os.Getenv(CommandEnv)
	if bin == "" {
		return "", ErrNoCommand
	}
	return bin, nil
}
