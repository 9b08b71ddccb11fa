package web_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
	"casefleet/agent/chitu/sim"
	"casefleet/shared/testenv"
)

// TestThroughTheRealRelay runs customers' phones (headless Chromium)
// against the real binaries: the printer simulator, the relay and the
// kiosk agents tunnelled to it, each a process on loopback, the agents
// enrolled with tokens from `casefleet-relay issue`. Everything the
// phone does goes through the relay's public address, and so does the
// printer fetching its print files.
func TestThroughTheRealRelay(t *testing.T) {
	browser(t) // skip (or fail on CI) before building anything without Chromium
	bin := t.TempDir()
	buildBinaries(t, bin)

	t.Run("QRCodeToCollectedCase", func(t *testing.T) { qrCodeToCollectedCase(t, bin) })
	t.Run("RelayRestartMidOrder", func(t *testing.T) { relayRestartMidOrder(t, bin) })
	t.Run("ThreeMachinesAndDeadEnds", func(t *testing.T) { threeMachinesAndDeadEnds(t, bin) })
}

var eastEscalator = kiosk{"CT0700026", "Mall 3F, east escalator", "mall-3f", nil}

// qrCodeToCollectedCase is one customer's visit through the relay: scan
// the QR code, pick a phone, upload a photo and place it, order, wait in
// line behind someone, pay when told, collect the case. The print file
// the machine fetched through the relay is the one the preview showed.
// The relay runs with its default limits: one phone stays within them.
func qrCodeToCollectedCase(t *testing.T, bin string) {
	s := startSystem(t, bin, []kiosk{eastEscalator}, []string{"--pay-seconds", "-1", "--print-seconds", "1"}, nil)
	code := eastEscalator.code

	// Someone is at the machine already, yet to pay (they ordered through
	// the relay too).
	ahead := agenttest.NewCustomer(t, s.machineAPI(code))
	ahead.Order(t, ahead.FirstProduct(t))
	theirs := s.waitFetched(code, 1)

	p := newPhone(t, "ann", "en-GB,en")
	requests := watchRequests(t, p)
	p.do(chromedp.Navigate(s.editorURL(code, "mall-3f")))
	p.view("pick", 30*time.Second)
	if got := p.text("kiosk-name"); got != eastEscalator.name {
		t.Errorf("header shows %q, want %q", got, eastEscalator.name)
	}
	p.waitFor("the phones' pictures load through the relay", `(() => {
		const imgs = [...document.querySelectorAll('#models button.model img')];
		return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
	})()`, 20*time.Second)
	p.screenshot("relay-01-pick-phone")

	// Design: an iPhone 15, the photo turned, filling the case, a little
	// larger, with the buttons. (Gestures never reach the relay; the
	// journey tests them. Here a synthetic drag made the order button's
	// tap that followed it, under load, end without a click now and then.)
	photo := tartanPhoto(t, 1600, 1000)
	p.click(`#models button[data-product="101"]`)
	p.view("design", 10*time.Second)
	p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}))
	p.waitFor("the photo is on the case", `document.getElementById('preview').classList.contains('has-photo')`, 15*time.Second)
	p.click(`button[data-act="rotate"]`)
	p.click(`button[data-act="fill"]`)
	p.click(`button[data-act="zoomIn"]`)
	placed := currentPlacement(p)
	// Fill at 90° for a 1600 x 1000 photo on the 844 x 1742 template: the
	// photo's long side spans the height (see the journey test).
	if fill := 1000.0 / 1600; placed.Rotation != 90 || math.Abs(placed.Scale-fill*1.1) > 0.001 {
		t.Fatalf("after rotate, fill and zoom in: %+v, want rotation 90 and scale %.4f", placed, fill*1.1)
	}
	p.screenshot("relay-02-design")

	// Order; the place in line shows, live.
	p.click("#order-btn")
	p.view("status", 60*time.Second)
	p.waitFor("place in line", `document.getElementById('position').innerText === '1 order ahead of you'`, 20*time.Second)
	p.waitFor("live updates", `document.getElementById('conn').dataset.state === 'live'`, 20*time.Second)
	p.screenshot("relay-03-in-line")

	// The customer ahead pays and collects; our order goes to the machine,
	// which fetches its print file through the relay.
	s.pay(theirs.ID)
	p.waitFor("your turn", `document.getElementById('status-title').innerText === 'Your turn: pay at the kiosk now'`, 60*time.Second)
	ours := s.waitFetched(code, 2)
	p.screenshot("relay-04-pay-now")

	var catalogue struct {
		Brands []struct {
			Models []struct{ ProductID, PrintImg string }
		}
	}
	resp, err := http.Get(s.machineAPI(code) + "/products")
	if err != nil {
		t.Fatal(err)
	}
	agenttest.MustJSON(t, resp, &catalogue)
	printImg := ""
	for _, b := range catalogue.Brands {
		for _, m := range b.Models {
			if m.ProductID == "101" {
				printImg = m.PrintImg
			}
		}
	}
	if printImg == "" {
		t.Fatal("the catalogue through the relay has no print template for product 101")
	}
	// The preview and the print file the machine got through the relay agree.
	placedJSON, _ := json.Marshal(placed)
	comparePreviewWithPrintFile(t, p, photo, placedJSON, printImg, ours.ImageURL)

	// Paid, printed, ready.
	s.pay(ours.ID)
	p.waitFor("ready", `document.getElementById('status-title').innerText === 'Your case is ready!'`, 60*time.Second)
	if text := p.text("status-text"); text != "Collect your case at Mall 3F, east escalator." {
		t.Errorf("done screen says %q", text)
	}
	if pickup := p.text("pickup-code"); len(pickup) != 4 || !strings.HasSuffix(ours.ID, pickup) {
		t.Errorf("pickup code %q for vendor order %s", pickup, ours.ID)
	}
	p.screenshot("relay-05-ready")
	requests.expectNoFailures(p)
}

