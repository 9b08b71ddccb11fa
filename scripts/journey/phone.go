package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// profile is a network a phone may be on.
type profile struct {
	name     string
	latency  time.Duration // added to every request (CDP: request sent to response headers)
	downKbit float64       // kilobits (1000 bits) per second; 0: not throttled
	upKbit   float64
}

// profiles are the networks of the bench: none, Lighthouse's mobile
// profile ("slow 4G": its nominal figures, without the factors Lighthouse
// applies when it throttles with DevTools), and a slow 3G.
var profiles = []profile{
	{name: "none"},
	{name: "mobile (150 ms, 1.6 Mbit/s down, 750 kbit/s up)", latency: 150 * time.Millisecond, downKbit: 1600, upKbit: 750},
	{name: "3G (300 ms, 750 kbit/s down, 250 kbit/s up)", latency: 300 * time.Millisecond, downKbit: 750, upKbit: 250},
}

// conditions are the profile's CDP network conditions. CDP counts
// throughput in bytes per second, not bits.
func (p profile) conditions() *network.Conditions {
	return &network.Conditions{
		URLPattern:         "", // every request of the tab
		Latency:            float64(p.latency.Milliseconds()),
		DownloadThroughput: kbitToBytes(p.downKbit),
		UploadThroughput:   kbitToBytes(p.upKbit),
	}
}

// kbitToBytes turns kilobits per second into bytes per second; 0 (no
// throttling) into CDP's -1.
func kbitToBytes(kbit float64) float64 {
	if kbit == 0 {
		return -1
	}
	return kbit * 1000 / 8
}

func (p profile) throttled() bool { return p.latency > 0 || p.downKbit > 0 || p.upKbit > 0 }

// journey is one customer's visit, timed: from the QR code's link to the
// phone models, then a model, the photo, Order, and "you are in line". Each
// journey runs in a fresh browser context (no cache, no storage, no
// session), as a phone that never saw the kiosk.
type journey struct {
	browser context.Context // the shared Chromium
	url     string          // the kiosk's QR code link
	photo   string          // path of the photo to choose
}

// The page's views (agent/web/static): the model picker's buttons shown,
// the photo on the case, the order in line. Each check returns "" until it
// holds, then "ok", or the text of the problem page the app showed
// instead, which makes the run a broken one.
const (
	problemJS = `(() => { const p = document.getElementById('v-problem'); return p && !p.hidden ? 'problem: ' + p.innerText.replace(/\s+/g, ' ').slice(0, 300) : ''; })()`
	modelsJS  = `(() => {
		const b = document.querySelector('#v-pick:not([hidden]) #models button.model');
		return b && b.getClientRects().length > 0 ? 'ok' : ` + problemJS + `;
	})()`
	// The photo on the case: the case's picture (print_img) loaded too,
	// which the page holds in the editor module's state. A customer sees
	// the photo on the case before ordering, and the phone can prepare the
	// photo for the print only once it knows the print's size.
	photoJS = `(async () => {
		if (!document.querySelector('#v-design:not([hidden]) #preview.has-photo')) return ` + problemJS + `;
		const { snapshot } = await import('casefleet/editor');
		return snapshot().template ? 'ok' : '';
	})()`
	inLineJS = `(() => !document.getElementById('v-status').hidden ? 'ok' : ` + problemJS + `)()`
)

