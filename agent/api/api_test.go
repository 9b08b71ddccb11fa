package api_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
)

const code = "CT0700026"

type kiosk struct {
	sim     *agenttest.Sim
	agent   *agenttest.Agent
	product string
}

func startKiosk(t *testing.T, simOpt agenttest.SimOptions, tune func(*config.Config)) kiosk {
	t.Helper()
	simOpt.Machines = []string{code}
	sim := agenttest.StartSim(t, simOpt)
	cfg := sim.AgentConfig(code, t.TempDir())
	if tune != nil {
		tune(&cfg)
	}
	agent := agenttest.StartAgent(t, cfg)
	waitUp(t, agent)
	phone := agenttest.NewCustomer(t, agent.API())
	return kiosk{sim: sim, agent: agent, product: phone.FirstProduct(t)}
}

// pngHeader is a PNG signature and IHDR chunk claiming w x h pixels, with
// no pixel data: a decompression bomb's opening.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

type answer struct {
	status int
	code   string
	header http.Header
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e agenttest.APIError
	_ = json.Unmarshal(body, &e)
	return answer{status: resp.StatusCode, code: e.Error.Code, header: resp.Header}
}

func TestBadInputGetsAClearError(t *testing.T) {
	k := startKiosk(t, agenttest.SimOptions{PayDelay: -1}, func(c *config.Config) {
		c.Image.AllowedHosts = append(c.Image.AllowedHosts, "cdn.example.com")
	})
	api := k.agent.API()
	owner := agenttest.NewCustomer(t, api)
	stranger := agenttest.NewCustomer(t, api)
	order := owner.Order(t, k.product)
	photo := agenttest.Photo(t, 300, 200)

	withSession := func(method, url, session string, body io.Reader) *http.Request {
		req, _ := http.NewRequest(method, url, body)
		if session != "" {
			req.Header.Set("X-Session-Id", session)
		}
		return req
	}
	jsonReq := func(url, body string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	base := k.agent.URL + "/api/chitu/machine/"
	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		wantCode   string
	}{
		{"malformed JSON", jsonReq(api+"/session", `{"sessionId":`), 400, "bad_json"},
		{"unknown JSON field", jsonReq(api+"/session", `{"sessionID":"x","admin":true}`), 400, "bad_json"},
		{"oversized session body", jsonReq(api+"/session", `{"currentDesign":"`+strings.Repeat("a", 40<<10)+`"}`), 413, "too_large"},
		{"bad machine code format", withSession("GET", base+"ct-0700026/status", "", nil), 400, "invalid_machine_code"},
		{"path traversal as a code", withSession("GET", base+"..%2F..%2Fetc/status", "", nil), 400, "invalid_machine_code"},
		{"unknown machine", withSession("GET", base+"CT0799999/status", "", nil), 404, "unknown_machine"},
		{"another session's order", withSession("GET", api+"/queue/"+order.ID, stranger.SessionID, nil), 403, "not_your_order"},
		{"cancel another session's order", withSession("DELETE", api+"/queue/"+order.ID, stranger.SessionID, nil), 403, "not_your_order"},
		{"order without a session", withSession("GET", api+"/queue/"+order.ID, "", nil), 400, "session_required"},
		{"forged session", withSession("GET", api+"/queue/"+order.ID, "AAAAAAAAAAAAAAAAAAAAAAAAAA", nil), 403, "session_invalid"},
		{"unknown order", withSession("GET", api+"/queue/ZZZZZZZZZZZZZZZZZZZZZZZZZZ", owner.SessionID, nil), 404, "unknown_order"},
		{"absurd order id", withSession("GET", api+"/queue/"+strings.Repeat("x", 500), owner.SessionID, nil), 400, "bad_order_id"},
		{"print with a wrong content type", withSession("POST", api+"/print", owner.SessionID, strings.NewReader("hello")), 415, "unsupported_media_type"},
		{"image_url on a host that is not allowed", jsonReq(api+"/print", `{"image_url":"https://evil.example.com/a.jpg","sessionId":"`+owner.SessionID+`","productId":"`+k.product+`"}`), 400, "image_host_not_allowed"},
		{"image_url that is not a URL", jsonReq(api+"/print", `{"image_url":"::::","sessionId":"`+owner.SessionID+`","productId":"`+k.product+`"}`), 400, "bad_image_url"},
		{"image_url over plain http off loopback", jsonReq(api+"/print", `{"image_url":"http://cdn.example.com/a.png","sessionId":"`+owner.SessionID+`","productId":"`+k.product+`"}`), 400, "bad_image_url"},
		{"print JSON without image", jsonReq(api+"/print", `{"sessionId":"`+owner.SessionID+`","productId":"`+k.product+`"}`), 400, "image_required"},
		{"unknown route", withSession("GET", k.agent.URL+"/admin", "", nil), 404, "not_found"},
		{"print file that does not exist", withSession("GET", api+"/files/"+strings.Repeat("a", 32)+".tif", "", nil), 404, "unknown_file"},
		{"print file name that is hostile", withSession("GET", api+"/files/..%2Fcasefleet.db", "", nil), 404, "unknown_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, tt.req)
			if got.status != tt.wantStatus || got.code != tt.wantCode {
				t.Fatalf("got %d %q, want %d %q", got.status, got.code, tt.wantStatus, tt.wantCode)
			}
		})
	}

	uploads := []struct {
		name       string
		product    string
		image      []byte
		placement  string
		wantStatus int
		wantCode   string
	}{
		{"a 20 MB upload", k.product, bytes.Repeat([]byte{0xff}, 20<<20), "", 413, "too_large"},
		{"a PNG claiming 50000x50000 pixels", k.product, pngHeader(50000, 50000), "", 413, "too_many_pixels"},
		{"a non-image", k.product, []byte("#!/bin/sh\nrm -rf /\n"), "", 415, "not_an_image"},
		{"a GIF", k.product, []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "", 415, "not_an_image"},
		{"a truncated image", k.product, photo[:len(photo)/2], "", 400, "truncated_image"},
		{"an empty image", k.product, nil, "", 400, "image_required"},
		{"a placement that is not JSON", k.product, photo, "{scale:", 400, "bad_placement"},
		{"a placement out of range", k.product, photo, `{"scale":-3}`, 400, "bad_placement"},
		{"a placement with NaN-like nonsense", k.product, photo, `{"scale":1e400}`, 400, "bad_placement"},
		{"an unknown phone model", "no-such-model", photo, "", 400, "unknown_product"},
	}
	for _, tt := range uploads {
		t.Run(tt.name, func(t *testing.T) {
			resp := owner.PostPrint(t, tt.product, tt.image, tt.placement)
			var e agenttest.APIError
			agenttest.MustJSON(t, resp, &e)
			if resp.StatusCode != tt.wantStatus || e.Error.Code != tt.wantCode {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, e.Error.Code, e.Error.Message, tt.wantStatus, tt.wantCode)
			}
		})
	}
	if got := owner.Get(t, order.ID); got.Status != "queued" && got.Status != "printing" {
		t.Fatalf("the first order was disturbed: %+v", got)
	}
}

