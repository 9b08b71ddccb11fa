// Package benchsys starts the system the benches measure (scripts/journey,
// scripts/tunnelbench) on loopback: the printer simulator, the relay and
// one kiosk agent, each the real binary, the agent enrolled with a token
// the relay's command line issued. The tests start the same system with
// shared/testenv, whose helpers report to a *testing.T.
package benchsys

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"casefleet/scripts/internal/benchproc"
	"casefleet/shared/testenv"
)

// The simulated vendor platform's credentials (the simulator and the
// agent only need to agree), and the bench's one kiosk.
const (
	simAppID        = "bench-app"
	simAppSecret    = "bench-secret-0123456789abcdef0123"
	simMQTTPassword = "bench-mqtt-password"

	MachineCode = "CT0700026"
)

// StatusPath is the kiosk's status in the customer API: what the benches
// wait for and what their small requests ask.
const StatusPath = "/api/chitu/machine/" + MachineCode + "/status"

// Options say how a bench wants the system.
type Options struct {
	Bin string // directory of chitusim, casefleet-relay and casefleet-agent
	Dir string // logs, the fleet key and the agent's data

	MachineName, MachineLocation string
	// PrintSeconds is how long the simulator takes to print a case.
	PrintSeconds int
	// RelayArgs and AgentArgs follow "run" on the relay's and the agent's
	// command lines; AgentEnv adds to the agent's environment.
	RelayArgs, AgentArgs, AgentEnv []string
	// OnKiosk, if set, wraps the agent's command (to pin it to a CPU).
	OnKiosk func(path string, args ...string) (string, []string)
}

// System is the running processes.
type System struct {
	Procs    *benchproc.Group // the bench may start more processes into it
	Relay    *benchproc.Proc
	Agent    *benchproc.Proc
	RelayURL string
	LANURL   string // the agent, directly
	AgentDir string // the agent's data directory
}

// Start starts the simulator, the relay and the agent, and waits until
// the machine answers through the relay. On error, what was started is
// stopped.
func Start(ctx context.Context, opt Options) (_ *System, err error) {
	s := &System{Procs: &benchproc.Group{Dir: opt.Dir}, AgentDir: filepath.Join(opt.Dir, "agent-data")}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	addrs, err := testenv.FreeAddrs(4)
	if err != nil {
		return nil, err
	}
	simAddr, mqttAddr, relayAddr, lanAddr := addrs[0], addrs[1], addrs[2], addrs[3]
	simURL := "http://" + simAddr
	if _, err := s.Procs.Start("chitusim", filepath.Join(opt.Bin, "chitusim"), nil,
		"--http", simAddr, "--mqtt", mqttAddr, "--machines", MachineCode,
		"--app-id", simAppID, "--app-secret", simAppSecret, "--mqtt-password", simMQTTPassword,
		"--print-seconds", strconv.Itoa(opt.PrintSeconds), "--pay-seconds", "1"); err != nil {
		return nil, err
	}
	if err := WaitOK(ctx, 20*time.Second, simURL+"/admin/state", ""); err != nil {
		return nil, fmt.Errorf("the simulator: %w", err)
	}

	relayBin := filepath.Join(opt.Bin, "casefleet-relay")
	fleet := filepath.Join(opt.Dir, "fleet")
	if _, err := benchproc.Command(ctx, relayBin, "keygen", "--out", fleet); err != nil {
		return nil, err
	}
	s.RelayURL = "http://" + relayAddr
	relayArgs := append([]string{"run", "--listen", relayAddr, "--fleet-pub", filepath.Join(fleet, "fleet.pub"),
		"--public-url", s.RelayURL}, opt.RelayArgs...)
	if s.Relay, err = s.Procs.Start("casefleet-relay", relayBin, nil, relayArgs...); err != nil {
		return nil, err
	}
	if err := WaitOK(ctx, 20*time.Second, s.RelayURL+"/readyz", ""); err != nil {
		return nil, fmt.Errorf("the relay: %w", err)
	}

	token, err := benchproc.Command(ctx, relayBin, "issue", "--key", filepath.Join(fleet, "fleet.key"),
		"--machine", MachineCode, "--location", opt.MachineLocation)
	if err != nil {
		return nil, err
	}
	s.LANURL = "http://" + lanAddr
	env := append([]string{
		"CASEFLEET_MACHINE_CODE=" + MachineCode,
		"CASEFLEET_MACHINE_NAME=" + opt.MachineName,
		"CASEFLEET_MACHINE_LOCATION=" + opt.MachineLocation,
		"CASEFLEET_DATA_DIR=" + s.AgentDir,
		"CASEFLEET_LAN_LISTEN=" + lanAddr,
		"CASEFLEET_LAN_INTERFACES=lo", // mDNS never on a real interface
		"CASEFLEET_RELAY_URL=" + s.RelayURL,
		"CASEFLEET_RELAY_TOKEN=" + strings.TrimSpace(token),
		"CASEFLEET_CHITU_BASE_URL=" + simURL,
		"CASEFLEET_CHITU_APP_ID=" + simAppID,
		"CASEFLEET_CHITU_APP_SECRET=" + simAppSecret,
		"CASEFLEET_CHITU_MQTT_URL=tcp://" + mqttAddr,
		"CASEFLEET_CHITU_MQTT_PASSWORD=" + simMQTTPassword,
	}, opt.AgentEnv...)
	agentBin, agentArgs := filepath.Join(opt.Bin, "casefleet-agent"), append([]string{"run"}, opt.AgentArgs...)
	if opt.OnKiosk != nil {
		agentBin, agentArgs = opt.OnKiosk(agentBin, agentArgs...)
	}
	if s.Agent, err = s.Procs.Start("casefleet-agent", agentBin, env, agentArgs...); err != nil {
		return nil, err
	}
	if err := WaitOK(ctx, 30*time.Second, s.LANURL+"/healthz", ""); err != nil {
		return nil, fmt.Errorf("the agent: %w", err)
	}
	if err := WaitOK(ctx, 30*time.Second, s.RelayURL+StatusPath, ""); err != nil {
		return nil, fmt.Errorf("the machine through the relay: %w", err)
	}
	return s, nil
}

// Stop stops every process of the system, the bench's own included.
func (s *System) Stop() { s.Procs.Stop() }

// Exited reports a process that is gone while it should run, if any.
func (s *System) Exited() error { return s.Procs.Exited() }

// WaitOK polls url (with Host host, if set) every 200 ms until it answers
// 200. Gently: the relay limits requests per client address, and a
// bench's client shares 127.0.0.1 with these checks.
func WaitOK(ctx context.Context, within time.Duration, url, host string) error {
	deadline := time.Now().Add(within)
	for {
		if answers(ctx, url, host) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %v", url, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func answers(ctx context.Context, url, host string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
