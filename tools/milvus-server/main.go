// Command milvus-server starts a real Milvus standalone server for tests
// and benchmarks and leaves it running (package milvustest: loopback, free
// ports, the data directory given, a health check before it returns), or
// stops one it started. scripts/milvus-server.sh is its front end.
//
//	go run ./tools/milvus-server start DIR [TIMEOUT]   # prints CLIPKIT_MILVUS_ADDR=host:port
//	go run ./tools/milvus-server stop DIR
//
// start writes DIR/env (shell variable assignments: CLIPKIT_MILVUS_ADDR,
// CLIPKIT_MILVUS_SERVER, CLIPKIT_MILVUS_PGID) and stop reads it.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clipkit/clipkit/cliplib/search/milvus/milvustest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "milvus-server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: milvus-server start DIR [TIMEOUT] | stop DIR")
	}
	dir, err := filepath.Abs(args[1])
	if err != nil {
		return err
	}
	envFile := filepath.Join(dir, "env")
	switch args[0] {
	case "start":
		timeout := 3 * time.Minute
		if len(args) > 2 {
			if timeout, err = time.ParseDuration(args[2]); err != nil {
				return fmt.Errorf("timeout %q: %w", args[2], err)
			}
		}
		bin, err := milvustest.Command()
		if err != nil {
			return err
		}
		start := time.Now()
		srv, err := milvustest.Start(bin, filepath.Join(dir, "data"), timeout)
		if err != nil {
			return err
		}
		env := fmt.Sprintf("CLIPKIT_MILVUS_ADDR=%s\nCLIPKIT_MILVUS_SERVER=%s\nCLIPKIT_MILVUS_PGID=%d\n", srv.Addr, bin, srv.PGID())
		if err := os.WriteFile(envFile, []byte(env), 0o644); err != nil {
			srv.Stop()
			return err
		}
		fmt.Fprintf(os.Stderr, "milvus-server: healthy at %s after %.1fs (data %s)\n", srv.Addr, time.Since(start).Seconds(), dir)
		fmt.Print(env)
		return nil
	case "stop":
		f, err := os.Open(envFile)
		if err != nil {
			return fmt.Errorf("no server started in %s: %w", dir, err)
		}
		defer f.Close()
		pgid := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "CLIPKIT_MILVUS_PGID="); ok {
				pgid, _ = strconv.Atoi(v)
			}
		}
		if pgid <= 1 {
			return fmt.Errorf("%s names no process group", envFile)
		}
		syscall.Kill(-pgid, syscall.SIGTERM)
		for range 75 { // 15 s for a graceful stop, then SIGKILL
			if syscall.Kill(-pgid, 0) != nil {
				os.Remove(envFile)
				return nil
			}
			time.Sleep(200 * time.Millisecond)
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
		os.Remove(envFile)
		return nil
	}
	return fmt.Errorf("unknown action %q (want start or stop)", args[0])
}
