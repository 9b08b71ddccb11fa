package e2e

import (
	"fmt"
	"net"
	"os"
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
	addr string
	proc *testenv.Process
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	b := &broker{t: t, addr: testenv.FreeAddr(t)}
	_, port, _ := net.SplitHostPort(b.addr)
	confPath := filepath.Join(t.TempDir(), "mosquitto.conf")
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n", port)
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.proc = testenv.StartProcess(t, "mosquitto", testenv.MosquittoBinary(t), nil, "-c", confPath)
	b.waitListening()
	return b
}

func (b *broker) start() {
	b.t.Helper()
	b.proc.Start(b.t)
	b.waitListening()
}

func (b *broker) waitListening() {
	b.t.Helper()
	testenv.Eventually(b.t, 10*time.Second, "mosquitto listening", func() bool {
		c, err := net.Dial("tcp", b.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (b *broker) stop() { b.proc.Kill() }

// A Mosquitto restart in the middle of an order loses nothing: both the
// agent and the platform reconnect, and the order completes.
func TestMosquittoRestartMidOrder(t *testing.T) {
	mq := startBroker(t)
	mqURL := "tcp://" + mq.addr
	s := startSim(t, []string{code}, "--mqtt-url", mqURL, "--print-seconds", "0.5", "--pay-seconds", "-1")
	k := &kiosk{t: t, sim: s, admin: &agenttest.Sim{URL: s.URL}, lanAddr: testenv.FreeAddr(t)}
	k.env = agentEnv(code, t.TempDir(), k.lanAddr, s.URL, mqURL)
	k.api = "http://" + k.lanAddr + "/api/chitu/machine/" + code
	k.startAgent()
	k.waitOnline()
	testenv.Eventually(t, 10*time.Second, "agent on MQTT", func() bool { return k.agent.Count("MQTT connected") == 1 })

	phone := agenttest.NewCustomer(t, k.api)
	o := phone.Order(t, phone.FirstProduct(t))
	testenv.Eventually(t, 10*time.Second, "awaiting payment", func() bool { return phone.Get(t, o.ID).Stage == "awaiting_payment" })

	mq.stop()
	testenv.Eventually(t, 10*time.Second, "agent notices the broker is gone", func() bool {
		return k.agent.Count("MQTT connection lost") >= 1
	})
	mq.start()
	testenv.Eventually(t, 30*time.Second, "agent and platform reconnect", func() bool {
		return k.agent.Count("MQTT connected") >= 2 && s.Count("MQTT connected") >= 2
	})

	k.pay()
	phone.WaitStatus(t, o.ID, "complete", 20*time.Second)
	if n := k.vendorOrders(); n != 1 {
		t.Fatalf("machine received %d orders, want 1", n)
	}
}
