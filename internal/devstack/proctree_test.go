package devstack

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// A shell starts a sleeper in a process group of its own, as rie does with
// the bootstrap; killing the descendants must reach it.
func TestKillDescendantsReachesOtherGroups(t *testing.T) {
	cmd := exec.Command("sh", "-c", "setsid sleep 60 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }()
	var kids []int
	for deadline := time.Now().Add(5 * time.Second); len(kids) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		kids = Descendants(cmd.Process.Pid)
	}
	if len(kids) == 0 {
		t.Fatal("the sleeper never showed up as a descendant")
	}
	killDescendants(cmd.Process.Pid, 2*time.Second)
	if err := cmd.Wait(); err != nil && !isExit(err) {
		t.Fatal(err)
	}
	if anyAlive(kids) {
		t.Fatalf("descendants %v survived", kids)
	}
}

func isExit(err error) bool {
	_, ok := err.(*exec.ExitError)
	return ok
}
