//go:build linux

// Command tunnelbench (Linux: it reads /proc) puts the relay's data path beside the tunnels
// people would pick instead, on loopback, and prints a Markdown table
// with ratios: the same real agent process reached directly (its LAN
// port), through casefleet-relay, and through frp (frps and frpc, built
// from the Go module proxy at the exact version of scripts/frpbench's
// go.mod) in its tcp and http vhost modes, through chisel, and through
// a stock Go reverse proxy with no tunnel (the reference for what reading
// each request as HTTP costs; see runRefProxy).
//
// For each path, in rounds that take the paths in turn (so that a
// neighbour's load on this machine falls on all of them): wrk's small GET
// (the machine's status) at 64 and at 4 connections (req/s, p50, p99),
// the print file (a 4.5 MB TIFF) at 8 connections and the phone's 5 MB
// upload at 4 (MB/s, 1 MB = 10^6 bytes); then a fixed count of small GETs
// (from Go, 16 connections) with the CPU that the tunnel's processes and
// the agent spent on them, from /proc; and the tunnel server's peak resident memory. The table
// shows the median of the rounds, and under it issue 10's goals for the
// relay, each checked against this run (see goals).
//
// chisel (its server and client, SSH over a WebSocket) is built the same
// way at the exact version of scripts/chiselbench's go.mod. Issue 10's
// figures for it, from another machine, are quoted beside the table.
//
// With --pin the agent and the tunnel clients beside it (frpc, chisel's
// client) run on the last CPU and everything else on the others, as on a
// kiosk and a cloud host (see placement).
//
// Every run is bounded in time; the processes die with the bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

type options struct {
	bin       string
	frpDir    string
	chiselDir string
	rounds    int
	duration  time.Duration
	count     int
	pairs     int
	keep      bool
	only      string
	pin       bool
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == refProxyCommand {
		if err := runRefProxy(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "tunnelbench", refProxyCommand+":", err)
			os.Exit(1)
		}
		return
	}
	var opt options
	flag.StringVar(&opt.bin, "bin", "bin", "directory of casefleet-relay, casefleet-agent and chitusim")
	flag.StringVar(&opt.frpDir, "frp-dir", "scripts/frpbench", "the bench module that pins frp's version")
	flag.StringVar(&opt.chiselDir, "chisel-dir", "scripts/chiselbench", "the bench module that pins chisel's version")
	flag.IntVar(&opt.rounds, "rounds", 3, "rounds over all paths; the table shows medians")
	flag.DurationVar(&opt.duration, "duration", 5*time.Second, "how long each wrk run lasts")
	flag.IntVar(&opt.count, "count", 10000, "small GETs of the CPU figure")
	flag.IntVar(&opt.pairs, "pairs", 5, "back-to-back direct and relay pairs of the agent's tunnel overhead")
	flag.BoolVar(&opt.keep, "keep", false, "keep the working directory (logs)")
	flag.BoolVar(&opt.pin, "pin", false, "the agent and the tunnel clients beside it on the last CPU, the rest on the others, as on two hosts")
	flag.StringVar(&opt.only, "only", "", "measure only these paths (comma-separated: direct, relay, frp-http, frp-tcp, chisel, goproxy); the table needs direct and relay")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := run(ctx, opt); err != nil {
		fmt.Fprintln(os.Stderr, "tunnelbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opt options) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is needed (Debian: apt-get install wrk): %w", err)
	}
	dir, err := os.MkdirTemp("", "casefleet-tunnelbench")
	if err != nil {
		return err
	}
	if opt.keep {
		fmt.Fprintln(os.Stderr, "working directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	frpBin := filepath.Join(dir, "frp")
	version, err := buildBenchModule(ctx, opt.frpDir, frpBin, "github.com/fatedier/frp",
		"github.com/fatedier/frp/cmd/frps", "github.com/fatedier/frp/cmd/frpc")
	if err != nil {
		return err
	}
	chiselBin := filepath.Join(dir, "chisel")
	chiselVersion, err := buildBenchModule(ctx, opt.chiselDir, chiselBin, "github.com/jpillora/chisel", "github.com/jpillora/chisel")
	if err != nil {
		return err
	}
	var place placement
	if opt.pin {
		if place, err = pinPlacement(); err != nil {
			return err
		}
	}
	s, err := startSystem(ctx, opt.bin, frpBin, chiselBin, dir, place)
	if err != nil {
		return fmt.Errorf("%w (logs in %s)", err, dir)
	}
	defer s.Stop()
	up, filePath, err := placeOrder(ctx, s)
	if err != nil {
		return err
	}
	fileSize, err := contentLength(ctx, s.LANURL+filePath)
	if err != nil {
		return err
	}
	uploadLua, err := writeUploadScript(dir, up)
	if err != nil {
		return err
	}

	var paths []path
	for _, p := range []path{
		{key: "direct", name: "direct to the agent", url: s.LANURL},
		{key: "relay", name: "casefleet relay", url: s.RelayURL, server: s.Relay, client: s.Agent},
		{key: "frp-http", name: "frp " + version + " (http vhost)", url: s.frpHTTP, host: frpHost, server: s.frps, client: s.frpc},
		{key: "frp-tcp", name: "frp " + version + " (tcp)", url: s.frpTCP, server: s.frps, client: s.frpc},
		{key: "chisel", name: "chisel " + chiselVersion, url: s.chisel, server: s.chiselS, client: s.chiselC},
		{key: "goproxy", name: "Go reverse proxy, no tunnel (reference)", url: s.refURL, server: s.ref},
	} {
		if opt.only == "" || slices.Contains(strings.Split(opt.only, ","), p.key) {
			paths = append(paths, p)
		}
	}
	if len(paths) < 2 || paths[0].key != "direct" || paths[1].key != "relay" {
		return fmt.Errorf("--only %q: the table needs direct and relay", opt.only)
	}
	b := bench{
		opt: opt, agent: s.Agent, file: filePath, fileSize: fileSize, uploadSize: len(up.body),
		uploadLua: uploadLua,
	}
	results := make([][]figures, len(paths))
	for round := range opt.rounds {
		for i := range paths {
			p := (i + round) % len(paths) // a different path first each round
			slog.Info("bench", "round", round+1, "path", paths[p].name)
			f, err := b.measure(ctx, paths[p])
			if err != nil {
				return fmt.Errorf("%s: %w", paths[p].name, err)
			}
			if err := s.Exited(); err != nil {
				return err
			}
			results[p] = append(results[p], f)
		}
	}
	overhead, err := b.agentOverhead(ctx, paths[0], paths[1], opt.pairs)
	if err != nil {
		return fmt.Errorf("the agent's tunnel overhead: %w", err)
	}
	fmt.Printf("loopback, %d rounds (medians), wrk, %d-byte status, %.2f MB print file, %.2f MB upload; %s; load average before: %s\n\n",
		opt.rounds, b.smallSize(ctx, s.LANURL), float64(fileSize)/1e6, float64(len(up.body))/1e6, place, loadAverage())
	printTable(os.Stdout, paths, results, overhead)
	return nil
}

// buildBenchModule builds pkgs at the version of module that dir's
// go.mod requires (a module of its own: the product's go.mod does not
// change), into out, and returns that version without its "v".
func buildBenchModule(ctx context.Context, dir, out, module string, pkgs ...string) (string, error) {
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", out + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir, cmd.Env = dir, env
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s in %s: %w\n%s", module, dir, err, b)
	}
	cmd = exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", module)
	cmd.Dir, cmd.Env = dir, env
	v, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s's version in %s: %w", module, dir, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), nil
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) < 14 {
		return "?"
	}
	return string(b[:14])
}
