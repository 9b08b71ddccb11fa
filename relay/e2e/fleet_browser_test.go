package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
	"casefleet/relay/relaytest"
	"casefleet/shared/testenv"
	"casefleet/shared/testenv/chromium"
)

// The fleet owner's page in Debian's Chromium, against real relay
// processes and real agents (with the printer simulator): login, lockout,
// live updates, filters, CSV, two relays over Redis, Arabic.

// issueAdmin runs `casefleet-relay issue-admin` as the owner would and
// returns the token it prints.
func issueAdmin(t *testing.T, f *relaytest.Fleet, name string) string {
	t.Helper()
	cmd := exec.Command(relayBin, "issue-admin", "--key", f.KeyFile, "--name", name)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("issue-admin: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "jti:") {
		t.Errorf("issue-admin does not say how to revoke the token: %q", stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// kioskAgent is a real agent whose process-like life the test controls.
type kioskAgent struct {
	cfg   config.Config
	agent *agenttest.Agent
}

func startKioskAgent(t *testing.T, sim *agenttest.Sim, f *relaytest.Fleet, code, name, location, relayURL string) *kioskAgent {
	t.Helper()
	cfg := sim.AgentConfig(code, t.TempDir())
	cfg.Machine.Name, cfg.Machine.Location = name, location
	cfg.Relay.URL, cfg.Relay.Token = relayURL, f.Token(t, code, location)
	return &kioskAgent{cfg: cfg, agent: agenttest.StartAgent(t, cfg)}
}

func (k *kioskAgent) stop(t *testing.T)  { k.agent.Stop(t) }
func (k *kioskAgent) start(t *testing.T) { k.agent = agenttest.StartAgent(t, k.cfg) }

func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(cctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// until waits until a JavaScript expression is true. It asks again
// across navigations (a form's submission replaces the page, and with it
// the context a poll would run in).
func until(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		ev := chromedp.Evaluate[bool](expr)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var last error
		for {
			ok, err := ev(ctx, tg)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			last = err
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("waiting for %s: %w (last: %v)", expr, ctx.Err(), last)
			case <-tick.C:
			}
		}
	}
}

// row is the expression for a machine's row on the page.
func row(code string) string { return `document.querySelector('tr[data-code="` + code + `"]')` }

func rowState(code, state string) chromedp.Action[chromedp.Void] {
	return until(row(code) + `?.dataset.state === "` + state + `"`)
}

func pageShows(text string) chromedp.Action[chromedp.Void] {
	return until(`document.body.innerText.includes(` + jsQuote(text) + `)`)
}

func jsQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func login(token string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.CSS(`input[name="token"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="token"]`), token),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)),
	}
}

// fleetScreenshot saves the window into $CASEFLEET_SCREENSHOTS when set
// (docs/screenshots keeps them), else into the test's directory.
func fleetScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(cctx, chromedp.CaptureScreenshot()) // the window: a full-page capture shifts a right-to-left page
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("CASEFLEET_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(dir, name))
}

