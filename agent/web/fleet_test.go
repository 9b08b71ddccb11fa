package web_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
)

// A fleet of three kiosks, two sharing a location, as in `make demo`.
var fleet = []struct{ code, name, location string }{
	{"CT0700026", "Mall 3F, east escalator", "mall-3f"},
	{"CT0700027", "Mall 3F, food court", "mall-3f"},
	{"CT0700046", "Station concourse", "station"},
}

func startFleet(t *testing.T, opt agenttest.SimOptions, tune map[string]func(*config.Config)) (*agenttest.Sim, *frontDoor, []*agenttest.Agent) {
	t.Helper()
	for _, k := range fleet {
		opt.Machines = append(opt.Machines, k.code)
	}
	sim := agenttest.StartSim(t, opt)
	agents := make([]*agenttest.Agent, len(fleet))
	for i, k := range fleet {
		agents[i] = startKiosk(t, sim, k.code, k.name, k.location, tune[k.code])
	}
	return sim, newFrontDoor(t, agents...), agents
}

// order takes a phone from the QR code (the machine's editor URL, through
// the test's front door or the real relay) to a placed order: the first
// phone model, the photo, the order button.
func order(p *phone, editorURL, photo string) {
	p.t.Helper()
	designAndOrder(p, editorURL, photo)
	p.view("status", 60*time.Second)
}

// designAndOrder is order up to the tap on Order, whatever comes of it.
// An empty editorURL designs on the page already open.
func designAndOrder(p *phone, editorURL, photo string) {
	p.t.Helper()
	if editorURL != "" {
		p.do(chromedp.Navigate(editorURL))
	}
	p.view("pick", 30*time.Second)
	p.click(`#models button.model`)
	p.view("design", 10*time.Second)
	p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}))
	p.waitFor("the photo is on the case", `document.getElementById('preview').classList.contains('has-photo')`, 15*time.Second)
	p.click("#order-btn")
}

// TestThreeMachinesSeveralCustomersEach runs six phones at once, two at
// each kiosk, each in another language: every order prints on the kiosk
// its customer scanned, and every phone follows its own order to the end.
func TestThreeMachinesSeveralCustomersEach(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	// PNG print files: quicker to write than TIFF under the race detector,
	// and this test is about routing, not formats (the journey uses TIFF).
	pngFiles := func(c *config.Config) { c.Chitu.PrintFormat = "png" }
	sim, fd, _ := startFleet(t, agenttest.SimOptions{}, map[string]func(*config.Config){
		"CT0700026": pngFiles, "CT0700027": pngFiles, "CT0700046": pngFiles,
	})
	photo := tartanPhoto(t, 600, 960)
	type customer struct{ name, lang, code, done string }
	customers := []customer{
		{"ann", "en-US,en", "CT0700026", "Your case is ready!"},
		{"bea", "es-ES,es", "CT0700026", "¡Tu funda está lista!"},
		{"chen", "zh-CN,zh", "CT0700027", "你的手机壳已做好！"},
		{"dalia", "ar-EG,ar,en", "CT0700027", "غطاؤك جاهز!"},
		{"emil", "de-AT,de", "CT0700046", "Ihre Hülle ist fertig!"},
		{"fleur", "fr-BE,fr", "CT0700046", "Votre coque est prête !"},
	}
	phones := make([]*phone, len(customers))
	for i, c := range customers {
		phones[i] = newPhone(t, c.name, c.lang)
	}
	locations := map[string]string{}
	for _, k := range fleet {
		locations[k.code] = k.location
	}
	var mu sync.Mutex
	pickup := map[string][]string{} // machine -> pickup codes shown
	together(t, phones, func(p *phone) {
		c := customers[slices.IndexFunc(customers, func(c customer) bool { return c.name == p.name })]
		order(p, fd.editorURL(c.code, locations[c.code]), photo)
		p.waitFor("ready", fmt.Sprintf(`document.getElementById('status-title').innerText === %q`, c.done), 90*time.Second)
		code := p.text("pickup-code")
		mu.Lock()
		pickup[c.code] = append(pickup[c.code], code)
		mu.Unlock()
		switch c.name {
		case "dalia":
			checkRightToLeft(p)
			p.screenshot("07-ready-arabic")
		case "chen":
			p.screenshot("08-ready-chinese")
		}
	})
	for _, k := range fleet {
		orders := sim.Orders(t, k.code)
		if len(orders) != 2 {
			t.Errorf("%s printed %d orders, want its 2 customers'", k.code, len(orders))
		}
		codes := pickup[k.code]
		if len(codes) != 2 || codes[0] == codes[1] {
			t.Errorf("%s: pickup codes %v, want two distinct", k.code, codes)
		}
		for _, o := range orders {
			if !slices.ContainsFunc(codes, func(c string) bool { return strings.HasSuffix(o.ID, c) }) {
				t.Errorf("%s printed vendor order %s that no phone at it shows", k.code, o.ID)
			}
		}
	}
}

// checkRightToLeft checks that an Arabic page is laid out right to left:
// the document's direction, and the header's kiosk name on the right of
// the language switch.
func checkRightToLeft(p *phone) {
	t := p.t
	t.Helper()
	if dir := eval[string](p, `getComputedStyle(document.body).direction`); dir != "rtl" {
		t.Errorf("direction %q, want rtl", dir)
	}
	if lang := eval[string](p, `document.documentElement.lang`); lang != "ar" {
		t.Errorf("lang %q, want ar", lang)
	}
	if !eval[bool](p, `document.getElementById('kiosk-name').getBoundingClientRect().left > document.getElementById('lang').getBoundingClientRect().right`) {
		t.Errorf("the kiosk's name is not right of the language switch")
	}
}
