package dashboard_test

import (
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"casefleet/agent/dashboard"
	"casefleet/agent/update"
)

// fakeUpdates is the agent's updater as the dashboard sees it.
type fakeUpdates struct {
	mu sync.Mutex
	st update.Status
}

func (f *fakeUpdates) Status() update.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeUpdates) set(st update.Status) {
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
}

var (
	waitingUpdate = update.Status{Version: "v1.5.0", Enabled: true, State: update.StateReady, Target: "v1.6.0",
		Reason: "waiting for an empty line: 2 order(s) in line", Summary: "v1.6.0 downloaded and verified: waiting for an empty line: 2 order(s) in line"}
	failedUpdate = update.Status{Version: "v1.5.0", Enabled: true, State: update.StateFailed, Target: "v1.6.0", Attention: true,
		Reason:  "package does not match the release manifest: casefleet-agent_1.6.0_amd64.deb has SHA-256 ab12...",
		Summary: "update to v1.6.0 FAILED, still on v1.5.0: package does not match the release manifest: casefleet-agent_1.6.0_amd64.deb has SHA-256 ab12..."}
)

// The agent's version and its update are part of the state operators
// read (and `casefleet-agent status` prints), and a change reaches the
// live dashboards at once.
func TestTheAgentsUpdateIsInTheStateAndLive(t *testing.T) {
	upd := &fakeUpdates{st: waitingUpdate}
	k := startKiosk(t, kioskOptions{Updates: upd})
	op := k.operator(t)
	s := op.state()
	if s.Update == nil || s.Update.Version != "v1.5.0" || s.Update.State != update.StateReady || s.Update.Summary != waitingUpdate.Summary {
		t.Fatalf("state's update: %+v", s.Update)
	}
	stream := k.openStream(t)
	upd.set(failedUpdate)
	k.Dash.UpdateChanged()
	got := stream.until(t, "the failed update", func(s dashboard.State) bool {
		return s.Update != nil && s.Update.State == update.StateFailed
	})
	if !got.Update.Attention || got.Update.Reason != failedUpdate.Reason {
		t.Errorf("live update: %+v", got.Update)
	}
	// Without an updater the state says nothing of updates.
	plain := startKiosk(t, kioskOptions{})
	if s := plain.operator(t).state(); s.Update != nil {
		t.Errorf("no updater, yet the state has %+v", s.Update)
	}
}

// In the browser the update is a line of the overview's Connections
// card: the version and the summary, in red when it failed, and it
// changes live.
func TestTheUpdateLineInARealBrowser(t *testing.T) {
	ctx := newBrowserContext(t, 1280, 900)
	upd := &fakeUpdates{st: waitingUpdate}
	k := startKiosk(t, kioskOptions{Updates: upd})
	run(t, ctx, "log in",
		chromedp.Navigate(k.URL+"/operator/"),
		chromedp.WaitVisible(chromedp.CSS("#pin")),
		chromedp.SendKeys(chromedp.CSS("#pin"), testPIN),
		chromedp.Submit(chromedp.CSS("#pin")),
		chromedp.WaitVisible(chromedp.CSS("#live.pill-ok")),
	)
	run(t, ctx, "the waiting update shows",
		poll(`getComputedStyle(document.querySelector("#tunnel-more")).display === "none"`), // no tunnel error: no details
		chromedp.WaitVisible(chromedp.CSS("#update")),
		shows("#update-h", "Agent version and updates"),
		shows("#update", "Agent v1.5.0: v1.6.0 downloaded and verified: waiting for an empty line"),
		chromedp.WaitVisible(chromedp.CSS("#update.warn")),
	)
	upd.set(failedUpdate)
	k.Dash.UpdateChanged()
	run(t, ctx, "the failure shows live, in red",
		shows("#update", "update to v1.6.0 FAILED, still on v1.5.0: package does not match"),
		chromedp.WaitVisible(chromedp.CSS("#update.bad")),
	)
	screenshot(t, ctx, "dashboard-update-failed.png")
}
