//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// median is the middle of xs (the mean of the two middle ones for an
// even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return float64(s[m])
	}
	return (float64(s[m-1]) + float64(s[m])) / 2
}

// row is one path's medians.
type row struct {
	name                  string
	rps64, p50_64, p99_64 float64 // req/s, ms
	rps4, p50_4, p99_4    float64
	fileMBs, upMBs        float64
	tunnelCPU, agentCPU   float64 // s per 10k small GETs
	// kioskCPU is what a path costs the small machine beside the printer:
	// the agent's CPU, and its tunnel client's where that is a process of
	// its own (frpc, chisel's client). Issue 10 bounds what the relay's
	// tunnel adds to the agent; this shows what the others add.
	kioskCPU float64
	rssMB    float64
	errors   int
	direct   bool
}

func medians(p path, fs []figures) row {
	r := row{name: p.name, direct: p.server == nil}
	pick := func(get func(figures) float64) float64 {
		var xs []float64
		for _, f := range fs {
			xs = append(xs, get(f))
		}
		return median(xs)
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 }
	r.rps64 = pick(func(f figures) float64 { return f.small64.perSec })
	r.p50_64 = pick(func(f figures) float64 { return ms(f.small64.p50) })
	r.p99_64 = pick(func(f figures) float64 { return ms(f.small64.p99) })
	r.rps4 = pick(func(f figures) float64 { return f.small4.perSec })
	r.p50_4 = pick(func(f figures) float64 { return ms(f.small4.p50) })
	r.p99_4 = pick(func(f figures) float64 { return ms(f.small4.p99) })
	r.fileMBs = pick(func(f figures) float64 { return f.fileMBs })
	r.upMBs = pick(func(f figures) float64 { return f.upMBs })
	r.tunnelCPU = pick(func(f figures) float64 { return f.tunnelCPU.Seconds() })
	r.agentCPU = pick(func(f figures) float64 { return f.agentCPU.Seconds() })
	r.kioskCPU = pick(func(f figures) float64 { return (f.agentCPU + f.clientCPU).Seconds() })
	r.rssMB = pick(func(f figures) float64 { return float64(f.serverRSS) / (1 << 20) })
	for _, f := range fs {
		r.errors += f.errors
	}
	return r
}

// chisel is issue 10's row for chisel 1.11, quoted as the issue measured
// it, on a machine then about twice as fast as this one: the goals were
// set against it. The measured chisel row (scripts/chiselbench) is the one
// to compare with.
var chisel = row{name: "chisel 1.11 (issue 10, quoted)", rps64: 22804, p50_64: 2.39, p99_64: 8.24, rps4: 13384, fileMBs: 276, tunnelCPU: 0.359, agentCPU: 0.261}

// overhead is agentOverhead's pairs; none leaves its line out.
func printTable(w io.Writer, paths []path, results [][]figures, overhead []time.Duration) {
	rows := make([]row, len(paths))
	for i, p := range paths {
		rows[i] = medians(p, results[i])
	}
	fmt.Fprintln(w, "| path | small GET, 64 conns, req/s | p50 / p99 ms | small GET, 4 conns, req/s | p50 / p99 ms | 4.5 MB GET, 8 conns, MB/s | 5 MB upload, 4 conns, MB/s | tunnel CPU per 10k small GETs | agent CPU per 10k | kiosk CPU per 10k (agent + tunnel client), over direct | tunnel server RSS peak | errors |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range append(rows, chisel) {
		fmt.Fprintln(w, r.markdown(rows[0].agentCPU))
	}
	// Ratios of the relay (rows[1]) to each other path.
	relay := rows[1]
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| casefleet relay vs | small 64 req/s | p50 / p99 (64) | small 4 req/s | p50 / p99 (4) | 4.5 MB GET | 5 MB upload | tunnel CPU | agent CPU | kiosk CPU |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, o := range append(slices.Delete(slices.Clone(rows), 1, 2), chisel) {
		fmt.Fprintf(w, "| %s | %s | %s / %s | %s | %s / %s | %s | %s | %s | %s | %s |\n", o.name,
			ratio(relay.rps64, o.rps64), ratio(relay.p50_64, o.p50_64), ratio(relay.p99_64, o.p99_64),
			ratio(relay.rps4, o.rps4), ratio(relay.p50_4, o.p50_4), ratio(relay.p99_4, o.p99_4),
			ratio(relay.fileMBs, o.fileMBs), ratio(relay.upMBs, o.upMBs),
			ratio(relay.tunnelCPU, o.tunnelCPU), ratio(relay.agentCPU, o.agentCPU), ratio(relay.kioskCPU, o.kioskCPU))
	}
	if len(overhead) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, overheadLine(overhead))
	}
	byKey := map[string]row{}
	for i, p := range paths {
		byKey[p.key] = rows[i]
	}
	fmt.Fprintln(w)
	printGoals(w, goals(byKey, overhead))
}

// overheadLine tells the agent's tunnel overhead from back-to-back pairs
// (see agentOverhead): their median and range.
func overheadLine(diffs []time.Duration) string {
	s := make([]float64, len(diffs))
	for i, d := range diffs {
		s[i] = d.Seconds()
	}
	return fmt.Sprintf("the agent's tunnel overhead per 10k small GETs (its CPU through the relay minus direct, %d back-to-back pairs): median %.3f s (%.3f to %.3f s)",
		len(s), median(s), slices.Min(s), slices.Max(s))
}

// markdown is r as a table row; direct is the agent's CPU per 10k
// reached directly, which the kiosk's CPU is set against.
func (r row) markdown(direct float64) string {
	dash := func(v float64, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	tunnelCPU := dash(r.tunnelCPU, "%.3f s")
	if r.direct {
		tunnelCPU = "-"
	}
	kiosk := "-"
	if !r.direct && r.kioskCPU > 0 && direct > 0 {
		kiosk = fmt.Sprintf("%.3f s (%+.3f s)", r.kioskCPU, r.kioskCPU-direct)
	}
	lat4 := "-"
	if r.p50_4 > 0 {
		lat4 = fmt.Sprintf("%.2f / %.2f", r.p50_4, r.p99_4)
	}
	return fmt.Sprintf("| %s | %s | %.2f / %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
		r.name, thousands(r.rps64), r.p50_64, r.p99_64, thousands(r.rps4), lat4,
		thousands(r.fileMBs), dash(r.upMBs, "%.0f"), tunnelCPU, dash(r.agentCPU, "%.3f s"),
		kiosk, dash(r.rssMB, "%.0f MB"), errorsCell(r))
}

func errorsCell(r row) string {
	if r.name == chisel.name {
		return "-"
	}
	return fmt.Sprint(r.errors)
}

// ratio is a / b as "1.23x", or "-" when either is unknown.
func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// thousands formats v rounded, with commas: 14610 -> "14,610".
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
