package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
)

// placement is where the bench's processes run. By default anywhere: on
// a small machine the relay, the agent, the other tunnels and the load
// generator then share every core, and each process's CPU per request
// grows with the others' load. With --pin the kiosk's side (the agent and
// the tunnel clients beside it: frpc, chisel's client) gets the last CPU
// to itself and the cloud's side (the relay, frps, chisel's server, wrk
// and the bench's own client) the others, as on two hosts.
type placement struct {
	kiosk, cloud string // taskset CPU lists; empty: anywhere
}

// pinPlacement splits the CPUs and moves this process, and so what it
// starts from now on, to the cloud's.
func pinPlacement() (placement, error) {
	n := runtime.NumCPU()
	if n < 2 {
		return placement{}, fmt.Errorf("--pin needs 2 CPUs, this machine has %d", n)
	}
	p := placement{kiosk: strconv.Itoa(n - 1), cloud: "0"}
	if n > 2 {
		p.cloud += "-" + strconv.Itoa(n-2)
	}
	out, err := exec.Command("taskset", "--all-tasks", "--pid", "--cpu-list", p.cloud, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return placement{}, fmt.Errorf("taskset (util-linux): %w: %s", err, out)
	}
	runtime.GOMAXPROCS(n - 1)
	return p, nil
}

// onKiosk is path and args, started on the kiosk's CPU if it has one.
// The Go programs started so size their schedulers to it.
func (p placement) onKiosk(path string, args ...string) (string, []string) {
	if p.kiosk == "" {
		return path, args
	}
	return "taskset", append([]string{"--cpu-list", p.kiosk, path}, args...)
}

func (p placement) String() string {
	if p.kiosk == "" {
		return "every process on any CPU"
	}
	return fmt.Sprintf("pinned: the kiosk's side (agent, frpc, chisel client) on CPU %s, the rest on CPU %s", p.kiosk, p.cloud)
}
