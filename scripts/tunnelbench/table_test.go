//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

const wrkOutput = `Running 5s test @ http://127.0.0.1:8080/api/chitu/machine/CT0700026/status
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.92ms    2.10ms  40.00ms   80.00%
  Latency Distribution
     50%    3.92ms
     75%    4.80ms
     90%    6.00ms
     99%   11.39ms
  73050 requests in 5.00s, 20.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  14610.00
Transfer/sec:      4.00MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{requests: 73050, elapsed: 5 * time.Second, perSec: 14610, p50: 3920 * time.Microsecond, p99: 11390 * time.Microsecond, errors: 7}
	if r != want {
		t.Errorf("parseWrk = %+v, want %+v", r, want)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Error("parseWrk took an output without a request count")
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis in it.
	stat := "4242 (casefleet (x) relay) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 9 0 100 0 0"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3800*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 3.8s (250 + 130 ticks)", got, err)
	}
}

func TestMedianAndFormatting(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median of 3 = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of 4 = %v", m)
	}
	if s := thousands(14610.4); s != "14,610" {
		t.Errorf("thousands = %q", s)
	}
	if s := ratio(1.2, 1); s != "1.20x" || ratio(0, 1) != "-" {
		t.Errorf("ratio = %q", s)
	}
	if !strings.Contains(chisel.markdown(0.3), "22,804") {
		t.Errorf("chisel's row lost its figures: %s", chisel.markdown(0.3))
	}
}

func TestKioskCPUCountsTheTunnelClientBesideTheAgent(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	tcp := path{name: "frp (tcp)", server: &proc{}, client: &proc{}}
	r := medians(tcp, []figures{
		{agentCPU: 400 * ms, clientCPU: 200 * ms},
		{agentCPU: 500 * ms, clientCPU: 300 * ms},
		{agentCPU: 1 * s, clientCPU: 1 * s},
	})
	if r.kioskCPU != 0.8 {
		t.Errorf("kiosk CPU = %v, want 0.8 (the median of the agent's and frpc's sums)", r.kioskCPU)
	}
	if got, want := r.markdown(0.5), "| 0.800 s (+0.300 s) |"; !strings.Contains(got, want) {
		t.Errorf("row = %s, want the kiosk's CPU and its excess over direct: %s", got, want)
	}
	direct := medians(path{name: "direct"}, []figures{{agentCPU: 500 * ms}})
	if got := direct.markdown(0.5); strings.Contains(got, "+0.000") {
		t.Errorf("the direct row compares itself with direct: %s", got)
	}
}

func TestOverheadLineGivesMedianAndRange(t *testing.T) {
	ms := time.Millisecond
	got := overheadLine([]time.Duration{40 * ms, -10 * ms, 120 * ms, 30 * ms, 50 * ms})
	want := "5 back-to-back pairs): median 0.040 s (-0.010 to 0.120 s)"
	if !strings.HasSuffix(got, want) {
		t.Errorf("overheadLine = %q, want it to end %q", got, want)
	}
}