// 100 customers order at the same moment on an empty machine: exactly the
// cap (20) is accepted, at positions 1..20, and the rest are told the
// queue is full with a Retry-After.
func TestHundredConcurrentOrdersFillTheCapExactly(t *testing.T) {
	k := startKiosk(t, agenttest.SimOptions{PayDelay: -1}, func(c *config.Config) {
		// The first order waits at the machine for the whole test: a
		// release would move everyone up a place mid-burst.
		c.Queue.PaymentTimeout = time.Hour
		c.Machine.Currency = "EUR"
	})
	photo := agenttest.Photo(t, 200, 200)
	customers := make([]*agenttest.Customer, 100)
	for i := range customers {
		customers[i] = agenttest.NewCustomer(t, k.agent.API())
		// Twenty renders take their turn one at a time; under the race
		// detector on a small machine that is slow.
		customers[i].Client.Timeout = 5 * time.Minute
	}
	type result struct {
		status     int
		position   int
		code       string
		retryAfter string
	}
	results := make([]result, len(customers))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range customers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp := c.PostPrint(t, k.product, photo, "")
			r := result{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
			if resp.StatusCode == http.StatusAccepted {
				var o agenttest.Order
				agenttest.MustJSON(t, resp, &o)
				r.position = o.QueuePosition
			} else {
				var e agenttest.APIError
				agenttest.MustJSON(t, resp, &e)
				r.code = e.Error.Code
			}
			results[i] = r
		}()
	}
	close(start)
	wg.Wait()

	var positions []int
	for _, r := range results {
		switch {
		case r.status == http.StatusAccepted:
			positions = append(positions, r.position)
		case r.status == http.StatusServiceUnavailable && r.code == "queue_full" && r.retryAfter != "":
		default:
			t.Fatalf("unexpected answer %+v", r)
		}
	}
	sort.Ints(positions)
	if len(positions) != 20 {
		t.Fatalf("%d orders accepted, want exactly 20", len(positions))
	}
	for i, p := range positions {
		if p != i+1 {
			t.Fatalf("positions %v, want 1..20 each once", positions)
		}
	}

	// The machine's status says the line is full (and in what currency it
	// prices), so a phone can tell before designing.
	resp, err := http.Get(k.agent.API() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		QueueLength, QueueCapacity int
		Full                       bool
		Currency                   string
	}
	agenttest.MustJSON(t, resp, &st)
	if st.QueueLength != 20 || st.QueueCapacity != 20 || !st.Full || st.Currency != "EUR" {
		t.Fatalf("status %+v, want 20 of 20, full, EUR", st)
	}
}

