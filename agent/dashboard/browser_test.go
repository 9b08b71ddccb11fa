package dashboard_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
	"casefleet/agent/queue"
	"casefleet/shared/testenv/chromium"
	"casefleet/shared/tunnel"
)

// newBrowserContext starts a headless Chromium for the test, its window
// width x height; without Chromium the test is skipped loudly (failed on
// CI).
func newBrowserContext(t *testing.T, width, height int) context.Context {
	t.Helper()
	return chromium.Start(t, chromedp.WindowSize(width, height))
}

// run runs browser steps with a deadline.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(cctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// shows waits until the page's text in selector contains text.
func shows(selector, text string) chromedp.Action[chromedp.Void] {
	return poll(`(document.querySelector(` + jsString(selector) + `)?.textContent || "").includes(` + jsString(text) + `)`)
}

// poll waits until a JavaScript expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second))
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// screenshot saves the page as docs-style PNG: into $CASEFLEET_SCREENSHOTS
// when set (the repository keeps them in docs/screenshots), else into the
// test's temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(cctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("CASEFLEET_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func TestOperatorDashboardInARealBrowser(t *testing.T) {
	ctx := newBrowserContext(t, 1280, 900)
	k := startKiosk(t, kioskOptions{PayDelay: -1, RelayURL: "https://relay.example.com", Name: "Mall 3F, east escalator", Location: "mall-3f"})
	k.Dash.SetTunnel(tunnel.State{Connected: true, PublicURL: "https://cases.example.com", Since: time.Now().Add(-3 * time.Hour)})

	// Log in with the PIN, as on the shop floor.
	run(t, ctx, "log in",
		chromedp.Navigate(k.URL+"/operator/"),
		chromedp.WaitVisible(chromedp.CSS("#pin")),
	)
	screenshot(t, ctx, "dashboard-login.png")
	run(t, ctx, "log in",
		chromedp.SendKeys(chromedp.CSS("#pin"), testPIN),
		chromedp.Submit(chromedp.CSS("#pin")),
		chromedp.WaitVisible(chromedp.CSS("#live.pill-ok")),
		shows("#machine-name", "Mall 3F, east escalator"),
		shows("#queue-empty", "The queue is empty"),
		shows("#tunnel", "Connected since"),
	)

	// An order that failed at the printer, one at the machine waiting for
	// payment, and two in line: each shows up without a reload.
	c := k.customer(t)
	failed := k.order(t, c)
	agenttest.Eventually(t, 20*time.Second, "the first order reaches the machine", func() bool {
		return len(k.Sim.Orders(t, testCode)) == 1 && k.Sim.Orders(t, testCode)[0].Status == "pending"
	})
	k.Sim.Admin(t, http.MethodPost, "/admin/orders/"+k.Sim.Orders(t, testCode)[0].ID+"/fail", map[string]string{"reason": "head jam"}, nil)
	run(t, ctx, "the failure shows live", shows("#fail-body", failed.ID[:8]), shows("#fail-body", "could not print"))

	atMachine := k.order(t, c)
	run(t, ctx, "the order at the machine shows live", shows("#current", atMachine.ID[:8]), shows("#current", "Waiting for payment"))
	next := k.order(t, c)
	last := k.order(t, c)
	run(t, ctx, "the queue updates live", shows("#queue-body", next.ID[:8]), shows("#queue-body", last.ID[:8]), shows("#queue-count", "2"))

	// Magenta runs low; the nozzles get cleaned.
	k.Sim.Admin(t, http.MethodPost, "/admin/machines/"+testCode+"/ink", map[string]string{"magenta": "low"}, nil)
	run(t, ctx, "ink shows low", shows(`#ink [data-colour=magenta] .level`, "Low"))
	run(t, ctx, "clean the nozzles",
		chromedp.Click(chromedp.CSS("#clean-btn")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
		chromedp.Click(chromedp.CSS("#confirm-yes")),
		shows("#nozzle-status", "Nozzles cleaned at"),
	)

	// Cancel the last order through the confirmation dialog.
	run(t, ctx, "cancel an order",
		chromedp.Click(chromedp.CSS(`button[aria-label="Cancel order `+last.ID[:8]+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
		shows("#confirm-text", "waiting in line"),
		chromedp.Click(chromedp.CSS("#confirm-yes")),
		poll(`!document.querySelector("#queue-body").textContent.includes(`+jsString(last.ID[:8])+`)`),
	)
	if o, err := k.Q.Get(last.ID); err != nil || o.Status != queue.StatusCancelled {
		t.Fatalf("cancelled in the browser, the order is %v (%v)", o.Status, err)
	}

	// Pause the queue.
	run(t, ctx, "pause",
		chromedp.Click(chromedp.CSS("#pause-btn")),
		chromedp.WaitVisible(chromedp.CSS("#paused-banner")),
		shows("#pause-btn", "Resume queue"),
	)
	if st, err := k.Disp.Status(); err != nil || !st.Paused {
		t.Fatalf("pressed pause, the dispatcher says paused=%v (%v)", st.Paused, err)
	}
	run(t, ctx, "the QR code shows", chromedp.WaitVisible(chromedp.CSS("#qr-img")), shows("#qr-url", "https://cases.example.com/editor?machine="+testCode))
	run(t, ctx, "wait for the toasts to go", poll(`document.querySelectorAll(".toast").length === 0`))
	screenshot(t, ctx, "dashboard-overview.png")

	// Retry the failed order.
	{
		run(t, ctx, "retry the failed order",
			chromedp.Click(chromedp.CSS(`button[aria-label="Retry order `+failed.ID[:8]+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
			chromedp.Click(chromedp.CSS("#confirm-yes")),
			shows("#queue-body", failed.ID[:8]),
			shows("#fail-empty", "No failed orders lately"),
		)
	}

	// Resume; the next order goes once the machine is free.
	run(t, ctx, "resume", chromedp.Click(chromedp.CSS("#pause-btn")), shows("#pause-btn", "Pause queue"))
	if st, _ := k.Disp.Status(); st.Paused {
		t.Fatal("pressed resume, the dispatcher is still paused")
	}
}

func TestOperatorDashboardOnAPhone(t *testing.T) {
	ctx := newBrowserContext(t, 1280, 900)
	k := startKiosk(t, kioskOptions{PayDelay: -1, Name: "Mall 3F, east escalator", Location: "mall-3f"})
	c := k.customer(t)
	first := k.order(t, c)
	k.order(t, c)
	run(t, ctx, "log in on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
		chromedp.Navigate(k.URL+"/operator/login"),
		chromedp.SendKeys(chromedp.CSS("#pin"), testPIN),
		chromedp.Submit(chromedp.CSS("#pin")),
		chromedp.WaitVisible(chromedp.CSS("#live.pill-ok")),
		shows("#current", first.ID[:8]),
	)
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Error("the dashboard is wider than a phone's screen")
	}
	screenshot(t, ctx, "dashboard-phone.png")
}
