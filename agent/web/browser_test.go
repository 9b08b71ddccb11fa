package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
	"casefleet/agent/daemon"
	"casefleet/agent/push"
	"casefleet/agent/web"
	"casefleet/shared/testenv/chromium"
)

// Browser tests drive a real headless Chromium (Debian's package) at phone
// size against real agents and the printer simulator on loopback.

var updateScreenshots = flag.Bool("update-screenshots", false, "write the committed screenshots in docs/screenshots")

// The browser is started once for the package and shared: each test gets
// tabs in browser contexts of their own (storage included).
var shared struct {
	once   sync.Once
	ctx    context.Context
	err    error
	cancel func()
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	os.Exit(code)
}

// browser returns the shared browser, starting it the first time. Without
// Chromium the test is skipped loudly, or fails on CI.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium.Path(t)
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "casefleet-chromium-")
		if err != nil {
			shared.err = err
			return
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(), chromium.Options(path, dir)...)
		bctx, bcancel := chromedp.NewContext(actx)
		shared.err = chromedp.Do(bctx) // starts the browser
		shared.ctx = bctx
		shared.cancel = func() {
			bcancel()
			acancel()
			os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("start Chromium: %v", shared.err)
	}
	return shared.ctx
}

// phone is one customer's phone: a tab in a fresh browser context (its own
// storage), 390 x 844 CSS pixels at twice the density, touch, and the
// given Accept-Language.
type phone struct {
	t    reporter
	ctx  context.Context
	name string
}

// reporter is where a phone reports: its test, or one goroutine of it
// (see together).
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// together runs fn for each phone at the same time (t.Parallel would run
// only GOMAXPROCS at once), each reporting to its own goroutine, and
// reports their failures to t when all are done.
func together(t *testing.T, phones []*phone, fn func(p *phone)) {
	t.Helper()
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for _, p := range phones {
		r := &goroutineReporter{name: p.name, mu: &mu, failures: &failures, log: t}
		q := *p
		q.t = r
		wg.Go(func() { fn(&q) })
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
}

type goroutineReporter struct {
	name     string
	mu       *sync.Mutex
	failures *[]string
	log      *testing.T
}

func (g *goroutineReporter) Helper() {}
func (g *goroutineReporter) Logf(format string, args ...any) {
	g.log.Logf(g.name+": "+format, args...)
}
func (g *goroutineReporter) Errorf(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	*g.failures = append(*g.failures, fmt.Sprintf(format, args...))
}
func (g *goroutineReporter) Fatalf(format string, args ...any) {
	g.Errorf(format, args...)
	runtime.Goexit()
}

func newPhone(t *testing.T, name, acceptLanguage string) *phone {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, stop := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(stop)
	p := &phone{t: t, ctx: ctx, name: name}
	p.do(
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
				UserAgent:      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36",
				AcceptLanguage: acceptLanguage,
			})
			return err
		}),
	)
	go p.watchConsole()
	return p
}

// watchConsole reports the page's uncaught exceptions as test errors.
func (p *phone) watchConsole() {
	for m, err := range chromedp.Console(p.ctx) {
		if err != nil {
			return
		}
		if m.IsException() {
			p.t.Errorf("%s: uncaught in the page: %s (%s:%d)", p.name, m, m.URL, m.Line+1)
		}
	}
}

func (p *phone) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// eval evaluates JavaScript (awaiting a promise) and decodes the result.
func eval[T any](p *phone, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: evaluate %.80s: %v", p.name, js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds.
func (p *phone) waitFor(what, js string, within time.Duration) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		p.t.Fatalf("%s: within %v: %s (%s): %v\npage: %s", p.name, within, what, js, err, p.describe())
	}
}

// describe is what the page shows, for failure messages.
func (p *phone) describe() string {
	v, err := chromedp.Run(context.WithoutCancel(p.ctx), chromedp.Evaluate[string](
		`[...document.querySelectorAll('main > .view')].filter(v => !v.hidden).map(v => v.id + ': ' + v.innerText.replace(/\s+/g, ' ').slice(0, 400)).join(' | ')`))
	if err != nil {
		return err.Error()
	}
	return v
}

// view waits until the page shows view (loading, problem, pick, design,
// status).
func (p *phone) view(name string, within time.Duration) {
	p.t.Helper()
	p.waitFor("view "+name, fmt.Sprintf(`!document.getElementById('v-%s').hidden`, name), within)
}

// text is an element's text as shown, without the invisible marks that
// isolate names in sentences (U+2068, U+2069).
func (p *phone) text(id string) string {
	p.t.Helper()
	return strings.NewReplacer("\u2068", "", "\u2069", "").Replace(eval[string](p, fmt.Sprintf(`document.getElementById(%q).innerText`, id)))
}

