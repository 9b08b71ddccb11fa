package web_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// What a phone sees through the relay, beyond the page itself: every
// request that failed, and the screens the status view went through.

// requestLog records a phone's requests that got an HTTP error (400 or
// more) or no answer, and WebSocket handshakes the relay refused.
type requestLog struct {
	mu        sync.Mutex
	urls      map[network.RequestID]string
	all       []string // every request and what became of it, for failure reports
	failed    []string
	refusedWS []string
}

// watchRequests starts recording p's failed requests; if the test fails,
// it logs every request the phone made.
func watchRequests(t *testing.T, p *phone) *requestLog {
	t.Helper()
	l := &requestLog{urls: map[network.RequestID]string{}}
	start := time.Now()
	note := func(format string, args ...any) {
		l.all = append(l.all, fmt.Sprintf("%6.2fs ", time.Since(start).Seconds())+fmt.Sprintf(format, args...))
	}
	err := chromedp.Listen(p.ctx, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			l.urls[e.RequestID] = e.Request.Method + " " + e.Request.URL
			note("%s", l.urls[e.RequestID])
		case *network.EventWebSocketCreated:
			l.urls[e.RequestID] = "WebSocket " + e.URL
			note("%s", l.urls[e.RequestID])
		case *network.EventLoadingFinished:
			note("finished %s", l.urls[e.RequestID])
		case *network.EventResponseReceived:
			note("%d for %s", e.Response.Status, l.urls[e.RequestID])
			if e.Response.Status >= 400 {
				l.failed = append(l.failed, fmt.Sprintf("%s: %d %s", l.urls[e.RequestID], e.Response.Status, e.Response.StatusText))
			}
		case *network.EventLoadingFailed:
			note("failed %s: %s (canceled %v)", l.urls[e.RequestID], e.ErrorText, e.Canceled)
			if !e.Canceled {
				l.failed = append(l.failed, fmt.Sprintf("%s: %s", l.urls[e.RequestID], e.ErrorText))
			}
		case *network.EventWebSocketHandshakeResponseReceived:
			note("%d for %s", e.Response.Status, l.urls[e.RequestID])
			if e.Response.Status != 101 {
				l.refusedWS = append(l.refusedWS, fmt.Sprintf("%s: %d %s", l.urls[e.RequestID], e.Response.Status, e.Response.StatusText))
			}
		}
	})
	if err != nil {
		t.Fatalf("%s: watch requests: %v", p.name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Logf("--- %s's requests ---\n%s", p.name, strings.Join(l.all, "\n"))
		}
	})
	return l
}

// expectNoFailures fails the test for every request that failed so far.
func (l *requestLog) expectNoFailures(p *phone) {
	p.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range append(l.failed, l.refusedWS...) {
		p.t.Errorf("%s: through the relay: %s", p.name, f)
	}
}

// logFailures logs the requests that failed so far, where some are
// expected (the relay was down).
func (l *requestLog) logFailures(p *phone) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failed)+len(l.refusedWS) > 0 {
		p.t.Logf("%s: requests that failed while the relay was away:\n  %s", p.name, strings.Join(append(l.failed, l.refusedWS...), "\n  "))
	}
}

// recordScreens makes the page remember every screen its status view
// shows from now on (queued, sent, pay, paid, printing, done, ...), in
// window.screensShown; screensShown reads them back.
func recordScreens(p *phone) {
	p.t.Helper()
	eval[bool](p, `(() => {
		const view = document.getElementById('v-status');
		const shown = window.screensShown = [];
		const note = (s) => { if (s && shown.at(-1) !== s) shown.push(s); };
		note(view.dataset.screen);
		new MutationObserver((records) => {
			for (const r of records) note(r.oldValue);
			note(view.dataset.screen);
		}).observe(view, { attributes: true, attributeFilter: ['data-screen'], attributeOldValue: true });
		return true;
	})()`)
}

func screensShown(p *phone) []string {
	p.t.Helper()
	return eval[[]string](p, `window.screensShown || []`)
}

// inOrder reports whether want appears in got in that order (other
// entries may come between).
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// followLink taps the link at selector and waits until the page it
// leads to has loaded (a poll cannot outlive the page it started on).
func followLink(p *phone, selector string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	loaded := chromedp.Events(ctx, page.LoadEventFired) // subscribed before the tap: no load is missed
	p.click(selector)
	for _, err := range loaded {
		if err != nil {
			p.t.Fatalf("%s: follow %s: %v", p.name, selector, err)
		}
		return
	}
}

// navigateStatus opens url and returns the HTTP status of the document.
func navigateStatus(p *phone, url string) int64 {
	p.t.Helper()
	resp, err := chromedp.Run(p.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		p.t.Fatalf("%s: open %s: %v", p.name, url, err)
	}
	return resp.Status
}

// relayPage is what the relay's own page (for a machine it cannot reach)
// shows: its heading, its text, and the machines it offers instead.
type relayPage struct {
	Title  string   `json:"title"`
	Text   string   `json:"text"`
	Offers []string `json:"offers"` // the offered machines' links
}

func readRelayPage(p *phone) relayPage {
	p.t.Helper()
	return eval[relayPage](p, `({
		title: document.querySelector('h1')?.innerText ?? '',
		text: document.querySelector('main')?.innerText.replace(/\s+/g, ' ') ?? '',
		offers: [...document.querySelectorAll('main li a')].map(a => a.getAttribute('href')),
	})`)
}
