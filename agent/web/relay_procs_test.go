package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/agent/chitu/sim"
	"casefleet/shared/testenv"
)

// The whole system as processes, for the browser tests through the real
// relay: the printer simulator, the relay and the kiosk agents, each the
// real binary on loopback, the agents enrolled with tokens the relay's
// own command line issued. The agent's code never imports the relay's:
// the relay is only ever a process here.

// buildBinaries builds chitusim, casefleet-agent and casefleet-relay into
// dir (one go build, so the three link in parallel).
func buildBinaries(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"casefleet/agent/cmd/chitusim", "casefleet/agent/cmd/casefleet-agent", "casefleet/relay/cmd/casefleet-relay")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the binaries: %v\n%s", err, out)
	}
}

// answers reports whether url answers 200.
func answers(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kiosk is one machine of the system; env adds settings to its agent's
// environment (CASEFLEET_...=...).
type kiosk struct {
	code, name, location string
	env                  []string
}

// system is the simulator, the relay and the kiosks' agents.
type system struct {
	t        *testing.T
	bin      string
	simURL   string
	relay    *testenv.Process
	relayURL string
	agents   map[string]*testenv.Process
	lan      map[string]string // machine -> its agent's LAN base URL
	keyFile  string
	pubFile  string
}

// startSystem starts the simulator (with simFlags, e.g. --pay-seconds),
// a relay (with relayFlags besides its address, fleet key and public
// URL) and one agent per kiosk, and waits until every machine answers
// through the relay.
func startSystem(t *testing.T, bin string, kiosks []kiosk, simFlags, relayFlags []string) *system {
	t.Helper()
	s := &system{t: t, bin: bin, agents: map[string]*testenv.Process{}, lan: map[string]string{}}

	// The printer simulator, with the machines' catalogue and MQTT broker.
	var codes []string
	for _, k := range kiosks {
		codes = append(codes, k.code)
	}
	simAddr, mqttAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	testenv.StartProcess(t, "chitusim", filepath.Join(bin, "chitusim"), nil, append([]string{
		"--http", simAddr, "--mqtt", mqttAddr, "--machines", strings.Join(codes, ","),
		"--app-id", agenttest.AppID, "--app-secret", agenttest.AppSecret, "--mqtt-password", agenttest.MQTTPassword,
	}, simFlags...)...)
	s.simURL = "http://" + simAddr
	testenv.Poll(t, 20*time.Second, 50*time.Millisecond, "the simulator answers", func() bool { return answers(s.simURL + "/admin/state") })

	// The fleet key, made by the relay's command line, as an operator does.
	fleetDir := filepath.Join(t.TempDir(), "fleet")
	s.run("keygen", "--out", fleetDir)
	s.keyFile, s.pubFile = filepath.Join(fleetDir, "fleet.key"), filepath.Join(fleetDir, "fleet.pub")

	relayAddr := testenv.FreeAddr(t)
	s.relayURL = "http://" + relayAddr
	s.relay = testenv.StartProcess(t, "casefleet-relay", filepath.Join(bin, "casefleet-relay"), nil, append([]string{
		"run", "--listen", relayAddr, "--fleet-pub", s.pubFile, "--public-url", s.relayURL,
		"--instance-id", "browser-test-relay", "--log-level", "debug",
	}, relayFlags...)...)
	s.waitRelayReady()

	for _, k := range kiosks {
		token := strings.TrimSpace(s.run("issue", "--key", s.keyFile, "--machine", k.code, "--location", k.location))
		lanAddr := testenv.FreeAddr(t)
		s.lan[k.code] = "http://" + lanAddr
		s.agents[k.code] = testenv.StartProcess(t, "casefleet-agent "+k.code, filepath.Join(bin, "casefleet-agent"), append([]string{
			"CASEFLEET_MACHINE_CODE=" + k.code,
			"CASEFLEET_MACHINE_NAME=" + k.name,
			"CASEFLEET_MACHINE_LOCATION=" + k.location,
			"CASEFLEET_DATA_DIR=" + t.TempDir(),
			"CASEFLEET_LAN_LISTEN=" + lanAddr,
			"CASEFLEET_LAN_INTERFACES=lo", // mDNS never on a real interface
			"CASEFLEET_RELAY_URL=" + s.relayURL,
			"CASEFLEET_RELAY_TOKEN=" + token,
			"CASEFLEET_CHITU_BASE_URL=" + s.simURL,
			"CASEFLEET_CHITU_APP_ID=" + agenttest.AppID,
			"CASEFLEET_CHITU_APP_SECRET=" + agenttest.AppSecret,
			"CASEFLEET_CHITU_MQTT_URL=tcp://" + mqttAddr,
			"CASEFLEET_CHITU_MQTT_PASSWORD=" + agenttest.MQTTPassword,
			"CASEFLEET_CHITU_POLL_INTERVAL=300ms",
			"CASEFLEET_CHITU_TIMEOUT=5s",
			"CASEFLEET_LOG_LEVEL=debug",
		}, k.env...), "run")
	}
	for _, k := range kiosks {
		testenv.Poll(t, 30*time.Second, 50*time.Millisecond, k.code+"'s agent answers on the LAN", func() bool { return answers(s.lan[k.code] + "/healthz") })
		s.waitRoutable(k.code)
	}
	return s
}

// run runs the relay's command line (keygen, issue) and returns its
// standard output.
func (s *system) run(args ...string) string {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "casefleet-relay"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("casefleet-relay %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

func (s *system) waitRelayReady() {
	s.t.Helper()
	testenv.Poll(s.t, 20*time.Second, 50*time.Millisecond, "the relay is ready", func() bool { return answers(s.relayURL + "/readyz") })
}

// waitRoutable waits until the relay reaches code's agent through its
// tunnel. It polls gently: the relay limits requests per client address,
// and the test shares 127.0.0.1 with the phones.
func (s *system) waitRoutable(code string) {
	s.t.Helper()
	testenv.Poll(s.t, 30*time.Second, 200*time.Millisecond, code+" answers through the relay", func() bool {
		return answers(s.machineAPI(code) + "/status")
	})
}

// killRelay kills the relay with SIGKILL; restartRelay starts it again
// on the same address with the same settings.
func (s *system) killRelay() { s.relay.Kill() }

func (s *system) restartRelay() {
	s.t.Helper()
	s.relay.Start(s.t)
	s.waitRelayReady()
}

// machineAPI is the base of code's API through the relay.
func (s *system) machineAPI(code string) string { return s.relayURL + "/api/chitu/machine/" + code }

// editorURL is the QR code's link for a machine, through the relay.
func (s *system) editorURL(code, location string) string {
	u := s.relayURL + "/editor?machine=" + code
	if location != "" {
		u += "&location=" + location
	}
	return u
}

// simOrders lists the orders the simulated platform accepted for code.
func (s *system) simOrders(code string) []sim.OrderView {
	s.t.Helper()
	var out struct {
		Orders []sim.OrderView `json:"orders"`
	}
	s.simAdmin(http.MethodGet, "/admin/orders?machine="+code, &out)
	return out.Orders
}

// pay pays a vendor order at the simulated machine.
func (s *system) pay(vendorOrder string) {
	s.t.Helper()
	s.simAdmin(http.MethodPost, "/admin/orders/"+vendorOrder+"/pay", nil)
}

// simAdmin calls the simulator's admin API; any answer but 2xx fails.
func (s *system) simAdmin(method, path string, out any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.simURL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("simulator %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("simulator %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("simulator %s %s: %v: %s", method, path, err, b)
		}
	}
}

// agentOrder reads an order from its agent on the LAN (not through the
// relay, which may be down), as the customer's session.
func (s *system) agentOrder(code, sessionID, orderID string) agenttest.Order {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.lan[code]+"/api/chitu/machine/"+code+"/queue/"+orderID, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("X-Session-Id", sessionID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("read order %s from the agent: %v", orderID, err)
	}
	var o agenttest.Order
	agenttest.MustJSON(s.t, resp, &o)
	return o
}

// agentStatus is the machine status its agent reports on the LAN.
func (s *system) agentStatus(code string) string {
	s.t.Helper()
	resp, err := http.Get(s.lan[code] + "/api/chitu/machine/" + code + "/status")
	if err != nil {
		return ""
	}
	var st struct{ Status string }
	agenttest.MustJSON(s.t, resp, &st)
	return st.Status
}
