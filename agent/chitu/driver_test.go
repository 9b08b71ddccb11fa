package chitu

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"casefleet/agent/chitu/protocol"
	"casefleet/shared/testenv"
)

func TestDialReturnsWhileThePlatformHangs(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t, testMachine(testCode))
	asked := make(chan struct{}, 1)
	f.setHook(func(_ string, _ http.ResponseWriter, r *http.Request) bool {
		select {
		case asked <- struct{}{}:
		default:
		}
		<-r.Context().Done() // hangs until the driver gives up
		return true
	})
	d, err := Dial(t.Context(), testConfig(f.URL(), testCode))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked:
	case <-time.After(waitFor):
		t.Fatal("the driver never tried to resolve the machine")
	}
	if d.MQTTConnected() {
		t.Fatal("MQTT up before the machine was resolved")
	}
	// Close must not wait for the hanging call.
	d.Close()
	if _, ok := <-d.Events(); ok {
		t.Fatal("Events still open after Close")
	}
}

func TestCallsFailCleanlyWhileOffline(t *testing.T) {
	t.Parallel()
	d, err := Dial(t.Context(), testConfig("http://127.0.0.1:1", testCode))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.CreateOrder(t.Context(), "1042", "https://x.test/a.tif"); err == nil || IsRejected(err) {
		t.Fatalf("err = %v, want an ambiguous error", err)
	}
	if _, err := d.Products(t.Context()); err == nil {
		t.Fatal("Products succeeded with the platform down")
	}
}

func TestBackgroundResolutionRetriesUntilThePlatformAnswers(t *testing.T) {
	t.Parallel()
	addr := testenv.MosquittoAddr(t)
	m := uniqueMachine()
	f := newFakePlatform(t, m)
	// Down for one whole attempt: machineDetailsTwo and the machineList
	// fallback both fail.
	var healthy atomic.Bool
	var failures atomic.Int32
	failed := make(chan struct{})
	f.setHook(func(_ string, w http.ResponseWriter, _ *http.Request) bool {
		if healthy.Load() {
			return false
		}
		http.Error(w, "upstream down", http.StatusBadGateway)
		if failures.Add(1) == 2 {
			close(failed)
		}
		return true
	})
	logs := &logRecorder{}
	cfg := testConfig(f.URL(), m.DeviceCode)
	cfg.MQTTURL = "tcp://" + addr
	cfg.Logger = slog.New(logs)
	d, err := Dial(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	select {
	case <-failed:
	case <-time.After(waitFor):
		t.Fatal("the driver never asked the platform")
	}
	healthy.Store(true)
	waitResync(t, d)
	if logs.count(slog.LevelWarn, "cannot resolve machine yet, will retry") == 0 {
		t.Error("the failed resolution was not logged")
	}
}

func TestEventsBeyondTheChannelBufferKeepTheirOrder(t *testing.T) {
	t.Parallel()
	addr := testenv.MosquittoAddr(t)
	d, m, _ := dialBroker(t, addr)
	waitResync(t, d)
	pub := observer(t, addr)
	const n = 2 * eventsBuffer
	for i := range n {
		publish(t, pub, protocol.EventTopic(m.MachineID), orderStatusJSON(m.MachineID, fmt.Sprint(i), protocol.OrderPaid))
	}
	for i := range n {
		ev := nextEvent(t, d)
		wantOrder(t, ev, fmt.Sprint(i), protocol.OrderPaid)
		// Applied: the broker sends only so many events not yet done
		// (Mosquitto: 20) before it waits.
		ev.Done()
	}
}

// TestCloseStopsEverything: after Close, Events is closed and every
// goroutine the driver started (its own and paho's) is gone.
func TestCloseStopsEverything(t *testing.T) {
	addr := testenv.MosquittoAddr(t)
	m := uniqueMachine()
	f := newFakePlatform(t, m)
	pub := observer(t, addr)
	cfg := testConfig(f.URL(), m.DeviceCode)
	cfg.MQTTURL = "tcp://" + addr
	// No idle HTTP connections, whose goroutines would outlive the test's
	// count but are not the driver's.
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	before := runtime.NumGoroutine()

	d, err := Dial(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitResync(t, d)
	// Leave events unread in the channel and the queue behind it.
	for i := range 3 {
		publish(t, pub, protocol.EventTopic(m.MachineID), orderStatusJSON(m.MachineID, fmt.Sprint(i), protocol.OrderPaid))
	}
	wantOrder(t, nextEvent(t, d), "0", protocol.OrderPaid)

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	deadline := time.After(waitFor)
	for open := true; open; {
		select {
		case _, open = <-d.Events():
		case <-deadline:
			t.Fatal("Events not closed")
		}
	}
	if d.MQTTConnected() {
		t.Error("MQTTConnected after Close")
	}
	if err := d.RequestMachineInfo(t.Context()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("RequestMachineInfo after Close: %v, want ErrNotConnected", err)
	}

	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		select {
		case <-deadline:
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		case <-time.After(10 * time.Millisecond): // poll
		}
	}
}
