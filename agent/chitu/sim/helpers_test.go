package sim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/image/tiff"

	"casefleet/agent/chitu/protocol"
)

// The protocol document's worked-example credentials.
const (
	testAppID    = "ctAPPID0001"
	testSecret   = "0123456789abcdef0123456789abcdef"
	testMQTTPass = "mqtt-secret"
)

// Machines of the default test sim: two CT-360s and a CT-sjk360.
const (
	codeA   = "CT0700026"
	codeB   = "CT0700027"
	codeSJK = "SJK0700046"
)

// waitLimit bounds every wait in these tests.
const waitLimit = 10 * time.Second

// testSim is a Sim on a fake clock, served by an httptest server.
type testSim struct {
	*Sim
	clock *fakeClock
	url   string
}

// newTestSim starts a sim for the test; opts adjust its config (by default:
// machines codeA, codeB, codeSJK; instant payment; one-hour prints).
func newTestSim(t testing.TB, opts ...func(*Config)) *testSim {
	t.Helper()
	cfg := Config{
		Machines:     []string{codeA, codeB, codeSJK},
		AppID:        testAppID,
		AppSecret:    testSecret,
		MQTTPassword: testMQTTPass,
		PrintTime:    time.Hour,
		Logger:       testLogger(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fc := newFakeClock()
	s.clock = fc
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	// Cleanups run last-in first-out: the sim closes first, which releases
	// requests held by fault delays, so the server can close.
	t.Cleanup(func() { s.Close() })
	return &testSim{Sim: s, clock: fc, url: srv.URL}
}

// testLogger discards logs unless CHITUSIM_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("CHITUSIM_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// serveMQTT starts the embedded broker on a free loopback port and returns
// its tcp:// URL.
func (ts *testSim) serveMQTT(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.ServeMQTT(ln); err != nil {
		t.Fatal(err)
	}
	return "tcp://" + ln.Addr().String()
}

// signed returns fields with appid and a valid sign added.
func signed(fields map[string]string) map[string]string {
	out := map[string]string{"appid": testAppID}
	for k, v := range fields {
		out[k] = v
	}
	out["sign"] = protocol.Sign(out, testSecret)
	return out
}

// post sends a raw body to an open-API call.
func (ts *testSim) post(t testing.TB, call, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(ts.url+protocol.PathPrefix+call, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// call makes a signed JSON open-API call and returns its envelope.
func (ts *testSim) call(t testing.TB, call string, fields map[string]string) protocol.Envelope {
	t.Helper()
	body, _ := json.Marshal(signed(fields))
	resp, data := ts.post(t, call, "application/json", body)
	return decodeEnvelope(t, resp, data)
}

func decodeEnvelope(t testing.TB, resp *http.Response, data []byte) protocol.Envelope {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, data)
	}
	var env protocol.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("decode envelope %s: %v", data, err)
	}
	return env
}

// ok checks an envelope is a success and decodes its data into v.
func ok(t testing.TB, env protocol.Envelope, v any) {
	t.Helper()
	if env.Status != protocol.StatusOK {
		t.Fatalf("status %d %q, want 200", env.Status, env.Msg)
	}
	if v != nil {
		if err := json.Unmarshal(env.Data, v); err != nil {
			t.Fatalf("decode data %s: %v", env.Data, err)
		}
	}
}

// refused checks an envelope is the given refusal.
func refused(t testing.TB, env protocol.Envelope, status int, msgPrefix string) {
	t.Helper()
	if env.Status != status || !strings.HasPrefix(env.Msg, msgPrefix) {
		t.Fatalf("got status %d %q, want %d %q", env.Status, env.Msg, status, msgPrefix)
	}
}

// deviceID is the device_id the sim gives a machine.
func deviceID(code string) string {
	return base64.StdEncoding.EncodeToString([]byte("dev-" + code))
}

// createOrder makes a machineCreateOrder call for product 101 and returns
// the envelope.
func (ts *testSim) createOrder(t testing.TB, code, imageURL string) protocol.Envelope {
	t.Helper()
	return ts.call(t, protocol.CallMachineCreateOrder, map[string]string{
		"device_id": deviceID(code), "product_id": "101", "pay_type": "nayax", "image_url": imageURL,
	})
}

// mustCreateOrder creates an order and returns its id.
func (ts *testSim) mustCreateOrder(t testing.TB, code, imageURL string) string {
	t.Helper()
	var data struct {
		OrderID string `json:"order_id"`
	}
	ok(t, ts.createOrder(t, code, imageURL), &data)
	if data.OrderID == "" {
		t.Fatal("no order_id")
	}
	return data.OrderID
}

// admin calls the admin API and decodes the answer into v (if not nil).
func (ts *testSim) admin(t testing.TB, method, path, body string, wantStatus int, v any) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: HTTP %d %s, want %d", method, path, resp.StatusCode, data, wantStatus)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

// order reads one order through the admin API.
func (ts *testSim) order(t testing.TB, id string) OrderView {
	t.Helper()
	var v OrderView
	ts.admin(t, http.MethodGet, "/admin/orders/"+id, "", http.StatusOK, &v)
	return v
}

// waitOrder polls an order until cond holds.
func (ts *testSim) waitOrder(t testing.TB, id string, what string, cond func(OrderView) bool) OrderView {
	t.Helper()
	var v OrderView
	eventually(t, what, func() bool {
		v = ts.order(t, id)
		return cond(v)
	})
	return v
}

// eventually polls cond until it holds or waitLimit passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// --- print files --------------------------------------------------------

var (
	tiffOnce sync.Once
	tiff101  []byte
)

// goodTIFF is a valid print file for product 101 (844x1742).
func goodTIFF(t testing.TB) []byte {
	t.Helper()
	tiffOnce.Do(func() {
		p, _ := productByID("101")
		tiff101 = encodeTIFF(t, p.printSize())
	})
	return tiff101
}

func encodeTIFF(t testing.TB, size image.Point) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, size.X, size.Y))
	copy(img.Pix, bytes.Repeat([]byte{0xff}, size.X)) // a white first row
	var buf bytes.Buffer
	if err := tiff.Encode(&buf, img, &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, size image.Point) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, size.X, size.Y))
	img.SetNRGBA(0, 0, color.NRGBA{A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fileServer serves print files by path and counts requests per path.
type fileServer struct {
	url   string
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
	// failFirst answers 503 to this many requests before serving.
	failFirst atomic.Int32
}

func newFileServer(t testing.TB, files map[string][]byte) *fileServer {
	t.Helper()
	fs := &fileServer{files: files, hits: make(map[string]int)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.hits[r.URL.Path]++
		data, found := fs.files[r.URL.Path]
		fs.mu.Unlock()
		if fs.failFirst.Add(-1) >= 0 {
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		if !found {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	fs.url = srv.URL
	return fs
}

func (fs *fileServer) hitsOf(path string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.hits[path]
}

// --- MQTT -----------------------------------------------------------------

// subscriber is a paho client collecting the messages of one topic.
type subscriber struct {
	client paho.Client
	msgs   chan []byte
}

func connectPaho(t testing.TB, brokerURL, username, password string) (paho.Client, error) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(brokerURL).SetClientID("test-" + randomHex(6)).
		SetUsername(username).SetPassword(password).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(waitLimit) {
		return nil, context.DeadlineExceeded
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

// subscribe connects with the platform credentials and subscribes to topic.
func subscribe(t testing.TB, brokerURL, topic string) *subscriber {
	t.Helper()
	c, err := connectPaho(t, brokerURL, testAppID, testMQTTPass)
	if err != nil {
		t.Fatalf("connect %s: %v", brokerURL, err)
	}
	sub := &subscriber{client: c, msgs: make(chan []byte, 100)}
	sub.add(t, topic)
	return sub
}

// add subscribes to one more topic, whose messages arrive on the same
// channel.
func (s *subscriber) add(t testing.TB, topic string) {
	t.Helper()
	tok := s.client.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { s.msgs <- m.Payload() })
	if !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
}

// barrier makes sure the sim has handled every command this subscriber
// published: it asks codeB to clean its nozzle and waits for the answer
// (the sim handles one connection's commands in order and publishes in
// order), which must be the next message.
func (s *subscriber) barrier(t testing.TB) {
	t.Helper()
	s.command(t, protocol.MsgCleanNozzle, machineIDOf(codeB))
	got := s.next(t)
	ev, err := protocol.ParseEvent(got)
	if err != nil || ev.CleanNozzle == nil || ev.CleanNozzle.MachineID != machineIDOf(codeB) {
		t.Fatalf("got %s before the barrier's answer", got)
	}
}

// next returns the next message, failing after waitLimit.
func (s *subscriber) next(t testing.TB) []byte {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(waitLimit):
		t.Fatal("no MQTT message")
		return nil
	}
}

// publish sends a command as the agent's driver does.
func (s *subscriber) command(t testing.TB, msgType, machineID string) {
	t.Helper()
	payload, _ := json.Marshal(protocol.Command{Data: protocol.CommandData{MsgType: msgType, MachineID: machineID}})
	s.publishRaw(t, protocol.CommandTopic, payload)
}

func (s *subscriber) publishRaw(t testing.TB, topic string, payload []byte) {
	t.Helper()
	tok := s.client.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

// keys returns the sorted top-level keys of a JSON object.
func keys(t testing.TB, payload []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("decode %s: %v", payload, err)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// orderStatus decodes an orderStatus event, checking its exact shape.
func orderStatus(t testing.TB, payload []byte) protocol.OrderStatus {
	t.Helper()
	if got, want := keys(t, payload), "amount,machineId,msgType,orderId,orderNo,payStatus,payType,status,timestamp"; got != want {
		t.Fatalf("orderStatus keys %s, want %s (%s)", got, want, payload)
	}
	ev, err := protocol.ParseEvent(payload)
	if err != nil || ev.OrderStatus == nil {
		t.Fatalf("parse %s: %v", payload, err)
	}
	return *ev.OrderStatus
}

func formBody(fields map[string]string) []byte {
	v := url.Values{}
	for k, x := range fields {
		v.Set(k, x)
	}
	return []byte(v.Encode())
}
