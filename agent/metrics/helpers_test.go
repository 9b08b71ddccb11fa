package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"casefleet/agent/dispatch"
	"casefleet/agent/ink"
	"casefleet/agent/queue"
	"casefleet/agent/queue/queuetest"
	"casefleet/shared/testenv"
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
		InkLevels: ink.Levels{Cyan: ink.OK, Magenta: ink.Low, Yellow: ink.OK, Black: ink.Unknown},
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

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := promtest.Value(fams, name, labels)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	if got != want {
		t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// eventually polls cond until it holds, for 10 s at most.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, what, cond)
}
