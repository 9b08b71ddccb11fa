package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"casefleet/shared/testenv"
)

// TestRelayDownPageComesBack: a customer scans the QR code of a kiosk
// whose agent is away (restarting, say). The relay's page says the
// machine is offline, in the customer's language, offers Try again (the
// same page, still offline while the agent is away), and reloads itself
// after the Retry-After the relay sent. Once the agent is back, the
// customer is in the machine's app, in the same language, without a tap.
// The real binaries, as in TestThroughTheRealRelay.
func TestRelayDownPageComesBack(t *testing.T) {
	browser(t) // skip (or fail on CI) before building anything without Chromium
	bin := t.TempDir()
	buildBinaries(t, bin)
	s := startSystem(t, bin, []kiosk{eastEscalator}, nil, nil)
	code := eastEscalator.code

	s.agents[code].Kill()
	testenv.Poll(t, 30*time.Second, 200*time.Millisecond, "the relay finds "+code+" offline", func() bool {
		resp, err := http.Get(s.machineAPI(code) + "/status")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})

	p := newPhone(t, "dana", "de-DE,de;q=0.9")
	resp, err := chromedp.Run(p.ctx, chromedp.NavigateResponse(s.editorURL(code, "mall-3f")))
	if err != nil {
		t.Fatalf("open the QR code's link: %v", err)
	}
	retryAfter := fmt.Sprint(resp.Headers["Retry-After"])
	if resp.Status != http.StatusServiceUnavailable || retryAfter == "" {
		t.Fatalf("the QR code's link = %d (Retry-After %q), want 503 with Retry-After", resp.Status, retryAfter)
	}
	offline := readRelayPage(p)
	if offline.Title != "Dieser Automat ist offline" {
		t.Fatalf("page %+v, want the offline page in German", offline)
	}
	if got := eval[string](p, `document.querySelector('meta[http-equiv="refresh"]')?.content ?? ''`); !strings.HasPrefix(got, retryAfter+"; url=") {
		t.Errorf("the page's refresh %q does not wait Retry-After (%s s)", got, retryAfter)
	}
	if got := eval[string](p, `document.querySelector('a.retry')?.innerText ?? ''`); got != "Erneut versuchen" {
		t.Fatalf("the Try again button says %q", got)
	}

	// Try again while the agent is away: the same page.
	followLink(p, "a.retry")
	if again := readRelayPage(p); again.Title != offline.Title {
		t.Errorf("after Try again: %+v, want the offline page again", again)
	}

	// The agent comes back; the page reloads by itself into the app.
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	loads := chromedp.Events(ctx, page.LoadEventFired) // subscribed before the agent starts: no load is missed
	back := time.Now()
	s.agents[code].Start(t)
	for _, err := range loads {
		if err != nil {
			t.Fatalf("the page did not come back to the app by itself: %v\npage: %+v", err, readRelayPage(p))
		}
		if eval[bool](p, `document.getElementById('v-pick') !== null`) {
			break
		}
	}
	p.view("pick", 30*time.Second)
	t.Logf("in the app %.1f s after the agent started again", time.Since(back).Seconds())
	if lang := eval[string](p, `document.documentElement.lang`); lang != "de" {
		t.Errorf("the app speaks %q, want German still", lang)
	}
	if got := p.text("kiosk-name"); got != eastEscalator.name {
		t.Errorf("the app shows %q, want %q", got, eastEscalator.name)
	}
}
