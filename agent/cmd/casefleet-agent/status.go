package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"casefleet/agent/config"
	"casefleet/agent/dashboard"
	"casefleet/agent/doctor"
)

// status prints one screen about the running agent on this PC: version,
// printer, queue, tunnel, the agent's update and the latest problems,
// read from its operator API.
func status(ctx context.Context, cfg config.Config, loadErr error, out io.Writer) int {
	if loadErr != nil {
		fmt.Fprintln(os.Stderr, "casefleet-agent status:", loadErr)
		return 1
	}
	if cfg.LAN.OperatorPIN == "" {
		fmt.Fprintln(os.Stderr, "casefleet-agent status: lan.operator_pin is not set; it is what lets status (and the dashboard) read the agent.\nSet it with `casefleet-agent enroll --set-pin` (as root or administrator), which asks for it and restarts the agent.")
		return 1
	}
	base, err := doctor.AgentURL(cfg.LAN.Listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "casefleet-agent status:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/operator/api/state", nil)
	req.Header.Set("Authorization", "Bearer "+cfg.LAN.OperatorPIN)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "casefleet-agent status: the agent does not answer on %s: %v\n(is it running? `systemctl status casefleet-agent` on Linux)\n", base, err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		fmt.Fprintf(os.Stderr, "casefleet-agent status: the agent answered %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	var st dashboard.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		fmt.Fprintln(os.Stderr, "casefleet-agent status: unreadable answer:", err)
		return 1
	}
	printStatus(out, st)
	return 0
}

func printStatus(out io.Writer, st dashboard.State) {
	m := st.Machine
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "machine\t%s  %s (%s)\tagent %s\n", m.Code, m.Name, m.Location, st.Version)
	printer := m.Status
	if m.Paused {
		printer += ", queue PAUSED"
	}
	fmt.Fprintf(tw, "printer\t%s\tink c/m/y/k %s/%s/%s/%s\n", printer, m.InkLevels.Cyan, m.InkLevels.Magenta, m.InkLevels.Yellow, m.InkLevels.Black)
	mqtt := "down"
	if m.MQTTConnected {
		mqtt = "up"
	}
	last := "never"
	if m.LastContact != nil {
		last = st.ServerTime.Sub(*m.LastContact).Round(time.Second).String() + " ago"
	}
	fmt.Fprintf(tw, "printer link\tMQTT %s\tlast word %s\n", mqtt, last)
	tunnel := "not configured (relay.url)"
	switch {
	case st.Tunnel.Configured && st.Tunnel.Connected:
		tunnel = "up, customers reach it at " + st.Tunnel.PublicURL
	case st.Tunnel.Rejected:
		tunnel = "REFUSED by the relay: " + st.Tunnel.Error
	case st.Tunnel.Configured:
		tunnel = "down: " + st.Tunnel.Error
	}
	fmt.Fprintf(tw, "relay\t%s\t\n", tunnel)
	fmt.Fprintf(tw, "queue\t%d order(s)\tnew order waits about %s\n", m.QueueLength, (time.Duration(m.EstimatedWaitSeconds) * time.Second).String())
	if u := st.Update; u != nil {
		// The agent's own update: off, offered, downloading, waiting for
		// an empty line, installing, or how the last one ended. The last
		// row, and not a column: a long line leaves the table as it is.
		fmt.Fprintf(tw, "update\t%s\n", u.Summary)
	}
	tw.Flush()
	for _, o := range st.Queue {
		where := fmt.Sprintf("#%d in line", o.Position)
		if o.AtMachine {
			where = "at the printer"
		}
		fmt.Fprintf(out, "  %-10s %-16s %-18s ordered %s ago\n", o.ID[:min(8, len(o.ID))], where, o.Stage, st.ServerTime.Sub(o.CreatedAt).Round(time.Second))
	}
	if m.LastError != "" {
		fmt.Fprintf(out, "last error: %s\n", m.LastError)
	}
	for _, o := range st.Failures[:min(3, len(st.Failures))] {
		fmt.Fprintf(out, "failed %s ago: %s  %s\n", st.ServerTime.Sub(*o.CompletedAt).Round(time.Second), o.ID[:min(8, len(o.ID))], o.FailureReason)
	}
	for _, p := range st.Problems {
		fmt.Fprintf(out, "problem: %s\n", p)
	}
}
