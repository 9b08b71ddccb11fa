package pages_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"casefleet/relay/pages"
	"casefleet/shared/locale"
	"casefleet/shared/testenv/a11ytest"
)

// The relay's own pages are checked for accessibility as the customer's
// app and the operator's dashboard are, with shared/testenv/a11ytest
// (names, contrast, keyboard, document), in Chromium at phone size: every
// problem page, in English and in Arabic, served with the headers the
// relay sends (relay/server's answer and answerPage: a policy that allows
// no script at all and inline styles only). The language menu, a
// <details> that needs no script, is opened with the keyboard and checked
// open too, and the customer chooses Arabic in it with the keyboard.
// A page the relay sends with Retry-After has its retry (the button and
// the reload), here an hour later so that it holds still while audited.

// relayHeaders are the headers relay/server sends with every page, but
// Content-Language, Retry-After and the language cookie.
var relayHeaders = map[string]string{
	"Cache-Control":           "no-store",
	"X-Content-Type-Options":  "nosniff",
	"Content-Type":            "text/html; charset=utf-8",
	"Vary":                    "Accept, Accept-Language, Cookie",
	"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}

// relayAnswers is how relay/server answers each problem: the status, the
// Retry-After in seconds (0: none), and whether the page names the
// machine asked for.
var relayAnswers = map[string]struct {
	status, retryAfter int
	machine            bool
}{
	"agent_reconnected":    {http.StatusServiceUnavailable, 1, true},
	"agent_timeout":        {http.StatusGatewayTimeout, 5, true},
	"bad_body":             {http.StatusBadRequest, 0, false},
	"bad_gateway":          {http.StatusBadGateway, 0, true},
	"bad_path":             {http.StatusBadRequest, 0, false},
	"bad_request":          {http.StatusBadRequest, 0, false},
	"invalid_machine_code": {http.StatusBadRequest, 0, false},
	"machine_offline":      {http.StatusServiceUnavailable, 30, true},
	"method_not_allowed":   {http.StatusMethodNotAllowed, 0, false},
	"missing_machine":      {http.StatusBadRequest, 0, false},
	"no_machine_online":    {http.StatusServiceUnavailable, 30, false},
	"not_found":            {http.StatusNotFound, 0, false},
	"rate_limited":         {http.StatusTooManyRequests, 1, false},
	"request_timeout":      {http.StatusRequestTimeout, 0, false},
	"too_large":            {http.StatusRequestEntityTooLarge, 0, false},
	"too_many_streams":     {http.StatusTooManyRequests, 5, false},
	"unauthorized":         {http.StatusUnauthorized, 0, false},
	"unknown_machine":      {http.StatusNotFound, 0, true},
}

// relayPage is one page to check: a problem, and the machines offered
// instead (nil: none offered; empty: offered, and none is online).
type relayPage struct {
	name, code string
	alts       []pages.Alternative
}

// TestRelayPagesAccessibility checks every page the relay shows a browser
// itself (see the top of this file).
func TestRelayPagesAccessibility(t *testing.T) {
	browser := a11ytest.Browser(t) // skips (or fails on CI) without Chromium
	p := load(t)
	nearby := []pages.Alternative{
		{Name: "Mall 3F, food court", Code: "CT0700027", URL: "/editor?machine=CT0700027&location=mall-3f", QueueLength: 0},
		{Name: "Mall 3F, east escalator", Code: "CT0700026", URL: "/editor?machine=CT0700026&location=mall-3f", QueueLength: 3, EstimatedWaitSeconds: 1500},
		{Name: "Mall 3F, west entrance", Code: "CT0700028", URL: "/editor?machine=CT0700028&location=mall-3f", QueueLength: 20, EstimatedWaitSeconds: 7200, Full: true},
	}
	list := []relayPage{
		{name: "unknown_machine_with_alternatives", code: "unknown_machine", alts: nearby},
		{name: "unknown_machine_none_nearby", code: "unknown_machine", alts: []pages.Alternative{}},
		{name: "machine_offline_with_alternatives", code: "machine_offline", alts: nearby},
		{name: "machine_offline_none_nearby", code: "machine_offline", alts: []pages.Alternative{}},
	}
	for _, code := range p.Problems() {
		if _, ok := relayAnswers[code]; !ok {
			t.Errorf("the problem %s has a page, but this test does not know how the relay answers it: add it to relayAnswers", code)
		}
		if code != "unknown_machine" && code != "machine_offline" {
			list = append(list, relayPage{name: code, code: code})
		}
	}
	byName := map[string]relayPage{}
	for _, pg := range list {
		byName[pg.name] = pg
	}

	langs := locale.NewMatcher()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pg, ok := byName[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		answer := relayAnswers[pg.code]
		lang := langs.ForRequest(r)
		for k, v := range relayHeaders {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Language", lang.Code)
		if answer.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(answer.retryAfter))
		}
		if l, ok := locale.Lookup(r.URL.Query().Get("lang")); ok {
			http.SetCookie(w, &http.Cookie{Name: locale.Cookie, Value: l.Code, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
		}
		w.WriteHeader(answer.status)
		pr := pages.Problem{Lang: lang, Code: pg.code, URL: r.URL, OfferAlternatives: pg.alts != nil, Alternatives: pg.alts}
		if answer.machine {
			pr.Machine = r.URL.Query().Get("machine")
		}
		if answer.retryAfter > 0 && r.Method == http.MethodGet {
			pr.RetryAfter = 3600
		}
		if pg.code == "too_large" {
			pr.Vars = map[string]string{"mb": "20"}
		}
		if err := p.Render(w, pr); err != nil {
			t.Errorf("render %s: %v", pg.name, err)
		}
	}))
	t.Cleanup(srv.Close)

	phone := a11ytest.Phone(t, browser)
	for _, pg := range list {
		t.Run(pg.name, func(t *testing.T) {
			// In English first, as a phone that asks for English gets it.
			resp := run(t, phone, chromedp.NavigateResponse(srv.URL+"/"+pg.name+"?machine=CT0799999&location=mall-3f&lang=en"))
			if want := relayAnswers[pg.code].status; int(resp.Status) != want {
				t.Errorf("status %d, want %d", resp.Status, want)
			}
			if got := resp.Headers["Content-Security-Policy"]; got != relayHeaders["Content-Security-Policy"] {
				t.Errorf("served with the policy %q, not the relay's", got)
			}
			checkInBothStates(t, phone, a11ytest.Page{Lang: "en"})
			// Arabic, chosen in the open menu with the keyboard.
			tabTo(t, phone, `details[open] a[hreflang="ar"]`)
			ctx, cancel := context.WithTimeout(phone, 30*time.Second)
			defer cancel()
			if _, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
				t.Fatalf("keyboard: Enter on the menu's Arabic: %v", err)
			}
			checkInBothStates(t, phone, a11ytest.Page{Lang: "ar", RTL: true})
		})
	}
}

