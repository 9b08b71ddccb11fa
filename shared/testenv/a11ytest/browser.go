package a11ytest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"casefleet/shared/testenv/chromium"
)

// Browser starts a headless Chromium for t (chromium.Start) and closes it
// when t ends.
func Browser(t testing.TB) context.Context {
	t.Helper()
	return chromium.Start(t)
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
