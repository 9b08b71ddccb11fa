package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"casefleet/agent/agenttest"
)

// binDir holds the binaries TestMain builds once for every test.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "casefleet-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, pkg := range []string{"casefleet-agent", "chitusim"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, pkg), "casefleet/agent/cmd/"+pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg, err)
			os.Exit(1)
		}
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running binary whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// count returns how many lines of the log contain substr.
func (s *syncBuffer) count(substr string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			n++
		}
	}
	return n
}

func startProc(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, strings.Fields(name)[0]), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", name, p.log.String())
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	<-p.done
}

// waitHTTP waits until url answers.
func waitHTTP(t testing.TB, url string) {
	t.Helper()
	agenttest.Eventually(t, 15*time.Second, url+" answers", func() bool {
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
	*proc
	URL string
}

func startSim(t testing.TB, codes []string, extra ...string) *simProc {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"--http", addr, "--mqtt", freeAddr(t), "--machines", strings.Join(codes, ","),
		"--app-id", agenttest.AppID, "--app-secret", agenttest.AppSecret, "--mqtt-password", agenttest.MQTTPassword}, extra...)
	p := startProc(t, "chitusim", nil, args...)
	s := &simProc{proc: p, URL: "http://" + addr}
	waitHTTP(t, s.URL+"/admin/state")
	return s
}

// mqttAddr is the --mqtt address the simulator was started with.
func (s *simProc) mqttAddr() string {
	args := s.cmd.Args
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
	}, extra...)
}
