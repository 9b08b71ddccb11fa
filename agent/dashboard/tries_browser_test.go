package dashboard_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/queue"
	"casefleet/shared/tunnel"
)

// These specify what operators trying the dashboard asked for (issue 11,
// point 3).

// logIn opens the dashboard at base and logs in with the PIN.
func logIn(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	run(t, ctx, "log in",
		chromedp.Navigate(base+"/operator/"),
		chromedp.WaitVisible(chromedp.CSS("#pin")),
		chromedp.SendKeys(chromedp.CSS("#pin"), testPIN),
		chromedp.Submit(chromedp.CSS("#pin")),
		chromedp.WaitVisible(chromedp.CSS("#live.pill-ok")),
	)
}

// The relay-down card says in words why, keeps the raw error behind a
// disclosure, and nothing runs past the card's edge.
func TestTheRelayDownReasonIsSaidInWordsWithTheDetailBehindADisclosure(t *testing.T) {
	ctx := newBrowserContext(t, 1280, 900)
	k := startKiosk(t, kioskOptions{PayDelay: -1, RelayURL: "http://relay.example.com:8080", Name: "Mall 3F, east escalator", Location: "mall-3f"})
	// The error the tunnel reports when nothing listens at the relay's
	// address, as it reads in the agent's log.
	raw := `dial relay ws://relay.example.com:8080/tunnel?machine=CT0700026: failed to WebSocket dial: failed to send handshake request: Get "http://relay.example.com:8080/tunnel?machine=CT0700026": dial tcp 203.0.113.7:8080: connect: connection refused`
	k.Dash.SetTunnel(tunnel.State{Err: errors.New(raw), Since: time.Now().Add(-7 * time.Minute)})

	logIn(t, ctx, k.URL)
	run(t, ctx, "the reason in words",
		shows("#tunnel", "The relay cannot be reached: connection refused"),
		poll(`!document.querySelector("#tunnel").textContent.includes("WebSocket")`),
		poll(`!document.querySelector("#tunnel-more details").open`),
	)
	run(t, ctx, "the raw detail on demand",
		chromedp.Click(chromedp.CSS("#tunnel-more summary")),
		chromedp.WaitVisible(chromedp.CSS("#tunnel-error")),
		shows("#tunnel-error", "dial tcp 203.0.113.7:8080: connect: connection refused"),
	)
	// Nothing inside the connections card is wider than the card.
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const card = document.querySelector('[aria-labelledby="conn-h"]').getBoundingClientRect();
		return [...document.querySelectorAll('[aria-labelledby="conn-h"] *')]
			.filter((n) => { const r = n.getBoundingClientRect(); return r.width > 0 && (r.right > card.right + 1 || r.left < card.left - 1); })
			.map((n) => n.tagName + "#" + n.id);
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(wide) > 0 {
		t.Errorf("these run past the connections card's edge: %v", wide)
	}
	run(t, ctx, "wait for the toasts to go", poll(`document.querySelectorAll(".toast").length === 0`))
	screenshot(t, ctx, "dashboard-relay-down.png")
}

// While the agent does not answer, the page is greyed out and no action
// can be taken; when it answers again, all comes back.
func TestTheDashboardGreysOutWhileTheAgentIsAway(t *testing.T) {
	ctx := newBrowserContext(t, 1280, 900)
	k := startKiosk(t, kioskOptions{PayDelay: -1})
	p := startSwitch(t, strings.TrimPrefix(k.URL, "http://"))
	base := "http://" + p.addr

	logIn(t, ctx, base)
	run(t, ctx, "all live", poll(`!document.querySelector("#pause-btn").disabled`),
		poll(`getComputedStyle(document.querySelector("main")).filter === "none"`))

	p.off()
	run(t, ctx, "greyed out while the agent is away",
		shows("#live", "Reconnecting"),
		chromedp.WaitVisible(chromedp.CSS("#away-banner")),
		poll(`document.querySelector("#pause-btn").disabled && document.querySelector("#clean-btn").disabled`),
		poll(`getComputedStyle(document.querySelector("main")).filter.includes("grayscale")`),
	)

	p.on()
	run(t, ctx, "back when it answers",
		chromedp.WaitVisible(chromedp.CSS("#live.pill-ok")),
		poll(`!document.querySelector("#pause-btn").disabled && !document.querySelector("#clean-btn").disabled`),
		poll(`document.querySelector("#away-banner").hidden`),
		poll(`getComputedStyle(document.querySelector("main")).filter === "none"`),
	)
}

