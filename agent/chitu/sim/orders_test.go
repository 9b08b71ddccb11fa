package sim

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"casefleet/agent/chitu/protocol"
	"casefleet/shared/testenv"
)

// checkLifecycle creates an order on codeA and checks the exact events a
// subscriber sees: pending, paid, printing, then completed once the print
// time has passed.
func checkLifecycle(t *testing.T, ts *testSim, sub *subscriber, code string) {
	t.Helper()
	files := newFileServer(t, map[string][]byte{"/print/1.tif": goodTIFF(t)})
	id := ts.mustCreateOrder(t, code, files.url+"/print/1.tif")

	want := []struct{ status, pay string }{
		{protocol.OrderPending, protocol.PayUnpaid},
		{protocol.OrderPaid, protocol.PayPaid},
		{protocol.OrderPrinting, protocol.PayPaid},
	}
	check := func(ev protocol.OrderStatus, status, pay string) {
		t.Helper()
		if ev.OrderID.String() != id || ev.OrderNo != "SN"+id || ev.MachineID != machineIDOf(code) ||
			ev.Status != status || ev.PayStatus != pay || ev.PayType != "nayax" || ev.Amount != "49.00" ||
			ev.Timestamp != ts.clock.Now().UnixMilli() {
			t.Fatalf("event %+v, want order %s %s/%s at %d", ev, id, status, pay, ts.clock.Now().UnixMilli())
		}
	}
	for _, w := range want {
		check(orderStatus(t, sub.next(t)), w.status, w.pay)
	}
	// The event can overtake the print timer's start: wait for it.
	ts.clock.waitTimers(t, 1)
	ts.clock.Advance(time.Hour) // the print time
	check(orderStatus(t, sub.next(t)), protocol.OrderCompleted, protocol.PayPaid)

	o := ts.order(t, id)
	if o.Status != protocol.OrderCompleted || !o.Fetch.OK || o.Fetch.Format != "tiff" || len(o.History) != 4 {
		t.Fatalf("order %+v", o)
	}
	for _, step := range o.History {
		if !step.Published {
			t.Errorf("step %s not published", step.Status)
		}
	}
	if files.hitsOf("/print/1.tif") != 1 {
		t.Errorf("print file fetched %d times, want once", files.hitsOf("/print/1.tif"))
	}
}

func TestOrderLifecycleEmbeddedBroker(t *testing.T) {
	ts := newTestSim(t)
	broker := ts.serveMQTT(t)
	sub := subscribe(t, broker, protocol.EventTopic(machineIDOf(codeA)))
	checkLifecycle(t, ts, sub, codeA)
}

func TestOrderLifecycleMosquitto(t *testing.T) {
	addr := testenv.MosquittoAddr(t)
	// The broker is shared: a machine code of our own keeps other tests'
	// events off our topic.
	code := fmt.Sprintf("CT%09d", rand.IntN(1e9))
	ts := newTestSim(t, func(c *Config) { c.Machines = []string{code} })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := ts.ConnectMQTT(ctx, "tcp://"+addr); err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, "tcp://"+addr, protocol.EventTopic(machineIDOf(code)))
	checkLifecycle(t, ts, sub, code)

	// Commands reach the sim through the external broker too.
	sub.command(t, protocol.MsgCleanNozzle, machineIDOf(code))
	if ev, err := protocol.ParseEvent(sub.next(t)); err != nil || ev.CleanNozzle == nil || !ev.CleanNozzle.Result {
		t.Fatalf("cleanNozzle answer %+v, %v", ev, err)
	}
}

func TestEventsOnDeviceIDTopic(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.TopicSource = TopicSourceDeviceID })
	broker := ts.serveMQTT(t)
	sub := subscribe(t, broker, protocol.EventTopic(deviceID(codeA)))
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	if ev := orderStatus(t, sub.next(t)); ev.Status != protocol.OrderPending || ev.MachineID != machineIDOf(codeA) {
		t.Fatalf("event %+v", ev)
	}
}

func TestPaymentAfterDelay(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.PayDelay = 3 * time.Second })
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	ts.waitOrder(t, id, "the print file", func(o OrderView) bool { return o.Fetch.Done })
	ts.clock.waitTimers(t, 1)
	ts.clock.Advance(2 * time.Second)
	if o := ts.order(t, id); o.Status != protocol.OrderPending {
		t.Fatalf("paid after 2 of 3 seconds: %s", o.Status)
	}
	ts.clock.Advance(time.Second)
	if o := ts.order(t, id); o.Status != protocol.OrderPrinting || o.PayStatus != protocol.PayPaid {
		t.Fatalf("after 3 seconds: %s/%s, want printing/paid", o.Status, o.PayStatus)
	}
}

