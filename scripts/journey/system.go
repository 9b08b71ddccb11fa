package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"casefleet/scripts/internal/benchproc"
	"casefleet/shared/testenv"
)

// The system on loopback, as agent/web's relay_procs_test.go starts it:
// the printer simulator, the relay and one kiosk agent, each the real
// binary, the agent enrolled with a token the relay's command line issued.
// It is started here again (and not shared with the tests) because the
// tests' helpers report to a *testing.T, which a program has not.

// The simulated vendor platform's credentials (the simulator and the
// agent only need to agree).
const (
	simAppID        = "bench-app"
	simAppSecret    = "bench-secret-0123456789abcdef0123"
	simMQTTPassword = "bench-mqtt-password"
)

// The bench's one kiosk.
const (
	machineCode     = "CT0700026"
	machineName     = "Mall 3F, east escalator"
	machineLocation = "mall-3f"
)

// system is the running processes and what the phone needs to reach them.
type system struct {
	dir      string // logs, fleet key and the agent's data
	relayURL string
	procs    benchproc.Group
}

// buildBinaries builds chitusim, casefleet-agent and casefleet-relay into dir.
func buildBinaries(dir string) error {
	return testenv.Build(dir, "casefleet/agent/cmd/chitusim", "casefleet/agent/cmd/casefleet-agent", "casefleet/relay/cmd/casefleet-relay")
}

// startSystem starts the simulator, the relay and the agent from the
// binaries in bin, and waits until the machine answers through the relay.
// On error, what was started is stopped.
func startSystem(ctx context.Context, bin, dir string) (_ *system, err error) {
	s := &system{dir: dir, procs: benchproc.Group{Dir: dir}}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()

	addrs, err := testenv.FreeAddrs(4)
	if err != nil {
		return nil, err
	}
	simAddr, mqttAddr, relayAddr, lanAddr := addrs[0], addrs[1], addrs[2], addrs[3]
	simURL := "http://" + simAddr
	// Prints take a second, so the orders of earlier runs never fill the line.
	if err := s.start("chitusim", filepath.Join(bin, "chitusim"), nil,
		"--http", simAddr, "--mqtt", mqttAddr, "--machines", machineCode,
		"--app-id", simAppID, "--app-secret", simAppSecret, "--mqtt-password", simMQTTPassword,
		"--print-seconds", "1", "--pay-seconds", "1"); err != nil {
		return nil, err
	}
	if err := waitOK(ctx, 20*time.Second, simURL+"/admin/state"); err != nil {
		return nil, fmt.Errorf("the simulator: %w", err)
	}

	relayBin := filepath.Join(bin, "casefleet-relay")
	fleet := filepath.Join(dir, "fleet")
	if _, err := benchproc.Command(ctx, relayBin, "keygen", "--out", fleet); err != nil {
		return nil, err
	}
	s.relayURL = "http://" + relayAddr
	// The relay's own limits stay at their defaults: the phone meets them too.
	if err := s.start("casefleet-relay", relayBin, nil,
		"run", "--listen", relayAddr, "--fleet-pub", filepath.Join(fleet, "fleet.pub"),
		"--public-url", s.relayURL, "--instance-id", "journey-bench-relay"); err != nil {
		return nil, err
	}
	if err := waitOK(ctx, 20*time.Second, s.relayURL+"/readyz"); err != nil {
		return nil, fmt.Errorf("the relay: %w", err)
	}

	token, err := benchproc.Command(ctx, relayBin, "issue", "--key", filepath.Join(fleet, "fleet.key"), "--machine", machineCode, "--location", machineLocation)
	if err != nil {
		return nil, err
	}
	if err := s.start("casefleet-agent", filepath.Join(bin, "casefleet-agent"), []string{
		"CASEFLEET_MACHINE_CODE=" + machineCode,
		"CASEFLEET_MACHINE_NAME=" + machineName,
		"CASEFLEET_MACHINE_LOCATION=" + machineLocation,
		"CASEFLEET_DATA_DIR=" + filepath.Join(dir, "agent-data"),
		"CASEFLEET_LAN_LISTEN=" + lanAddr,
		"CASEFLEET_LAN_INTERFACES=lo", // mDNS never on a real interface
		"CASEFLEET_RELAY_URL=" + s.relayURL,
		"CASEFLEET_RELAY_TOKEN=" + strings.TrimSpace(token),
		"CASEFLEET_CHITU_BASE_URL=" + simURL,
		"CASEFLEET_CHITU_APP_ID=" + simAppID,
		"CASEFLEET_CHITU_APP_SECRET=" + simAppSecret,
		"CASEFLEET_CHITU_MQTT_URL=tcp://" + mqttAddr,
		"CASEFLEET_CHITU_MQTT_PASSWORD=" + simMQTTPassword,
		"CASEFLEET_CHITU_POLL_INTERVAL=1s",
	}, "run"); err != nil {
		return nil, err
	}
	if err := waitOK(ctx, 30*time.Second, "http://"+lanAddr+"/healthz"); err != nil {
		return nil, fmt.Errorf("the agent: %w", err)
	}
	// Gently: the relay limits requests per client address, and the
	// phone shares 127.0.0.1 with this check.
	if err := waitOK(ctx, 30*time.Second, s.relayURL+"/api/chitu/machine/"+machineCode+"/status"); err != nil {
		return nil, fmt.Errorf("the machine through the relay: %w", err)
	}
	return s, nil
}

// editorURL is the kiosk's QR code link.
func (s *system) editorURL() string {
	return s.relayURL + "/editor?machine=" + machineCode + "&location=" + machineLocation
}

// start runs a process with its output in dir/name.log.
func (s *system) start(name, path string, env []string, args ...string) error {
	_, err := s.procs.Start(name, path, env, args...)
	return err
}

func (s *system) stop()         { s.procs.Stop() }
func (s *system) exited() error { return s.procs.Exited() }

// waitOK polls url every 200 ms until it answers 200.
func waitOK(ctx context.Context, within time.Duration, url string) error {
	deadline := time.Now().Add(within)
	for {
		if answers(ctx, url) {
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

func answers(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
