package dashboard_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	_ "image/png" // print templates
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"casefleet/agent/agenttest"
	"casefleet/agent/api"
	"casefleet/agent/catalog"
	"casefleet/agent/chitu"
	"casefleet/agent/daemon"
	"casefleet/agent/dashboard"
	"casefleet/agent/dispatch"
	"casefleet/agent/metrics"
	"casefleet/agent/printfile"
	"casefleet/agent/queue"
	"casefleet/agent/session"
)

// The tests run the real agent's parts against the printer simulator,
// assembled here the way agent/daemon assembles them, with the dashboard
// and the metrics mounted on the LAN listener as the lead is to wire them.

const (
	testCode = "CT0700026"
	testPIN  = "246810"
)

type kioskOptions struct {
	PIN      string        // default testPIN; "-" for none
	PayDelay time.Duration // simulator: 0 pays at once, negative waits for the admin API
	RelayURL string
	Now      func() time.Time
	// Name and Location override the simulator's test names.
	Name, Location string
	// Updates is the agent's updater, if any.
	Updates dashboard.Updates
}

// kiosk is one running agent with its dashboard.
type kiosk struct {
	URL   string // the LAN listener, http://127.0.0.1:port
	Sim   *agenttest.Sim
	Q     *queue.Queue
	Disp  *dispatch.Dispatcher
	Dash  *dashboard.Dashboard
	Link  chitu.Link
	Files *api.FileStore
	stop  func()
}

func startKiosk(t *testing.T, ko kioskOptions) *kiosk {
	t.Helper()
	switch ko.PIN {
	case "":
		ko.PIN = testPIN
	case "-":
		ko.PIN = ""
	}
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{testCode}, PayDelay: ko.PayDelay})
	cfg := sim.AgentConfig(testCode, t.TempDir())
	if ko.Name != "" {
		cfg.Machine.Name, cfg.Machine.Location = ko.Name, ko.Location
	}
	log := agenttest.Logger(t, "agent")

	db, err := daemon.OpenDB(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{MaxOrders: cfg.Queue.MaxOrders, DefaultPrintDuration: cfg.Queue.DefaultPrintDuration})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.Open(db, session.Options{IdleTimeout: cfg.Session.IdleTimeout})
	if err != nil {
		t.Fatal(err)
	}
	files, err := api.NewFileStore(filepath.Join(cfg.DataDir, "printfiles"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	link, err := chitu.Dial(ctx, daemon.ChituConfig(cfg, log))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + lis.Addr().String()
	disp := dispatch.New(link, q, dispatch.Options{
		MachineCode: testCode, Name: cfg.Machine.Name, Location: cfg.Machine.Location,
		PaymentTimeout: cfg.Queue.PaymentTimeout, InflightTimeout: cfg.Queue.InflightTimeout,
		ResendGrace: cfg.Queue.ResendGrace, RetryDelay: cfg.Queue.RetryDelay, RefusalTimeout: cfg.Queue.RefusalTimeout,
		PollInterval: cfg.Chitu.PollInterval, CallTimeout: cfg.Chitu.Timeout + 5*time.Second, MaxAttempts: cfg.Queue.MaxAttempts,
		FileURL: func(name string) (string, error) {
			return base + "/api/chitu/machine/" + testCode + "/files/" + url.PathEscape(name), nil
		},
		Logger: log,
	})
	srv := api.New(api.Options{
		MachineCode: testCode, MaxOrders: cfg.Queue.MaxOrders, Queue: q, Sessions: sessions, Machine: disp,
		Catalog: catalog.New(link, nil, 5*time.Minute, log), Files: files,
		ImageLimits:  printfile.Limits{MaxBytes: cfg.Image.MaxBytes, MaxPixels: cfg.Image.MaxPixels},
		AllowedHosts: cfg.Image.AllowedHosts, PrintFormat: printfile.Format(cfg.Chitu.PrintFormat),
		RequestsPerMinute: cfg.Session.RequestsPerMin, OrdersPerHour: cfg.Session.OrdersPerHour, Logger: log,
	})
	dash, err := dashboard.New(dashboard.Options{
		PIN: ko.PIN, MachineCode: testCode, Name: cfg.Machine.Name, Location: cfg.Machine.Location, Version: "test",
		RelayURL: ko.RelayURL, Queue: q, Machine: disp, Printer: link, Logger: log, Now: ko.Now,
		Updates: ko.Updates,
	})
	if err != nil {
		t.Fatal(err)
	}
	met := metrics.New(metrics.Options{MachineCode: testCode, Version: "test", Queue: q, Machine: disp, Tunnel: ko.RelayURL != "", Logger: log})

	lan := http.NewServeMux()
	lan.Handle("/operator/", dash.Handler())
	lan.Handle("/operator", dash.Handler())
	lan.Handle("GET /metrics", met.Handler())
	lan.Handle("/", srv.Handler())
	hs := &http.Server{Handler: met.Instrument(lan), ReadHeaderTimeout: 10 * time.Second}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return disp.Run(gctx) })
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return dash.Run(gctx) })
	g.Go(func() error { return met.Run(gctx) })
	g.Go(func() error {
		if err := hs.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		return hs.Shutdown(sctx)
	})
	var once sync.Once
	k := &kiosk{URL: base, Sim: sim, Q: q, Disp: disp, Dash: dash, Link: link, Files: files}
	k.stop = func() {
		once.Do(func() {
			cancel()
			if err := g.Wait(); err != nil {
				t.Errorf("agent stopped with: %v", err)
			}
			link.Close()
			db.Close()
		})
	}
	t.Cleanup(k.stop)
	return k
}

