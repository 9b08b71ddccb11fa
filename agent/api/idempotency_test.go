package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"casefleet/agent/agenttest"
)

// An order sent again with its Idempotency-Key (the answer was lost, the
// page reloaded, the agent restarted) is the order already made; the same
// key for another order is refused; a new key is a new order.
func TestARetriedOrderIsMadeOnce(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{code}, PayDelay: -1})
	cfg := sim.AgentConfig(code, t.TempDir())
	agent := agenttest.StartAgent(t, cfg)
	waitUp(t, agent)
	c := agenttest.NewCustomer(t, agent.API())
	product := c.FirstProduct(t)
	photo := agenttest.Photo(t, 300, 200)
	placement := `{"scale":1.2,"rotation":90,"offset":{"x":0.1,"y":0},"flipX":true}`

	first := expectOrder(t, c.PostPrintOnce(t, product, photo, placement, "attempt-1"), http.StatusAccepted, "")
	again := expectOrder(t, c.PostPrintOnce(t, product, photo, placement, "attempt-1"), http.StatusOK, "true")
	if again.ID != first.ID {
		t.Fatalf("the retry made order %s, want %s again", again.ID, first.ID)
	}
	// Placement written another way (same numbers, other field order) is
	// the same request.
	reordered := `{"flipX":true,"offset":{"y":0,"x":0.1},"rotation":90,"scale":1.2}`
	if o := expectOrder(t, c.PostPrintOnce(t, product, photo, reordered, "attempt-1"), http.StatusOK, "true"); o.ID != first.ID {
		t.Fatalf("the retry with reordered JSON made order %s", o.ID)
	}

	for name, resp := range map[string]*http.Response{
		"another placement": c.PostPrintOnce(t, product, photo, `{"scale":2}`, "attempt-1"),
		"another photo":     c.PostPrintOnce(t, product, agenttest.Photo(t, 200, 300), placement, "attempt-1"),
	} {
		if got := errorCode(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || got != "idempotency_key_reused" {
			t.Errorf("%s under a used key: %d %s, want 422 idempotency_key_reused", name, resp.StatusCode, got)
		}
	}
	second := expectOrder(t, c.PostPrintOnce(t, product, photo, placement, "attempt-2"), http.StatusAccepted, "")
	if second.ID == first.ID {
		t.Fatal("a new key did not make a new order")
	}
	// Another session's key is its own, even when equal.
	other := agenttest.NewCustomer(t, agent.API())
	if o := expectOrder(t, other.PostPrintOnce(t, product, photo, placement, "attempt-1"), http.StatusAccepted, ""); o.ID == first.ID {
		t.Fatal("another session's key found this session's order")
	}

	agent.Stop(t)
	agent = agenttest.StartAgent(t, cfg)
	waitUp(t, agent)
	c.API = agent.API()
	if o := expectOrder(t, c.PostPrintOnce(t, product, photo, placement, "attempt-1"), http.StatusOK, "true"); o.ID != first.ID {
		t.Fatalf("after a restart the retry made order %s, want %s", o.ID, first.ID)
	}
	resp, err := http.Get(agent.API() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ QueueLength int }
	agenttest.MustJSON(t, resp, &st)
	if st.QueueLength != 3 {
		t.Fatalf("%d orders in line, want 3 (two of this session, one of the other)", st.QueueLength)
	}
}

// A retry does not spend the session's hourly order allowance, and finds
// its order even when the line has filled since.
func TestARetryIsAnsweredWhenTheLineIsFull(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{code}, PayDelay: -1})
	cfg := sim.AgentConfig(code, t.TempDir())
	cfg.Queue.MaxOrders = 1
	cfg.Session.OrdersPerHour = 1
	agent := agenttest.StartAgent(t, cfg)
	waitUp(t, agent)
	c := agenttest.NewCustomer(t, agent.API())
	product := c.FirstProduct(t)
	photo := agenttest.Photo(t, 300, 200)
	first := expectOrder(t, c.PostPrintOnce(t, product, photo, "", "k"), http.StatusAccepted, "")
	for range 3 {
		if o := expectOrder(t, c.PostPrintOnce(t, product, photo, "", "k"), http.StatusOK, "true"); o.ID != first.ID {
			t.Fatalf("retry made %s", o.ID)
		}
	}
}

