package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
)

// switchLanguage chooses a language in the page's switch, as a customer does.
func switchLanguage(p *phone, code string) {
	p.t.Helper()
	p.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('lang'); s.value = ` + jsString(code) + `; s.dispatchEvent(new Event('change')); })()`))
	p.waitFor("the page in "+code, `document.documentElement.lang === `+jsString(code), 10*time.Second)
}

// TestLanguageSwitchAndRightToLeft: a customer whose browser speaks
// English switches to Arabic mid-design: the page turns right to left with
// every string in Arabic, keeps the design, and remembers the choice on
// the next visit; then French.
func TestLanguageSwitchAndRightToLeft(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026"}})
	fd := newFrontDoor(t, startKiosk(t, sim, "CT0700026", "Mall 3F, east escalator", "mall-3f", nil))
	p := newPhone(t, "rami", "en-US,en")
	p.do(chromedp.Navigate(fd.editorURL("CT0700026", "mall-3f")))
	p.view("pick", 15*time.Second)
	p.click(`#models button[data-product="101"]`)
	p.view("design", 10*time.Second)
	p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{tartanPhoto(t, 1000, 1600)}))
	p.waitFor("the photo is on the case", `document.getElementById('preview').classList.contains('has-photo')`, 10*time.Second)

	switchLanguage(p, "ar")
	checkRightToLeft(p)
	for id, want := range map[string]string{
		"design-title": "غطاء iPhone 15 الخاص بك",
		"order-btn":    "اطلب",
		"touch-help":   "اسحب لتحريك الصورة، وباعد بين إصبعين للتكبير، وأدر إصبعين لتدويرها.",
	} {
		if got := p.text(id); got != want {
			t.Errorf("#%s in Arabic: %q, want %q", id, got, want)
		}
	}
	if !eval[bool](p, `document.getElementById('preview').classList.contains('has-photo')`) {
		t.Error("switching language lost the design")
	}
	p.screenshot("13-design-arabic")

	// The next visit opens in Arabic, though the browser asks for English.
	p.do(chromedp.Reload())
	p.view("design", 15*time.Second)
	if lang := eval[string](p, `document.documentElement.lang + ' ' + document.documentElement.dir`); lang != "ar rtl" {
		t.Errorf("after a reload the page is %q", lang)
	}

	switchLanguage(p, "fr")
	if got := p.text("order-btn"); got != "Commander" {
		t.Errorf("order button in French: %q", got)
	}
	if dir := eval[string](p, `getComputedStyle(document.body).direction`); dir != "ltr" {
		t.Errorf("French is laid out %s", dir)
	}

	// Ordered, the status page follows a switch too, the connection's
	// label included.
	p.click("#order-btn")
	p.view("status", 30*time.Second)
	p.waitFor("the live label in French", `document.getElementById('conn').innerText === 'Mises à jour en direct'`, 15*time.Second)
	switchLanguage(p, "de")
	if got := p.text("conn"); got != "Live-Aktualisierung" {
		t.Errorf("the connection's label after switching to German: %q, want %q", got, "Live-Aktualisierung")
	}
}
