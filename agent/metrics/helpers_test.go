package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"casefleet/agent/chitu"
	"casefleet/agent/dispatch"
	"casefleet/agent/queue"
	"casefleet/agent/queue/queuetest"
	"casefleet/shared/testenv/promtest"
)

func openQueue(t testing.TB) *queue.Queue {
	t.Helper()
	q, _ := queuetest.New(t)
	return q
}

// enqueue adds an order as the customer API would.
func enqueue(t testing.TB, q *queue.Queue) queue.Order {
	t.Helper()
	o, err := q.Enqueue(queue.Order{SessionID: "s-" + queue.NewID(), MachineCode: "CT0700026", ProductID: "p1", PrintFile: queue.NewID() + ".tif"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// machine is a dispatcher's status as the metrics see it.
type machine struct {
	status dispatch.Status
	err    error
}

func (m *machine) Status() (dispatch.Status, error) { return m.status, m.err }

func onlineMachine() *machine {
	return &machine{status: dispatch.Status{
		Code: "CT0700026", Status: dispatch.StateOnline, MQTTConnected: true,
		InkLevels: chitu.Ink{Cyan: chitu.InkOK, Magenta: chitu.InkLow, Yellow: chitu.InkOK, Black: chitu.InkUnknown},
	}}
}

// scrape serves /metrics once and parses the text format.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	return promtest.Scrape(t, http.DefaultClient, req)
}

// value is the value of the one series of name whose labels include
// labels; ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for k, want := range labels {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == want {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := value(fams, name, labels)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	if got != want {
		t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("within 10s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
