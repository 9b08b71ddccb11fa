package lan

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/grandcat/zeroconf"
)

// Advertise announces the agent on the LAN until ctx is done. instance
// names it (the machine code is a good choice), port is its LAN listener's
// port, and info is asked every refresh for what to put in the TXT record.
func Advertise(ctx context.Context, instance string, port int, ifaceNames []string, info func() Info, refresh time.Duration, log *slog.Logger) error {
	ifaces, err := interfaces(ifaceNames)
	if err != nil {
		return err
	}
	// Name the addresses ourselves: zeroconf's own lookup skips loopback,
	// where the demo and the tests advertise.
	host, ips, err := hostAndIPs(ifaces)
	if err != nil {
		return err
	}
	instance = uniqueInstance(instance, host, port)
	current := info()
	register := func() (*zeroconf.Server, error) {
		srv, err := zeroconf.RegisterProxy(instance, Service, domain, port, host, ips, current.txt(), ifaces)
		if err != nil {
			return nil, fmt.Errorf("advertise %s on the LAN: %w", instance, err)
		}
		return srv, nil
	}
	srv, err := register()
	if err != nil {
		return err
	}
	defer func() { srv.Shutdown() }()
	log.Info("advertising on the LAN", "service", Service, "instance", instance, "port", port, "interfaces", ifaceNames)
	t := time.NewTicker(refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if next := info(); next != current {
				// Announce afresh: zeroconf v1.0.0's SetText races with its
				// own responder goroutines.
				current = next
				srv.Shutdown()
				if srv, err = register(); err != nil {
					return err
				}
			}
		}
	}
}

// uniqueInstance makes an agent's instance name its own on the LAN. mDNS
// browsers (zeroconf's among them) keep one answer per instance name, so
// two agents named only after one machine code, set twice by mistake,
// would show as one: exactly what discover must show. The host and port
// tell them apart; DNS labels hold 63 bytes, so a long host name is cut.
func uniqueInstance(instance, host string, port int) string {
	suffix := fmt.Sprintf(":%d)", port)
	if room := 63 - len(instance) - len(" (") - len(suffix); len(host) > room {
		host = host[:max(room, 0)]
	}
	return instance + " (" + host + suffix
}

// unescapeLabel undoes the DNS text escapes of an instance name as
// zeroconf hands it over (`CT0700026\ \(pc:7081\)`): \DDD is a byte,
// \c is c.
func unescapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if d := s[i+1:]; len(d) >= 3 && isDigit(d[0]) && isDigit(d[1]) && isDigit(d[2]) {
			if n, err := strconv.Atoi(d[:3]); err == nil && n < 256 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hostAndIPs names this host and its addresses on ifaces (every
// interface when ifaces is nil).
func hostAndIPs(ifaces []net.Interface) (string, []string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "casefleet-agent"
	}
	host = strings.SplitN(host, ".", 2)[0]
	if ifaces == nil {
		all, err := net.Interfaces()
		if err != nil {
			return "", nil, fmt.Errorf("list interfaces: %w", err)
		}
		for _, ifi := range all {
			if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
				ifaces = append(ifaces, ifi)
			}
		}
	}
	var ips []string
	for _, ifi := range ifaces {
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLinkLocalUnicast() {
				ips = append(ips, ipn.IP.String())
			}
		}
	}
	if len(ips) == 0 {
		return "", nil, fmt.Errorf("no addresses to advertise on %v", ifaces)
	}
	return host, ips, nil
}

func discover(ctx context.Context, ifaceNames []string) ([]Agent, error) {
	ifaces, err := interfaces(ifaceNames)
	if err != nil {
		return nil, err
	}
	var opts []zeroconf.ClientOption
	if ifaces != nil {
		opts = append(opts, zeroconf.SelectIfaces(ifaces))
	}
	resolver, err := zeroconf.NewResolver(opts...)
	if err != nil {
		return nil, fmt.Errorf("mDNS resolver: %w", err)
	}
	entries := make(chan *zeroconf.ServiceEntry)
	found := map[string]Agent{} // by instance: two agents may claim one machine code
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range entries {
			info, ok := parseTXT(e.Text)
			if !ok {
				continue
			}
			a := Agent{Info: info, Instance: unescapeLabel(e.Instance), Host: e.HostName, Port: e.Port}
			for _, ip := range e.AddrIPv4 {
				a.Addrs = append(a.Addrs, ip.String())
			}
			for _, ip := range e.AddrIPv6 {
				a.Addrs = append(a.Addrs, ip.String())
			}
			found[a.Instance] = a
		}
	}()
	if err := resolver.Browse(ctx, Service, domain, entries); err != nil {
		return nil, fmt.Errorf("browse %s: %w", Service, err)
	}
	<-ctx.Done()
	<-done // Browse closes entries when ctx ends
	agents := make([]Agent, 0, len(found))
	claims := map[string]int{}
	for _, a := range found {
		agents = append(agents, a)
		claims[a.Code]++
	}
	for i := range agents {
		agents[i].Duplicate = claims[agents[i].Code] > 1
	}
	sortAgents(agents)
	return agents, nil
}