func TestManualPayment(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.PayDelay = -1 })
	broker := ts.serveMQTT(t)
	sub := subscribe(t, broker, protocol.EventTopic(machineIDOf(codeA)))
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	if ev := orderStatus(t, sub.next(t)); ev.Status != protocol.OrderPending {
		t.Fatalf("first event %s", ev.Status)
	}
	o := ts.waitOrder(t, id, "the print file", func(o OrderView) bool { return o.Fetch.Done })
	if o.Status != protocol.OrderPending || ts.clock.pending() != 0 {
		t.Fatalf("order %s with %d timers, want pending with none", o.Status, ts.clock.pending())
	}

	ts.admin(t, http.MethodPost, "/admin/orders/"+id+"/pay", "", http.StatusOK, &o)
	if o.Status != protocol.OrderPrinting {
		t.Fatalf("after payment: %s", o.Status)
	}
	for _, want := range []string{protocol.OrderPaid, protocol.OrderPrinting} {
		if ev := orderStatus(t, sub.next(t)); ev.Status != want || ev.PayStatus != protocol.PayPaid {
			t.Fatalf("event %s/%s, want %s/paid", ev.Status, ev.PayStatus, want)
		}
	}
	ts.admin(t, http.MethodPost, "/admin/orders/"+id+"/pay", "", http.StatusConflict, nil)
	ts.admin(t, http.MethodPost, "/admin/orders/nope/pay", "", http.StatusNotFound, nil)
}

// Paying before the machine has the file is possible; printing waits for
// the file.
func TestPaymentBeforeTheFileArrives(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.PayDelay = -1 })
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	files.failFirst.Store(1)
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	ts.clock.waitTimers(t, 1) // the fetch's retry
	var o OrderView
	ts.admin(t, http.MethodPost, "/admin/orders/"+id+"/pay", "", http.StatusOK, &o)
	if o.Status != protocol.OrderPaid {
		t.Fatalf("paid order without its file is %s, want paid", o.Status)
	}
	ts.clock.Advance(fetchFirstRetry)
	ts.waitOrder(t, id, "printing", func(o OrderView) bool { return o.Status == protocol.OrderPrinting })
}

func TestOneOrderAtATimePerMachine(t *testing.T) {
	ts := newTestSim(t)
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	refused(t, ts.createOrder(t, codeA, files.url+"/a.tif"), 500, "设备忙")
	ts.mustCreateOrder(t, codeB, files.url+"/a.tif") // another machine is free

	ts.waitOrder(t, id, "printing", func(o OrderView) bool { return o.Status == protocol.OrderPrinting })
	refused(t, ts.createOrder(t, codeA, files.url+"/a.tif"), 500, "设备忙")
	ts.clock.Advance(time.Hour)
	ts.waitOrder(t, id, "completion", func(o OrderView) bool { return o.Status == protocol.OrderCompleted })
	ts.mustCreateOrder(t, codeA, files.url+"/a.tif")

	var list struct{ Orders []OrderView }
	ts.admin(t, http.MethodGet, "/admin/orders?machine="+codeA, "", http.StatusOK, &list)
	if len(list.Orders) != 2 || list.Orders[0].ID != id || list.Orders[0].ImageURL != files.url+"/a.tif" {
		t.Fatalf("orders of %s: %+v", codeA, list.Orders)
	}
	ts.admin(t, http.MethodGet, "/admin/orders?machine=CT9999999", "", http.StatusNotFound, nil)
}

// A machine switched off mid-print loses the order without a word, and
// refuses orders and commands until it is back.
func TestOfflineMidPrintAbortsTheOrder(t *testing.T) {
	ts := newTestSim(t)
	broker := ts.serveMQTT(t)
	sub := subscribe(t, broker, protocol.EventTopic(machineIDOf(codeA)))
	sub.add(t, protocol.EventTopic(machineIDOf(codeB)))
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	for range 3 { // pending, paid, printing
		sub.next(t)
	}

	var m MachineView
	ts.admin(t, http.MethodPost, "/admin/machines/"+codeA+"/offline", "", http.StatusOK, &m)
	if m.Online || m.CurrentOrder != "" {
		t.Fatalf("machine after going offline: %+v", m)
	}
	o := ts.order(t, id)
	if o.Status != OrderAborted || o.History[len(o.History)-1].Published {
		t.Fatalf("order after the machine went offline: %+v", o)
	}
	var details protocol.MachineDetailsData
	ok(t, ts.call(t, protocol.CallMachineDetailsTwo, map[string]string{"device_code": codeA}), &details)
	if details.Data.OnlineStatus != "offline" {
		t.Fatalf("online_status %q", details.Data.OnlineStatus)
	}
	refused(t, ts.createOrder(t, codeA, files.url+"/a.tif"), 500, "设备离线")
	ts.clock.Advance(time.Hour) // the aborted print's time passes
	sub.command(t, protocol.MsgMachineInfo, machineIDOf(codeA))
	// Nothing was published while offline: the next message is the answer
	// to a command for another machine.
	sub.barrier(t)

	ts.admin(t, http.MethodPost, "/admin/machines/"+codeA+"/online", "", http.StatusOK, &m)
	sub.command(t, protocol.MsgMachineInfo, machineIDOf(codeA))
	if ev, err := protocol.ParseEvent(sub.next(t)); err != nil || ev.MachineInfo == nil || ev.MachineInfo.MachineID != machineIDOf(codeA) {
		t.Fatalf("answer once back: %+v, %v", ev, err)
	}
	ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	ts.admin(t, http.MethodPost, "/admin/machines/CT9999999/offline", "", http.StatusNotFound, nil)
}

