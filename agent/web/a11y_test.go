package web_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
	"casefleet/shared/testenv/a11ytest"
)

// The product promises that the customer's app is accessible: labels,
// focus order, contrast, and that it works with a keyboard. These tests
// hold it to that in a real Chromium at phone size, on every screen a
// customer can meet, in English and in Arabic (right to left), with the
// checks of shared/testenv/a11ytest: accessible names, contrast, the
// keyboard's Tab order and focus indicator, and what the document says
// of itself (lang and dir, one <h1>, a title naming the view, zoom,
// target sizes). The first screen may be titled with the app's name alone.
//
// On the way from screen to screen the customer uses the keyboard where
// one can (a brand, a model, a tool, the order, the cancel question and
// its Escape, a problem page's way back), and the focus stays where they
// left it. a11ytest's own tests show each check failing a page made to
// break it.

var (
	english = a11ytest.Page{Lang: "en"}
	arabic  = a11ytest.Page{Lang: "ar", RTL: true}
)

// pressOn tabs (real key events) until selector has the focus, then
// presses key on it: the app worked with the keyboard alone.
func pressOn(p *phone, selector, key string) {
	p.t.Helper()
	for range 40 {
		if eval[bool](p, `document.activeElement.matches(`+jsString(selector)+`)`) {
			p.do(chromedp.KeyEvent(key))
			return
		}
		p.do(chromedp.KeyEvent(kb.Tab))
	}
	p.t.Fatalf("keyboard: 40 Tabs, and %s never has the focus", selector)
}

// design takes a phone from a QR code's URL to its first phone model's
// design, and chooses file as the photo.
func design(p *phone, url, file string) {
	p.t.Helper()
	p.do(chromedp.Navigate(url))
	p.view("pick", 20*time.Second)
	p.click(`#models button.model`)
	p.view("design", 10*time.Second)
	p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{file}))
}

// a11yScreen is one screen of the app: reach brings the phone there (from
// the previous screen of its phone, in English), then the screen is
// checked in each language; after runs when both are done.
type a11yScreen struct {
	name  string
	home  bool // the first screen: titled with the app's name alone
	reach func(p *phone)
	after func(p *phone)
}

// checkScreens walks a phone through screens, checking each in the given
// languages (switched with the page's language menu), and back in
// English, which the next screen's reach expects.
func checkScreens(t *testing.T, p *phone, langs []a11ytest.Page, screens []a11yScreen) {
	t.Helper()
	for _, s := range screens {
		if s.reach != nil {
			s.reach(p)
		}
		for _, lang := range langs {
			t.Run(strings.ReplaceAll(s.name, " ", "_")+"/"+lang.Lang, func(t *testing.T) {
				q := *p
				q.t = t
				if eval[string](&q, `document.documentElement.lang`) != lang.Lang {
					switchLanguage(&q, lang.Lang)
				}
				want := lang
				if s.home {
					want.HomeTitle = eval[string](&q, `import('casefleet/i18n').then((m) => m.t('app.title'))`)
				}
				a11ytest.Audit(t, q.ctx, want)
			})
		}
		if eval[string](p, `document.documentElement.lang`) != english.Lang {
			switchLanguage(p, english.Lang)
		}
		if s.after != nil {
			s.after(p)
		}
	}
}