// TestFleetPageInABrowser: the owner logs in with the token issue-admin
// printed and sees every kiosk by location with its line, ink, the order
// at its printer and its failures; a kiosk that goes offline and comes
// back shows it without a reload; filters, CSV and Arabic work.
func TestFleetPageInABrowser(t *testing.T) {
	ctx := chromium.Start(t, chromedp.WindowSize(1440, 900))
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026", "CT0700027", "CT0700046"}, PayDelay: -1})
	f := relaytest.NewFleet(t)
	relay := startRelayProc(t, f, testenv.FreeAddr(t), "--instance-id", "relay-eu-1")
	startKioskAgent(t, sim, f, "CT0700026", "Mall 3F, east escalator", "mall-3f", relay.URL())
	b := startKioskAgent(t, sim, f, "CT0700027", "Mall 3F, food court", "mall-3f", relay.URL())
	startKioskAgent(t, sim, f, "CT0700046", "Central station, hall B", "station", relay.URL())
	for _, code := range []string{"CT0700026", "CT0700027", "CT0700046"} {
		relaytest.WaitRoutable(t, relay.URL(), code)
	}
	// Magenta runs low at the station; at the food court an order fails
	// at the printer; at the escalator one waits for payment.
	sim.Admin(t, http.MethodPost, "/admin/machines/CT0700046/ink", map[string]string{"magenta": "low"}, nil)
	failing := agenttest.NewCustomer(t, relay.URL()+api+"CT0700027")
	failed := failing.Order(t, failing.FirstProduct(t))
	testenv.Eventually(t, relaytest.Wait, "the order reaches the food court's printer", func() bool {
		return len(sim.Orders(t, "CT0700027")) == 1
	})
	sim.Admin(t, http.MethodPost, "/admin/orders/"+sim.Orders(t, "CT0700027")[0].ID+"/fail", map[string]string{"reason": "head jam"}, nil)
	reason := failing.WaitStatus(t, failed.ID, "failed", relaytest.Wait).FailureReason
	waiting := agenttest.NewCustomer(t, relay.URL()+api+"CT0700026")
	o := waiting.Order(t, waiting.FirstProduct(t))
	testenv.Eventually(t, relaytest.Wait, "the order awaits payment", func() bool {
		return waiting.Get(t, o.ID).Stage == "awaiting_payment"
	})

	token := issueAdmin(t, f, "owner")
	browse(t, ctx, "the page asks for a login", chromedp.Navigate(relay.URL()+"/fleet/?lang=en"))
	browse(t, ctx, "a wrong token", append(login("cfadmin1.not-a-token"), pageShows("not valid for this fleet"))...)
	browse(t, ctx, "log in", append(login(token),
		until(`location.pathname === "/fleet/"`),
		rowState("CT0700026", "printing"), rowState("CT0700027", "online"), rowState("CT0700046", "online"),
		until(`document.querySelector("#live").dataset.on === "1"`),
		pageShows("Mall 3F, east escalator"), pageShows("awaiting payment"),
		until(row("CT0700046")+`.innerText.includes("Low: magenta")`),
		until(row("CT0700027")+`.innerText.includes(`+jsQuote(reason)+`)`),
		until(`document.querySelectorAll("section h2")[0].textContent === "mall-3f"`),
		until(`document.querySelectorAll("section h2")[1].textContent === "station"`),
	)...)
	fleetScreenshot(t, ctx, "fleet-overview.png")

	// The food court's kiosk goes offline and comes back: the page says
	// so each time, without a reload.
	browse(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`void (window.notReloaded = true)`))
	stopped := time.Now()
	b.stop(t)
	browse(t, ctx, "offline shows live", rowState("CT0700027", "kiosk_offline"), pageShows("Down since"), until(`window.notReloaded === true`))
	t.Logf("a kiosk's stop shown on the page after %v", time.Since(stopped).Round(time.Millisecond))
	fleetScreenshot(t, ctx, "fleet-offline.png")
	started := time.Now()
	b.start(t)
	browse(t, ctx, "back shows live", rowState("CT0700027", "online"), until(`window.notReloaded === true`))
	t.Logf("its start shown after %v", time.Since(started).Round(time.Millisecond))

	// Filters: by problem, then by location. A filter applies as it
	// changes (SetValue fires change; a Submit after it raced the page's
	// own navigation).
	browse(t, ctx, "filter ink low",
		chromedp.SetValue(chromedp.CSS("#f-problem"), "ink_low"),
		until(`location.search.includes("problem=ink_low")`),
		rowState("CT0700046", "online"),
		until(`document.querySelectorAll("tr[data-code]").length === 1`),
	)
	browse(t, ctx, "filter failing at mall-3f",
		chromedp.Navigate(relay.URL()+"/fleet/?location=mall-3f&problem=failing&lang=en"),
		until(`document.querySelectorAll("tr[data-code]").length === 1 && `+row("CT0700027")+` !== null`),
	)

	// CSV export, as the link downloads it (with the page's filters).
	browse(t, ctx, "the whole fleet", chromedp.Navigate(relay.URL()+"/fleet/?lang=en"), rowState("CT0700026", "printing"))
	csv := evaluate[string](t, ctx, `fetch(document.querySelector("#csv").href).then(r => r.text())`)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "code,name,location,state,problems") {
		t.Fatalf("CSV:\n%s", csv)
	}
	if !strings.Contains(csv, reason+" (1)") || !strings.Contains(csv, "ink_low") || !strings.Contains(csv, "awaiting_payment") {
		t.Errorf("CSV lacks the failures, ink or order:\n%s", csv)
	}

	// The sticker link opens the kiosk's QR sticker.
	sticker := evaluate[string](t, ctx, `fetch(`+row("CT0700046")+`.querySelector("a[target]").href).then(r => r.headers.get("content-type") + " " + r.status)`)
	if sticker != "image/svg+xml 200" {
		t.Errorf("sticker link: %s", sticker)
	}

	// Arabic, right to left.
	browse(t, ctx, "Arabic",
		chromedp.Navigate(relay.URL()+"/fleet/?lang=ar"),
		until(`document.documentElement.dir === "rtl" && document.documentElement.lang === "ar"`),
		until(`document.querySelector("h1").textContent === "أسطولك"`),
		until(row("CT0700046")+`.innerText.includes("منخفض")`),
		until(`getComputedStyle(document.querySelector("th")).textAlign === "start" && getComputedStyle(document.body).direction === "rtl"`),
	)
	if wide := evaluate[string](t, ctx, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().left < -1 || e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().left) + ".." + Math.round(e.getBoundingClientRect().right)).join("; ")`); wide != "" {
		t.Errorf("the Arabic page runs past the window: %s", wide)
	}
	fleetScreenshot(t, ctx, "fleet-arabic.png")

	// Log out: back to the login, and the page is closed.
	browse(t, ctx, "log out",
		chromedp.Navigate(relay.URL()+"/fleet/?lang=en"),
		chromedp.Click(chromedp.CSS("#logout")),
		until(`location.pathname === "/fleet/login"`),
		chromedp.Navigate(relay.URL()+"/fleet/"),
		until(`location.pathname === "/fleet/login"`),
	)
}

// evaluate is a JavaScript expression's value (a promise's, awaited).
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(cctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// TestFleetLockoutInABrowser: five wrong tokens typed into the login lock
// the browser out; the page says for how long, and even the right token
// waits.
func TestFleetLockoutInABrowser(t *testing.T) {
	ctx := chromium.Start(t, chromedp.WindowSize(1024, 768))
	f := relaytest.NewFleet(t)
	relay := startRelayProc(t, f, testenv.FreeAddr(t))
	browse(t, ctx, "login page", chromedp.Navigate(relay.URL()+"/fleet/login?lang=en"))
	for range 4 {
		browse(t, ctx, "a wrong token", append(login("cfadmin1.guess"), pageShows("not valid for this fleet"))...)
	}
	browse(t, ctx, "the fifth", append(login("cfadmin1.guess"), pageShows("Too many wrong tokens. Try again in 30 seconds."))...)
	browse(t, ctx, "the right token, locked out", append(login(issueAdmin(t, f, "owner")),
		pageShows("Too many wrong tokens"), until(`location.pathname === "/fleet/login"`))...)
	if n := relay.Count("fleet login locked out"); n < 2 {
		t.Errorf("the relay logged %d lockouts, want 2", n)
	}
}

// TestFleetTwoRelaysInABrowser: two relays share Redis; each holds one
// kiosk. Either relay shows both kiosks, a session started at one is good
// at the other, a kiosk going offline at one relay shows live at the
// other, and a logout at one ends the session's live page at the other.
func TestFleetTwoRelaysInABrowser(t *testing.T) {
	redis := "redis://" + testenv.RedisAddr(t)
	ctx := chromium.Start(t, chromedp.WindowSize(1440, 900))
	var rnd [6]byte
	rand.Read(rnd[:])
	prefix := "casefleet-test:" + hex.EncodeToString(rnd[:]) + ":"
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026", "CT0700046"}})
	f := relaytest.NewFleet(t)
	addrA, addrB := testenv.FreeAddr(t), testenv.FreeAddr(t)
	for addrB == addrA { // the port just closed can come back at once
		addrB = testenv.FreeAddr(t)
	}
	peer := func(id, addr string) *relayProc {
		return startRelayProc(t, f, addr, "--redis-url", redis, "--redis-prefix", prefix, "--instance-id", id,
			"--advertise-url", "http://"+addr, "--lease-ttl", "3s")
	}
	relayA, relayB := peer("relay-a", addrA), peer("relay-b", addrB)
	startKioskAgent(t, sim, f, "CT0700026", "Mall 3F, east escalator", "mall-3f", relayA.URL())
	station := startKioskAgent(t, sim, f, "CT0700046", "Central station, hall B", "station", relayB.URL())
	relaytest.WaitRoutable(t, relayA.URL(), "CT0700046")
	relaytest.WaitRoutable(t, relayB.URL(), "CT0700026")

	browse(t, ctx, "log in at A", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(relayA.URL() + "/fleet/?lang=en")},
		append(login(issueAdmin(t, f, "owner")),
			rowState("CT0700026", "online"), rowState("CT0700046", "online"),
			until(row("CT0700046")+`.innerText.includes("relay-b")`),
			until(row("CT0700026")+`.innerText.includes("relay-a")`))...)...)
	fleetScreenshot(t, ctx, "fleet-two-relays.png")

	// The cookie is the browser's for 127.0.0.1 whatever the port: B
	// finds the session in Redis.
	browse(t, ctx, "B without logging in",
		chromedp.Navigate(relayB.URL()+"/fleet/?lang=en"),
		until(`location.pathname === "/fleet/"`),
		rowState("CT0700026", "online"), rowState("CT0700046", "online"),
	)

	// The station's kiosk (on B) goes offline: A's page shows it live.
	browse(t, ctx, "back to A", chromedp.Navigate(relayA.URL()+"/fleet/?lang=en"), rowState("CT0700046", "online"),
		chromedp.Evaluate[chromedp.Void](`void (window.notReloaded = true)`))
	stopped := time.Now()
	station.stop(t)
	browse(t, ctx, "offline at B shows at A", rowState("CT0700046", "kiosk_offline"), until(`window.notReloaded === true`))
	t.Logf("a kiosk's stop at B shown on A's page after %v", time.Since(stopped).Round(time.Millisecond))
	started := time.Now()
	station.start(t)
	browse(t, ctx, "back at B shows at A", rowState("CT0700046", "online"), until(`window.notReloaded === true`))
	t.Logf("its start shown after %v", time.Since(started).Round(time.Millisecond))

	// Log out at B, in another tab: A's live page goes to the login by
	// itself.
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	browse(t, tab, "log out at B",
		chromedp.Navigate(relayB.URL()+"/fleet/?lang=en"),
		rowState("CT0700046", "online"),
		chromedp.Click(chromedp.CSS("#logout")),
		until(`location.pathname === "/fleet/login"`),
	)
	browse(t, ctx, "A's page ends", until(`location.pathname === "/fleet/login"`), pageShows("You were logged out."))
}

// TestIssueAdminCLI: issue-admin refuses what it cannot sign, and its
// help is output.
func TestIssueAdminCLI(t *testing.T) {
	f := relaytest.NewFleet(t)
	for _, args := range [][]string{
		{"issue-admin", "--key", f.KeyFile},                    // no name
		{"issue-admin", "--key", f.PubFile, "--name", "alice"}, // the public key
		{"issue-admin", "--key", f.KeyFile, "--name", "a\tb"},  // not printable
		{"issue-admin", "--key", f.KeyFile, "--name", "a", "--ttl", "-1h"},
	} {
		if out, code := runRelay(t, nil, args...); code != 1 || !strings.Contains(out, "casefleet-relay:") {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
	if out, code := runRelay(t, nil, "issue-admin", "--help"); code != 0 || !strings.Contains(out, "--name") {
		t.Errorf("issue-admin --help: exit %d\n%s", code, out)
	}
	if out, code := runRelay(t, nil, "help"); code != 0 || !strings.Contains(out, "issue-admin --key FILE --name NAME") {
		t.Errorf("the usage does not list issue-admin:\n%s", out)
	}
}
