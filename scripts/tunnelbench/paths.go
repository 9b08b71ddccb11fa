//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// path is one way to the agent.
type path struct {
	key    string // for --only
	name   string
	url    string
	host   string // Host header (frp's vhost); empty: the URL's
	server *proc  // the tunnel's server process (relay, frps); nil direct
	client *proc  // the tunnel's client process (the agent itself, frpc); nil with no tunnel
}

// figures are one round's measurements of one path.
type figures struct {
	small64, small4 wrkResult
	fileMBs, upMBs  float64
	tunnelCPU       time.Duration // per 10k small GETs: server and client (frpc; for the relay, only the relay)
	agentCPU        time.Duration // per 10k small GETs
	clientCPU       time.Duration // per 10k small GETs: the tunnel's client beside the agent (frpc), if not the agent
	serverRSS       int64         // peak during the round
	errors          int
}

type bench struct {
	opt                  options
	agent                *proc
	file                 string
	fileSize, uploadSize int
	uploadLua            string
}

func (b bench) measure(ctx context.Context, p path) (figures, error) {
	var f figures
	var pids []int
	if p.server != nil {
		pids = append(pids, p.server.Cmd.Process.Pid)
	}
	stopRSS := peakRSS(pids)
	run := func(url string, threads, conns int, script string) (wrkResult, error) {
		r, err := wrkRun{url: p.url + url, host: p.host, threads: threads, conns: conns, d: b.opt.duration, script: script}.run(ctx)
		f.errors += r.errors
		if r.errors > 0 {
			slog.Warn("errors", "path", p.name, "url", url, "conns", conns, "errors", r.errors, "requests", r.requests)
		}
		return r, err
	}
	var err error
	if f.small64, err = run(statusPath, 2, 64, ""); err != nil {
		return f, err
	}
	if f.small4, err = run(statusPath, 1, 4, ""); err != nil {
		return f, err
	}
	large, err := run(b.file, 2, 8, "")
	if err != nil {
		return f, err
	}
	f.fileMBs = large.perSec * float64(b.fileSize) / 1e6
	up, err := run(apiPath+"/print", 1, 4, b.uploadLua)
	if err != nil {
		return f, err
	}
	f.upMBs = up.perSec * float64(b.uploadSize) / 1e6

	// A fixed count of small GETs (16 connections), and the CPU the
	// processes spent meanwhile.
	procs := []*proc{b.agent}
	if p.server != nil {
		procs = append(procs, p.server)
	}
	ownClient := p.client != nil && p.client != b.agent
	if ownClient {
		procs = append(procs, p.client)
	}
	cpu, err := b.cpuPer10k(ctx, p, procs)
	if err != nil {
		return f, err
	}
	f.agentCPU = cpu[0]
	for _, d := range cpu[1:] {
		f.tunnelCPU += d
	}
	if ownClient {
		f.clientCPU = cpu[len(cpu)-1]
	}
	if peaks := stopRSS(); len(peaks) > 0 {
		f.serverRSS = peaks[0]
	}
	return f, nil
}

func cpuTimes(procs []*proc) ([]time.Duration, error) {
	var ts []time.Duration
	for _, p := range procs {
		t, err := cpuTime(p.Cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("CPU time of %s: %w", p.Name, err)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// countGETs sends exactly n GETs of url over conns keep-alive
// connections, and returns n once all are answered 200.
func countGETs(ctx context.Context, url, host string, n, conns int) (int, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var g errgroup.Group
	for range conns {
		g.Go(func() error {
			for next.Add(1) <= int64(n) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					return err
				}
				if host != "" {
					req.Host = host
				}
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
				}
			}
			return nil
		})
	}
	return n, g.Wait()
}

// contentLength is the size of what url serves.
func contentLength(ctx context.Context, url string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return int(n), nil
}

func (b bench) smallSize(ctx context.Context, base string) int {
	n, _ := contentLength(ctx, base+statusPath)
	return n
}

// cpuPer10k sends the bench's count of small GETs over p (16
// connections) and returns the CPU each of procs spent meanwhile, per 10k.
func (b bench) cpuPer10k(ctx context.Context, p path, procs []*proc) ([]time.Duration, error) {
	before, err := cpuTimes(procs)
	if err != nil {
		return nil, err
	}
	n, err := countGETs(ctx, p.url+statusPath, p.host, b.opt.count, 16)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	after, err := cpuTimes(procs)
	if err != nil {
		return nil, err
	}
	per10k := make([]time.Duration, len(procs))
	for i := range procs {
		per10k[i] = time.Duration(float64(after[i]-before[i]) * 10000 / float64(n))
	}
	return per10k, nil
}

// agentOverhead measures the agent's CPU for the same count of small GETs
// directly and through the relay, back to back, pairs times (which goes
// first alternates), and returns each pair's difference per 10k. Taken
// from the rounds, the two figures were measured a minute or more apart
// and drifted with the machine's load by more than the difference.
func (b bench) agentOverhead(ctx context.Context, direct, relay path, pairs int) ([]time.Duration, error) {
	ways := [2]path{direct, relay}
	var diffs []time.Duration
	for i := range pairs {
		var cpu [2]time.Duration
		for j := range 2 {
			k := (i + j) % 2
			c, err := b.cpuPer10k(ctx, ways[k], []*proc{b.agent})
			if err != nil {
				return nil, err
			}
			cpu[k] = c[0]
		}
		diffs = append(diffs, cpu[1]-cpu[0])
	}
	return diffs, nil
}
