package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"casefleet/agent/chitu/protocol"
)

func TestFaultRefusesWithAnErrorStatus(t *testing.T) {
	ts := newTestSim(t)
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	var f Fault
	ts.admin(t, http.MethodPost, "/admin/faults", `{"call":"machineCreateOrder","status":500,"count":1}`, http.StatusCreated, &f)
	if f.ID == 0 || f.Msg != "系统繁忙" {
		t.Fatalf("fault %+v", f)
	}
	refused(t, ts.createOrder(t, codeA, files.url+"/a.tif"), 500, "系统繁忙")
	if n := len(ts.orderViews("")); n != 0 {
		t.Fatalf("a refused call created %d orders", n)
	}
	ts.mustCreateOrder(t, codeA, files.url+"/a.tif") // count 1: used up
	var faults struct{ Faults []Fault }
	ts.admin(t, http.MethodGet, "/admin/faults", "", http.StatusOK, &faults)
	if len(faults.Faults) != 0 {
		t.Fatalf("used-up fault still listed: %+v", faults.Faults)
	}
}

func TestFaultHTTPStatus(t *testing.T) {
	ts := newTestSim(t)
	body := mustJSON(signed(map[string]string{"device_code": codeA}))

	ts.admin(t, http.MethodPost, "/admin/faults", `{"httpStatus":502,"count":1}`, http.StatusCreated, nil)
	resp, data := ts.post(t, protocol.CallMachineDetailsTwo, "application/json", body)
	if resp.StatusCode != http.StatusBadGateway || json.Valid(data) {
		t.Fatalf("HTTP %d %q, want a 502 gateway page", resp.StatusCode, data)
	}

	ts.admin(t, http.MethodPost, "/admin/faults", `{"httpStatus":503,"status":503,"msg":"维护中","count":1}`, http.StatusCreated, nil)
	resp, data = ts.post(t, protocol.CallMachineDetailsTwo, "application/json", body)
	var env protocol.Envelope
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(data, &env) != nil || env.Status != 503 || env.Msg != "维护中" {
		t.Fatalf("HTTP %d %s, want 503 with its envelope", resp.StatusCode, data)
	}
	ok(t, ts.call(t, protocol.CallMachineDetailsTwo, map[string]string{"device_code": codeA}), nil)
}

// A slow machineCreateOrder has created its order before the delay, so a
// client that gives up still leaves it behind.
func TestFaultDelayCreatesTheOrderFirst(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.PayDelay = -1 })
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	ts.admin(t, http.MethodPost, "/admin/faults", `{"call":"machineCreateOrder","machine":"`+codeA+`","delayMs":2000}`, http.StatusCreated, nil)

	answered := make(chan protocol.Envelope, 1)
	go func() {
		body := mustJSON(signed(map[string]string{"device_id": deviceID(codeA), "product_id": "101",
			"pay_type": "nayax", "image_url": files.url + "/a.tif"}))
		resp, err := http.Post(ts.url+protocol.PathPrefix+protocol.CallMachineCreateOrder, "application/json", bytes.NewReader(body))
		if err != nil {
			close(answered)
			return
		}
		defer resp.Body.Close()
		var env protocol.Envelope
		json.NewDecoder(resp.Body).Decode(&env)
		answered <- env
	}()
	eventually(t, "the order", func() bool { return len(ts.orderViews(codeA)) == 1 })
	eventually(t, "the delay", func() bool { return ts.faultList()[0].Hits == 1 && ts.clock.pending() > 0 })
	select {
	case env := <-answered:
		t.Fatalf("answered %+v before the delay", env)
	default:
	}
	ts.clock.Advance(2 * time.Second)
	env := <-answered
	var data struct {
		OrderID string `json:"order_id"`
	}
	ok(t, env, &data)
	if data.OrderID != ts.orderViews(codeA)[0].ID {
		t.Fatalf("answered order %q, created %q", data.OrderID, ts.orderViews(codeA)[0].ID)
	}

	// Another machine is not affected.
	ts.mustCreateOrder(t, codeB, files.url+"/a.tif")
}

