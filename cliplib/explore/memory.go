package explore

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is the memory use of this process as the Linux kernel reports it (/proc/self/status).
type Memory struct {
	RSS  int64 // resident set size now, bytes (VmRSS)
	Peak int64 // largest resident set size so far, bytes (VmHWM)
}

// ProcessMemory reads the current and peak resident memory of this process. It needs Linux's
// /proc; elsewhere it returns an error.
func ProcessMemory() (Memory, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return Memory{}, fmt.Errorf("reading process memory (Linux /proc only): %w", err)
	}
	return parseStatus(data)
}

// parseStatus extracts VmRSS and VmHWM (in kB) from the text of /proc/<pid>/status.
func parseStatus(data []byte) (Memory, error) {
	var m Memory
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("process status: unexpected %s line %q (want \"<n> kB\")", key, val)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("process status: %s: %w", key, err)
		}
		if key == "VmRSS" {
			m.RSS = n * 1024
		} else {
			m.Peak = n * 1024
		}
		found++
	}
	if found != 2 {
		return Memory{}, fmt.Errorf("process status: VmRSS and VmHWM not both found")
	}
	return m, nil
}