func TestAdminFailsAnOrder(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.PayDelay = -1 })
	broker := ts.serveMQTT(t)
	sub := subscribe(t, broker, protocol.EventTopic(machineIDOf(codeA)))
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})

	unpaid := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	sub.next(t) // pending
	var o OrderView
	ts.admin(t, http.MethodPost, "/admin/orders/"+unpaid+"/fail", `{"reason":"paper jam"}`, http.StatusOK, &o)
	if ev := orderStatus(t, sub.next(t)); ev.Status != protocol.OrderFailed || ev.PayStatus != protocol.PayUnpaid {
		t.Fatalf("event %+v", ev)
	}
	if o.Reason != "paper jam" {
		t.Fatalf("reason %q", o.Reason)
	}
	ts.admin(t, http.MethodPost, "/admin/orders/"+unpaid+"/fail", "", http.StatusConflict, nil)

	paid := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	sub.next(t) // pending
	ts.admin(t, http.MethodPost, "/admin/orders/"+paid+"/pay", "", http.StatusOK, nil)
	ts.admin(t, http.MethodPost, "/admin/orders/"+paid+"/fail", "", http.StatusOK, nil)
	var last protocol.OrderStatus
	eventually(t, "the failed event", func() bool {
		last = orderStatus(t, sub.next(t))
		return last.Status == protocol.OrderFailed
	})
	if last.PayStatus != protocol.PayRefunded {
		t.Fatalf("paid order failed with payStatus %s, want refunded", last.PayStatus)
	}
	ts.admin(t, http.MethodPost, "/admin/orders/"+paid+"/fail", `{"reason":`, http.StatusBadRequest, nil)
}

func TestPrintFileValidation(t *testing.T) {
	p, _ := productByID("101")
	size := p.printSize()
	good := goodTIFF(t)
	tests := []struct {
		name       string
		file       []byte
		path       string
		wantOK     bool
		wantFormat string
		wantReason string
	}{
		{name: "TIFF at template size", file: good, wantOK: true, wantFormat: "tiff"},
		{name: "TIFF turned 90 degrees", file: encodeTIFF(t, image.Pt(size.Y, size.X)), wantOK: true, wantFormat: "tiff"},
		{name: "PNG at template size", file: encodePNG(t, size), wantOK: true, wantFormat: "png"},
		{name: "TIFF of the wrong size", file: encodeTIFF(t, image.Pt(size.X-1, size.Y)), wantReason: "843x1742 px"},
		{name: "PNG of the wrong size", file: encodePNG(t, image.Pt(100, 100)), wantReason: "100x100 px"},
		{name: "garbage", file: []byte("GIF89a not a print file"), wantReason: "not a TIFF or PNG"},
		{name: "TIFF cut short", file: good[:len(good)/2], wantReason: "bad tiff"},
		{name: "PNG header only", file: encodePNG(t, size)[:40], wantReason: "bad png"},
		{name: "empty", file: []byte{}, wantReason: "not a TIFF or PNG"},
		{name: "not an http URL", path: "ftp://127.0.0.1/a.tif", wantReason: "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSim(t, func(c *Config) { c.PayDelay = -1 })
			files := newFileServer(t, map[string][]byte{"/f": tt.file})
			url := files.url + "/f"
			if tt.path != "" {
				url = tt.path
			}
			id := ts.mustCreateOrder(t, codeA, url)
			o := ts.waitOrder(t, id, "the fetch", func(o OrderView) bool { return o.Fetch.Done })
			if o.Fetch.OK != tt.wantOK || o.Fetch.Format != tt.wantFormat && tt.wantOK {
				t.Fatalf("fetch %+v, want ok=%v format %q", o.Fetch, tt.wantOK, tt.wantFormat)
			}
			if tt.wantOK {
				if o.Status != protocol.OrderPending {
					t.Fatalf("order with a good file is %s, want pending (awaiting payment)", o.Status)
				}
				return
			}
			if o.Status != protocol.OrderFailed || !strings.Contains(o.Reason, tt.wantReason) {
				t.Fatalf("order %s with reason %q, want failed with %q", o.Status, o.Reason, tt.wantReason)
			}
		})
	}
}

