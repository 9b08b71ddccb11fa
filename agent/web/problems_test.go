package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
)

// alternatives lists the machines the problem page offers instead.
func alternatives(p *phone) []string {
	p.t.Helper()
	p.waitFor("the list of machines nearby", `!document.getElementById('problem-alts').hidden`, 10*time.Second)
	return eval[[]string](p, `[...document.querySelectorAll('#problem-alt-list li')].map(li => li.innerText.replace(/\s+/g, ' ').trim())`)
}

func problemTitle(p *phone, want string) {
	p.t.Helper()
	p.view("problem", 30*time.Second)
	p.waitFor("problem "+want, `document.getElementById('problem-title').innerText === `+jsString(want), 10*time.Second)
}

// takeOffline takes the agent's machine offline at the simulator and waits
// until the agent says so.
func takeOffline(t *testing.T, sim *agenttest.Sim, a *agenttest.Agent) {
	t.Helper()
	sim.Admin(t, http.MethodPost, "/admin/machines/"+a.Code+"/offline", nil, nil)
	agenttest.Eventually(t, 20*time.Second, "the agent sees the machine offline", func() bool {
		var st struct{ Status string }
		resp, err := http.Get(a.API() + "/status")
		if err != nil {
			return false
		}
		agenttest.MustJSON(t, resp, &st)
		return st.Status == "offline"
	})
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TestProblemPages walks into every dead end a customer can meet and
// checks the page says what happened and what to do: a full queue and an
// offline machine (each offering the other online machine at the same
// location, not the one across town), too many tries, an unknown machine,
// a file that is not a photo (caught by the browser, and by the agent),
// a photo too large, a photo too small to print sharply; and cancelling
// while in line.
func TestProblemPages(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	sim, fd, agents := startFleet(t, agenttest.SimOptions{PayDelay: -1}, map[string]func(*config.Config){
		"CT0700026": func(c *config.Config) { c.Session.OrdersPerHour = 1 },
		"CT0700027": func(c *config.Config) { c.Queue.MaxOrders = 2; c.Chitu.PrintFormat = "png" },
		"CT0700046": func(c *config.Config) { c.Image.MaxBytes = 150 << 10 },
	})
	eastEscalator, foodCourt := agents[0], agents[1]
	photo := tartanPhoto(t, 1000, 1600)

	// The food court's line fills up: one customer at the machine, one in line.
	ahead := agenttest.NewCustomer(t, foodCourt.API())
	ahead.Order(t, ahead.FirstProduct(t))
	queuer, late := newPhone(t, "quinn", "en"), newPhone(t, "lou", "en")
	order(queuer, fd.editorURL("CT0700027", "mall-3f"), photo)
	queuer.waitFor("in line", `document.getElementById('position').innerText === '1 order ahead of you'`, 10*time.Second)

	order2 := func(p *phone) { // like order, but the order is refused
		p.do(chromedp.Navigate(fd.editorURL("CT0700027", "mall-3f")))
		p.view("pick", 20*time.Second)
		p.click(`#models button.model`)
		p.view("design", 10*time.Second)
		p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}))
		p.waitFor("photo", `document.getElementById('preview').classList.contains('has-photo')`, 10*time.Second)
		p.click("#order-btn")
	}
	order2(late)
	problemTitle(late, "This machine is fully booked")
	if got := alternatives(late); len(got) != 1 || !strings.HasPrefix(got[0], "Mall 3F, east escalator") {
		t.Errorf("queue full offers %q, want only the east escalator's machine", got)
	}
	if retry := late.text("problem-retry"); !strings.Contains(retry, "You can try again at") {
		t.Errorf("queue full says %q, want when to try again", retry)
	}
	if !eval[bool](late, `[...document.querySelectorAll('#problem-actions button')].find(b => b.innerText === 'Try again').disabled`) {
		t.Error("trying again is possible before the time the machine gave")
	}
	late.screenshot("06-queue-full")
	late.click(`#problem-actions button:not(.primary)`) // back to my design
	late.view("design", 5*time.Second)

	// The one in line changes their mind.
	queuer.click("#cancel-btn")
	queuer.waitFor("the question", `document.getElementById('confirm-cancel').open`, 5*time.Second)
	queuer.click(`#confirm-cancel button[value="cancel"]`)
	queuer.waitFor("cancelled", `document.getElementById('status-title').innerText === 'Order cancelled'`, 10*time.Second)
	queuer.click("#retry-btn")
	queuer.view("design", 10*time.Second)
	queuer.waitFor("the design is still there", `document.getElementById('preview').classList.contains('has-photo')`, 10*time.Second)

	// The east escalator's machine goes offline: warned before designing.
	takeOffline(t, sim, eastEscalator)
	olga := newPhone(t, "olga", "en")
	olga.do(chromedp.Navigate(fd.editorURL("CT0700026", "mall-3f")))
	problemTitle(olga, "This machine is offline")
	if got := alternatives(olga); len(got) != 1 || !strings.HasPrefix(got[0], "Mall 3F, food court") {
		t.Errorf("offline offers %q, want only the food court's machine", got)
	}
	olga.screenshot("09-offline")
	olga.click(`#problem-actions button.primary`) // design anyway
	olga.view("pick", 10*time.Second)
	if banner := olga.text("banner"); banner != "This machine is offline right now." {
		t.Errorf("banner %q while designing for an offline machine", banner)
	}
	olga.click(`#models button.model`)
	olga.view("design", 10*time.Second)
	olga.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}))
	olga.waitFor("photo", `document.getElementById('preview').classList.contains('has-photo')`, 10*time.Second)
	olga.click("#order-btn")
	problemTitle(olga, "This machine is offline")
	// Trying again while it is offline costs nothing: refused orders do
	// not spend the session's orders of the hour (one an hour, a burst of
	// two).
	const orders = "POST /api/chitu/machine/CT0700026/print"
	for try := 2; try <= 3; try++ {
		olga.click(`#problem-actions button.primary`)
		agenttest.Eventually(t, 10*time.Second, "another try", func() bool { return fd.count(orders) == try })
		problemTitle(olga, "This machine is offline")
	}
	// Back online, two orders of hers (from another tab) spend the hour's
	// allowance; her next try is one too many.
	sim.Admin(t, http.MethodPost, "/admin/machines/CT0700026/online", nil, nil)
	agenttest.Eventually(t, 20*time.Second, "the agent sees the machine online", func() bool {
		var st struct{ Status string }
		resp, err := http.Get(eastEscalator.API() + "/status")
		if err != nil {
			return false
		}
		agenttest.MustJSON(t, resp, &st)
		return st.Status == "online"
	})
	elsewhere := &agenttest.Customer{API: eastEscalator.API(), Client: http.DefaultClient,
		SessionID: eval[string](olga, `JSON.parse(localStorage.getItem('casefleet:v1:CT0700026')).sessionId`)}
	product := elsewhere.FirstProduct(t)
	elsewhere.Order(t, product)
	elsewhere.Order(t, product)
	olga.click(`#problem-actions button.primary`)
	problemTitle(olga, "Too many tries")
	if retry := olga.text("problem-retry"); !strings.Contains(retry, "You can try again at") {
		t.Errorf("rate limited says %q, want when to try again", retry)
	}
	olga.screenshot("10-too-many-tries")

	// A QR code of a machine nobody knows.
	uma := newPhone(t, "uma", "en")
	uma.do(chromedp.Navigate(fd.editorURL("CT0799999", "mall-3f")))
	problemTitle(uma, "We don't know this machine")
	if detail := uma.text("problem-detail"); detail != "Machine code: CT0799999" {
		t.Errorf("unknown machine detail %q", detail)
	}
	// Both machines at mall-3f are online again (the east escalator since
	// Olga's tries), shortest line first; not the one across town.
	if got := alternatives(uma); len(got) != 2 || !strings.HasPrefix(got[0], "Mall 3F, food court") || !strings.HasPrefix(got[1], "Mall 3F, east escalator") {
		t.Errorf("unknown machine offers %q, want the online machines at mall-3f, shortest line first", got)
	}
	uma.screenshot("11-unknown-machine")

	// Photos that cannot be printed, at the station (limit 150 KiB).
	pia := newPhone(t, "pia", "en")
	pia.do(chromedp.Navigate(fd.editorURL("CT0700046", "station")))
	pia.view("pick", 20*time.Second)
	pia.click(`#models button.model`)
	pia.view("design", 10*time.Second)
	choose := func(path string) {
		pia.view("design", 10*time.Second)
		pia.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{path}))
	}
	notAPhoto := filepath.Join(t.TempDir(), "notes.png")
	if err := os.WriteFile(notAPhoto, []byte("these are my notes, not a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	choose(notAPhoto)
	problemTitle(pia, "This is not a photo we can print")
	pia.click(`#problem-actions button:not(.primary)`)

	choose(photo) // larger than 150 KiB
	problemTitle(pia, "This photo is too large")
	pia.click(`#problem-actions button:not(.primary)`)

	choose(smallPhoto(t))
	pia.waitFor("the photo is on the case", `document.getElementById('preview').classList.contains('has-photo')`, 10*time.Second)
	if note := pia.text("small-note"); !strings.Contains(note, "may print blurry") {
		t.Errorf("a 160 x 120 photo on a case: note %q", note)
	}
	pia.screenshot("12-photo-too-small")

	// A GIF: the browser shows it, but the printer's pipeline takes JPEG,
	// PNG and WebP only, and the agent says so.
	// Turn the small photo first: a freshly chosen photo starts unturned,
	// which tells when the GIF (and not the previous photo) is on the case.
	pia.click(`#tools button[data-act="rotate"]`)
	pia.waitFor("the photo is turned", `document.getElementById('preview').getAttribute('aria-label').includes('turned 90')`, 10*time.Second)
	choose(gifPhoto(t))
	pia.waitFor("the GIF is on the case", `document.getElementById('preview').getAttribute('aria-label').includes('turned 0')`, 10*time.Second)
	pia.click("#order-btn")
	problemTitle(pia, "This is not a photo we can print")
}

func gifPhoto(t *testing.T) string {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 300, 500), color.Palette{color.White, color.RGBA{200, 40, 40, 255}})
	for y := range 500 {
		for x := range 300 {
			if (x/20+y/20)%2 == 0 {
				img.SetColorIndex(x, y, 1)
			}
		}
	}
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "photo.gif")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
