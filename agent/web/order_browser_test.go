package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
	"casefleet/shared/testenv"
)

// TestOrderingOnARealNetwork follows customers' phones (Chromium) through
// the real relay and agents when the network misbehaves and when the
// machine cannot take their order: an order is made once whatever
// happens to its answer, a full machine is said so before designing, the
// design follows the customer to a machine nearby, the status is never
// stale after a reconnect, a staff cancellation is told as such, and
// prices carry the machine's currency.
func TestOrderingOnARealNetwork(t *testing.T) {
	browser(t) // skip (or fail on CI) before building anything without Chromium
	bin := t.TempDir()
	buildBinaries(t, bin)

	t.Run("AnswerLostAfterTheOrderWasMade", func(t *testing.T) { answerLost(t, bin) })
	t.Run("ReloadInTheMiddleOfTheUpload", func(t *testing.T) { reloadMidUpload(t, bin) })
	t.Run("LateAnswerAndAReload", func(t *testing.T) { lateAnswer(t, bin) })
	t.Run("FullMachineAndTheDesignGoesAlong", func(t *testing.T) { fullMachine(t, bin) })
	t.Run("StatusAfterAReconnectAndStaffCancel", func(t *testing.T) { reconnectAndStaffCancel(t, bin) })
}

// printProxy stands between the phone and the relay and loses answers to
// POST .../print on command: the request reaches the agent, which makes
// the order, and the phone's connection is cut before it hears back (as
// when the phone's network drops, or a relay restarts, at that moment).
type printProxy struct {
	*httptest.Server
	proxy *httputil.ReverseProxy
	relay *url.URL

	mu   sync.Mutex
	cut  int      // answers still to lose
	keys []string // the Idempotency-Key of each POST .../print seen
	hold chan struct{}
}

func startPrintProxy(t *testing.T, relayURL string) *printProxy {
	t.Helper()
	u, err := url.Parse(relayURL)
	if err != nil {
		t.Fatal(err)
	}
	pp := &printProxy{relay: u, proxy: httputil.NewSingleHostReverseProxy(u)}
	pp.Server = httptest.NewServer(http.HandlerFunc(pp.serve))
	t.Cleanup(pp.Close)
	return pp
}

func (pp *printProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/print") {
		pp.proxy.ServeHTTP(w, r)
		return
	}
	pp.mu.Lock()
	pp.keys = append(pp.keys, r.Header.Get("Idempotency-Key"))
	lose := pp.cut > 0
	if lose {
		pp.cut--
	}
	hold := pp.hold
	pp.mu.Unlock()
	if !lose {
		pp.proxy.ServeHTTP(w, r)
		return
	}
	// Forward the whole request and read the whole answer: the order is
	// made. Then hang up on the phone without a word.
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host, out.Host = pp.relay.Scheme, pp.relay.Host, pp.relay.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if hold != nil {
		<-hold // the answer is late: the phone may give up (reload) first
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// loseAnswers makes the next n answers to POST .../print go missing.
func (pp *printProxy) loseAnswers(n int) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.cut = n
}

func (pp *printProxy) printKeys() []string {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return append([]string(nil), pp.keys...)
}

// queueLength is the line at code's agent, read on the LAN.
func (s *system) queueLength(code string) int {
	s.t.Helper()
	resp, err := http.Get(s.lan[code] + "/api/chitu/machine/" + code + "/status")
	if err != nil {
		s.t.Fatal(err)
	}
	var st struct{ QueueLength int }
	agenttest.MustJSON(s.t, resp, &st)
	return st.QueueLength
}

// expectOneOrder checks that the phone's session made exactly one order,
// that it is the one the page shows, and that it alone reached the
// printer.
func expectOneOrder(t *testing.T, s *system, p *phone, code string) {
	t.Helper()
	p.view("status", 60*time.Second)
	shown := eval[string](p, `import('casefleet/status').then(m => m.currentOrder()?.id || '')`)
	if n := s.queueLength(code); n != 1 {
		t.Fatalf("%d orders at the agent, want exactly 1", n)
	}
	testenv.Poll(t, 30*time.Second, 100*time.Millisecond, "the order reaches the printer", func() bool { return len(s.simOrders(code)) >= 1 })
	if orders := s.simOrders(code); len(orders) != 1 {
		t.Fatalf("%d orders at the printer, want exactly 1", len(orders))
	}
	sessionID := eval[string](p, fmt.Sprintf(`JSON.parse(localStorage.getItem('casefleet:v1:%s')).sessionId`, code))
	if o := s.agentOrder(code, sessionID, shown); o.ID != shown || o.Status != "printing" && o.Status != "queued" {
		t.Fatalf("the page shows order %s; the agent has %+v", shown, o)
	}
}

