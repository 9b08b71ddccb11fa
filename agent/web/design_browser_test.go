package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
)

func coverageWarningShown(p *phone) bool {
	p.t.Helper()
	return eval[bool](p, `!document.getElementById('cover-note').hidden`)
}

// TestCoverageWarningOffersFill: a photo made smaller, or dragged, leaves
// part of the case bare; the design says so at once and fills the case
// with one tap.
func TestCoverageWarningOffersFill(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026"}})
	a := startKiosk(t, sim, "CT0700026", "Mall 3F, east escalator", "mall-3f", nil)
	fd := newFrontDoor(t, a)
	p := newPhone(t, "cy", "en")
	designWith(p, fd, tartanPhoto(t, 1600, 1000))

	if coverageWarningShown(p) {
		t.Fatal("a photo filling the case is said not to cover it")
	}

	// Smaller: bands above and below.
	p.click(`button[data-act="zoomOut"]`)
	p.waitFor("the coverage warning", `!document.getElementById('cover-note').hidden`, 5*time.Second)
	if got, want := p.text("cover-text"), "Part of the case is not covered by the photo and would print blank."; got != want {
		t.Errorf("the warning says %q, want %q", got, want)
	}
	p.screenshot("13-coverage-warning")
	p.click("#cover-fill")
	p.waitFor("the warning gone", `document.getElementById('cover-note').hidden`, 5*time.Second)
	if pl := currentPlacement(p); !near(pl.Scale, 1, 1e-9) || pl.Offset.X != 0 || pl.Offset.Y != 0 {
		t.Errorf("after Fill: %+v, want the photo filling the case", pl)
	}

	// A drag sideways: a band at the edge. (The photo is wider than the
	// case, so a small drag is still covered.)
	x, y := previewCentre(p)
	fingersDown(p, [2]float64{x, y})
	p.touch("touchMove", [2]float64{x + 10, y + 25})
	p.waitFor("the coverage warning while dragging", `!document.getElementById('cover-note').hidden`, 5*time.Second)
	p.touch("touchEnd")
	p.click("#cover-fill")
	p.waitFor("the warning gone", `document.getElementById('cover-note').hidden`, 5*time.Second)
}

// TestDesignToolsReachableOffline: on an offline machine the customer
// may design anyway; with the offline note and the coverage warning shown
// on an 844-px-tall phone, every tool and the order button can be tapped
// where it shows (nothing covers it), in English and in Arabic.
func TestDesignToolsReachableOffline(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026"}})
	a := startKiosk(t, sim, "CT0700026", "Mall 3F, east escalator", "mall-3f", nil)
	fd := newFrontDoor(t, a)
	takeOffline(t, sim, a)
	photo := tartanPhoto(t, 1600, 1000)

	for _, lang := range []string{"en", "ar"} {
		t.Run(lang, func(t *testing.T) {
			p := newPhone(t, "olu-"+lang, lang)
			p.do(chromedp.Navigate(fd.editorURL("CT0700026", "mall-3f")))
			p.view("problem", 30*time.Second)
			p.click(`#problem-actions button.primary`) // design anyway
			designHere(p, photo)
			p.waitFor("the offline note", `!document.getElementById('offline-note').hidden`, 10*time.Second)
			p.click(`button[data-act="zoomOut"]`)
			p.waitFor("the coverage warning", `!document.getElementById('cover-note').hidden`, 5*time.Second)
			p.screenshot("design-offline-" + lang)

			// Each control's centre, as laid out with nothing scrolled,
			// is on the screen and lands on the control itself.
			misses := eval[[]string](p, `(() => {
				window.scrollTo(0, 0);
				const controls = [...document.querySelectorAll('#tools button, #tools label'), document.getElementById('order-btn'), document.getElementById('cover-fill')];
				const misses = [];
				for (const el of controls) {
					const r = el.getBoundingClientRect();
					const x = r.left + r.width / 2, y = r.top + r.height / 2;
					const hit = document.elementFromPoint(x, y);
					const name = el.dataset.act || el.id || el.textContent.trim();
					if (y < 0 || y > innerHeight || x < 0 || x > innerWidth) misses.push(name + ': off the screen at ' + Math.round(y));
					else if (!hit || !(el === hit || el.contains(hit))) misses.push(name + ': a tap lands on ' + (hit ? hit.id || hit.className || hit.tagName : 'nothing'));
				}
				return misses;
			})()`)
			for _, m := range misses {
				t.Errorf("%s: %s", lang, m)
			}
			if len(misses) > 0 {
				return // a tap on Turn would order instead
			}
			if n := eval[int](p, `document.querySelectorAll('#tools button, #tools label').length`); n != 8 {
				t.Errorf("%d tools, want 8", n)
			}
			// A real tap on "Turn 90°" turns the photo (it once hit Order).
			before := currentPlacement(p)
			p.click(`button[data-act="rotate"]`)
			if after := currentPlacement(p); after.Rotation != before.Rotation+90 {
				t.Errorf("after a tap on Turn: %+v, was %+v", after, before)
			}
			if eval[bool](p, `document.getElementById('v-design').hidden`) {
				t.Errorf("%s: the tap left the design view", lang)
			}
		})
	}
}
