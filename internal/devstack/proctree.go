package devstack

// Finding and killing a process's descendants: aws-lambda-rie starts the
// function bootstrap in a process group of its own, so killing rie's group
// leaves the bootstrap running.

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Descendants lists the pids whose parent chain leads to pid, read from
// /proc. It returns nil where /proc is unavailable.
func Descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		id, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentPID(id); ok {
			children[ppid] = append(children[ppid], id)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// anyAlive reports whether any of pids is still in the process table.
func anyAlive(pids []int) bool {
	for _, pid := range pids {
		if ProcessAlive(pid) {
			return true
		}
	}
	return false
}

// killDescendants SIGKILLs every descendant of pid and the process group of
// each one that leads its own group, then gives pid up to wait to reap them,
// so that no orphan outlives it. pid itself is not signalled.
func killDescendants(pid int, wait time.Duration) {
	kids := Descendants(pid)
	for _, d := range kids {
		if pgid, err := syscall.Getpgid(d); err == nil && pgid != pid {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(wait); time.Now().Before(deadline) && anyAlive(kids); {
		time.Sleep(5 * time.Millisecond)
	}
}

// parentPID reads field 4 of /proc/<pid>/stat.
func parentPID(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is parenthesized and may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
