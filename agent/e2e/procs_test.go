package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/shared/testenv"
)

// binDir holds the binaries TestMain builds once for every test.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "casefleet-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := testenv.Build(dir, "casefleet/agent/cmd/casefleet-agent", "casefleet/agent/cmd/chitusim"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startProc runs the binary named by name's first word from binDir.
func startProc(t testing.TB, name string, env []string, args ...string) *testenv.Process {
	t.Helper()
	return testenv.StartProcess(t, name, filepath.Join(binDir, strings.Fields(name)[0]), env, args...)
}

// waitHTTP waits until url answers.
func waitHTTP(t testing.TB, url string) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, url+" answers", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
}

// simProc runs chitusim with the contract's command line.
type simProc struct {
	*testenv.Process
	URL string
}

func startSim(t testing.TB, codes []string, extra ...string) *simProc {
	t.Helper()
	addr := testenv.FreeAddr(t)
	args := append([]string{"--http", addr, "--mqtt", testenv.FreeAddr(t), "--machines", strings.Join(codes, ","),
		"--app-id", agenttest.AppID, "--app-secret", agenttest.AppSecret, "--mqtt-password", agenttest.MQTTPassword}, extra...)
	p := startProc(t, "chitusim", nil, args...)
	s := &simProc{Process: p, URL: "http://" + addr}
	waitHTTP(t, s.URL+"/admin/state")
	return s
}

// mqttAddr is the --mqtt address the simulator was started with.
func (s *simProc) mqttAddr() string {
	args := s.Args
	for i, a := range args {
		if a == "--mqtt" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// agentEnv configures an agent process through CASEFLEET_* variables.
func agentEnv(code, dataDir, lanAddr, apiURL, mqttURL string, extra ...string) []string {
	return append([]string{
		"CASEFLEET_MACHINE_CODE=" + code,
		"CASEFLEET_MACHINE_NAME=E2E " + code,
		"CASEFLEET_MACHINE_LOCATION=lab",
		"CASEFLEET_DATA_DIR=" + dataDir,
		"CASEFLEET_LAN_LISTEN=" + lanAddr,
		"CASEFLEET_LAN_INTERFACES=lo", // mDNS never on a real interface
		"CASEFLEET_CHITU_BASE_URL=" + apiURL,
		"CASEFLEET_CHITU_APP_ID=" + agenttest.AppID,
		"CASEFLEET_CHITU_APP_SECRET=" + agenttest.AppSecret,
		"CASEFLEET_CHITU_MQTT_URL=" + mqttURL,
		"CASEFLEET_CHITU_MQTT_PASSWORD=" + agenttest.MQTTPassword,
		"CASEFLEET_CHITU_POLL_INTERVAL=300ms",
		"CASEFLEET_CHITU_TIMEOUT=1s",
		"CASEFLEET_SESSION_REQUESTS_PER_MINUTE=1000000",
		"CASEFLEET_SESSION_ORDERS_PER_HOUR=100000",
		"CASEFLEET_LOG_LEVEL=debug",
		// Not installed from a package, even while packaging's tests have
		// the agent's package installed on this machine.
		"CASEFLEET_UPDATE_FORMAT_FILE=" + filepath.Join(dataDir, "no-package-format"),
	}, extra...)
}
