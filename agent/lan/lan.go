// Package lan makes kiosk agents findable on the shop-floor network
// without knowing their addresses: each agent advertises itself with
// mDNS/DNS-SD (zeroconf) as _casefleet._tcp, with its machine, printer and
// queue in the TXT record, and Discover lists the agents that answer.
package lan

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Service is the DNS-SD service type of casefleet agents.
const Service = "_casefleet._tcp"

const domain = "local."

// Info is what an agent tells the LAN about itself.
type Info struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Location    string `json:"location"`
	Version     string `json:"version"`
	Printer     string `json:"printer"` // online, offline, printing, error
	QueueLength int    `json:"queueLength"`
	TunnelUp    bool   `json:"tunnelUp"`
}

// txt encodes info as TXT strings (key=value, each at most 255 bytes).
func (i Info) txt() []string {
	clip := func(s string) string {
		if len(s) > 200 {
			s = s[:200]
		}
		return s
	}
	return []string{
		"code=" + i.Code,
		"name=" + clip(i.Name),
		"location=" + clip(i.Location),
		"version=" + clip(i.Version),
		"printer=" + i.Printer,
		"queue=" + strconv.Itoa(i.QueueLength),
		"tunnel=" + strconv.FormatBool(i.TunnelUp),
	}
}

// parseTXT decodes TXT strings; unknown keys are ignored, and a record
// without a machine code is not an agent.
func parseTXT(txt []string) (Info, bool) {
	var i Info
	for _, kv := range txt {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case "code":
			i.Code = v
		case "name":
			i.Name = v
		case "location":
			i.Location = v
		case "version":
			i.Version = v
		case "printer":
			i.Printer = v
		case "queue":
			i.QueueLength, _ = strconv.Atoi(v)
		case "tunnel":
			i.TunnelUp = v == "true"
		}
	}
	return i, i.Code != ""
}

// Agent is one agent found on the LAN.
type Agent struct {
	Info
	Instance string   `json:"instance"`
	Host     string   `json:"host"`
	Port     int      `json:"port"`
	Addrs    []string `json:"addrs"`
	// Duplicate: another agent that answered claims the same machine
	// code. One of them is set up wrong; both are shown.
	Duplicate bool `json:"duplicate"`
}

// URL is the agent's LAN base URL (its first address).
func (a Agent) URL() string {
	if len(a.Addrs) == 0 {
		return ""
	}
	return "http://" + net.JoinHostPort(a.Addrs[0], strconv.Itoa(a.Port))
}

// interfaces resolves interface names; no names means every interface
// that can multicast.
func interfaces(names []string) ([]net.Interface, error) {
	if len(names) == 0 {
		return nil, nil
	}
	out := make([]net.Interface, 0, len(names))
	for _, n := range names {
		ifi, err := net.InterfaceByName(n)
		if err != nil {
			return nil, fmt.Errorf("lan.interfaces: %q: %w", n, err)
		}
		if ifi.Flags&net.FlagMulticast == 0 {
			hint := ""
			if ifi.Flags&net.FlagLoopback != 0 {
				hint = " (switch it on with: ip link set " + n + " multicast on)"
			}
			return nil, fmt.Errorf("lan.interfaces: %s cannot multicast%s", n, hint)
		}
		out = append(out, *ifi)
	}
	return out, nil
}

// sortAgents orders agents by machine code, then (duplicates) by address.
func sortAgents(agents []Agent) {
	sort.Slice(agents, func(i, j int) bool {
		if agents[i].Code != agents[j].Code {
			return agents[i].Code < agents[j].Code
		}
		return agents[i].URL() < agents[j].URL()
	})
}

// Discover browses the LAN for agents until ctx is done (give it a
// timeout of a few seconds) and returns those that answered, by machine
// code; agents that claim the same code are all there, marked Duplicate.
func Discover(ctx context.Context, ifaceNames []string) ([]Agent, error) {
	return discover(ctx, ifaceNames)
}
