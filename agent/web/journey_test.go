package web_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
)

// placement is the editor's placement, as the page holds it.
type placement struct {
	Scale    float64 `json:"scale"`
	Rotation float64 `json:"rotation"`
	Offset   struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
	} `json:"offset"`
	FlipX bool `json:"flipX"`
	FlipY bool `json:"flipY"`
}

func currentPlacement(p *phone) placement {
	p.t.Helper()
	raw := eval[string](p, `import('casefleet/editor').then(m => JSON.stringify(m.snapshot().placement))`)
	var pl placement
	if err := json.Unmarshal([]byte(raw), &pl); err != nil {
		p.t.Fatalf("%v", err)
	}
	return pl
}

// previewCentre is the preview canvas's centre on the screen.
func previewCentre(p *phone) (x, y float64) {
	p.t.Helper()
	// Once the layout has settled (the same box two frames apart): a
	// gesture aimed while something above still loads would miss.
	c := eval[[]float64](p, `(async () => {
		const el = document.getElementById('preview');
		const frames = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
		let last = '';
		for (let i = 0; i < 200; i++) {
			const r = el.getBoundingClientRect();
			const box = [r.x, r.y, r.width, r.height].join();
			if (box === last) return [r.x + r.width / 2, r.y + r.height / 2];
			last = box;
			await frames();
		}
		throw new Error('the preview keeps moving: ' + last);
	})()`)
	return c[0], c[1]
}

// fingersDown starts a touch with points on the preview and checks that
// each finger landed on it (a pointerdown on the canvas per finger), so a
// gesture that misses fails here, saying so, not later with a wrong
// placement.
func fingersDown(p *phone, points ...[2]float64) {
	p.t.Helper()
	eval[bool](p, `(() => {
		const el = document.getElementById('preview');
		if (!el.__casefleetCounting) {
			el.__casefleetCounting = true;
			el.addEventListener('pointerdown', () => window.__casefleetDowns++);
		}
		window.__casefleetDowns = 0;
		return true;
	})()`)
	p.touch("touchStart", points...)
	p.waitFor(fmt.Sprintf("%d fingers on the preview", len(points)), fmt.Sprintf(`window.__casefleetDowns === %d`, len(points)), 10*time.Second)
}

func near(a, b, tolerance float64) bool { return math.Abs(a-b) <= tolerance }

// Through the relay: the same journey with the real relay binary in front
// instead of the test's frontDoor, and session recovery across a relay
// restart, are in relay_test.go; frontDoor routes the way the relay does.