// A refused fetch (the agent restarting) is retried with back-off.
func TestPrintFileFetchIsRetried(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.PayDelay = -1 })
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	files.failFirst.Store(2)
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	ts.clock.waitTimers(t, 1)
	ts.clock.Advance(time.Second)
	ts.clock.waitTimers(t, 1)
	ts.clock.Advance(2 * time.Second)
	o := ts.waitOrder(t, id, "the fetch", func(o OrderView) bool { return o.Fetch.Done })
	if !o.Fetch.OK || o.Fetch.Attempts != 3 || o.Status != protocol.OrderPending {
		t.Fatalf("order %s, fetch %+v: want a good file on the third attempt", o.Status, o.Fetch)
	}
}

func TestPrintFileFetchGivesUp(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.PayDelay = -1 })
	files := newFileServer(t, nil)
	files.failFirst.Store(1000)
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	var waited time.Duration
	for !ts.order(t, id).Fetch.Done {
		ts.clock.waitTimers(t, 1)
		ts.clock.Advance(fetchMaxBackoff)
		waited += fetchMaxBackoff
		if waited > 2*fetchWindow {
			t.Fatal("still fetching long after the fetch window")
		}
		eventually(t, "the next attempt", func() bool { return ts.clock.pending() > 0 || ts.order(t, id).Fetch.Done })
	}
	o := ts.waitOrder(t, id, "failure", func(o OrderView) bool { return o.Status == protocol.OrderFailed })
	if !strings.Contains(o.Reason, "HTTP 503") || waited < fetchWindow-fetchMaxBackoff {
		t.Fatalf("failed after %v with %q", waited, o.Reason)
	}
}

// The machine fetches the print file only after the fetch delay, so an
// agent that is down by then is asked later (and the fetch retried).
func TestPrintFileFetchedAfterTheFetchDelay(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.PayDelay = -1; c.FetchDelay = 600 * time.Millisecond })
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	files.failFirst.Store(1) // the agent is down at the first try
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	ts.clock.waitTimers(t, 1)
	ts.clock.Advance(599 * time.Millisecond)
	if n := files.hitsOf("/a.tif"); n != 0 {
		t.Fatalf("fetched %d times before the fetch delay", n)
	}
	ts.clock.Advance(time.Millisecond)
	eventually(t, "the first try", func() bool { return files.hitsOf("/a.tif") == 1 })
	ts.clock.waitTimers(t, 1)
	ts.clock.Advance(fetchFirstRetry)
	o := ts.waitOrder(t, id, "the fetch", func(o OrderView) bool { return o.Fetch.Done })
	if !o.Fetch.OK || o.Fetch.Attempts != 2 || o.Status != protocol.OrderPending {
		t.Fatalf("order %s, fetch %+v: want a good file on the second attempt", o.Status, o.Fetch)
	}
}

// An order lost at the machine before its fetch delay is never fetched.
func TestOfflineBeforeTheFetchDelay(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.FetchDelay = time.Second })
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	ts.clock.waitTimers(t, 1)
	ts.admin(t, http.MethodPost, "/admin/machines/"+codeA+"/offline", "", http.StatusOK, nil)
	eventually(t, "the fetch delay to stop", func() bool { return ts.clock.pending() == 0 })
	if o := ts.order(t, id); o.Status != OrderAborted || files.hitsOf("/a.tif") != 0 {
		t.Fatalf("order %s, %d fetches; want aborted, never fetched", o.Status, files.hitsOf("/a.tif"))
	}
}

// An order lost at the machine stops its fetch.
func TestOfflineStopsTheFetch(t *testing.T) {
	ts := newTestSim(t)
	files := newFileServer(t, nil)
	files.failFirst.Store(1000)
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	ts.clock.waitTimers(t, 1)
	ts.admin(t, http.MethodPost, "/admin/machines/"+codeA+"/offline", "", http.StatusOK, nil)
	eventually(t, "the fetch to stop", func() bool { return ts.clock.pending() == 0 })
	if o := ts.order(t, id); o.Status != OrderAborted {
		t.Fatalf("order %s", o.Status)
	}
}
