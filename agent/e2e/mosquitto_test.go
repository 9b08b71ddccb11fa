package e2e

import (
	"fmt"
	"net"

	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/shared/testenv"
)

// broker is a Mosquitto process of the test's own, so it can be restarted
// without disturbing anything else on the machine.
type broker struct {
	t    *testing.T
	bin  string
	conf string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	b := &broker{t: t, bin: testenv.MosquittoBinary(t), addr: freeAddr(t)}
	_, port, _ := net.SplitHostPort(b.addr)
	b.conf = filepath.Join(t.TempDir(), "mosquitto.conf")
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n", port)
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *broker) start() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(b.cmd, b.done)
	agenttest.Eventually(b.t, 10*time.Second, "mosquitto listening", func() bool {
		c, err := net.Dial("tcp", b.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (b *broker) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Kill()
		<-b.done
	}
}

// A Mosquitto restart in the middle of an order loses nothing: both the
// agent and the platform reconnect, and the order completes.
func TestMosquittoRestartMidOrder(t *testing.T) {
	mq := startBroker(t)
	mqURL := "tcp://" + mq.addr
	s := startSim(t, []string{code}, "--mqtt-url", mqURL, "--print-seconds", "0.5", "--pay-seconds", "-1")
	k := &kiosk{t: t, sim: s, admin: &agenttest.Sim{URL: s.URL}, lanAddr: freeAddr(t)}
	k.env = agentEnv(code, t.TempDir(), k.lanAddr, s.URL, mqURL)
	k.api = "http://" + k.lanAddr + "/api/chitu/machine/" + code
	k.startAgent()
	k.waitOnline()
	agenttest.Eventually(t, 10*time.Second, "agent on MQTT", func() bool { return k.agent.log.count("MQTT connected") == 1 })

	phone := agenttest.NewCustomer(t, k.api)
	o := phone.Order(t, phone.FirstProduct(t))
	agenttest.Eventually(t, 10*time.Second, "awaiting payment", func() bool { return phone.Get(t, o.ID).Stage == "awaiting_payment" })

	mq.stop()
	agenttest.Eventually(t, 10*time.Second, "agent notices the broker is gone", func() bool {
		return k.agent.log.count("MQTT connection lost") >= 1
	})
	mq.start()
	agenttest.Eventually(t, 30*time.Second, "agent and platform reconnect", func() bool {
		return k.agent.log.count("MQTT connected") >= 2 && s.log.count("MQTT connected") >= 2
	})

	k.pay()
	phone.WaitStatus(t, o.ID, "complete", 20*time.Second)
	if n := k.vendorOrders(); n != 1 {
		t.Fatalf("machine received %d orders, want 1", n)
	}
}
