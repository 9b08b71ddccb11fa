//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	requests int
	elapsed  time.Duration
	perSec   float64
	p50, p99 time.Duration
	errors   int // non-2xx answers and socket errors
}

var (
	wrkDone    = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m),`)
	wrkPerSec  = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk's report (with --latency).
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkDone.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("no request count in wrk's output")
	}
	r.requests, _ = strconv.Atoi(m[1])
	r.elapsed = duration(m[2], m[3])
	if m := wrkPerSec.FindStringSubmatch(out); m != nil {
		r.perSec, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range wrkPct.FindAllStringSubmatch(out, -1) {
		if m[1] == "50" {
			r.p50 = duration(m[2], m[3])
		} else {
			r.p99 = duration(m[2], m[3])
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		r.errors += n
	}
	if m := wrkSockErr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			r.errors += n
		}
	}
	return r, nil
}

func duration(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "us":
		return time.Duration(f * float64(time.Microsecond))
	case "ms":
		return time.Duration(f * float64(time.Millisecond))
	case "m":
		return time.Duration(f * float64(time.Minute))
	default:
		return time.Duration(f * float64(time.Second))
	}
}

// wrkRun is one run of wrk against a path.
type wrkRun struct {
	url     string
	host    string // Host header, for frp's http vhost
	threads int
	conns   int
	d       time.Duration
	script  string // a Lua script, or none
}

func (w wrkRun) run(ctx context.Context) (wrkResult, error) {
	args := []string{"-t", strconv.Itoa(w.threads), "-c", strconv.Itoa(w.conns), "-d", fmt.Sprintf("%ds", int(w.d.Seconds())), "--latency", "--timeout", "10s"}
	if w.host != "" {
		args = append(args, "-H", "Host: "+w.host)
	}
	if w.script != "" {
		args = append(args, "-s", w.script)
	}
	args = append(args, w.url)
	ctx, cancel := context.WithTimeout(ctx, w.d+time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return r, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return r, nil
}

// Lua scripts for wrk.
const (
	// uploadScript posts the bench's order again.
	uploadScript = `wrk.method = "POST"
local f = assert(io.open(%q, "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = %q
wrk.headers["Idempotency-Key"] = %q
`
)

// writeUploadScript writes the upload's body and the wrk script that
// posts it.
func writeUploadScript(dir string, up upload) (string, error) {
	body, err := writeFile(dir, "upload.body", up.body)
	if err != nil {
		return "", err
	}
	return writeFile(dir, "upload.lua", fmt.Appendf(nil, uploadScript, body, up.contentType, up.key))
}

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times
// (100 on Linux's every architecture that the bench runs on).
const clockTicks = 100

// cpuTime is the CPU (user and system) a process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime from a /proc/PID/stat line. The
// command name, in parentheses, may hold spaces: fields count from after it.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name in /proc stat")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	// After the name: state is field 3 of the line, utime 14, stime 15.
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// rss is a process's resident memory in bytes.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// peakRSS samples the processes' resident memory every 100 ms until
// stop is called, which returns the largest seen of each.
func peakRSS(pids []int) (stop func() []int64) {
	peaks := make([]int64, len(pids))
	var mu sync.Mutex
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() {
		mu.Lock()
		for i, pid := range pids {
			peaks[i] = max(peaks[i], rss(pid))
		}
		mu.Unlock()
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() []int64 {
		close(done)
		<-finished
		sample()
		return peaks
	}
}
