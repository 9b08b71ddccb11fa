package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

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
	procs    []*proc
}

// buildBinaries builds chitusim, casefleet-agent and casefleet-relay into dir.
func buildBinaries(dir string) error {
	return testenv.Build(dir, "casefleet/agent/cmd/chitusim", "casefleet/agent/cmd/casefleet-agent", "casefleet/relay/cmd/casefleet-relay")
}

// startSystem starts the simulator, the relay and the agent from the
// binaries in bin, and waits until the machine answers through the relay.
// On error, what was started is stopped.
func startSystem(ctx context.Context, bin, dir string) (_ *system, err error) {
	s := &system{dir: dir}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()

	addrs, err := freeAddrs(4)
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
	if _, err := command(ctx, relayBin, "keygen", "--out", fleet); err != nil {
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

	token, err := command(ctx, relayBin, "issue", "--key", filepath.Join(fleet, "fleet.key"), "--machine", machineCode, "--location", machineLocation)
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
	p, err := startProc(name, path, env, filepath.Join(s.dir, name+".log"), args...)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	return nil
}

// stop stops the processes, the last started first.
func (s *system) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	s.procs = nil
}

// exited reports a process that is gone while it should run, if any.
func (s *system) exited() error {
	for _, p := range s.procs {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v (see %s)", p.name, p.cmd.ProcessState, p.log.Name())
		default:
		}
	}
	return nil
}

// proc is a process of the system.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

func startProc(name, path string, env []string, logPath string, args ...string) (*proc, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		log.Close()
		close(p.done)
	}()
	slog.Debug("started", "process", name, "pid", cmd.Process.Pid, "log", logPath)
	return p, nil
}

// stop kills the process and waits until it is gone. The bench keeps no
// state worth a graceful stop.
func (p *proc) stop() {
	killProcessGroup(p.cmd)
	<-p.done
}

// command runs one command (the relay's keygen and issue) and returns its
// standard output.
func command(ctx context.Context, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", filepath.Base(path), strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out), nil
}

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

// freeAddrs returns n loopback addresses that were free a moment ago,
// held open together so that they differ.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}
