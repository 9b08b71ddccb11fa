//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casefleet/scripts/internal/benchproc"
	"casefleet/scripts/internal/benchsys"
	"casefleet/shared/testenv"
)

// The system on loopback, as scripts/journey starts it (benchsys): the
// printer simulator, the relay and one kiosk agent, each the real binary;
// and frps and frpc, chisel's server and client, and the reference proxy,
// in front of the same agent.

const frpHost = "agent.bench" // the frp http vhost's domain

// system is the running processes and the addresses of the paths.
type system struct {
	*benchsys.System
	frps    *proc
	frpc    *proc
	chiselS *proc  // chisel server (the cloud side)
	chiselC *proc  // chisel client (beside the agent)
	ref     *proc  // the reference proxy (see runRefProxy)
	frpTCP  string // frps's tcp port for the agent
	frpHTTP string // frps's http vhost port
	chisel  string // chisel server's reverse port for the agent
	refURL  string
}

func startSystem(ctx context.Context, bin, frpBin, chiselBin, dir string, place placement) (_ *system, err error) {
	// Prints take an hour: the bench's order stays at the machine, and
	// so does its print file.
	core, err := benchsys.Start(ctx, benchsys.Options{
		Bin: bin, Dir: dir,
		MachineName: "Bench", MachineLocation: "bench",
		PrintSeconds: 3600,
		RelayArgs:    []string{"--rate-ip", "0", "--rate-session", "0", "--log-level", "warn"},
		AgentArgs:    []string{"--log-level", "warn"},
		// Every upload is the bench's one session's: it may send as fast as it can.
		AgentEnv: []string{"CASEFLEET_SESSION_REQUESTS_PER_MINUTE=100000000"},
		OnKiosk:  place.onKiosk,
	})
	if err != nil {
		return nil, err
	}
	s := &system{System: core}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	addrs, err := testenv.FreeAddrs(6)
	if err != nil {
		return nil, err
	}
	frpsAddr, frpTCPAddr, frpHTTPAddr := addrs[0], addrs[1], addrs[2]
	chiselAddr, chiselReverseAddr, refAddr := addrs[3], addrs[4], addrs[5]
	lanAddr := strings.TrimPrefix(s.LANURL, "http://")

	// frp, with its defaults (tcp multiplexing on), one tcp and one http
	// proxy to the agent's LAN port.
	_, frpsPort, _ := net.SplitHostPort(frpsAddr)
	_, tcpPort, _ := net.SplitHostPort(frpTCPAddr)
	_, httpPort, _ := net.SplitHostPort(frpHTTPAddr)
	_, lanPort, _ := net.SplitHostPort(lanAddr)
	frpsConf := filepath.Join(dir, "frps.toml")
	frpcConf := filepath.Join(dir, "frpc.toml")
	if err := os.WriteFile(frpsConf, fmt.Appendf(nil, `bindAddr = "127.0.0.1"
bindPort = %s
proxyBindAddr = "127.0.0.1"
vhostHTTPPort = %s
log.level = "warn"
`, frpsPort, httpPort), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(frpcConf, fmt.Appendf(nil, `serverAddr = "127.0.0.1"
serverPort = %s
loginFailExit = false
log.level = "warn"

[[proxies]]
name = "agent-tcp"
type = "tcp"
localIP = "127.0.0.1"
localPort = %s
remotePort = %s

[[proxies]]
name = "agent-http"
type = "http"
localIP = "127.0.0.1"
localPort = %s
customDomains = ["%s"]
`, frpsPort, lanPort, tcpPort, lanPort, frpHost), 0o644); err != nil {
		return nil, err
	}
	if s.frps, err = s.Procs.Start("frps", filepath.Join(frpBin, "frps"), nil, "-c", frpsConf); err != nil {
		return nil, err
	}
	if err := waitListening(ctx, 20*time.Second, frpsAddr); err != nil {
		return nil, fmt.Errorf("frps: %w", err)
	}
	frpcBin, frpcArgs := place.onKiosk(filepath.Join(frpBin, "frpc"), "-c", frpcConf)
	if s.frpc, err = s.Procs.Start("frpc", frpcBin, nil, frpcArgs...); err != nil {
		return nil, err
	}
	s.frpTCP = "http://" + frpTCPAddr
	s.frpHTTP = "http://" + frpHTTPAddr
	if err := benchsys.WaitOK(ctx, 30*time.Second, s.frpTCP+statusPath, ""); err != nil {
		return nil, fmt.Errorf("frp tcp: %w", err)
	}
	if err := benchsys.WaitOK(ctx, 30*time.Second, s.frpHTTP+statusPath, frpHost); err != nil {
		return nil, fmt.Errorf("frp http: %w", err)
	}

	// chisel, as its README deploys it behind a NAT: the server on the
	// cloud side with reverse ports allowed, the client beside the agent
	// asking for a reverse port to the agent's LAN port (SSH over a
	// WebSocket, as the relay's tunnel is yamux over one).
	_, chiselPort, _ := net.SplitHostPort(chiselAddr)
	if s.chiselS, err = s.Procs.Start("chisel-server", filepath.Join(chiselBin, "chisel"), nil,
		"server", "--host", "127.0.0.1", "--port", chiselPort, "--reverse"); err != nil {
		return nil, err
	}
	if err := waitListening(ctx, 20*time.Second, chiselAddr); err != nil {
		return nil, fmt.Errorf("chisel server: %w", err)
	}
	chiselCBin, chiselCArgs := place.onKiosk(filepath.Join(chiselBin, "chisel"),
		"client", "http://"+chiselAddr, "R:"+chiselReverseAddr+":"+lanAddr)
	if s.chiselC, err = s.Procs.Start("chisel-client", chiselCBin, nil, chiselCArgs...); err != nil {
		return nil, err
	}
	s.chisel = "http://" + chiselReverseAddr
	if err := benchsys.WaitOK(ctx, 30*time.Second, s.chisel+statusPath, ""); err != nil {
		return nil, fmt.Errorf("chisel: %w", err)
	}

	// The reference proxy, on the cloud's side.
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if s.ref, err = s.Procs.Start("reference-proxy", self, nil, refProxyCommand, refAddr, s.LANURL); err != nil {
		return nil, err
	}
	s.refURL = "http://" + refAddr
	if err := benchsys.WaitOK(ctx, 30*time.Second, s.refURL+statusPath, ""); err != nil {
		return nil, fmt.Errorf("the reference proxy: %w", err)
	}
	return s, nil
}

// proc is a process of the system.
type proc = benchproc.Proc

// waitListening polls addr every 50 ms until it takes a connection.
func waitListening(ctx context.Context, within time.Duration, addr string) error {
	deadline := time.Now().Add(within)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v", addr, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