// click taps selector as a finger does.
//
// Chromium under load sometimes drops a synthetic tap that comes right
// after a touch gesture, so click checks that a click reached the element
// (a listener on the document, as the element may be re-rendered) and
// taps again if none did within ten seconds. A tap that loaded another
// page counts as received.
func (p *phone) click(selector string) {
	p.t.Helper()
	p.do(chromedp.WaitVisible(chromedp.CSS(selector)))
	token := strconv.FormatInt(time.Now().UnixNano(), 36)
	eval[bool](p, `(() => {
		const tap = window.__casefleetTap = {token: '`+token+`', got: false};
		document.addEventListener('click', (e) => {
			if (e.target instanceof Element && e.target.closest(`+jsString(selector)+`)) tap.got = true;
		}, {capture: true});
		return true;
	})()`)
	received := `(() => { const tap = window.__casefleetTap; return !tap || tap.token !== '` + token + `' || tap.got; })()`
	for attempt := 1; ; attempt++ {
		p.do(chromedp.Tap(chromedp.CSS(selector), chromedp.NodeVisible))
		if p.clickArrived(received, 10*time.Second) {
			return
		}
		if attempt == 3 {
			p.t.Fatalf("%s: three taps on %s, and no click reached it\npage: %s", p.name, selector, p.describe())
		}
		p.t.Logf("%s: the tap on %s did not arrive; tapping again", p.name, selector)
	}
}

// clickArrived polls the received expression of click until it holds or
// within passes. An evaluation that fails, other than by taking too long
// (a busy renderer), means the page is going away: the tap arrived and
// navigated.
func (p *phone) clickArrived(received string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(p.ctx, deadline)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[bool](received))
		cancel()
		switch {
		case err == nil && got:
			return true
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// touch sends one touch event with the given points (CSS pixels).
func (p *phone) touch(kind string, points ...[2]float64) {
	p.t.Helper()
	tps := make([]*input.TouchPoint, len(points))
	for i, pt := range points {
		id := float64(i + 1)
		tps[i] = &input.TouchPoint{X: pt[0], Y: pt[1], ID: &id}
	}
	p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: input.DispatchTouchEventType(kind), TouchPoints: tps})
		return err
	}))
}

// screenshot saves what the phone shows as NAME.png in the run's
// screenshot directory (and in docs/screenshots with -update-screenshots).
func (p *phone) screenshot(name string) {
	p.t.Helper()
	// Let fonts, images and the preview's next frame settle.
	p.waitFor("images loaded", `[...document.images].every(i => i.complete)`, 10*time.Second)
	p.waitFor("animations done", `document.getAnimations().every(a => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity)`, 5*time.Second)
	_ = eval[bool](p, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("%s: screenshot %s: %v", p.name, name, err)
	}
	saveScreenshot(p.t, name, buf)
	if !*updateScreenshots || !slices.Contains(committedScreenshots, name) {
		return
	}
	// The committed copy is drawn at one device pixel per CSS pixel, to
	// keep the repository small.
	small, err := chromedp.Run(p.ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		res, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Clip: &page.Viewport{Width: 390, Height: 844, Scale: 0.5},
		})
		return res.Data, err
	})
	if err != nil {
		p.t.Fatalf("%s: screenshot %s: %v", p.name, name, err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", name+".png"), small, 0o644); err != nil {
		p.t.Fatalf("%v", err)
	}
}

// screenshotDir is where every run leaves its screenshots:
// $CASEFLEET_SCREENSHOTS, else a directory under the system's temp.
func screenshotDir(t reporter) string {
	dir := os.Getenv("CASEFLEET_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "casefleet-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("%v", err)
	}
	return dir
}

// kiosk is one real agent with the web app and Web Push wired in as the
// agent's command wires them; tunePush, if any, adjusts the push options
// (say, to admit a push service on loopback).
func startKiosk(t *testing.T, sim *agenttest.Sim, code, name, location string, tune func(*config.Config), tunePush ...func(*push.Options)) *agenttest.Agent {
	t.Helper()
	cfg := sim.AgentConfig(code, t.TempDir())
	cfg.Machine.Name, cfg.Machine.Location = name, location
	if tune != nil {
		tune(&cfg)
	}
	app, err := web.Handler(web.Options{MachineCode: code, MaxUploadBytes: cfg.Image.MaxBytes, MaxPixels: cfg.Image.MaxPixels})
	if err != nil {
		t.Fatal(err)
	}
	return agenttest.StartAgentWith(t, cfg, daemon.Options{
		Web: app,
		Push: func(p daemon.Parts) (http.Handler, func(context.Context) error, error) {
			opt := push.Options{DB: p.DB, Queue: p.Queue, Sessions: p.Sessions,
				MachineCode: p.Config.Machine.Code, MachineName: p.Config.Machine.Name, Logger: p.Logger}
			for _, f := range tunePush {
				f(&opt)
			}
			svc, err := push.New(opt)
			if err != nil {
				return nil, nil, err
			}
			return svc.Handler(), svc.Run, nil
		},
	})
}

