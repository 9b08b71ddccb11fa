package a11ytest

import (
	"context"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"

	"casefleet/shared/testenv"
)

// Chromium is the path of the Chromium binary. Without one, t is skipped
// with a loud message, or fails when CASEFLEET_REQUIRE_SERVICES=1 (on CI,
// where every browser test must run).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "\n*** Chromium is not installed (apt-get install -y chromium)\n"
	if testenv.Required() {
		t.Fatal(msg + "*** " + testenv.RequireVar + "=1, so this is a failure")
	}
	t.Skip(msg + "*** SKIPPING this browser test (set " + testenv.RequireVar + "=1 to make it fail)")
	return ""
}

// Browser starts a headless Chromium for t and closes it when t ends. It
// runs with the flags of casefleet's other browser tests, and sends
// whatever it would fetch beyond loopback to a proxy that is not there
// (loopback never uses a proxy): a test reaches no other machine.
func Browser(t testing.TB) context.Context {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(Chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.ProxyServer("http://127.0.0.1:9"),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; it must not run under a deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// Phone opens a tab in browser (a context from Browser, or any chromedp
// context of a running Chromium) with a browser context of its own (its
// own storage), at a phone's size: 390 x 844 CSS px, twice the density, portrait, mobile,
// touch. The tab is closed when t ends.
func Phone(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first action opens the tab, which lives as long as the context
	// of that action: not one with a deadline.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch)); err != nil {
		t.Fatalf("open a phone-sized tab: %v", err)
	}
	return ctx
}