// throttle sets the phone's network to c (nil: no throttling).
func throttle(p *phone, c *network.Conditions) {
	p.t.Helper()
	p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		var rules []*network.Conditions
		if c != nil {
			rules = append(rules, c)
		}
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules})
		return err
	}))
}

// appStrings is the app's strings in lang.
func appStrings(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("static", "i18n", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameKeys(t *testing.T, keys []string, atLeast int) {
	t.Helper()
	if len(keys) < atLeast {
		t.Fatalf("%d POST print seen, want at least %d: %q", len(keys), atLeast, keys)
	}
	for _, k := range keys {
		if k == "" || k != keys[0] {
			t.Fatalf("the tries carried keys %q, want one key", keys)
		}
	}
}

// answerLost: the agent makes the order, and again and again the answer
// never reaches the phone. The page sends it again by itself, saying so, with
// the same key, and shows the order: one order in line and at the
// printer (there were two and more before the key).
func answerLost(t *testing.T, bin string) {
	s := startSystem(t, bin, []kiosk{eastEscalator}, []string{"--pay-seconds", "-1"}, nil)
	code := eastEscalator.code
	pp := startPrintProxy(t, s.relayURL)
	// Chromium itself sends a POST again, unasked, when a kept-alive
	// connection dies before any answer, once per idle connection it
	// holds (a page has several): so a lost answer made a second order
	// even before the page retried. Lose enough answers that the page
	// sees the failure and retries too.
	pp.loseAnswers(8)

	p := newPhone(t, "lena", "en")
	p.do(chromedp.Navigate(pp.URL + "/editor?machine=" + code + "&location=mall-3f"))
	p.view("pick", 30*time.Second)
	// Note every line the banner shows: the page says it is trying again.
	p.do(chromedp.Evaluate[chromedp.Void](`(() => {
		window.__banners = [];
		const b = document.getElementById('banner');
		new MutationObserver(() => { if (!b.hidden) window.__banners.push(b.textContent); })
			.observe(b, { childList: true, characterData: true, subtree: true, attributes: true });
	})()`))
	designAndOrder(p, "", tartanPhoto(t, 1200, 900))
	expectOneOrder(t, s, p, code)
	sameKeys(t, pp.printKeys(), 9)
	banners := eval[[]string](p, `window.__banners`)
	if !slices.ContainsFunc(banners, func(b string) bool {
		return strings.HasPrefix(b, "The connection dropped. Sending your order again in ")
	}) {
		t.Errorf("the page never said it was sending again; its banners: %q", banners)
	}
}

// reloadMidUpload: on a slow link the customer reloads while the photo
// goes up. The page resumes the order with its key: one order.
func reloadMidUpload(t *testing.T, bin string) {
	s := startSystem(t, bin, []kiosk{eastEscalator}, []string{"--pay-seconds", "-1"}, nil)
	code := eastEscalator.code
	pp := startPrintProxy(t, s.relayURL)

	p := newPhone(t, "omar", "en")
	// 20 KB/s up: the prepared photo takes a few seconds.
	throttle(p, &network.Conditions{Latency: 20, DownloadThroughput: -1, UploadThroughput: 20 << 10})
	noisy, _ := writeJPEG(t, "noisy.jpg", photoLike(2400, 1800, 8), 92, 1)
	designAndOrder(p, pp.URL+"/editor?machine="+code+"&location=mall-3f", noisy)
	p.waitFor("the upload is under way", `(() => {
		const v = document.getElementById('upload-progress').value;
		return !document.getElementById('upload').hidden && v >= 5 && v <= 50;
	})()`, 30*time.Second)
	p.do(chromedp.Reload())
	expectOneOrder(t, s, p, code)
	// Sent again after the reload, with the same key (or, if the first
	// upload did arrive in the end, found through the session: one POST).
	keys := pp.printKeys()
	sameKeys(t, keys, 1)
	t.Logf("%d POST print for one order", len(keys))
	if pending := eval[bool](p, `import('casefleet/store').then(m => m.loadPending('CT0700026')).then(a => !!a)`); pending {
		t.Error("the page still keeps the order attempt")
	}
}

// lateAnswer: the order is made but its answer is late, and the customer
// reloads before it comes. The page finds the order it made through its
// session, without sending it again: one order.
func lateAnswer(t *testing.T, bin string) {
	s := startSystem(t, bin, []kiosk{eastEscalator}, []string{"--pay-seconds", "-1"}, nil)
	code := eastEscalator.code
	pp := startPrintProxy(t, s.relayURL)
	hold := make(chan struct{})
	pp.mu.Lock()
	pp.cut, pp.hold = 1, hold
	pp.mu.Unlock()

	p := newPhone(t, "mei", "zh-CN,zh")
	designAndOrder(p, pp.URL+"/editor?machine="+code+"&location=mall-3f", tartanPhoto(t, 900, 1400))
	testenv.Poll(t, 30*time.Second, 50*time.Millisecond, "the order is made", func() bool { return s.queueLength(code) == 1 })
	p.do(chromedp.Reload())
	close(hold)
	expectOneOrder(t, s, p, code)
	if keys := pp.printKeys(); len(keys) != 1 {
		t.Fatalf("%d POST print, want 1 (the page found the order it made): %q", len(keys), keys)
	}
	if pending := eval[bool](p, `import('casefleet/store').then(m => m.loadPending('CT0700026')).then(a => !!a)`); pending {
		t.Error("the page still keeps the order attempt")
	}
}

// fullMachine: the east escalator's machine takes one order and has it.
// A phone that scans it is told at once, on the picker, with the food
// court's machine nearby and its line; designing anyway and ordering is
// refused with the same offer, and following it carries the model, photo
// and placement over: the food court's page opens on the design, ready
// to order. Prices are in euros.
func fullMachine(t *testing.T, bin string) {
	euro := []string{"CASEFLEET_MACHINE_CURRENCY=EUR"}
	east := kiosk{eastEscalator.code, eastEscalator.name, eastEscalator.location, append([]string{"CASEFLEET_QUEUE_MAX_ORDERS=1"}, euro...)}
	food := kiosk{"CT0700027", "Mall 3F, food court", "mall-3f", euro}
	s := startSystem(t, bin, []kiosk{east, food}, []string{"--pay-seconds", "-1"}, []string{"--rate-ip", "0", "--status-cache-ttl", "0s"})
	ahead := agenttest.NewCustomer(t, s.machineAPI(east.code))
	ahead.Order(t, ahead.FirstProduct(t))

	p := newPhone(t, "ines", "en-IE,en")
	p.do(chromedp.Navigate(s.editorURL(east.code, "mall-3f")))
	p.view("pick", 30*time.Second)
	p.waitFor("the picker says the machine is full", `!document.getElementById('pick-full').hidden`, 20*time.Second)
	p.waitFor("with the machine nearby", `document.querySelector('#pick-alt-list a.alt') !== null`, 20*time.Second)
	if got := p.text("pick-line"); got != "1 order in line: the line is full." {
		t.Errorf("the picker's line says %q", got)
	}
	if got := p.text("pick-alt-list"); !strings.Contains(got, food.name) || !strings.Contains(got, "no line") {
		t.Errorf("the nearby list says %q, want the food court with no line", got)
	}
	if got := eval[string](p, `document.querySelector('#models .model-price').innerText`); !strings.Contains(got, "€") {
		t.Errorf("a price reads %q, without the euro", got)
	}
	p.screenshot("14-full-machine")

	// Design anyway: a turned, mirrored photo; the order is refused.
	p.click(`#models button[data-product="101"]`)
	p.view("design", 10*time.Second)
	photo := tartanPhoto(t, 1600, 1000)
	p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}))
	p.waitFor("the photo is on the case", `document.getElementById('preview').classList.contains('has-photo')`, 15*time.Second)
	p.click(`button[data-act="rotate"]`)
	p.click(`button[data-act="flip"]`)
	placed := currentPlacement(p)
	if got := p.text("price"); !strings.Contains(got, "€") {
		t.Errorf("the design's price reads %q", got)
	}
	p.click("#order-btn")
	problemTitle(p, "This machine is fully booked")
	p.waitFor("the nearby machine is offered", `document.querySelector('#problem-alt-list a.alt') !== null`, 20*time.Second)
	followLink(p, `#problem-alt-list a.alt`)
	if got := eval[string](p, `location.search`); !strings.Contains(got, food.code) {
		t.Fatalf("the link led to %s", got)
	}
	p.view("design", 30*time.Second)
	p.waitFor("the photo came along", `document.getElementById('preview').classList.contains('has-photo')`, 15*time.Second)
	if got := currentPlacement(p); got != placed {
		t.Errorf("placement at the food court %+v, want %+v", got, placed)
	}
	if got := eval[string](p, `import('casefleet/editor').then(m => m.snapshot().model.productId)`); got != "101" {
		t.Errorf("model at the food court %s, want 101", got)
	}
	p.click("#order-btn")
	p.view("status", 60*time.Second)
	if n := s.queueLength(food.code); n != 1 {
		t.Fatalf("%d orders at the food court, want 1", n)
	}
	// The pay-now screen says how much, in euros.
	p.waitFor("your turn", `document.getElementById('v-status').dataset.screen === 'pay'`, 30*time.Second)
	if got := p.text("pay-amount"); got != "Amount to pay: €49.00" {
		t.Errorf("the pay-now screen says %q", got)
	}
	p.screenshot("15-pay-now-amount")

	// A design carried from a machine whose catalogue has no such model
	// keeps the photo and asks for the model.
	p.do(chromedp.Evaluate[chromedp.Void](`import('casefleet/store').then(async (store) => {
		const photo = await store.loadPhoto('CT0700027');
		await store.saveCarry({ to: 'CT0700026', productId: 'nope', modelName: 'Brick phone', placement: { scale: 2, rotation: 0, offset: { x: 0, y: 0 }, flipX: false, flipY: false }, photoName: 'p.png' }, photo);
	})`, chromedp.EvalAwaitPromise))
	p.do(chromedp.Navigate(s.editorURL(east.code, "mall-3f")))
	p.view("pick", 30*time.Second)
	p.click(`#models button[data-product="101"]`)
	p.view("design", 10*time.Second)
	p.waitFor("the carried photo waits for the model", `document.getElementById('preview').classList.contains('has-photo')`, 15*time.Second)
}