// frontDoor stands in for the relay in front of the agents, the way the
// page relies on it: it routes each request by its machine code (the
// path's, or ?machine=) to that kiosk's agent, serves GET /api/machines,
// and can cut every open connection. A request under /app/ without
// ?machine= is a test failure: the real relay could not route it.
type frontDoor struct {
	*httptest.Server
	t      *testing.T
	agents map[string]*agenttest.Agent
	first  *agenttest.Agent

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	counts map[string]int // "METHOD path" -> requests seen
}

func newFrontDoor(t *testing.T, agents ...*agenttest.Agent) *frontDoor {
	t.Helper()
	fd := &frontDoor{t: t, agents: map[string]*agenttest.Agent{}, first: agents[0], conns: map[net.Conn]struct{}{}, counts: map[string]int{}}
	for _, a := range agents {
		fd.agents[a.Code] = a
	}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				fd.mu.Lock()
				fd.conns[c] = struct{}{}
				fd.mu.Unlock()
			}
			return c, err
		},
	}
	fd.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fd.mu.Lock()
		fd.counts[r.Method+" "+r.URL.Path]++
		fd.mu.Unlock()
		if r.URL.Path == "/api/machines" {
			fd.machines(w)
			return
		}
		a, ok := fd.route(r)
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"unknown_machine","message":"No such machine."}}`)
			return
		}
		target, _ := url.Parse(a.URL)
		proxy := &httputil.ReverseProxy{
			Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = pr.In.Host },
			Transport: transport,
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(fd.Close)
	return fd
}

func (fd *frontDoor) route(r *http.Request) (*agenttest.Agent, bool) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/chitu/machine/"); ok {
		code, _, _ := strings.Cut(rest, "/")
		a, ok := fd.agents[code]
		return a, ok
	}
	q := r.URL.Query()
	if strings.HasPrefix(r.URL.Path, "/app/") && !q.Has("machine") {
		fd.t.Errorf("the page requested %s without ?machine=: a relay cannot route it", r.URL)
	}
	if a, ok := fd.agents[q.Get("machine")]; ok {
		return a, true
	}
	// An unknown machine's page (and its files) come from any agent,
	// which shows "unknown machine".
	return fd.first, r.URL.Path == "/editor" || strings.HasPrefix(r.URL.Path, "/app/")
}

// machines answers GET /api/machines as the relay does, from the agents'
// own status.
func (fd *frontDoor) machines(w http.ResponseWriter) {
	type machine struct {
		Code        string `json:"code"`
		Name        string `json:"name"`
		Location    string `json:"location"`
		Status      string `json:"status"`
		QueueLength int    `json:"queueLength"`
	}
	out := []machine{}
	for _, a := range fd.agents {
		resp, err := http.Get(a.API() + "/status")
		if err != nil {
			continue
		}
		var m machine
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err == nil {
			out = append(out, m)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"machines": out})
}

// count is how many requests for "METHOD path" came through.
func (fd *frontDoor) count(request string) int {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.counts[request]
}

// dropConnections cuts every connection to the agents (the events
// WebSockets included), as a network change on a phone would.
func (fd *frontDoor) dropConnections() {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	for c := range fd.conns {
		c.Close()
		delete(fd.conns, c)
	}
}

// editorURL is the QR code's link for a machine.
func (fd *frontDoor) editorURL(code, location string) string {
	u := fd.URL + "/editor?machine=" + code
	if location != "" {
		u += "&location=" + location
	}
	return u
}

// committedScreenshots are the screens shown in the README
// (docs/screenshots), written with -update-screenshots.
var committedScreenshots = []string{
	"01-pick-phone", "02-design", "03-in-line", "04-pay-now", "05-ready", "06-queue-full",
	"07-ready-arabic", "09-offline", "11-unknown-machine", "13-coverage-warning",
	"14-full-machine", "15-pay-now-amount",
}

// saveScreenshot writes a screenshot to the run's directory.
func saveScreenshot(t reporter, name string, shot []byte) {
	t.Helper()
	path := filepath.Join(screenshotDir(t), name+".png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	t.Logf("screenshot %s", path)
}
