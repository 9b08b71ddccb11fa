package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"casefleet/agent/chitu/protocol"
	"casefleet/shared/testenv"
)

const (
	appID     = "ctAPPID0001"
	appSecret = "0123456789abcdef0123456789abcdef"
	mqttPass  = "mqtt-secret"
	waitLimit = 15 * time.Second
)

// binPath is the chitusim binary that TestMain builds.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chitusim-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "chitusim")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running chitusim.
type process struct {
	cmd      *exec.Cmd
	httpAddr string
	mqttAddr string
	exited   chan error
	mu       sync.Mutex
	log      bytes.Buffer
}

var servingLine = regexp.MustCompile(`msg="chitusim serving" http=(\S+) mqtt=(\S+)`)

// start runs chitusim with args and waits until it serves.
func start(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binPath, args...), exited: make(chan error, 1)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill() // no-op once it has exited
		<-p.exited
	})
	serving := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				serving <- m
			}
		}
		io.Copy(io.Discard, stderr)
		p.exited <- p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case m := <-serving:
		p.httpAddr, p.mqttAddr = m[1], m[2]
	case <-time.After(waitLimit):
		t.Fatalf("chitusim did not start:\n%s", p.logText())
	}
	return p
}

func (p *process) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// stop sends SIGTERM and returns the exit error.
func (p *process) stop(t *testing.T) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		return err
	case <-time.After(waitLimit):
		t.Fatalf("chitusim ignored SIGTERM:\n%s", p.logText())
		return nil
	}
}

func contractArgs(machines string) []string {
	return []string{"--http", "127.0.0.1:0", "--machines", machines, "--app-id", appID,
		"--app-secret", appSecret, "--mqtt-password", mqttPass, "--print-seconds", "2"}
}

func TestServesAndStopsOnSIGTERM(t *testing.T) {
	p := start(t, append(contractArgs("CT0700026,CT0700027"), "--mqtt", "127.0.0.1:0")...)

	machine := machineDetails(t, p.httpAddr, "CT0700026")
	askMachineInfo(t, "tcp://"+p.mqttAddr, machine.MachineID, machine.MachineID)

	if err := p.stop(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.logText())
	}
	if !strings.Contains(p.logText(), "chitusim stopping") {
		t.Fatalf("no graceful stop in the log:\n%s", p.logText())
	}
}

func TestPublishesThroughAnExternalBroker(t *testing.T) {
	broker := "tcp://" + testenv.MosquittoAddr(t)
	code := fmt.Sprintf("CT%09d", rand.IntN(1e9)) // the broker is shared
	p := start(t, append(contractArgs(code), "--mqtt-url", broker, "--pay-seconds", "-1", "--topic-source", "device_id")...)
	if p.mqttAddr != broker {
		t.Fatalf("serving MQTT at %s, want %s", p.mqttAddr, broker)
	}
	machine := machineDetails(t, p.httpAddr, code)
	askMachineInfo(t, broker, machine.MachineID, machine.DeviceID)
	if err := p.stop(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.logText())
	}
}

func TestFetchSecondsFlag(t *testing.T) {
	cfg, _, err := parseFlags(append(contractArgs("CT0700026"), "--fetch-seconds", "0.6"))
	if err != nil || cfg.FetchDelay != 600*time.Millisecond {
		t.Fatalf("--fetch-seconds 0.6: fetch delay %v, err %v; want 600ms", cfg.FetchDelay, err)
	}
	if cfg, _, _ := parseFlags(contractArgs("CT0700026")); cfg.FetchDelay != 0 {
		t.Fatalf("default fetch delay %v, want 0 (at once)", cfg.FetchDelay)
	}
}

func TestRefusesBadCommandLines(t *testing.T) {
	bin := binPath
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no machines", []string{"--app-id", "a", "--app-secret", "b", "--mqtt-password", "c"}, "--machines is required"},
		{"no secret", []string{"--machines", "CT0700026", "--app-id", "a", "--mqtt-password", "c"}, "--app-secret is required"},
		{"unknown flag", append(contractArgs("CT0700026"), "--colour", "red"), "flag provided but not defined"},
		{"bad log level", append(contractArgs("CT0700026"), "--log-level", "loud"), "--log-level"},
		{"stray argument", append(contractArgs("CT0700026"), "extra"), "unexpected arguments"},
		{"negative print time", append(contractArgs("CT0700026"), "--print-seconds", "-1"), "must not be negative"},
		{"negative fetch delay", append(contractArgs("CT0700026"), "--fetch-seconds", "-0.5"), "--fetch-seconds must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(bin, tt.args...).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
				t.Fatalf("err %v, output %s; want exit 2 with %q", err, out, tt.want)
			}
		})
	}
	for _, args := range [][]string{
		append(contractArgs("not-a-code"), "--mqtt", "127.0.0.1:0"),
		append(contractArgs("CT0700026"), "--mqtt", "127.0.0.1:0", "--topic-source", "serial"),
		append(contractArgs("CT0700026"), "--mqtt", "256.0.0.1:0"),
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%v: err %v, output %s; want exit 1", args, err, out)
		}
	}
}

func machineDetails(t *testing.T, httpAddr, code string) protocol.Machine {
	t.Helper()
	fields := map[string]string{"appid": appID, "device_code": code}
	fields["sign"] = protocol.Sign(fields, appSecret)
	body, _ := json.Marshal(fields)
	resp, err := http.Post("http://"+httpAddr+protocol.PathPrefix+protocol.CallMachineDetailsTwo, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env protocol.Envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Status != protocol.StatusOK {
		t.Fatalf("machineDetailsTwo: %+v, %v", env, err)
	}
	var data protocol.MachineDetailsData
	if err := json.Unmarshal(env.Data, &data); err != nil || data.Data.DeviceCode != code {
		t.Fatalf("machineDetailsTwo data %s: %v", env.Data, err)
	}
	return data.Data
}

// askMachineInfo publishes a machineInfo command for machineID and waits
// for the answer on the event topic of topicSource.
func askMachineInfo(t *testing.T, brokerURL, machineID, topicSource string) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).SetClientID(fmt.Sprintf("test-%d", rand.Int64())).
		SetUsername(appID).SetPassword(mqttPass).SetCleanSession(true).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", brokerURL, tok.Error())
	}
	defer c.Disconnect(0)
	answers := make(chan []byte, 10)
	if tok := c.Subscribe(protocol.EventTopic(topicSource), 1, func(_ paho.Client, m paho.Message) { answers <- m.Payload() }); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	cmd := []byte(`{"data":{"msgType":"machineInfo","machineId":"` + machineID + `"}}`)
	if tok := c.Publish(protocol.CommandTopic, 1, false, cmd); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case a := <-answers:
		ev, err := protocol.ParseEvent(a)
		if err != nil || ev.MachineInfo == nil || !ev.MachineInfo.IsNormal {
			t.Fatalf("answer %s: %v", a, err)
		}
	case <-time.After(waitLimit):
		t.Fatal("no machineInfo answer")
	}
}