// customer is a phone ordering at the kiosk.
func (k *kiosk) customer(t *testing.T) *agenttest.Customer {
	return agenttest.NewCustomer(t, k.URL+"/api/chitu/machine/"+testCode)
}

// order puts an order for c in the queue the way POST .../print does once
// the photo is rendered, but with a blank print file of the right size:
// rendering a photo takes seconds under the race detector, and the
// customer's print path is not what these tests are about.
func (k *kiosk) order(t *testing.T, c *agenttest.Customer) queue.Order {
	t.Helper()
	product, size := k.product(t, c)
	file, err := k.Files.Create(".tif", func(w io.Writer) error {
		_, err := w.Write(blankPrintFile(t, size))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	o, err := k.Q.Enqueue(queue.Order{SessionID: c.SessionID, MachineCode: testCode, ProductID: product, PrintFile: file})
	if err != nil {
		t.Fatal(err)
	}
	k.Disp.Kick()
	return o
}

// firstProduct caches the simulator's first phone model and its print
// size: every simulator has the same catalogue, and drawing its template
// takes a second under the race detector.
var firstProduct struct {
	sync.Mutex
	id   string
	size image.Point
}

// product is the machine's first phone model and its print size.
func (k *kiosk) product(t *testing.T, c *agenttest.Customer) (string, image.Point) {
	t.Helper()
	firstProduct.Lock()
	defer firstProduct.Unlock()
	if firstProduct.id != "" {
		return firstProduct.id, firstProduct.size
	}
	resp, err := http.Get(c.API + "/products")
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Brands []struct {
			Models []struct{ ProductID, PrintImg string } `json:"models"`
		} `json:"brands"`
	}
	agenttest.MustJSON(t, resp, &cat)
	if len(cat.Brands) == 0 || len(cat.Brands[0].Models) == 0 {
		t.Fatal("the machine offers no phone models")
	}
	m := cat.Brands[0].Models[0]
	resp, err = http.Get(m.PrintImg)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cfg, _, err := image.DecodeConfig(resp.Body)
	if err != nil {
		t.Fatalf("print template %s: %v", m.PrintImg, err)
	}
	firstProduct.id, firstProduct.size = m.ProductID, image.Pt(cfg.Width, cfg.Height)
	return firstProduct.id, firstProduct.size
}

var blankFiles sync.Map // image.Point -> []byte

// blankPrintFile is an all-transparent TIFF print file (no ink) of size.
func blankPrintFile(t *testing.T, size image.Point) []byte {
	t.Helper()
	if b, ok := blankFiles.Load(size); ok {
		return b.([]byte)
	}
	var b bytes.Buffer
	img := image.NewNRGBA(image.Rectangle{Max: size})
	if err := printfile.Encode(&b, img, printfile.EncodeOptions{Format: printfile.TIFF}); err != nil {
		t.Fatal(err)
	}
	blankFiles.Store(size, b.Bytes())
	return b.Bytes()
}

// operator is a script with the PIN.
type operator struct {
	t    *testing.T
	base string
	pin  string
}

func (k *kiosk) operator(t *testing.T) *operator {
	return &operator{t: t, base: k.URL, pin: testPIN}
}

// do sends a request with the bearer PIN and returns the response.
func (o *operator) do(method, path string) *http.Response {
	o.t.Helper()
	req, err := http.NewRequest(method, o.base+path, nil)
	if err != nil {
		o.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+o.pin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	return resp
}

// must sends a request that must answer want and decodes the JSON answer
// into out (when not nil).
func (o *operator) must(method, path string, want int, out any) {
	o.t.Helper()
	resp := o.do(method, path)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		o.t.Fatalf("%s %s: %s: %s; want %d", method, path, resp.Status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			o.t.Fatalf("%s %s: decode %.200s: %v", method, path, b, err)
		}
	}
}

func (o *operator) state() dashboard.State {
	o.t.Helper()
	var s dashboard.State
	o.must(http.MethodGet, "/operator/api/state", http.StatusOK, &s)
	return s
}

// waitState polls the operator API until cond holds.
func (o *operator) waitState(what string, cond func(dashboard.State) bool) dashboard.State {
	o.t.Helper()
	var s dashboard.State
	agenttest.Eventually(o.t, 60*time.Second, what, func() bool {
		s = o.state()
		return cond(s)
	})
	return s
}

// apiError decodes {"error": {"code", "message"}}.
func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not an error answer: %s: %.300s", resp.Status, b)
	}
	return e.Error.Code
}

