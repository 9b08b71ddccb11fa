// Package chromium starts the headless Chromium that casefleet's browser
// tests drive (chromedp), always the same way: Debian's Chromium (never a
// browser downloaded by a test tool), headless, and kept to loopback.
// Without Chromium a test is skipped loudly, or fails when
// CASEFLEET_REQUIRE_SERVICES=1 (on CI, where every browser test must run).
package chromium

import (
	"context"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"

	"casefleet/shared/testenv"
)

// Path is the path of the Chromium binary; without one, t is skipped (or
// failed on CI).
func Path(t testing.TB) string {
	t.Helper()
	if path := Find(); path != "" {
		return path
	}
	msg := "\n*** Chromium is not installed (apt-get install -y chromium)\n"
	if testenv.Required() {
		t.Fatal(msg + "*** " + testenv.RequireVar + "=1, so this is a failure")
	}
	t.Skip(msg + "*** SKIPPING this browser test (set " + testenv.RequireVar + "=1 to make it fail)")
	return ""
}

// Find is the path of the Chromium binary, or "" when there is none.
func Find() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// Options are the allocator options of every casefleet browser test:
// headless, no sandbox, GPU or background traffic, a profile of its own
// in userDataDir, and whatever Chromium would fetch beyond loopback sent
// to a proxy that is not there (loopback never uses a proxy), so a test
// reaches no other machine.
func Options(path, userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.ProxyServer("http://127.0.0.1:9"),
		chromedp.UserDataDir(userDataDir),
	}
}

// Start starts a headless Chromium for t with Options (and extra ones,
// such as a window size) and closes it when t ends.
func Start(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(Options(Path(t), t.TempDir()), extra...)...)
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