// relayRestartMidOrder kills the relay (SIGKILL) while a customer waits
// in line, lets the line move on while it is down, and starts it again
// on the same address: the agents come back, the printer gets its print
// file through the new relay, and the open page, never reloaded, picks
// up its events again by itself and follows the order to the end. A
// reload afterwards shows the same order.
func relayRestartMidOrder(t *testing.T, bin string) {
	foodCourt := kiosk{"CT0700027", "Mall 3F, food court", "mall-3f", nil}
	s := startSystem(t, bin, []kiosk{eastEscalator, foodCourt}, []string{"--pay-seconds", "-1", "--print-seconds", "1"}, nil)
	code := eastEscalator.code

	ahead := agenttest.NewCustomer(t, s.machineAPI(code))
	ahead.Order(t, ahead.FirstProduct(t))
	theirs := s.waitFetched(code, 1)

	p := newPhone(t, "rosa", "en")
	requests := watchRequests(t, p)
	order(p, s.editorURL(code, "mall-3f"), tartanPhoto(t, 900, 1400))
	p.waitFor("place in line", `document.getElementById('position').innerText === '1 order ahead of you'`, 20*time.Second)
	p.waitFor("live updates", `document.getElementById('conn').dataset.state === 'live'`, 20*time.Second)
	recordScreens(p)
	p.do(chromedp.Evaluate[chromedp.Void](`window.neverReloaded = true`))
	sessionID := eval[string](p, `JSON.parse(localStorage.getItem('casefleet:v1:CT0700026')).sessionId`)
	orderID := eval[string](p, `import('casefleet/status').then(m => m.currentOrder().id)`)

	s.killRelay()
	p.waitFor("the page notices", `document.getElementById('conn').dataset.state === 'reconnecting'`, 20*time.Second)

	// While the relay is down the customer ahead pays and collects; our
	// order goes to the machine, which cannot fetch its print file yet.
	s.pay(theirs.ID)
	testenv.Poll(t, 60*time.Second, 100*time.Millisecond, "our order goes to the machine", func() bool {
		stage := s.agentOrder(code, sessionID, orderID).Stage
		return stage != "queued" && stage != "sending"
	})
	testenv.Poll(t, 30*time.Second, 100*time.Millisecond, "the machine tries to fetch our print file", func() bool {
		orders := s.simOrders(code)
		return len(orders) == 2 && orders[1].Fetch.Attempts > 0
	})

	restarted := time.Now()
	s.restartRelay()
	s.waitRoutable(eastEscalator.code)
	s.waitRoutable(foodCourt.code)
	t.Logf("both agents answer through the relay %v after it started again", time.Since(restarted).Round(time.Millisecond))

	p.waitFor("live again, by itself", `document.getElementById('conn').dataset.state === 'live'`, 45*time.Second)
	t.Logf("the page is live again %v after the relay started again", time.Since(restarted).Round(time.Millisecond))
	p.waitFor("your turn (missed while the relay was down)", `document.getElementById('status-title').innerText === 'Your turn: pay at the kiosk now'`, 30*time.Second)
	ours := s.waitFetched(code, 2)
	p.screenshot("relay-06-pay-after-restart")

	s.pay(ours.ID)
	p.waitFor("ready", `document.getElementById('status-title').innerText === 'Your case is ready!'`, 60*time.Second)
	if !eval[bool](p, `window.neverReloaded === true`) {
		t.Error("the page was reloaded")
	}
	shown := screensShown(p)
	t.Logf("the page showed %v", shown)
	if !inOrder(shown, []string{"queued", "pay", "printing", "done"}) {
		t.Errorf("the page showed %v, want queued, pay, printing and done in that order", shown)
	}
	pickup := p.text("pickup-code")
	if len(pickup) != 4 || !strings.HasSuffix(ours.ID, pickup) {
		t.Errorf("pickup code %q for vendor order %s", pickup, ours.ID)
	}
	p.screenshot("relay-07-ready-after-restart")
	requests.logFailures(p)

	// A reload through the restarted relay resumes the same order.
	p.do(chromedp.Reload())
	p.view("status", 30*time.Second)
	p.waitFor("ready", `document.getElementById('status-title').innerText === 'Your case is ready!'`, 20*time.Second)
	if eval[bool](p, `window.neverReloaded === true`) {
		t.Error("the page did not reload")
	}
	if id := eval[string](p, `import('casefleet/status').then(m => m.currentOrder().id)`); id != orderID {
		t.Errorf("after the reload the page shows order %s, want %s", id, orderID)
	}
	if again := p.text("pickup-code"); again != pickup {
		t.Errorf("after the reload the pickup code is %q, was %q", again, pickup)
	}
}