// run makes one journey on the network of p.
func (j journey) run(p profile) (result, error) {
	ctx, cancel := context.WithTimeout(j.browser, 10*time.Minute)
	defer cancel()
	tab, closeTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer closeTab()

	var traffic netLog
	setup := []chromedp.Action[chromedp.Void]{
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch),
		call(emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
			UserAgent:      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36",
			AcceptLanguage: "en-GB,en",
		}),
		call(network.Enable, network.EnableParams{}),
		call(network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}),
	}
	if p.throttled() {
		// One rule for every request: what the deprecated
		// Network.emulateNetworkConditions did (cdproto no longer has it).
		setup = append(setup, call(network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{p.conditions()},
		}))
	}
	if err := chromedp.Do(tab, setup...); err != nil {
		return result{}, fmt.Errorf("set the phone up: %w", err)
	}
	if err := chromedp.Listen(tab, traffic.record); err != nil {
		return result{}, fmt.Errorf("watch the network: %w", err)
	}

	var r result
	// The QR code's link, until the models are shown. Page.navigate alone:
	// chromedp.Navigate would wait for the load event, which the models'
	// pictures hold back on a slow network.
	start := time.Now()
	if err := chromedp.Do(tab, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		res, err := cdp.Call(ctx, t, page.Navigate, page.NavigateParams{URL: j.url})
		if err == nil && res.ErrorText != "" {
			err = errors.New(res.ErrorText)
		}
		return chromedp.Void{}, err
	}); err != nil {
		return result{}, fmt.Errorf("open %s: %w", j.url, err)
	}
	if err := waitJS(tab, "the phone models", modelsJS, 2*time.Minute); err != nil {
		return result{}, err
	}
	r.toModels = time.Since(start)
	r.modelRequests, r.modelBytes = traffic.sofar()

	// A model, then the photo on the case.
	if err := tap(tab, "#models button.model:not([disabled])", `!document.getElementById('v-design').hidden`); err != nil {
		return result{}, err
	}
	if err := chromedp.Do(tab, chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{j.photo})); err != nil {
		return result{}, fmt.Errorf("choose the photo: %w", err)
	}
	if err := waitJS(tab, "the photo on the case", photoJS, time.Minute); err != nil {
		return result{}, err
	}

	// Order, until the status view shows the order in line. The clock
	// starts when the tap arrives (a tap Chromium dropped is tapped again).
	tapped, err := tapTimed(tab, "#order-btn")
	if err != nil {
		return result{}, err
	}
	if err := waitJS(tab, "the order in line", inLineJS, 8*time.Minute); err != nil {
		return result{}, err
	}
	r.toInLine = time.Since(tapped)
	// Every attempt counts: the page sends an order again by itself when
	// an attempt went unanswered.
	orders := traffic.find("POST", "/api/chitu/machine/"+machineCode+"/print")
	for _, o := range orders {
		if p.throttled() && !o.throttled {
			return result{}, errors.New("Chromium did not throttle the order's upload")
		}
		r.uploadBytes += o.bodyBytes
	}
	if r.uploadBytes == 0 {
		return result{}, errors.New("no POST .../print with a body seen")
	}
	if len(orders) > 1 {
		slog.Warn("the order went up more than once", "attempts", len(orders), "bytes", r.uploadBytes)
	}
	return r, nil
}

// warmUp opens the link once until the models show, so that the first
// measured journey does not pay for the agent's first catalogue fetch.
func (j journey) warmUp() error {
	ctx, cancel := context.WithTimeout(j.browser, 2*time.Minute)
	defer cancel()
	tab, closeTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer closeTab()
	if err := chromedp.Do(tab, chromedp.Navigate(j.url)); err != nil {
		return fmt.Errorf("open %s: %w", j.url, err)
	}
	return waitJS(tab, "the phone models", modelsJS, time.Minute)
}

// call is an action that sends one CDP command and ignores its result.
func call[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, cmd, params)
		return chromedp.Void{}, err
	}
}

