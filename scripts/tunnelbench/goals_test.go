//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

// allMet is a run in which the relay meets every goal, some exactly.
func allMet() map[string]row {
	return map[string]row{
		"direct":  {rps64: 50000, fileMBs: 3000, upMBs: 800},
		"relay":   {rps64: 24000, p50_4: 0.30, p99_4: 1.50, fileMBs: 1500, upMBs: 600, tunnelCPU: 0.45, rssMB: 55},
		"chisel":  {rps64: 20000, p50_4: 0.30, p99_4: 1.60, tunnelCPU: 0.45},
		"frp-tcp": {fileMBs: 1250, upMBs: 450, rssMB: 130},
	}
}

func TestGoalsAreCheckedAgainstTheRun(t *testing.T) {
	ms := time.Millisecond
	met := []time.Duration{40 * ms, 50 * ms, 60 * ms}
	for _, g := range goals(allMet(), met) {
		if !g.known || !g.met {
			t.Errorf("%s: %+v, want met", g.name, g)
		}
	}

	tests := []struct {
		goal  string // the start of the goal that fails
		spoil func(map[string]row)
	}{
		{"small GET, 64", func(r map[string]row) { r["relay"] = with(r["relay"], func(x *row) { x.rps64 = 23999 }) }},
		{"small GET, 4", func(r map[string]row) { r["relay"] = with(r["relay"], func(x *row) { x.p50_4 = 0.31 }) }},
		{"small GET, 4", func(r map[string]row) { r["relay"] = with(r["relay"], func(x *row) { x.p99_4 = 1.61 }) }},
		{"4.5 MB GET", func(r map[string]row) { r["frp-tcp"] = with(r["frp-tcp"], func(x *row) { x.fileMBs = 1251 }) }},
		{"4.5 MB GET", func(r map[string]row) { r["direct"] = with(r["direct"], func(x *row) { x.fileMBs = 3001 }) }},
		{"5 MB upload", func(r map[string]row) { r["direct"] = with(r["direct"], func(x *row) { x.upMBs = 1201 }) }},
		{"relay CPU", func(r map[string]row) { r["relay"] = with(r["relay"], func(x *row) { x.tunnelCPU = 0.46 }) }},
		{"relay RSS", func(r map[string]row) { r["relay"] = with(r["relay"], func(x *row) { x.rssMB = 130 }) }},
	}
	for _, tt := range tests {
		rows := allMet()
		tt.spoil(rows)
		for _, g := range goals(rows, met) {
			if fails := strings.HasPrefix(g.name, tt.goal); g.met == fails {
				t.Errorf("spoiling %q: %s met = %v", tt.goal, g.name, g.met)
			}
		}
	}

	over := []time.Duration{40 * ms, 60 * ms, 70 * ms}
	for _, g := range goals(allMet(), over) {
		if fails := strings.HasPrefix(g.name, "the agent's tunnel overhead"); g.met == fails {
			t.Errorf("overhead 0.06 s: %s met = %v (%s)", g.name, g.met, g.measured)
		}
	}
}

func TestGoalsWithoutTheirPathsAreNotMeasured(t *testing.T) {
	rows := allMet()
	delete(rows, "chisel")
	var out strings.Builder
	printGoals(&out, goals(rows, nil))
	for _, g := range []string{"64 connections", "4 connections", "relay CPU", "tunnel overhead"} {
		line := lineWith(out.String(), g)
		if !strings.HasSuffix(line, "| not measured | - |") {
			t.Errorf("without chisel or pairs, the %q goal reads %q", g, line)
		}
	}
	if line := lineWith(out.String(), "4.5 MB GET"); !strings.HasSuffix(line, "| 1.20x and 0.50x | yes |") {
		t.Errorf("the print-file goal reads %q", line)
	}
}

func with(r row, change func(*row)) row {
	change(&r)
	return r
}

func lineWith(s, sub string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}