// reconnectAndStaffCancel: a customer second in line loses the relay for
// a while, during which the order ahead is cancelled; when the page says
// "Live updates" again it already shows their new place. Then the staff cancel
// the order at the dashboard, and the page says the staff did, in the
// customer's language.
func reconnectAndStaffCancel(t *testing.T, bin string) {
	const pin = "482916"
	k := kiosk{eastEscalator.code, eastEscalator.name, eastEscalator.location, []string{"CASEFLEET_LAN_OPERATOR_PIN=" + pin}}
	s := startSystem(t, bin, []kiosk{k}, []string{"--pay-seconds", "-1"}, nil)
	code := k.code
	first := agenttest.NewCustomer(t, s.machineAPI(code))
	first.Order(t, first.FirstProduct(t))
	s.waitFetched(code, 1)
	ahead := agenttest.NewCustomer(t, s.machineAPI(code))
	aheadOrder := ahead.Order(t, ahead.FirstProduct(t))

	p := newPhone(t, "yusuf", "en")
	order(p, s.editorURL(code, "mall-3f"), tartanPhoto(t, 900, 1400))
	// The order at the machine and the one waiting are ahead.
	p.waitFor("place in line", `document.getElementById('position').innerText === '2 orders ahead of you'`, 20*time.Second)
	p.waitFor("live updates", `document.getElementById('conn').dataset.state === 'live'`, 20*time.Second)
	// Note what the page shows each time it says it is live.
	p.do(chromedp.Evaluate[chromedp.Void](`(() => {
		window.__live = [];
		const conn = document.getElementById('conn');
		new MutationObserver(() => {
			if (conn.dataset.state === 'live') window.__live.push(document.getElementById('position').innerText);
		}).observe(conn, { attributes: true, attributeFilter: ['data-state'] });
	})()`))

	s.killRelay()
	p.waitFor("the page notices", `document.getElementById('conn').dataset.state === 'reconnecting'`, 20*time.Second)
	req, _ := http.NewRequest(http.MethodDelete, s.lan[code]+"/api/chitu/machine/"+code+"/queue/"+aheadOrder.ID, nil)
	req.Header.Set("X-Session-Id", ahead.SessionID)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel the order ahead on the LAN: %v %v", resp, err)
	}
	s.restartRelay()
	s.waitRoutable(code)
	p.waitFor("live again", `window.__live.length > 0`, 45*time.Second)
	if seen := eval[[]string](p, `window.__live`); seen[0] != "1 order ahead of you" {
		t.Fatalf("the page said live while showing %q, want 1 order ahead of you", seen)
	}

	// The staff cancel it at the dashboard; the page says who did, in
	// Arabic for this customer.
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('lang').value = 'ar'; document.getElementById('lang').dispatchEvent(new Event('change'))`))
	p.waitFor("Arabic", `document.documentElement.lang === 'ar'`, 10*time.Second)
	orderID := eval[string](p, `import('casefleet/status').then(m => m.currentOrder().id)`)
	cancel, _ := http.NewRequest(http.MethodPost, s.lan[code]+"/operator/api/orders/"+orderID+"/cancel", nil)
	cancel.Header.Set("Authorization", "Bearer "+pin)
	if resp, err := http.DefaultClient.Do(cancel); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the staff cancel: %v %v", resp, err)
	}
	ar := appStrings(t, "ar")
	p.waitFor("cancelled by the staff", fmt.Sprintf(`document.getElementById('status-title').innerText === %q`, ar["status.staff.title"]), 30*time.Second)
	if got, want := p.text("status-text"), strings.NewReplacer("{machine}", k.name).Replace(ar["status.staff.text"]); got != want {
		t.Errorf("the page says %q, want %q", got, want)
	}
}