func TestBadIdempotencyKeysAreRefused(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{code}, PayDelay: -1})
	agent := agenttest.StartAgent(t, sim.AgentConfig(code, t.TempDir()))
	waitUp(t, agent)
	c := agenttest.NewCustomer(t, agent.API())
	product := c.FirstProduct(t)
	photo := agenttest.Photo(t, 50, 50)
	tests := []struct {
		name string
		keys []string
	}{
		{"empty", []string{""}},
		{"empty quoted", []string{`""`}},
		{"too long", []string{strings.Repeat("k", 256)}},
		{"tab", []string{"abc\tdef"}},
		{"space", []string{"two words"}},
		{"not ASCII", []string{"clé"}},
		{"two headers", []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := printRequest(t, c, product, photo)
			for _, k := range tt.keys {
				req.Header.Add("Idempotency-Key", k)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := errorCode(t, resp); resp.StatusCode != http.StatusBadRequest || got != "bad_idempotency_key" {
				t.Fatalf("got %d %s, want 400 bad_idempotency_key", resp.StatusCode, got)
			}
		})
	}
	// A structured-field string (the draft's form) is the same key as the
	// bare token.
	quoted := printRequest(t, c, product, photo)
	quoted.Header.Set("Idempotency-Key", `"8e03978e-40d5-43e8-bc93-6894a57f9324"`)
	resp, err := http.DefaultClient.Do(quoted)
	if err != nil {
		t.Fatal(err)
	}
	first := expectOrder(t, resp, http.StatusAccepted, "")
	bare := expectOrder(t, c.PostPrintOnce(t, product, photo, "", "8e03978e-40d5-43e8-bc93-6894a57f9324"), http.StatusOK, "true")
	if bare.ID != first.ID {
		t.Fatal("the quoted and the bare key made two orders")
	}
}

// The session knows its order from the queue itself: when the agent
// stopped between committing an order and noting it in the session, a
// resume still names the order (it used to answer "designing").
func TestASessionNamesItsLatestOrder(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{code}, PayDelay: -1})
	agent := agenttest.StartAgent(t, sim.AgentConfig(code, t.TempDir()))
	waitUp(t, agent)
	c := agenttest.NewCustomer(t, agent.API())
	product := c.FirstProduct(t)
	if s := readSession(t, c, http.MethodGet); s.OrderID != "" || s.OrderStatus != "designing" {
		t.Fatalf("a new session: %+v", s)
	}
	o := c.Order(t, product)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if s := readSession(t, c, method); s.OrderID != o.ID || s.OrderStatus != "processing" {
			t.Fatalf("%s session: order %q %q, want %s processing", method, s.OrderID, s.OrderStatus, o.ID)
		}
	}
	stranger := agenttest.NewCustomer(t, agent.API())
	req, _ := http.NewRequest(http.MethodGet, agent.API()+"/session/AAAAAAAAAAAAAAAAAAAAAAAAAA", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := errorCode(t, resp); resp.StatusCode != http.StatusForbidden || got != "session_invalid" {
		t.Fatalf("an unknown session: %d %s", resp.StatusCode, got)
	}
	if s := readSession(t, stranger, http.MethodGet); s.OrderID != "" {
		t.Fatalf("another session sees order %s", s.OrderID)
	}
}

type sessionAnswer struct {
	SessionID   string `json:"sessionId"`
	OrderID     string `json:"orderId"`
	OrderStatus string `json:"orderStatus"`
}

func readSession(t *testing.T, c *agenttest.Customer, method string) sessionAnswer {
	t.Helper()
	var req *http.Request
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, c.API+"/session/"+c.SessionID, nil)
	} else {
		req, _ = http.NewRequest(method, c.API+"/session", strings.NewReader(fmt.Sprintf(`{"sessionId":%q}`, c.SessionID)))
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s session: %s", method, resp.Status)
	}
	var s sessionAnswer
	agenttest.MustJSON(t, resp, &s)
	return s
}

func waitUp(t *testing.T, agent *agenttest.Agent) {
	t.Helper()
	agenttest.Eventually(t, 10*time.Second, "machine up", func() bool {
		resp, err := http.Get(agent.API() + "/status")
		if err != nil {
			return false
		}
		var st struct{ Status string }
		agenttest.MustJSON(t, resp, &st)
		return st.Status == "online" || st.Status == "printing" // an order may be at the machine
	})
}

func printRequest(t *testing.T, c *agenttest.Customer, product string, photo []byte) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("sessionId", c.SessionID)
	_ = mw.WriteField("productId", product)
	fw, _ := mw.CreateFormFile("image", "photo.png")
	_, _ = fw.Write(photo)
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, c.API+"/print", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

func expectOrder(t *testing.T, resp *http.Response, status int, replayed string) agenttest.Order {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || resp.Header.Get("Idempotent-Replayed") != replayed {
		t.Fatalf("got %s (Idempotent-Replayed %q) %s, want %d (%q)", resp.Status, resp.Header.Get("Idempotent-Replayed"), b, status, replayed)
	}
	var o agenttest.Order
	if err := json.Unmarshal(b, &o); err != nil || o.ID == "" {
		t.Fatalf("order answer %s: %v", b, err)
	}
	return o
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var e agenttest.APIError
	agenttest.MustJSON(t, resp, &e)
	return e.Error.Code
}
