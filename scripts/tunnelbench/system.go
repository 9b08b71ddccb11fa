//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casefleet/scripts/internal/benchproc"
	"casefleet/shared/testenv"
)

// The system on loopback, as scripts/journey starts it: the printer
// simulator, the relay and one kiosk agent, each the real binary; and
// frps and frpc, and chisel's server and client, in front of the same
// agent.

const (
	simAppID        = "bench-app"
	simAppSecret    = "bench-secret-0123456789abcdef0123"
	simMQTTPassword = "bench-mqtt-password"
	machineCode     = "CT0700026"
	frpHost         = "agent.bench" // the frp http vhost's domain
)

// system is the running processes and the addresses of the paths.
type system struct {
	dir      string
	procs    benchproc.Group
	relay    *proc
	agent    *proc
	frps     *proc
	frpc     *proc
	chiselS  *proc  // chisel server (the cloud side)
	chiselC  *proc  // chisel client (beside the agent)
	lanURL   string // the agent, directly
	relayURL string
	frpTCP   string // frps's tcp port for the agent
	frpHTTP  string // frps's http vhost port
	chisel   string // chisel server's reverse port for the agent
	ref      *proc  // the reference proxy (see runRefProxy)
	refURL   string
}

func startSystem(ctx context.Context, bin, frpBin, chiselBin, dir string, place placement) (_ *system, err error) {
	s := &system{dir: dir, procs: benchproc.Group{Dir: dir}}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	addrs, err := testenv.FreeAddrs(10)
	if err != nil {
		return nil, err
	}
	simAddr, mqttAddr, relayAddr, lanAddr := addrs[0], addrs[1], addrs[2], addrs[3]
	frpsAddr, frpTCPAddr, frpHTTPAddr := addrs[4], addrs[5], addrs[6]
	chiselAddr, chiselReverseAddr := addrs[7], addrs[8]
	simURL := "http://" + simAddr
	// Prints take an hour: the bench's order stays at the machine, and
	// so does its print file.
	if _, err := s.start("chitusim", filepath.Join(bin, "chitusim"), nil,
		"--http", simAddr, "--mqtt", mqttAddr, "--machines", machineCode,
		"--app-id", simAppID, "--app-secret", simAppSecret, "--mqtt-password", simMQTTPassword,
		"--print-seconds", "3600", "--pay-seconds", "1"); err != nil {
		return nil, err
	}
	if err := waitOK(ctx, 20*time.Second, simURL+"/admin/state", ""); err != nil {
		return nil, fmt.Errorf("the simulator: %w", err)
	}

	relayBin := filepath.Join(bin, "casefleet-relay")
	fleet := filepath.Join(dir, "fleet")
	if _, err := benchproc.Command(ctx, relayBin, "keygen", "--out", fleet); err != nil {
		return nil, err
	}
	s.relayURL = "http://" + relayAddr
	if s.relay, err = s.start("casefleet-relay", relayBin, nil,
		"run", "--listen", relayAddr, "--fleet-pub", filepath.Join(fleet, "fleet.pub"),
		"--public-url", s.relayURL, "--rate-ip", "0", "--rate-session", "0", "--log-level", "warn"); err != nil {
		return nil, err
	}
	if err := waitOK(ctx, 20*time.Second, s.relayURL+"/readyz", ""); err != nil {
		return nil, fmt.Errorf("the relay: %w", err)
	}
	token, err := benchproc.Command(ctx, relayBin, "issue", "--key", filepath.Join(fleet, "fleet.key"), "--machine", machineCode, "--location", "bench")
	if err != nil {
		return nil, err
	}
	s.lanURL = "http://" + lanAddr
	agentBin, agentArgs := place.onKiosk(filepath.Join(bin, "casefleet-agent"), "run", "--log-level", "warn")
	if s.agent, err = s.start("casefleet-agent", agentBin, []string{
		"CASEFLEET_MACHINE_CODE=" + machineCode,
		"CASEFLEET_MACHINE_NAME=Bench",
		"CASEFLEET_MACHINE_LOCATION=bench",
		"CASEFLEET_DATA_DIR=" + filepath.Join(dir, "agent-data"),
		"CASEFLEET_LAN_LISTEN=" + lanAddr,
		"CASEFLEET_LAN_INTERFACES=lo", // mDNS never on a real interface
		// Every upload is the bench's one session's: it may send as fast as it can.
		"CASEFLEET_SESSION_REQUESTS_PER_MINUTE=100000000",
		"CASEFLEET_RELAY_URL=" + s.relayURL,
		"CASEFLEET_RELAY_TOKEN=" + strings.TrimSpace(token),
		"CASEFLEET_CHITU_BASE_URL=" + simURL,
		"CASEFLEET_CHITU_APP_ID=" + simAppID,
		"CASEFLEET_CHITU_APP_SECRET=" + simAppSecret,
		"CASEFLEET_CHITU_MQTT_URL=tcp://" + mqttAddr,
		"CASEFLEET_CHITU_MQTT_PASSWORD=" + simMQTTPassword,
	}, agentArgs...); err != nil {
		return nil, err
	}
	if err := waitOK(ctx, 30*time.Second, s.lanURL+"/healthz", ""); err != nil {
		return nil, fmt.Errorf("the agent: %w", err)
	}
	if err := waitOK(ctx, 30*time.Second, s.relayURL+statusPath, ""); err != nil {
		return nil, fmt.Errorf("the machine through the relay: %w", err)
	}

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
	if s.frps, err = s.start("frps", filepath.Join(frpBin, "frps"), nil, "-c", frpsConf); err != nil {
		return nil, err
	}
	if err := waitListening(ctx, 20*time.Second, frpsAddr); err != nil {
		return nil, fmt.Errorf("frps: %w", err)
	}
	frpcBin, frpcArgs := place.onKiosk(filepath.Join(frpBin, "frpc"), "-c", frpcConf)
	if s.frpc, err = s.start("frpc", frpcBin, nil, frpcArgs...); err != nil {
		return nil, err
	}
	s.frpTCP = "http://" + frpTCPAddr
	s.frpHTTP = "http://" + frpHTTPAddr
	if err := waitOK(ctx, 30*time.Second, s.frpTCP+statusPath, ""); err != nil {
		return nil, fmt.Errorf("frp tcp: %w", err)
	}
	if err := waitOK(ctx, 30*time.Second, s.frpHTTP+statusPath, frpHost); err != nil {
		return nil, fmt.Errorf("frp http: %w", err)
	}

	// chisel, as its README deploys it behind a NAT: the server on the
	// cloud side with reverse ports allowed, the client beside the agent
	// asking for a reverse port to the agent's LAN port (SSH over a
	// WebSocket, as the relay's tunnel is yamux over one).
	_, chiselPort, _ := net.SplitHostPort(chiselAddr)
	if s.chiselS, err = s.start("chisel-server", filepath.Join(chiselBin, "chisel"), nil,
		"server", "--host", "127.0.0.1", "--port", chiselPort, "--reverse"); err != nil {
		return nil, err
	}
	if err := waitListening(ctx, 20*time.Second, chiselAddr); err != nil {
		return nil, fmt.Errorf("chisel server: %w", err)
	}
	chiselCBin, chiselCArgs := place.onKiosk(filepath.Join(chiselBin, "chisel"),
		"client", "http://"+chiselAddr, "R:"+chiselReverseAddr+":"+lanAddr)
	if s.chiselC, err = s.start("chisel-client", chiselCBin, nil, chiselCArgs...); err != nil {
		return nil, err
	}
	s.chisel = "http://" + chiselReverseAddr
	if err := waitOK(ctx, 30*time.Second, s.chisel+statusPath, ""); err != nil {
		return nil, fmt.Errorf("chisel: %w", err)
	}

	// The reference proxy, on the cloud's side.
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if s.ref, err = s.start("reference-proxy", self, nil, refProxyCommand, addrs[9], s.lanURL); err != nil {
		return nil, err
	}
	s.refURL = "http://" + addrs[9]
	if err := waitOK(ctx, 30*time.Second, s.refURL+statusPath, ""); err != nil {
		return nil, fmt.Errorf("the reference proxy: %w", err)
	}
	return s, nil
}

func (s *system) start(name, path string, env []string, args ...string) (*proc, error) {
	return s.procs.Start(name, path, env, args...)
}

func (s *system) stop()         { s.procs.Stop() }
func (s *system) exited() error { return s.procs.Exited() }

// proc is a process of the system.
type proc = benchproc.Proc

// waitOK polls url (with Host host, if set) every 100 ms until it
// answers 200.
func waitOK(ctx context.Context, within time.Duration, url, host string) error {
	deadline := time.Now().Add(within)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if host != "" {
			req.Host = host
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %v", url, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

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