// TestJourneyFromQRCodeToCollectedCase is a customer's whole visit: scan
// the QR code, pick a phone, upload a photo, place it by touch and with
// the buttons, order, wait in line behind someone, pay when told, collect
// the case. On the way: the design and then the order survive reloads,
// the events stream survives a cut connection, and the preview matches
// the print file the agent made.
func TestJourneyFromQRCodeToCollectedCase(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026"}, PayDelay: -1})
	a := startKiosk(t, sim, "CT0700026", "Mall 3F, east escalator", "mall-3f", nil)
	fd := newFrontDoor(t, a)

	// Someone else is at the machine already, yet to pay.
	ahead := agenttest.NewCustomer(t, a.API())
	ahead.Order(t, ahead.FirstProduct(t))
	agenttest.Eventually(t, 20*time.Second, "the first order reaches the machine", func() bool { return len(sim.Orders(t, "CT0700026")) == 1 })

	p := newPhone(t, "ann", "en-GB,en")
	p.do(chromedp.Navigate(fd.editorURL("CT0700026", "mall-3f")))
	p.view("pick", 15*time.Second)
	if got := p.text("kiosk-name"); got != "Mall 3F, east escalator" {
		t.Errorf("header shows %q", got)
	}
	if n := eval[int](p, `document.querySelectorAll('#models button.model img[src*="/assets/show/"]').length`); n == 0 {
		t.Error("the models show no show_img pictures")
	}
	p.screenshot("01-pick-phone")

	// Design: a photo on an iPhone 15, placed by touch, keyboard and buttons.
	photo := tartanPhoto(t, 1600, 1000)
	var placed placement
	{
		p.click(`#models button[data-product="101"]`)
		p.view("design", 10*time.Second)
		p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}))
		p.waitFor("the photo is on the case", `document.getElementById('preview').classList.contains('has-photo')`, 10*time.Second)
		if !eval[bool](p, `document.getElementById('small-note').hidden`) {
			t.Error("a photo large enough is flagged as too small")
		}

		// Two fingers: spread to twice the distance and turn by 30°.
		x, y := previewCentre(p)
		fingersDown(p, [2]float64{x - 40, y}, [2]float64{x + 40, y})
		for i := 1; i <= 5; i++ {
			f := float64(i) / 5
			r, a := 40*(1+f), math.Pi/6*f
			p.touch("touchMove", [2]float64{x - r*math.Cos(a), y - r*math.Sin(a)}, [2]float64{x + r*math.Cos(a), y + r*math.Sin(a)})
		}
		p.touch("touchEnd")
		if pl := currentPlacement(p); !near(pl.Scale, 2, 0.05) || !near(pl.Rotation, 30, 0.5) {
			t.Fatalf("after pinching and twisting: %+v, want scale 2 and rotation 30", pl)
		}

		// Keyboard: turn back to upright; then the buttons.
		p.do(chromedp.Focus(chromedp.ID("preview")))
		for range 6 {
			p.do(chromedp.KeyEvent("["))
		}
		p.click(`button[data-act="rotate"]`)
		p.click(`button[data-act="flip"]`)
		p.click(`button[data-act="fill"]`)
		p.click(`button[data-act="zoomIn"]`)
		// One finger drags.
		x, y = previewCentre(p)
		fingersDown(p, [2]float64{x, y})
		p.touch("touchMove", [2]float64{x + 12, y - 30})
		p.touch("touchEnd")
		pl := currentPlacement(p)
		// Fill at 90° for a 1600 x 1000 photo on the 844 x 1742 template:
		// the photo's long side spans the height, 1742/1600 over cover 1742/1000.
		fill := (1742.0 / 1600) / (1742.0 / 1000)
		if pl.Rotation != 90 || !pl.FlipX || pl.Offset.Y >= 0 || pl.Offset.X <= 0 || !near(pl.Scale, fill*1.1, 0.001) {
			t.Fatalf("after rotate, mirror, fill, zoom and a drag: %+v, want scale %.4f", pl, fill*1.1)
		}
		if !eval[bool](p, `document.getElementById('small-note').hidden`) {
			t.Error("a photo large enough is flagged as too small")
		}
		p.screenshot("02-design")

		// Closing the tab and coming back keeps the design and the photo.
		p.do(chromedp.Reload())
		p.view("design", 15*time.Second)
		p.waitFor("the photo comes back", `document.getElementById('preview').classList.contains('has-photo')`, 10*time.Second)
		if again := currentPlacement(p); again != pl {
			t.Fatalf("after a reload the placement is %+v, was %+v", again, pl)
		}
		placed = pl

		// The agent keeps the design too (currentDesign of the session).
		sessionID := eval[string](p, `JSON.parse(localStorage.getItem('casefleet:v1:CT0700026')).sessionId`)
		agenttest.Eventually(t, 10*time.Second, "the agent holds the design", func() bool {
			resp, err := http.Post(a.API()+"/session", "application/json", strings.NewReader(`{"sessionId":"`+sessionID+`"}`))
			if err != nil {
				return false
			}
			var s struct {
				CurrentDesign struct {
					ProductID string    `json:"productId"`
					Placement placement `json:"placement"`
				} `json:"currentDesign"`
			}
			agenttest.MustJSON(t, resp, &s)
			return s.CurrentDesign.ProductID == "101" && s.CurrentDesign.Placement == pl
		})
	}

	// Order, and wait in line behind the customer at the machine.
	var orderID string
	{
		p.click("#order-btn")
		p.view("status", 30*time.Second)
		p.waitFor("place in line", `document.getElementById('position').innerText === '1 order ahead of you'`, 10*time.Second)
		wait := p.text("countdown")
		if !strings.Contains(wait, ":") {
			t.Errorf("the wait shows %q, want a countdown", wait)
		}
		p.waitFor("the wait counts down", `document.getElementById('countdown').innerText !== `+jsString(wait), 5*time.Second)
		if !eval[bool](p, `!document.getElementById('cancel-btn').hidden`) {
			t.Error("no cancel button while in line")
		}
		orderID = eval[string](p, `import('casefleet/status').then(m => m.currentOrder().id)`)
		p.screenshot("03-in-line")

		// Scanning the QR code again shows the order, not a new design.
		p.do(chromedp.Navigate(fd.editorURL("CT0700026", "mall-3f")))
		p.view("status", 15*time.Second)
		if id := eval[string](p, `import('casefleet/status').then(m => m.currentOrder().id)`); id != orderID {
			t.Fatalf("after scanning again the page shows order %s, want %s", id, orderID)
		}

		// A cut connection: the page says so and reconnects by itself.
		p.waitFor("live", `document.getElementById('conn').dataset.state === 'live'`, 10*time.Second)
		fd.dropConnections()
		p.waitFor("reconnecting", `document.getElementById('conn').dataset.state === 'reconnecting'`, 10*time.Second)
		p.waitFor("live again", `document.getElementById('conn').dataset.state === 'live'`, 20*time.Second)
	}

	// Your turn, then ready.
	{
		// The customer ahead pays; their case prints; ours goes to the machine.
		p.do(chromedp.Evaluate[chromedp.Void](`navigator.vibrate = (pattern) => { window.vibrated = pattern; return true; }`))
		sim.Admin(t, http.MethodPost, "/admin/orders/"+sim.Orders(t, "CT0700026")[0].ID+"/pay", nil, nil)
		p.waitFor("your turn", `document.getElementById('status-title').innerText === 'Your turn: pay at the kiosk now'`, 30*time.Second)
		if title := eval[string](p, `document.title`); !strings.Contains(title, "pay at the kiosk") {
			t.Errorf("the tab's title is %q", title)
		}
		if !eval[bool](p, `Array.isArray(window.vibrated)`) {
			t.Error("the phone did not vibrate")
		}
		p.screenshot("04-pay-now")

		vendor := sim.Orders(t, "CT0700026")
		if len(vendor) != 2 {
			t.Fatalf("the machine has %d orders, want 2", len(vendor))
		}
		// The preview and the print file the machine fetched agree.
		var cat struct {
			Brands []struct {
				Models []struct{ ProductID, PrintImg string }
			}
		}
		resp, err := http.Get(a.API() + "/products")
		if err != nil {
			t.Fatal(err)
		}
		agenttest.MustJSON(t, resp, &cat)
		placedJSON, _ := json.Marshal(placed)
		comparePreviewWithPrintFile(t, p, photo, placedJSON, cat.Brands[0].Models[0].PrintImg, vendor[1].ImageURL)

		sim.Admin(t, http.MethodPost, "/admin/orders/"+vendor[1].ID+"/pay", nil, nil)
		p.waitFor("ready", `document.getElementById('status-title').innerText === 'Your case is ready!'`, 30*time.Second)
		if text := p.text("status-text"); text != "Collect your case at Mall 3F, east escalator." {
			t.Errorf("done screen says %q", text)
		}
		code := p.text("pickup-code")
		if len(code) != 4 || !strings.HasSuffix(vendor[1].ID, code) {
			t.Errorf("pickup code %q, vendor order %s", code, vendor[1].ID)
		}
		p.screenshot("05-ready")

		p.click("#again-btn")
		p.view("pick", 10*time.Second)
	}
}