// TestAccessibility checks every screen of the customer's app (see the
// top of this file for what is checked).
func TestAccessibility(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	sim, fd, agents := startFleet(t, agenttest.SimOptions{PayDelay: -1}, map[string]func(*config.Config){
		"CT0700027": func(c *config.Config) { c.Queue.MaxOrders = 2; c.Chitu.PrintFormat = "png" },
		"CT0700046": func(c *config.Config) { c.Image.MaxBytes = 150 << 10 },
	})
	eastEscalator, foodCourt := agents[0], agents[1]
	photo := tartanPhoto(t, 1000, 1600)
	langs := []a11ytest.Page{english, arabic}

	// A customer from the QR code to a collected case, someone ahead of them.
	t.Run("journey", func(t *testing.T) {
		ahead := agenttest.NewCustomer(t, eastEscalator.API())
		ahead.Order(t, ahead.FirstProduct(t))
		agenttest.Eventually(t, 20*time.Second, "the first order reaches the machine", func() bool { return len(sim.Orders(t, "CT0700026")) == 1 })
		p := newPhone(t, "ann", "en-GB,en")
		checkScreens(t, p, langs, []a11yScreen{
			{name: "pick a phone", home: true, reach: func(p *phone) {
				p.do(chromedp.Navigate(fd.editorURL("CT0700026", "mall-3f")))
				p.view("pick", 15*time.Second)
			}, after: func(p *phone) {
				// Another brand and back, with the keyboard: the chosen
				// brand keeps the focus (the chips are drawn anew).
				for _, chip := range []string{`#brands button.chip:nth-of-type(2)`, `#brands button.chip:nth-of-type(1)`} {
					pressOn(p, chip, kb.Enter)
					p.waitFor("the brand chosen with the keyboard keeps the focus", `document.activeElement.matches(`+jsString(chip+`[aria-pressed="true"]`)+`)`, 5*time.Second)
				}
			}},
			{name: "design without a photo", reach: func(p *phone) {
				pressOn(p, `#models button.model[data-product="101"]`, kb.Enter)
				p.view("design", 10*time.Second)
				p.waitFor("the preview is labelled", `!!document.getElementById('preview').getAttribute('aria-label')`, 10*time.Second)
			}},
			{name: "design with a photo", reach: func(p *phone) {
				p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}))
				p.waitFor("the photo is on the case", `document.getElementById('preview').classList.contains('has-photo')`, 10*time.Second)
			}, after: func(p *phone) {
				pressOn(p, `#tools button[data-act="rotate"]`, kb.Enter)
				p.waitFor("the photo turned with the keyboard", `document.getElementById('preview').getAttribute('aria-label').includes('turned 90')`, 5*time.Second)
			}},
			{name: "in line", reach: func(p *phone) {
				pressOn(p, "#order-btn", kb.Enter)
				p.view("status", 30*time.Second)
				p.waitFor("place in line", `document.getElementById('position').innerText === '1 order ahead of you'`, 10*time.Second)
			}},
			{name: "cancel question", reach: func(p *phone) {
				pressOn(p, "#cancel-btn", kb.Enter)
				p.waitFor("the question, the focus on keeping the order", `document.getElementById('confirm-cancel').open && document.activeElement.value === 'keep'`, 5*time.Second)
			}, after: func(p *phone) {
				// No trap: Escape closes the question, back on its button.
				pressOn(p, `#confirm-cancel button[value="keep"]`, kb.Escape)
				p.waitFor("Escape closes the question", `!document.getElementById('confirm-cancel').open && document.activeElement === document.getElementById('cancel-btn')`, 5*time.Second)
			}},
			{name: "pay now", reach: func(p *phone) {
				sim.Admin(t, http.MethodPost, "/admin/orders/"+sim.Orders(t, "CT0700026")[0].ID+"/pay", nil, nil)
				p.waitFor("your turn", `document.getElementById('status-title').innerText === 'Your turn: pay at the kiosk now'`, 30*time.Second)
			}},
			{name: "ready", reach: func(p *phone) {
				agenttest.Eventually(t, 20*time.Second, "our order reaches the machine", func() bool { return len(sim.Orders(t, "CT0700026")) == 2 })
				sim.Admin(t, http.MethodPost, "/admin/orders/"+sim.Orders(t, "CT0700026")[1].ID+"/pay", nil, nil)
				p.waitFor("ready", `document.getElementById('status-title').innerText === 'Your case is ready!'`, 30*time.Second)
			}},
		})
	})

	// The food court's line is full (one at the machine, one in line).
	t.Run("queue full", func(t *testing.T) {
		for range 2 {
			c := agenttest.NewCustomer(t, foodCourt.API())
			c.Order(t, c.FirstProduct(t))
		}
		p := newPhone(t, "lou", "en")
		checkScreens(t, p, langs, []a11yScreen{{name: "queue full", reach: func(p *phone) {
			design(p, fd.editorURL("CT0700027", "mall-3f"), photo)
			p.waitFor("photo", `document.getElementById('preview').classList.contains('has-photo')`, 10*time.Second)
			p.click("#order-btn")
			problemTitle(p, "This machine is fully booked")
			alternatives(p)
		}}})
	})

	// Files the station's machine cannot print (it takes 150 KiB at most).
	t.Run("photos", func(t *testing.T) {
		p := newPhone(t, "pia", "en")
		notAPhoto := filepath.Join(t.TempDir(), "notes.png")
		if err := os.WriteFile(notAPhoto, []byte("these are my notes, not a photo"), 0o644); err != nil {
			t.Fatal(err)
		}
		backToDesign := func(p *phone) {
			pressOn(p, `#problem-actions button:not(.primary)`, kb.Enter)
			p.view("design", 10*time.Second)
		}
		checkScreens(t, p, langs, []a11yScreen{
			{name: "not a photo", reach: func(p *phone) {
				design(p, fd.editorURL("CT0700046", "station"), notAPhoto)
				problemTitle(p, "This is not a photo we can print")
			}, after: backToDesign},
			{name: "photo too large", reach: func(p *phone) {
				p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}))
				problemTitle(p, "This photo is too large")
			}},
		})
	})

	// A QR code of a machine nobody knows, on a phone that asks for
	// Arabic: the page arrives in Arabic, right to left.
	t.Run("unknown machine", func(t *testing.T) {
		p := newPhone(t, "uma", "ar,en")
		checkScreens(t, p, []a11ytest.Page{arabic, english}, []a11yScreen{{name: "unknown machine", reach: func(p *phone) {
			p.do(chromedp.Navigate(fd.editorURL("CT0799999", "mall-3f")))
			p.view("problem", 30*time.Second)
			p.waitFor("the unknown machine's page", `document.getElementById('problem-icon').dataset.kind === 'unknown'`, 10*time.Second)
			if got := eval[string](p, `document.documentElement.lang + ' ' + document.documentElement.dir`); got != "ar rtl" {
				t.Errorf("a phone asking for Arabic gets a page in %q", got)
			}
			alternatives(p)
		}}})
	})

	// The food court's machine goes offline: the customer is told first.
	t.Run("offline", func(t *testing.T) {
		takeOffline(t, sim, foodCourt)
		p := newPhone(t, "olga", "en")
		checkScreens(t, p, langs, []a11yScreen{{name: "offline", reach: func(p *phone) {
			p.do(chromedp.Navigate(fd.editorURL("CT0700027", "mall-3f")))
			problemTitle(p, "This machine is offline")
			alternatives(p)
		}}})
	})
}