func TestFaultDelayClientGivesUp(t *testing.T) {
	ts := newTestSim(t)
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	ts.admin(t, http.MethodPost, "/admin/faults", `{"call":"machineCreateOrder","delayMs":60000}`, http.StatusCreated, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		body := mustJSON(signed(map[string]string{"device_id": deviceID(codeA), "product_id": "101",
			"pay_type": "nayax", "image_url": files.url + "/a.tif"}))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.url+protocol.PathPrefix+protocol.CallMachineCreateOrder, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	eventually(t, "the order", func() bool { return len(ts.orderViews(codeA)) == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the request finished though the client gave up")
	}
	eventually(t, "the delay to end", func() bool { return ts.clock.pending() == 0 || ts.orderViews(codeA)[0].Fetch.Done })
	if o := ts.orderViews(codeA)[0]; o.Status == protocol.OrderFailed || o.Status == OrderAborted {
		t.Fatalf("the order left behind is %s", o.Status)
	}
	ts.admin(t, http.MethodDelete, "/admin/faults", "", http.StatusNoContent, nil)
	refused(t, ts.createOrder(t, codeA, files.url+"/a.tif"), 500, "设备忙")
}

func TestFaultsMatchCallAndMachine(t *testing.T) {
	ts := newTestSim(t)
	ts.admin(t, http.MethodPost, "/admin/faults", `{"call":"machineDetailsTwo","machine":"`+codeA+`","status":500,"msg":"boom"}`, http.StatusCreated, nil)
	for range 3 { // count 0: until cleared
		refused(t, ts.call(t, protocol.CallMachineDetailsTwo, map[string]string{"device_code": codeA}), 500, "boom")
	}
	ok(t, ts.call(t, protocol.CallMachineDetailsTwo, map[string]string{"device_code": codeB}), nil)
	ok(t, ts.call(t, protocol.CallMachineDetails, map[string]string{"device_id": deviceID(codeA)}), nil)
	ok(t, ts.call(t, protocol.CallMachineList, nil), nil)

	// The fault applies to calls that name the machine by device_id too.
	ts.admin(t, http.MethodPost, "/admin/faults", `{"machine":"`+codeB+`","status":500,"msg":"b down"}`, http.StatusCreated, nil)
	refused(t, ts.call(t, protocol.CallMachineDetails, map[string]string{"device_id": deviceID(codeB)}), 500, "b down")

	ts.admin(t, http.MethodDelete, "/admin/faults", "", http.StatusNoContent, nil)
	ok(t, ts.call(t, protocol.CallMachineDetailsTwo, map[string]string{"device_code": codeA}), nil)
}

// Signature checks come before faults: a fault never hides a bad request.
func TestFaultsAfterSignatureCheck(t *testing.T) {
	ts := newTestSim(t)
	ts.admin(t, http.MethodPost, "/admin/faults", `{"httpStatus":500}`, http.StatusCreated, nil)
	resp, data := ts.post(t, protocol.CallMachineList, "application/json", []byte(`{"appid":"x","sign":"y"}`))
	refused(t, decodeEnvelope(t, resp, data), 401, "签名错误")
}

func TestBadFaultsAreRefused(t *testing.T) {
	ts := newTestSim(t)
	for _, body := range []string{
		`{}`,
		`{"machine":"CT9999999","status":500}`,
		`{"call":"launchRocket","status":500}`,
		`{"delayMs":-1}`,
		`{"delayMs":600001}`,
		`{"status":200}`,
		`{"httpStatus":99}`,
		`{"status":500,"count":-1}`,
		`{"status":500,"colour":"red"}`,
		`{"status":"500"}`,
		`[`,
	} {
		t.Run(body, func(t *testing.T) {
			ts.admin(t, http.MethodPost, "/admin/faults", body, http.StatusBadRequest, nil)
		})
	}
	if len(ts.faultList()) != 0 {
		t.Fatal("a bad fault was installed")
	}
}

func TestCloseReleasesDelayedRequests(t *testing.T) {
	ts := newTestSim(t)
	ts.admin(t, http.MethodPost, "/admin/faults", `{"delayMs":60000}`, http.StatusCreated, nil)
	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(ts.url+protocol.PathPrefix+protocol.CallMachineList, "application/json",
			bytes.NewReader(mustJSON(signed(nil))))
		if err != nil {
			done <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	ts.clock.waitTimers(t, 1)
	ts.Close()
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Fatalf("delayed request answered %d after Close, want 503", code)
	}
	ts.admin(t, http.MethodDelete, "/admin/faults", "", http.StatusNoContent, nil)
	if !strings.Contains(ts.createOrder(t, codeA, "http://127.0.0.1/a.tif").Msg, "系统繁忙") {
		t.Fatal("a closed sim took an order")
	}
}
