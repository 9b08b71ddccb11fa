package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestRequestLatencyIsLabelledByRoutePatternNotPath(t *testing.T) {
	m := New(Options{Queue: openQueue(t)})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/chitu/machine/{code}/queue/{order}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	root := http.NewServeMux() // muxes nest, as on the agent's LAN listener
	root.Handle("/", mux)
	srv := httptest.NewServer(m.Instrument(root))
	defer srv.Close()

	get := func(path string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A client walking many different paths (order ids, junk) must not
	// create a series per path.
	for i := range 50 {
		get(fmt.Sprintf("/api/chitu/machine/CT0700026/queue/order%d", i))
		get(fmt.Sprintf("/junk/%d/%x", i, i*7919))
	}
	get("/healthz")

	fams := scrape(t, m.Handler())
	mustValue(t, fams, "casefleet_agent_http_request_duration_seconds",
		map[string]string{"route": "GET /api/chitu/machine/{code}/queue/{order}", "code": "404"}, 50)
	mustValue(t, fams, "casefleet_agent_http_request_duration_seconds",
		map[string]string{"route": "GET /healthz", "code": "200"}, 1)
	mustValue(t, fams, "casefleet_agent_http_request_duration_seconds",
		map[string]string{"route": routeUnmatched, "code": "404"}, 50)
	if n := len(fams["casefleet_agent_http_request_duration_seconds"].GetMetric()); n != 3 {
		t.Errorf("%d request series, want 3", n)
	}
}

func TestStreamsPassThroughUntimed(t *testing.T) {
	m := New(Options{Queue: openQueue(t)})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_ = c.Write(r.Context(), websocket.MessageText, []byte("hello"))
		c.Close(websocket.StatusNormalClosure, "")
	})
	mux.HandleFunc("GET /sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: hi\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the recorder: %v", err)
		}
	})
	srv := httptest.NewServer(m.Instrument(mux))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):]+"/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket through Instrument: %v", err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || string(msg) != "hello" {
		t.Fatalf("read %q, %v", msg, err)
	}
	c.CloseNow()
	resp, err := http.Get(srv.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	fams := scrape(t, m.Handler())
	if f := fams["casefleet_agent_http_request_duration_seconds"]; f != nil && len(f.GetMetric()) > 0 {
		t.Errorf("streams were timed: %v", f.GetMetric())
	}
}