// threeMachinesAndDeadEnds sends three customers at once to three
// machines through one relay: each order prints on the machine its
// customer scanned. Then the dead ends through the relay: a machine
// offline (its agent's page, offering the other machine at the same
// location), a code nobody knows and a kiosk whose agent is gone (the
// relay's own pages).
func threeMachinesAndDeadEnds(t *testing.T, bin string) {
	var kiosks []kiosk
	for _, k := range fleet {
		kiosks = append(kiosks, kiosk{k.code, k.name, k.location, nil})
	}
	// The phones and the test all come from 127.0.0.1, where real phones
	// each have their own address: no limit per address here.
	s := startSystem(t, bin, kiosks, []string{"--pay-seconds", "0", "--print-seconds", "1"}, []string{"--rate-ip", "0"})

	type customer struct{ name, lang, code, done string }
	customers := []customer{
		{"ann", "en-GB,en", "CT0700026", "Your case is ready!"},
		{"emil", "de-AT,de", "CT0700027", "Ihre Hülle ist fertig!"},
		{"dalia", "ar-EG,ar,en", "CT0700046", "غطاؤك جاهز!"},
	}
	location := map[string]string{}
	for _, k := range kiosks {
		location[k.code] = k.location
	}
	photo := tartanPhoto(t, 600, 960)
	phones := make([]*phone, len(customers))
	logs := map[string]*requestLog{}
	for i, c := range customers {
		phones[i] = newPhone(t, c.name, c.lang)
		logs[c.name] = watchRequests(t, phones[i])
	}
	var mu sync.Mutex
	pickup := map[string]string{} // machine -> the pickup code its customer sees
	together(t, phones, func(p *phone) {
		c := customers[slices.IndexFunc(customers, func(c customer) bool { return c.name == p.name })]
		order(p, s.editorURL(c.code, location[c.code]), photo)
		p.waitFor("ready", fmt.Sprintf(`document.getElementById('status-title').innerText === %q`, c.done), 90*time.Second)
		mu.Lock()
		pickup[c.code] = p.text("pickup-code")
		mu.Unlock()
		if c.name == "dalia" {
			checkRightToLeft(p)
			p.screenshot("relay-08-ready-arabic")
		}
		logs[c.name].expectNoFailures(p)
	})
	for _, k := range kiosks {
		orders := s.simOrders(k.code)
		if len(orders) != 1 {
			t.Errorf("%s printed %d orders, want its customer's one", k.code, len(orders))
			continue
		}
		s.checkFetchedThroughRelay(k.code, orders[0])
		if code := pickup[k.code]; len(code) != 4 || !strings.HasSuffix(orders[0].ID, code) {
			t.Errorf("%s printed vendor order %s; its customer's phone shows pickup code %q", k.code, orders[0].ID, code)
		}
	}

	// The food court's machine goes offline: its page says so before any
	// design work, and offers the east escalator's machine, not the
	// station's.
	s.simAdmin(http.MethodPost, "/admin/machines/CT0700027/offline", nil)
	testenv.Poll(t, 20*time.Second, 100*time.Millisecond, "the agent sees its machine offline", func() bool { return s.agentStatus("CT0700027") == "offline" })
	olga := newPhone(t, "olga", "en")
	olga.do(chromedp.Navigate(s.editorURL("CT0700027", "mall-3f")))
	problemTitle(olga, "This machine is offline")
	if got := alternatives(olga); len(got) != 1 || !strings.HasPrefix(got[0], "Mall 3F, east escalator") {
		t.Errorf("offline offers %q, want only the east escalator's machine", got)
	}
	olga.screenshot("relay-09-offline")
	followLink(olga, `#problem-alt-list a.alt`)
	olga.view("pick", 30*time.Second)
	if got := olga.text("kiosk-name"); got != "Mall 3F, east escalator" {
		t.Errorf("the alternative opened %q", got)
	}

	// A code nobody knows: the relay has no tunnel for it and answers
	// itself, offering the machines online at the QR code's location.
	uma := newPhone(t, "uma", "en")
	if status := navigateStatus(uma, s.relayURL+"/editor?machine=CT0799999"); status != http.StatusNotFound {
		t.Errorf("unknown machine: status %d, want 404", status)
	}
	page := readRelayPage(uma)
	if page.Title != "We don't know this machine" || !strings.Contains(page.Text, "CT0799999") || len(page.Offers) != 0 {
		t.Errorf("unknown machine without a location: %+v", page)
	}
	uma.screenshot("relay-10-unknown-machine")

	// The relay's pages speak the customer's language too: an Arabic
	// phone gets the page right to left, a Spanish one in Spanish.
	amal := newPhone(t, "amal", "ar")
	navigateStatus(amal, s.editorURL("CT0799999", "mall-3f"))
	if page := readRelayPage(amal); page.Title != "لا نعرف هذا الجهاز" || !strings.Contains(page.Text, "أجهزة أخرى قريبة") {
		t.Errorf("unknown machine in Arabic: %+v", page)
	}
	if dir := eval[string](amal, `getComputedStyle(document.querySelector('main')).direction`); dir != "rtl" {
		t.Errorf("the Arabic page runs %s, want rtl", dir)
	}
	amal.screenshot("relay-10-unknown-machine-arabic")
	// She switches to Spanish on the relay's page; the machine's app she
	// then opens keeps Spanish.
	amal.click("header summary")
	followLink(amal, `header a[hreflang="es"]`)
	if page := readRelayPage(amal); page.Title != "No conocemos esta máquina" {
		t.Errorf("after switching to Spanish: %+v", page)
	}
	followLink(amal, `main li a`)
	amal.view("pick", 30*time.Second)
	if lang := eval[string](amal, `document.documentElement.lang`); lang != "es" {
		t.Errorf("the app opened from the relay's Spanish page speaks %q", lang)
	}
	sofia := newPhone(t, "sofia", "es-ES,es;q=0.9")
	navigateStatus(sofia, s.relayURL+"/editor?machine=CT0799999")
	if page := readRelayPage(sofia); page.Title != "No conocemos esta máquina" {
		t.Errorf("unknown machine in Spanish: %+v", page)
	}
	navigateStatus(uma, s.editorURL("CT0799999", "mall-3f"))
	if page := readRelayPage(uma); !slices.Equal(page.Offers, []string{"/editor?machine=CT0700026&location=mall-3f"}) {
		t.Errorf("unknown machine at mall-3f offers %q, want only the east escalator's machine (the food court's is offline)", page.Offers)
	}
	followLink(uma, `main li a`)
	uma.view("pick", 30*time.Second)
	if got := uma.text("kiosk-name"); got != "Mall 3F, east escalator" {
		t.Errorf("the offered machine opened %q", got)
	}

	// The station's kiosk PC dies: the relay loses its tunnel and says the
	// machine is offline (it has been seen), with nothing else at the
	// station to offer.
	s.agents["CT0700046"].Kill()
	testenv.Poll(t, 30*time.Second, 200*time.Millisecond, "the relay notices the station's agent is gone", func() bool {
		resp, err := http.Get(s.machineAPI("CT0700046") + "/status")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	if status := navigateStatus(uma, s.editorURL("CT0700046", "station")); status != http.StatusServiceUnavailable {
		t.Errorf("machine without an agent: status %d, want 503", status)
	}
	page = readRelayPage(uma)
	if page.Title != "This machine is offline" || !strings.Contains(page.Text, "No other machine nearby is online") {
		t.Errorf("machine without an agent: %+v", page)
	}
	uma.screenshot("relay-11-agent-gone")
}

// waitFetched waits until the simulated machine holds code's n-th order
// with its print file fetched, and checks the file came through the relay.
func (s *system) waitFetched(code string, n int) sim.OrderView {
	s.t.Helper()
	var o sim.OrderView
	testenv.Poll(s.t, 60*time.Second, 100*time.Millisecond, fmt.Sprintf("%s fetches the print file of its order %d", code, n), func() bool {
		orders := s.simOrders(code)
		if len(orders) < n {
			return false
		}
		o = orders[n-1]
		if o.Fetch.Done && !o.Fetch.OK {
			s.t.Fatalf("%s could not fetch %s: %s", code, o.ImageURL, o.Fetch.Error)
		}
		return o.Fetch.OK
	})
	s.checkFetchedThroughRelay(code, o)
	return o
}

// checkFetchedThroughRelay checks that the machine got a good print file
// for o from the relay's public address.
func (s *system) checkFetchedThroughRelay(code string, o sim.OrderView) {
	s.t.Helper()
	if want := s.machineAPI(code) + "/files/"; !strings.HasPrefix(o.ImageURL, want) {
		s.t.Errorf("%s's order %s has print file %s, want one under %s", code, o.ID, o.ImageURL, want)
	}
	if !o.Fetch.OK {
		s.t.Errorf("%s's order %s: the print file was not fetched: %+v", code, o.ID, o.Fetch)
	}
}