// waitJS polls a check (see modelsJS) every 20 ms until it says "ok".
// Errors while the page changes (no document yet, a context torn down)
// are waited out; a problem page is an error.
func waitJS(tab context.Context, what, js string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for {
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		cancel()
		switch {
		case err == nil && got == "ok":
			return nil
		case err == nil && got != "":
			return fmt.Errorf("waiting for %s, the page shows a %s", what, got)
		case err != nil:
			last = err
		}
		if tab.Err() != nil {
			return fmt.Errorf("waiting for %s: %w", what, tab.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not shown within %v (last error: %v); the page shows: %s", what, within, last, describe(tab))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// describe is what the page shows, for error messages.
func describe(tab context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tab), 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll('main > .view')].filter(v => !v.hidden).map(v => v.id + ': ' + v.innerText.replace(/\s+/g, ' ').slice(0, 300)).join(' | ')`))
	if err != nil {
		return err.Error()
	}
	return v
}

// tap taps selector as a finger does and waits until done (a JavaScript
// condition) holds, tapping again when it does not within ten seconds:
// Chromium sometimes drops a synthetic tap (see agent/web's tests).
func tap(tab context.Context, selector, done string) error {
	for attempt := 1; ; attempt++ {
		if err := chromedp.Do(tab, chromedp.Tap(chromedp.CSS(selector))); err != nil {
			return fmt.Errorf("tap %s: %w", selector, err)
		}
		if err := waitJS(tab, selector+" tapped", `(`+done+`) ? 'ok' : ''`, 10*time.Second); err == nil {
			return nil
		} else if attempt == 3 {
			return fmt.Errorf("three taps on %s: %w", selector, err)
		}
		slog.Warn("a tap did not arrive; tapping again", "selector", selector)
	}
}

// tapTimed taps selector and returns when the tap's click arrived, read
// on the page's clock (performance.now) and brought to this process's.
func tapTimed(tab context.Context, selector string) (time.Time, error) {
	token := strconv.FormatInt(time.Now().UnixNano(), 36)
	listen := `(() => {
		const tap = window.__journeyTap = {token: '` + token + `', at: 0};
		document.addEventListener('click', (e) => {
			if (!tap.at && e.target instanceof Element && e.target.closest(` + strconv.Quote(selector) + `)) tap.at = performance.now();
		}, {capture: true});
		return true;
	})()`
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](listen)); err != nil {
		return time.Time{}, fmt.Errorf("listen for the tap on %s: %w", selector, err)
	}
	if err := tap(tab, selector, `window.__journeyTap.at > 0`); err != nil {
		return time.Time{}, err
	}
	// How long ago the click arrived, by the page's clock.
	ago, err := chromedp.Run(tab, chromedp.Evaluate[float64](`performance.now() - window.__journeyTap.at`))
	if err != nil {
		return time.Time{}, fmt.Errorf("read the tap's time: %w", err)
	}
	return time.Now().Add(-time.Duration(ago * float64(time.Millisecond))), nil
}

// netLog keeps what the tab's network did, from CDP's Network events.
type netLog struct {
	mu       sync.Mutex
	requests map[network.RequestID]*request
	started  int // requests, in order of requestWillBeSent
}

// request is one request the tab made.
type request struct {
	method, url string
	bodyBytes   int64 // the request body's Content-Length
	throttled   bool  // Chromium applied the emulated network conditions
	received    int64 // bytes received (headers included), once finished
}

// record is the tab's event listener; it runs on chromedp's reading
// goroutine, so it only takes notes.
func (n *netLog) record(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.requests == nil {
		n.requests = map[network.RequestID]*request{}
	}
	get := func(id network.RequestID) *request {
		r := n.requests[id]
		if r == nil {
			r = &request{}
			n.requests[id] = r
		}
		return r
	}
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		n.started++
		r := get(e.RequestID)
		r.method, r.url = e.Request.Method, e.Request.URL
	case *network.EventRequestWillBeSentExtraInfo:
		r := get(e.RequestID)
		r.throttled = e.AppliedNetworkConditionsID != ""
		for k, v := range e.Headers {
			if strings.EqualFold(k, "Content-Length") {
				if size, err := strconv.ParseInt(fmt.Sprint(v), 10, 64); err == nil {
					r.bodyBytes = size
				}
			}
		}
	case *network.EventLoadingFinished:
		get(e.RequestID).received = int64(e.EncodedDataLength)
	}
}

// sofar is how many requests the page started, and the bytes it received
// for those that finished, until now.
func (n *netLog) sofar() (requests int, bytes int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, r := range n.requests {
		bytes += r.received
	}
	return n.started, bytes
}

// find is the requests with method to URLs whose path is path.
func (n *netLog) find(method, path string) []request {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []request
	for _, r := range n.requests {
		if u, err := url.Parse(r.url); err == nil && r.method == method && u.Path == path {
			out = append(out, *r)
		}
	}
	return out
}
