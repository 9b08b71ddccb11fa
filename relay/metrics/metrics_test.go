package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return fams
}

// series is the label values (by label name) and value of every series of
// a family.
func series(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range fams[name].GetMetric() {
		key := ""
		for _, lp := range m.GetLabel() {
			key += lp.GetName() + "=" + lp.GetValue() + " "
		}
		switch {
		case m.Gauge != nil:
			out[key] = m.GetGauge().GetValue()
		case m.Counter != nil:
			out[key] = m.GetCounter().GetValue()
		case m.Histogram != nil:
			out[key] = float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

func TestTunnelGaugesAreReadAtScrape(t *testing.T) {
	machines := []Machine{{Code: "CT0700026", Location: "mall-3f", Up: true}, {Code: "CT0700027", Location: "mall-3f"}}
	m := New(Options{Instance: "relay-a", Version: "1.2.3", Machines: func() []Machine { return machines }})
	fams := scrape(t, m)
	if got := series(fams, "casefleet_relay_tunnels_up"); got[""] != 1 {
		t.Errorf("tunnels_up = %v", got)
	}
	up := series(fams, "casefleet_relay_machine_up")
	if up["location=mall-3f machine=CT0700026 "] != 1 || up["location=mall-3f machine=CT0700027 "] != 0 || len(up) != 2 {
		t.Errorf("machine_up = %v", up)
	}
	if got := series(fams, "casefleet_relay_info"); got["instance_id=relay-a version=1.2.3 "] != 1 {
		t.Errorf("info = %v", got)
	}

	machines[1].Up = true
	if got := series(scrape(t, m), "casefleet_relay_tunnels_up"); got[""] != 2 {
		t.Errorf("tunnels_up after a second tunnel = %v", got)
	}
}

func TestEveryReasonIsExportedFromTheStart(t *testing.T) {
	fams := scrape(t, New(Options{}))
	for name, values := range map[string][]string{
		"casefleet_relay_tunnel_disconnects_total": DisconnectReasons,
		"casefleet_relay_tunnel_refusals_total":    RefusalReasons,
		"casefleet_relay_peer_requests_total":      PeerDirections,
		"casefleet_relay_directory_errors_total":   DirectoryOps,
		"casefleet_relay_rate_limited_total":       Limits,
	} {
		got := series(fams, name)
		if len(got) != len(values) {
			t.Errorf("%s has %d series, want %d: %v", name, len(got), len(values), got)
		}
	}
}

func TestUnknownLabelValuesDoNotGrowTheSeries(t *testing.T) {
	m := New(Options{})
	for _, v := range []string{"made-up", "/some/path", "CT0700026"} {
		m.TunnelRefused(v)
		m.TunnelDisconnected(v)
		m.DirectoryError(v)
		m.RateLimited(v)
		m.PeerRequest(v)
	}
	m.TunnelRefused(RefusedTokenRevoked)
	fams := scrape(t, m)
	refusals := series(fams, "casefleet_relay_tunnel_refusals_total")
	if refusals["reason=other "] != 3 || refusals["reason=token_revoked "] != 1 || len(refusals) != len(RefusalReasons)+1 {
		t.Errorf("refusals = %v", refusals)
	}
	if got := series(fams, "casefleet_relay_directory_errors_total"); got["op=other "] != 3 {
		t.Errorf("directory errors = %v", got)
	}
}

func TestRequestsAndStreams(t *testing.T) {
	m := New(Options{})
	m.ObserveRequest("GET /healthz", 200, time.Millisecond)
	m.ObserveRequest("GET /healthz", 200, 2*time.Millisecond)
	m.ObserveRequest("unmatched", 404, time.Millisecond)
	closed := m.StreamOpened()
	m.StreamOpened()
	closed()
	fams := scrape(t, m)
	req := series(fams, "casefleet_relay_http_request_duration_seconds")
	if req["code=200 route=GET /healthz "] != 2 || req["code=404 route=unmatched "] != 1 {
		t.Errorf("requests = %v", req)
	}
	if got := series(fams, "casefleet_relay_websockets_open"); got[""] != 1 {
		t.Errorf("websockets_open = %v", got)
	}
}