// checkInBothStates audits the page as it arrives, then opens its
// language menu with the keyboard (Tab to it, Enter) and audits it open.
func checkInBothStates(t *testing.T, phone context.Context, want a11ytest.Page) {
	t.Helper()
	t.Run(want.Lang, func(t *testing.T) {
		a11ytest.Audit(t, phone, want)
	})
	t.Run(want.Lang+"_menu_open", func(t *testing.T) {
		tabTo(t, phone, `details:not([open]) > summary`)
		run(t, phone, chromedp.KeyEvent(kb.Enter))
		if !run(t, phone, chromedp.Evaluate[bool](`document.querySelector('details').open`)) {
			t.Fatal("keyboard: Enter on the language menu's summary does not open it")
		}
		a11ytest.Audit(t, phone, want)
	})
}

// tabTo presses Tab (real key events) until selector has the focus.
func tabTo(t *testing.T, phone context.Context, selector string) {
	t.Helper()
	for range 30 {
		if run(t, phone, chromedp.Evaluate[bool](`!!document.activeElement?.matches(`+strconv.Quote(selector)+`)`)) {
			return
		}
		run(t, phone, chromedp.KeyEvent(kb.Tab))
	}
	t.Fatalf("keyboard: 30 Tabs, and %s never has the focus", selector)
}

// run runs one action on the phone, within 30 seconds.
func run[T any](t *testing.T, phone context.Context, action chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(phone, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return v
}
