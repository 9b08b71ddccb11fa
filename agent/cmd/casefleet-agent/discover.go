package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"casefleet/agent/lan"
)

// discover lists the agents that answer on the LAN.
func discover(ctx context.Context, args []string, out io.Writer) int {
	fs := pflag.NewFlagSet("discover", pflag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	wait := fs.Duration("timeout", 3*time.Second, "how long to listen for answers")
	ifaces := fs.StringSlice("interfaces", nil, "interfaces to ask on (default: every interface that can multicast)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	agents, err := lan.Discover(ctx, *ifaces)
	if err != nil {
		fmt.Fprintln(os.Stderr, "casefleet-agent discover:", err)
		return 1
	}
	if *asJSON {
		type row struct {
			lan.Agent
			URL string `json:"url"`
		}
		rows := make([]row, len(agents))
		for i, a := range agents {
			rows[i] = row{a, a.URL()}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return 1
		}
		return 0
	}
	if len(agents) == 0 {
		fmt.Fprintf(out, "No agents answered within %s. Are they on this network, and is multicast allowed?\n", *wait)
		return 0
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MACHINE\tNAME\tLOCATION\tPRINTER\tQUEUE\tTUNNEL\tVERSION\tADDRESS")
	dups := map[string][]string{} // machine code -> the addresses that claim it
	var dupCodes []string
	for _, a := range agents {
		tunnel := "down"
		if a.TunnelUp {
			tunnel = "up"
		}
		code, addr := a.Code, strings.TrimPrefix(a.URL(), "http://")
		if a.Duplicate {
			if dups[a.Code] == nil {
				dupCodes = append(dupCodes, a.Code)
			}
			dups[a.Code] = append(dups[a.Code], addr)
			code += " (DUPLICATE)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", code, a.Name, a.Location, a.Printer, a.QueueLength, tunnel, a.Version, addr)
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	for _, c := range dupCodes {
		fmt.Fprintf(out, "\nWarning: machine code %s is claimed by %d agents (%s). Each agent needs the machine.code of its own kiosk (agent.yaml): correct the one set up wrong.\n",
			c, len(dups[c]), strings.Join(dups[c], ", "))
	}
	return 0
}