func TestCancelWhileQueued(t *testing.T) {
	k := startKiosk(t, agenttest.SimOptions{PayDelay: -1}, nil)
	phone := agenttest.NewCustomer(t, k.agent.API())
	first := phone.Order(t, k.product)  // goes to the machine and waits for payment
	second := phone.Order(t, k.product) // waits in line
	agenttest.Eventually(t, 10*time.Second, "first order at the machine", func() bool {
		return phone.Get(t, first.ID).Stage == "awaiting_payment"
	})
	cancel := func(id string) answer {
		req, _ := http.NewRequest(http.MethodDelete, k.agent.API()+"/queue/"+id, nil)
		req.Header.Set("X-Session-Id", phone.SessionID)
		return do(t, req)
	}
	if got := cancel(second.ID); got.status != http.StatusOK {
		t.Fatalf("cancel a queued order: %d %s", got.status, got.code)
	}
	if got := phone.Get(t, second.ID); got.Status != "cancelled" || got.CancelledBy != "customer" {
		t.Fatalf("after the customer's cancel: %s by %q", got.Status, got.CancelledBy)
	}
	if got := phone.Get(t, second.ID); got.Status != "cancelled" {
		t.Fatalf("cancelled order reads %+v", got)
	}
	if got := cancel(second.ID); got.status != http.StatusConflict {
		t.Fatalf("second cancel: %d %s, want 409", got.status, got.code)
	}
	if got := cancel(first.ID); got.status != http.StatusConflict || got.code != "not_cancellable" {
		t.Fatalf("cancel at the machine: %d %s, want 409 not_cancellable", got.status, got.code)
	}
}

func TestRateLimitsPerSession(t *testing.T) {
	k := startKiosk(t, agenttest.SimOptions{PayDelay: -1}, func(c *config.Config) {
		c.Session.RequestsPerMin = 60
		c.Session.OrdersPerHour = 4
	})
	phone := agenttest.NewCustomer(t, k.agent.API())
	photo := agenttest.Photo(t, 100, 100)
	var limited *http.Response
	for i := 0; i < 5 && limited == nil; i++ {
		resp := phone.PostPrint(t, k.product, photo, "")
		if resp.StatusCode == http.StatusTooManyRequests {
			limited = resp
			break
		}
		resp.Body.Close()
	}
	if limited == nil {
		t.Fatal("5 orders within a moment were all accepted at 4 an hour")
	}
	var e agenttest.APIError
	agenttest.MustJSON(t, limited, &e)
	if e.Error.Code != "rate_limited" || limited.Header.Get("Retry-After") == "" {
		t.Fatalf("got %q with Retry-After %q", e.Error.Code, limited.Header.Get("Retry-After"))
	}
	// Another session is not held back by this one.
	other := agenttest.NewCustomer(t, k.agent.API())
	other.Order(t, k.product)
}

// An order may name its photo by URL on an allowed host.
func TestOrderByImageURL(t *testing.T) {
	k := startKiosk(t, agenttest.SimOptions{}, nil)
	phone := agenttest.NewCustomer(t, k.agent.API())
	body := fmt.Sprintf(`{"image_url":%q,"sessionId":%q,"productId":%q}`, k.sim.URL+"/assets/show/"+k.product+".png", phone.SessionID, k.product)
	resp, err := http.Post(k.agent.API()+"/print", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var o agenttest.Order
	agenttest.MustJSON(t, resp, &o)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %s", resp.Status)
	}
	phone.WaitStatus(t, o.ID, "complete", 20*time.Second)
}

