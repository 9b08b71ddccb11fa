package sim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"casefleet/agent/chitu/protocol"
)

func TestAdminState(t *testing.T) {
	ts := newTestSim(t, func(c *Config) { c.PayDelay = -1 })
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	id := ts.mustCreateOrder(t, codeB, files.url+"/a.tif")
	var st State
	ts.admin(t, http.MethodGet, "/admin/state", "", http.StatusOK, &st)
	if len(st.Machines) != 3 || st.Machines[0].Code != codeA || st.Machines[1].CurrentOrder != id {
		t.Fatalf("machines %+v", st.Machines)
	}
	m := st.Machines[0]
	if m.DeviceID != deviceID(codeA) || m.MachineID != machineIDOf(codeA) || !m.Online ||
		m.Ink["cyan"] != "ok" || m.EventTopic != protocol.EventTopic(m.MachineID) {
		t.Fatalf("machine %+v", m)
	}
	if len(st.Orders) != 1 || st.Orders[0].ID != id || st.Orders[0].History[0].Status != protocol.OrderPending {
		t.Fatalf("orders %+v", st.Orders)
	}
	if st.Config.PaySeconds != -1 || st.Config.PrintSeconds != 3600 {
		t.Fatalf("config %+v", st.Config)
	}
}

func TestAdminInk(t *testing.T) {
	ts := newTestSim(t)
	var m MachineView
	ts.admin(t, http.MethodPost, "/admin/machines/"+codeA+"/ink", `{"cyan":"low","black":"unknown"}`, http.StatusOK, &m)
	if m.Ink["cyan"] != "low" || m.Ink["black"] != "unknown" || m.Ink["magenta"] != "ok" {
		t.Fatalf("ink %v", m.Ink)
	}
	var details protocol.MachineDetailsData
	ok(t, ts.call(t, protocol.CallMachineDetailsTwo, map[string]string{"device_code": codeA}), &details)
	d := details.Data
	if d.WhiteSugar != protocol.InkLow || d.RedSugar != protocol.InkUnknown || d.BlueSugar != protocol.InkSufficient {
		t.Fatalf("sugars %s %s %s %s", d.WhiteSugar, d.BlueSugar, d.YellowSugar, d.RedSugar)
	}
	for _, bad := range []string{`{"cyan":"empty"}`, `{"white":"low"}`, `{"cyan":1}`, `[`} {
		ts.admin(t, http.MethodPost, "/admin/machines/"+codeA+"/ink", bad, http.StatusBadRequest, nil)
	}
	ts.admin(t, http.MethodPost, "/admin/machines/CT9999999/ink", `{"cyan":"low"}`, http.StatusNotFound, nil)
}

func TestAdminConfig(t *testing.T) {
	ts := newTestSim(t)
	var cfg ConfigView
	ts.admin(t, http.MethodPost, "/admin/config", `{"printSeconds":5}`, http.StatusOK, &cfg)
	if cfg.PrintSeconds != 5 || cfg.PaySeconds != 0 {
		t.Fatalf("config %+v", cfg)
	}
	ts.admin(t, http.MethodPost, "/admin/config", `{"paySeconds":-1,"fetchSeconds":0.6}`, http.StatusOK, nil)
	ts.admin(t, http.MethodGet, "/admin/config", "", http.StatusOK, &cfg)
	if cfg.PrintSeconds != 5 || cfg.PaySeconds != -1 || cfg.FetchSeconds != 0.6 {
		t.Fatalf("config %+v", cfg)
	}
	for _, bad := range []string{`{"fetchSeconds":-1}`, `{"printSeconds":-1}`, `{"printSeconds":1e9}`, `{"paySeconds":1e9}`, `{"printSecs":5}`, `{"printSeconds":"5"}`} {
		ts.admin(t, http.MethodPost, "/admin/config", bad, http.StatusBadRequest, nil)
	}

	// New timing applies to the next steps: a fetch 0.6 s after the order,
	// manual payment, 5-second prints.
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	id := ts.mustCreateOrder(t, codeA, files.url+"/a.tif")
	ts.clock.waitTimers(t, 1)
	ts.clock.Advance(600 * time.Millisecond)
	ts.waitOrder(t, id, "the fetch", func(o OrderView) bool { return o.Fetch.Done })
	ts.admin(t, http.MethodPost, "/admin/orders/"+id+"/pay", "", http.StatusOK, nil)
	ts.clock.Advance(5 * time.Second)
	if o := ts.order(t, id); o.Status != protocol.OrderCompleted {
		t.Fatalf("after 5 s: %s", o.Status)
	}
}

func TestAdminRefusesHostileBodies(t *testing.T) {
	ts := newTestSim(t)
	huge := `{"reason":"` + strings.Repeat("x", maxAdminBody) + `"}`
	ts.admin(t, http.MethodPost, "/admin/config", huge, http.StatusBadRequest, nil)
	ts.admin(t, http.MethodPost, "/admin/faults", `{"status":500}{"status":501}`, http.StatusBadRequest, nil)
	ts.admin(t, http.MethodGet, "/admin/orders/"+strings.Repeat("9", 5000), "", http.StatusNotFound, nil)
	ts.admin(t, http.MethodPut, "/admin/config", "{}", http.StatusMethodNotAllowed, nil)
}
