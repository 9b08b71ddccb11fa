// Command loadtest measures the relay on loopback and prints a table:
// requests/s and latency of a small GET and a 5 MB upload, straight to an
// agent and through the relay; the relay's memory per idle tunnel; how
// long agents take to come back after the relay is back from each of
// repeated restarts (p50, p99, max) and the relay's peak rate of admitting
// tunnels meanwhile; and the delay from a machine event to phones
// subscribed through the relay.
//
// The relay is the real binary (--relay-bin), run as a child process so
// that its memory is its own. Agents are lightweight: real tunnels
// (tunnel.RunAgent) serving a trivial handler, in this process. Every loop
// is bounded by a count or a duration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"
)

func main() {
	var opt options
	flag.StringVar(&opt.relayBin, "relay-bin", "bin/casefleet-relay", "the relay binary")
	flag.DurationVar(&opt.duration, "duration", 5*time.Second, "how long each throughput run lasts")
	flag.IntVar(&opt.workers, "workers", 16, "concurrent clients for the small GET")
	flag.IntVar(&opt.tunnels, "tunnels", 5000, "idle tunnels for the memory figure")
	flag.IntVar(&opt.restartAgents, "restart-agents", 1000, "agents for the restart figure")
	flag.IntVar(&opt.restarts, "restarts", 3, "relay restarts for the restart figure")
	flag.IntVar(&opt.phones, "phones", 500, "phones subscribed to one machine's events")
	flag.IntVar(&opt.events, "events", 40, "machine events sent to the phones")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	rows, err := run(ctx, opt)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "figure\tdirect\tthrough relay\tratio\t")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", r.name, r.direct, r.relay, r.ratio)
	}
	w.Flush()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type options struct {
	relayBin               string
	duration               time.Duration
	workers                int
	tunnels, restartAgents int
	restarts               int
	phones, events         int
}

// row is one line of the table.
type row struct{ name, direct, relay, ratio string }

func run(ctx context.Context, opt options) ([]row, error) {
	e, err := newEnv(ctx, opt.relayBin)
	if err != nil {
		return nil, err
	}
	defer e.close()
	var rows []row
	steps := []func(context.Context, *env, options) ([]row, error){
		throughput, fanOut, idleTunnels, restart,
	}
	for _, step := range steps {
		r, err := step(ctx, e, opt)
		rows = append(rows, r...)
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}
