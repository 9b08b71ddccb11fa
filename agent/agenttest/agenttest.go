// Package agenttest starts the real parts of the system on loopback for
// the agent's tests: the printer simulator (open API over HTTP, MQTT from
// its embedded broker or through a real Mosquitto) and whole agents wired
// to it. Nothing is faked: the agent's real Chitu driver talks to the
// simulator over real connections.
package agenttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"casefleet/agent/chitu"
	"casefleet/agent/chitu/sim"
	"casefleet/agent/config"
	"casefleet/agent/daemon"
	"casefleet/shared/testenv"
)

// Credentials the test simulator accepts.
const (
	AppID        = "ctTESTAPP01"
	AppSecret    = "0123456789abcdef0123456789abcdef"
	MQTTPassword = "test-mqtt-password"
)

// Sim is a running simulator.
type Sim struct {
	*sim.Sim
	URL     string // open API, admin API and assets
	MQTTURL string // tcp://127.0.0.1:port
}

// SimOptions tune StartSim.
type SimOptions struct {
	Machines  []string
	PrintTime time.Duration // default 300ms
	PayDelay  time.Duration // default 0 (pays at once); negative: manual
	// BrokerURL, when set, makes the simulator publish through that
	// external broker (a real Mosquitto) instead of embedding one.
	BrokerURL string
}

// StartSim starts a simulator for the test; it stops at cleanup.
func StartSim(t testing.TB, opt SimOptions) *Sim {
	t.Helper()
	if len(opt.Machines) == 0 {
		opt.Machines = []string{"CT0700026"}
	}
	if opt.PrintTime == 0 {
		opt.PrintTime = 300 * time.Millisecond
	}
	s, err := sim.New(sim.Config{
		Machines: opt.Machines, AppID: AppID, AppSecret: AppSecret, MQTTPassword: MQTTPassword,
		PrintTime: opt.PrintTime, PayDelay: opt.PayDelay, Logger: Logger(t, "sim"),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	out := &Sim{Sim: s, URL: srv.URL}
	if opt.BrokerURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.ConnectMQTT(ctx, opt.BrokerURL); err != nil {
			t.Fatal(err)
		}
		out.MQTTURL = opt.BrokerURL
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ServeMQTT(ln); err != nil {
			t.Fatal(err)
		}
		out.MQTTURL = "tcp://" + ln.Addr().String()
	}
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return out
}

// Admin calls the simulator's admin API and decodes the answer into out
// (when not nil). Any status but 2xx fails the test.
func (s *Sim) Admin(t testing.TB, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("sim admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("sim admin %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("sim admin %s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// Orders lists every order the simulated platform accepted for code.
func (s *Sim) Orders(t testing.TB, code string) []sim.OrderView {
	t.Helper()
	var out struct {
		Orders []sim.OrderView `json:"orders"`
	}
	s.Admin(t, http.MethodGet, "/admin/orders?machine="+code, nil, &out)
	return out.Orders
}

// ChituConfig is a device-link configuration that reaches this simulator.
func (s *Sim) ChituConfig(code string) chitu.Config {
	return chitu.Config{
		BaseURL: s.URL, AppID: AppID, AppSecret: AppSecret, MachineCode: code, PayType: "nayax",
		MQTTURL: s.MQTTURL, MQTTPassword: MQTTPassword, CleanSession: true, HTTPTimeout: 5 * time.Second,
	}
}

// AgentConfig is a complete, valid agent configuration for code against
// this simulator, with fast timings for tests. dataDir must be absolute.
func (s *Sim) AgentConfig(code, dataDir string) config.Config {
	return config.Config{
		Machine: config.Machine{Code: code, Name: "Test kiosk " + code, Location: "test-lab"},
		DataDir: dataDir,
		Chitu: config.Chitu{
			BaseURL: s.URL, AppID: AppID, AppSecret: AppSecret, MQTTURL: s.MQTTURL,
			MQTTUsername: AppID, MQTTPassword: MQTTPassword, PayType: "nayax",
			TopicSource: "machineId", CleanSession: true, Encoding: "json", PrintFormat: "tiff",
			Timeout: 5 * time.Second, PollInterval: 200 * time.Millisecond,
		},
		Queue: config.Queue{
			MaxOrders: 20, PaymentTimeout: time.Minute, MaxAttempts: 3, RetryDelay: 100 * time.Millisecond, RefusalTimeout: time.Minute,
			InflightTimeout: time.Minute, ResendGrace: 5 * time.Second, DefaultPrintDuration: 6 * time.Minute,
		},
		Session: config.Session{IdleTimeout: 30 * time.Minute, RequestsPerMin: 1_000_000, OrdersPerHour: 100_000},
		LAN:     config.LAN{Listen: "127.0.0.1:0", Interfaces: []string{"lo"}}, // mDNS never on a real interface
		Image:   config.Image{MaxBytes: 15 << 20, MaxPixels: 50_000_000, AllowedHosts: []string{"127.0.0.1"}},
		Log:     config.Log{Level: "debug", Format: "text"},
	}
}

// Agent is an agent running in the test process.
type Agent struct {
	URL    string // http://127.0.0.1:port of its LAN listener
	Code   string
	stop   context.CancelFunc
	exited chan struct{} // closed when the daemon has returned
	err    error         // what it returned; read after exited
}

// API is the base URL of the agent's machine API.
func (a *Agent) API() string { return a.URL + "/api/chitu/machine/" + a.Code }

// Stop stops the agent and waits for it.
func (a *Agent) Stop(t testing.TB) {
	t.Helper()
	a.stop()
	select {
	case <-a.exited:
		if a.err != nil {
			t.Errorf("agent %s stopped with: %v", a.Code, a.err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("agent %s did not stop within 20s", a.Code)
	}
}

// StartAgent runs an agent with cfg in the test process until cleanup.
func StartAgent(t testing.TB, cfg config.Config) *Agent {
	t.Helper()
	return StartAgentWith(t, cfg, daemon.Options{})
}

// StartAgentWith is StartAgent with daemon options (web app, push, tunnel
// callbacks); its Version, Logger and Ready are set here.
func StartAgentWith(t testing.TB, cfg config.Config, opt daemon.Options) *Agent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	a := &Agent{Code: cfg.Machine.Code, stop: cancel, exited: make(chan struct{})}
	go func() {
		defer close(a.exited)
		opt.Version, opt.Logger = "test", Logger(t, "agent "+cfg.Machine.Code)
		opt.Ready = func(addr string) { ready <- addr }
		a.err = daemon.Run(ctx, cfg, opt)
	}()
	select {
	case addr := <-ready:
		a.URL = "http://" + addr
	case <-a.exited:
		cancel()
		t.Fatalf("agent %s did not start: %v", cfg.Machine.Code, a.err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("agent %s not ready within 20s", cfg.Machine.Code)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-a.exited:
		case <-time.After(20 * time.Second):
			t.Errorf("agent %s did not stop within 20s", a.Code)
		}
	})
	return a
}

// Eventually is testenv.Eventually: cond polled until it holds, or the
// test fails after within.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, within, what, cond)
}

// Logger is testenv.Logger: quiet unless CASEFLEET_TEST_LOG is set.
func Logger(t testing.TB, component string) *slog.Logger { return testenv.Logger(t, component) }

// MustJSON decodes an HTTP response body into out, failing the test on error.
func MustJSON(t testing.TB, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode %s: %v", fmt.Sprintf("%.300s", b), err)
	}
}
