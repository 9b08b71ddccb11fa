//go:build linux

package main

import (
	"fmt"
	"io"
	"time"
)

// goal is one of issue 10's targets for the relay, checked against one
// run's medians.
type goal struct {
	name     string
	measured string // what the run gave; "not measured" without the paths it needs
	met      bool
	known    bool // the paths it needs were measured
}

// maxAgentOverhead is issue 10's bound on what the tunnel adds to the
// agent's CPU per 10k small GETs, over the agent reached directly.
const maxAgentOverhead = 50 * time.Millisecond

// goals checks issue 10's targets that this bench measures (idle memory
// per tunnel is scripts/bench's, the protocol's guarantees are tests).
// rows are keyed by path key; overhead is agentOverhead's pairs.
func goals(rows map[string]row, overhead []time.Duration) []goal {
	relay, haveRelay := rows["relay"]
	direct, haveDirect := rows["direct"]
	chisel, haveChisel := rows["chisel"]
	frp, haveFRP := rows["frp-tcp"]
	check := func(name string, have bool, met func() bool, measured func() string) goal {
		if !have {
			return goal{name: name, measured: "not measured"}
		}
		return goal{name: name, measured: measured(), met: met(), known: true}
	}
	x := func(a, b float64) string { return fmt.Sprintf("%.2fx", a/b) }
	return []goal{
		check("small GET, 64 connections: >= 1.2x chisel's req/s", haveRelay && haveChisel,
			func() bool { return relay.rps64 >= 1.2*chisel.rps64 },
			func() string { return x(relay.rps64, chisel.rps64) }),
		check("small GET, 4 connections: p50 and p99 no worse than chisel's", haveRelay && haveChisel,
			func() bool { return relay.p50_4 <= chisel.p50_4 && relay.p99_4 <= chisel.p99_4 },
			func() string {
				return fmt.Sprintf("%.2f / %.2f ms against %.2f / %.2f", relay.p50_4, relay.p99_4, chisel.p50_4, chisel.p99_4)
			}),
		check("4.5 MB GET: >= 1.2x frp-tcp and >= 0.5x direct", haveRelay && haveFRP && haveDirect,
			func() bool { return relay.fileMBs >= 1.2*frp.fileMBs && relay.fileMBs >= 0.5*direct.fileMBs },
			func() string { return x(relay.fileMBs, frp.fileMBs) + " and " + x(relay.fileMBs, direct.fileMBs) }),
		check("5 MB upload: >= 1.2x frp-tcp and >= 0.5x direct", haveRelay && haveFRP && haveDirect,
			func() bool { return relay.upMBs >= 1.2*frp.upMBs && relay.upMBs >= 0.5*direct.upMBs },
			func() string { return x(relay.upMBs, frp.upMBs) + " and " + x(relay.upMBs, direct.upMBs) }),
		check("relay CPU per 10k small GETs <= chisel's server and client", haveRelay && haveChisel,
			func() bool { return relay.tunnelCPU <= chisel.tunnelCPU },
			func() string { return fmt.Sprintf("%.3f s against %.3f s", relay.tunnelCPU, chisel.tunnelCPU) }),
		check("the agent's tunnel overhead <= 0.05 s per 10k small GETs", len(overhead) > 0,
			func() bool { return medianDuration(overhead) <= maxAgentOverhead },
			func() string {
				return fmt.Sprintf("%.3f s (median of %d pairs)", medianDuration(overhead).Seconds(), len(overhead))
			}),
		check("relay RSS under load under frps's", haveRelay && haveFRP,
			func() bool { return relay.rssMB < frp.rssMB },
			func() string { return fmt.Sprintf("%.0f MB against %.0f MB", relay.rssMB, frp.rssMB) }),
	}
}

func medianDuration(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}

// printGoals writes the goals as a Markdown table.
func printGoals(w io.Writer, gs []goal) {
	fmt.Fprintln(w, "| issue 10 goal | this run | met |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, g := range gs {
		met := "-"
		if g.known {
			met = "no"
			if g.met {
				met = "yes"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", g.name, g.measured, met)
	}
}