// event is one message of the events WebSocket.
type event struct {
	ID   uint64          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func readEvent(ctx context.Context, t *testing.T, c *websocket.Conn) event {
	t.Helper()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev event
	agenttest.DecodeJSON(t, b, &ev)
	return ev
}

// A phone that loses its events WebSocket and reconnects with the last
// event id it saw gets every event it missed, in order.
func TestEventsResumeFromLastEventID(t *testing.T) {
	k := startKiosk(t, agenttest.SimOptions{PayDelay: -1}, nil)
	phone := agenttest.NewCustomer(t, k.agent.API())
	wsURL := "ws" + strings.TrimPrefix(k.agent.API(), "http") + "/events?sessionId=" + phone.SessionID
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	read := func(c *websocket.Conn) event { return readEvent(ctx, t, c) }
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := read(conn)
	if first.Type != "machineStatus" {
		t.Fatalf("first event %s, want the machine's status", first.Type)
	}
	o := phone.Order(t, k.product)
	var last uint64
	for {
		ev := read(conn)
		last = ev.ID
		if ev.Type == "orderUpdate" && strings.Contains(string(ev.Data), `"stage":"queued"`) {
			break
		}
	}
	conn.Close(websocket.StatusNormalClosure, "tunnel lost")

	// While the phone is away, the order reaches the machine and is paid.
	agenttest.Eventually(t, 10*time.Second, "order awaiting payment", func() bool {
		return phone.Get(t, o.ID).Stage == "awaiting_payment"
	})
	vendor := k.sim.Orders(t, code)[0].ID
	k.sim.Admin(t, http.MethodPost, "/admin/orders/"+vendor+"/pay", nil, nil)
	phone.WaitStatus(t, o.ID, "complete", 20*time.Second)

	conn, _, err = websocket.Dial(ctx, fmt.Sprintf("%s&lastEventId=%d", wsURL, last), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	var stages []string
	prev := last
	for len(stages) == 0 || stages[len(stages)-1] != "complete" {
		ev := read(conn)
		if ev.ID < prev {
			t.Fatalf("event %d after %d: out of order", ev.ID, prev)
		}
		prev = ev.ID
		if ev.Type != "orderUpdate" {
			continue
		}
		var got agenttest.Order
		agenttest.DecodeJSON(t, ev.Data, &got)
		if got.ID != o.ID {
			t.Fatalf("event for another order %s", got.ID)
		}
		if len(stages) == 0 || stages[len(stages)-1] != got.Stage {
			stages = append(stages, got.Stage)
		}
	}
	want := []string{"sending", "sent", "awaiting_payment", "paid", "printing", "complete"}
	if strings.Join(stages, ",") != strings.Join(want, ",") {
		t.Fatalf("missed stages: got %v, want %v", stages, want)
	}
}

// A phone that reconnects after its line moved while it was away hears
// its new place at once, even though its own order did not change (it
// kept the old place until its order itself changed).
func TestAResumedStreamSendsTheCurrentPlace(t *testing.T) {
	k := startKiosk(t, agenttest.SimOptions{PayDelay: -1}, func(c *config.Config) {
		c.Queue.PaymentTimeout = time.Hour // the first order holds the machine
	})
	ahead := agenttest.NewCustomer(t, k.agent.API())
	phone := agenttest.NewCustomer(t, k.agent.API())
	ahead.Order(t, k.product) // goes to the machine
	agenttest.Eventually(t, 10*time.Second, "first order at the machine", func() bool {
		return len(k.sim.Orders(t, code)) == 1
	})
	second := ahead.Order(t, k.product)
	mine := phone.Order(t, k.product)
	if mine.QueuePosition < 2 {
		t.Fatalf("my place %d, want behind the second order", mine.QueuePosition)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(k.agent.API(), "http") + "/events?sessionId=" + phone.SessionID
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func(c *websocket.Conn) event { return readEvent(ctx, t, c) }
	var last uint64
	for {
		ev := read(conn)
		last = ev.ID
		if ev.Type == "orderUpdate" {
			break
		}
	}
	conn.Close(websocket.StatusNormalClosure, "relay restarting")

	// While the phone is away the order ahead is cancelled: an event of
	// another session, none of this one's.
	req, _ := http.NewRequest(http.MethodDelete, k.agent.API()+"/queue/"+second.ID, nil)
	req.Header.Set("X-Session-Id", ahead.SessionID)
	if got := do(t, req); got.status != http.StatusOK {
		t.Fatalf("cancel the order ahead: %d %s", got.status, got.code)
	}

	conn, _, err = websocket.Dial(ctx, fmt.Sprintf("%s&lastEventId=%d", wsURL, last), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	for {
		ev := read(conn)
		if ev.Type != "orderUpdate" {
			continue
		}
		var got agenttest.Order
		agenttest.DecodeJSON(t, ev.Data, &got)
		if got.ID != mine.ID || got.QueuePosition != mine.QueuePosition-1 {
			t.Fatalf("first update after the reconnect: %s at %d, want %s at %d", got.ID, got.QueuePosition, mine.ID, mine.QueuePosition-1)
		}
		return
	}
}