// A toast never takes a click meant for a button: with one showing, the
// Cancel button at the bottom right of the screen opens its confirmation.
func TestAToastNeverTakesAClickMeantForAButton(t *testing.T) {
	ctx := newBrowserContext(t, 1280, 900)
	k := startKiosk(t, kioskOptions{PayDelay: -1})
	if err := k.Disp.SetPaused(true); err != nil {
		t.Fatal(err)
	}
	c := k.customer(t)
	var last queue.Order
	for range 8 { // enough to push the last Cancel below the fold
		last = k.order(t, c)
	}
	cancel := `button[aria-label="Cancel order ` + last.ID[:8] + `"]`
	logIn(t, ctx, k.URL)
	run(t, ctx, "a toast shows",
		chromedp.WaitVisible(chromedp.CSS(cancel)),
		chromedp.Click(chromedp.CSS("#pause-btn")), // resumes, with a toast
		chromedp.WaitVisible(chromedp.CSS(".toast")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(cancel)+`).scrollIntoView({block: "end"})`),
	)
	// Whatever the layout, every button on screen is what a click on its
	// middle reaches.
	covered, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("button")]
		.filter((b) => { const r = b.getBoundingClientRect(); return r.width > 0 && r.top >= 0 && r.bottom <= innerHeight; })
		.filter((b) => { const r = b.getBoundingClientRect(); const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); return !b.contains(at); })
		.map((b) => b.getAttribute("aria-label") || b.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(covered) > 0 {
		t.Errorf("with a toast showing, a click misses these buttons: %v", covered)
	}
	run(t, ctx, "cancel with the toast still showing",
		chromedp.WaitVisible(chromedp.CSS(".toast")),
		chromedp.Click(chromedp.CSS(cancel)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
	)
	run(t, ctx, "the toast is readable", poll(`getComputedStyle(document.querySelector(".toast")).opacity === "1"`))
}

// A full line (queue.max_orders, 20 here) is flagged with what it means.
func TestAFullLineIsFlagged(t *testing.T) {
	ctx := newBrowserContext(t, 1280, 900)
	k := startKiosk(t, kioskOptions{PayDelay: -1})
	if err := k.Disp.SetPaused(true); err != nil {
		t.Fatal(err)
	}
	c := k.customer(t)
	for range 19 {
		k.order(t, c)
	}
	logIn(t, ctx, k.URL)
	card := `document.querySelector('[aria-labelledby="line-h"]').innerText` // what is shown, not hidden text
	run(t, ctx, "19 is not full", shows("#queue-count", "19"), poll(`!`+card+`.includes("Full")`))
	k.order(t, c)
	run(t, ctx, "20 is full",
		shows("#queue-count", "20"),
		poll(card+`.includes("Full: new customers are sent to other machines")`),
	)
}

// lineSwitch forwards TCP connections from addr to a target, and can be
// switched off (the listener closed, open connections cut) and on again
// at the same address: an agent that goes away and comes back.
type lineSwitch struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func startSwitch(t *testing.T, target string) *lineSwitch {
	s := &lineSwitch{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.off)
	return s
}

func (s *lineSwitch) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.forward(c)
		}
	}()
}

func (s *lineSwitch) forward(c net.Conn) {
	up, err := net.Dial("tcp", s.target)
	if err != nil {
		c.Close()
		return
	}
	s.mu.Lock()
	s.conns[c], s.conns[up] = true, true
	s.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

func (s *lineSwitch) off() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.Close()
		delete(s.conns, c)
	}
}

func (s *lineSwitch) on() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("listen again at %s: %v", s.addr, err)
	}
	s.serve(ln)
}
