package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"casefleet/agent/agenttest"
	"casefleet/shared/testenv/a11ytest"
	"casefleet/shared/tunnel"
)

// The operator's dashboard checked for accessibility in a real Chromium
// at phone size (390 x 844), screen by screen, with the checks of
// shared/testenv/a11ytest that hold the customer's app and the relay's
// pages too: accessible names, contrast, the keyboard's Tab order and
// focus indicator, and what the document says of itself (lang, one <h1>,
// a title naming the view, zoom, target sizes); and an order's button
// keeps the keyboard's focus through the live updates the dashboard takes
// every few seconds.

// TestDashboardAccessibility checks every screen of the operator's
// dashboard on a phone: the login, a wrong PIN, the dashboard with an
// order in every state and its QR code, the confirmation dialog, the
// paused queue, and the page of a dashboard that is switched off.
func TestDashboardAccessibility(t *testing.T) {
	phone := a11ytest.Phone(t, newBrowserContext(t, 390, 844)) // skips (or fails on CI) without Chromium, before starting anything
	do := func(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		run(t, phone, "operator's phone", steps...)
	}
	// movedTo is "" while js holds (of the focused element), else the
	// start of the element that has the focus.
	movedTo := func(t *testing.T, js string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(phone, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(`+js+`) ? '' : document.activeElement.outerHTML.slice(0, 80)`))
		if err != nil {
			t.Fatalf("operator's phone: %v", err)
		}
		return v
	}
	k := startKiosk(t, kioskOptions{PayDelay: -1, RelayURL: "https://relay.example.com", Name: "Mall 3F, east escalator", Location: "mall-3f"})
	k.Dash.SetTunnel(tunnel.State{Connected: true, PublicURL: "https://cases.example.com", Since: time.Now().Add(-3 * time.Hour)})
	noToasts := poll(`document.querySelectorAll(".toast").length === 0`)
	var last string // the last order in line, cancelled through the dialog
	var c *agenttest.Customer

	for _, s := range []struct {
		name  string
		reach func()
		after func()
	}{
		{name: "login", reach: func() {
			do(t, chromedp.Navigate(k.URL+"/operator/login"), chromedp.WaitVisible(chromedp.CSS("#pin")))
		}},
		{name: "wrong PIN", reach: func() {
			do(t, chromedp.SendKeys(chromedp.CSS("#pin"), "000000"), chromedp.Submit(chromedp.CSS("#pin")), chromedp.WaitVisible(chromedp.CSS("#login-error")))
		}},
		{name: "dashboard", reach: func() {
			do(t, chromedp.SendKeys(chromedp.CSS("#pin"), testPIN), chromedp.Submit(chromedp.CSS("#pin")), chromedp.WaitVisible(chromedp.CSS("#live.pill-ok")))
			// A failed order, one at the machine waiting for payment, two in line.
			c = k.customer(t)
			failed := k.order(t, c)
			agenttest.Eventually(t, 20*time.Second, "the first order reaches the machine", func() bool {
				return len(k.Sim.Orders(t, testCode)) == 1 && k.Sim.Orders(t, testCode)[0].Status == "pending"
			})
			k.Sim.Admin(t, http.MethodPost, "/admin/orders/"+k.Sim.Orders(t, testCode)[0].ID+"/fail", map[string]string{"reason": "head jam"}, nil)
			do(t, shows("#fail-body", failed.ID[:8]))
			atMachine := k.order(t, c)
			do(t, shows("#current", atMachine.ID[:8]))
			k.order(t, c)
			last = k.order(t, c).ID
			do(t, shows("#queue-body", last[:8]), shows("#queue-count", "2"), chromedp.WaitVisible(chromedp.CSS("#qr-img")), noToasts)
		}, after: func() {
			// The page takes a new state every few seconds: an operator's
			// focus on an order's button stays there.
			t.Run("focus_through_live_updates", func(t *testing.T) {
				cancelLast := `button[aria-label="Cancel order ` + last[:8] + `"]`
				do(t, chromedp.Focus(chromedp.CSS(cancelLast)), chromedp.Evaluate[chromedp.Void](`void (window.focusedBefore = document.activeElement)`))
				// A state that changes no order: the very same button keeps it.
				k.Dash.SetTunnel(tunnel.State{Err: errors.New("a test cut the line"), Since: time.Now()})
				do(t, shows("#tunnel", "a test cut the line"))
				if to := movedTo(t, `document.activeElement === window.focusedBefore`); to != "" {
					t.Errorf("a live update that changed no order moved the focus from %s to %s", cancelLast, to)
				}
				k.Dash.SetTunnel(tunnel.State{Connected: true, PublicURL: "https://cases.example.com", Since: time.Now()})
				do(t, shows("#tunnel", "Connected"))
				// A new order in line: the list is drawn anew, the focus stays on the order's button.
				newer := k.order(t, c)
				do(t, shows("#queue-body", newer.ID[:8]), shows("#queue-count", "3"))
				if to := movedTo(t, `document.activeElement.matches(`+jsString(cancelLast)+`)`); to != "" {
					t.Errorf("a new order in line moved the focus from %s to %s", cancelLast, to)
				}
			})
		}},
		{name: "cancel question", reach: func() {
			do(t, chromedp.Click(chromedp.CSS(`button[aria-label="Cancel order `+last[:8]+`"]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-yes")))
		}, after: func() {
			// No trap: Escape closes the dialog.
			do(t, chromedp.KeyEvent(kb.Escape), poll(`!document.getElementById("confirm").open`))
		}},
		{name: "queue paused", reach: func() {
			do(t, chromedp.Click(chromedp.CSS("#pause-btn")), chromedp.WaitVisible(chromedp.CSS("#paused-banner")), shows("#pause-btn", "Resume queue"), noToasts)
		}},
		{name: "switched off", reach: func() {
			off := startKiosk(t, kioskOptions{PIN: "-"})
			do(t, chromedp.Navigate(off.URL+"/operator/"), shows("h1", "switched off"))
		}},
	} {
		s.reach()
		t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) {
			a11ytest.Audit(t, phone, a11ytest.Page{Lang: "en"})
		})
		if s.after != nil {
			s.after()
		}
	}
}