// waitPolls returns once the dispatcher has polled the printer n times
// after the call. The dispatcher decides what to send in the same loop,
// right after each poll, so two polls guarantee at least one decision
// taken after everything that happened before the call.
func (k *kiosk) waitPolls(t *testing.T, n int) {
	t.Helper()
	last := time.Now()
	for range n {
		agenttest.Eventually(t, 10*time.Second, "the dispatcher polls the printer", func() bool {
			st, err := k.Disp.Status()
			if err == nil && st.LastContact != nil && st.LastContact.After(last) {
				last = *st.LastContact
				return true
			}
			return false
		})
	}
}

// sseReader reads server-sent events.
type sseReader struct {
	resp *http.Response
	sc   *bufio.Scanner
}

func (k *kiosk) openStream(t *testing.T) *sseReader {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, k.URL+"/operator/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+testPIN)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &sseReader{resp: resp, sc: sc}
}

// next returns the next state event, or an error when the stream ended
// or sent something that is not a state.
func (r *sseReader) next() (dashboard.State, error) {
	event := ""
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "state":
			var s dashboard.State
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &s); err != nil {
				return dashboard.State{}, err
			}
			return s, nil
		}
	}
	if err := r.sc.Err(); err != nil {
		return dashboard.State{}, err
	}
	return dashboard.State{}, io.EOF
}

// until reads state events until cond holds, within a deadline.
func (r *sseReader) until(t *testing.T, what string, cond func(dashboard.State) bool) dashboard.State {
	t.Helper()
	type result struct {
		s   dashboard.State
		err error
	}
	found := make(chan result, 1)
	go func() {
		for {
			s, err := r.next()
			if err != nil || cond(s) {
				found <- result{s, err}
				return
			}
		}
	}()
	select {
	case res := <-found:
		if res.err != nil {
			t.Fatalf("live stream, waiting for %s: %v", what, res.err)
		}
		return res.s
	case <-time.After(20 * time.Second):
		r.resp.Body.Close()
		<-found
		t.Fatalf("within 20s on the live stream: %s", what)
	}
	return dashboard.State{}
}
