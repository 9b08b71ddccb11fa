package dashboard_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"casefleet/agent/queue"
)

// An order of unknown outcome (the printer never said whether it got or
// printed it) stands out in the queue with what the staff can say: it
// printed, send it again, or cancel it. Each button does that.
func TestTheStaffSettleAnOrderOfUnknownOutcome(t *testing.T) {
	ctx := newBrowserContext(t, 1280, 900)
	k := startKiosk(t, kioskOptions{PayDelay: -1})
	if err := k.Disp.SetPaused(true); err != nil { // nothing goes to the machine meanwhile
		t.Fatal(err)
	}
	c := k.customer(t)
	printed, again := k.order(t, c), k.order(t, c)
	for _, id := range []string{printed.ID, again.ID} {
		if _, err := k.Q.Update(id, func(o *queue.Order) error {
			o.Stage = queue.StageUnknownOutcome
			o.FailureReason = "The send to the printer was cut short."
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	run(t, ctx, "log in",
		chromedp.Navigate(k.URL+"/operator/"),
		chromedp.WaitVisible(chromedp.CSS("#pin")),
		chromedp.SendKeys(chromedp.CSS("#pin"), testPIN),
		chromedp.Submit(chromedp.CSS("#pin")),
		chromedp.WaitVisible(chromedp.CSS("#live.pill-ok")),
		shows("#queue-body", "Unknown: did it print?"),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Order `+printed.ID[:8]+` printed"]`)),
	)
	run(t, ctx, "mark the first printed",
		chromedp.Click(chromedp.CSS(`button[aria-label="Order `+printed.ID[:8]+` printed"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
		shows("#confirm-text", "Only if the printer printed"),
		chromedp.Click(chromedp.CSS("#confirm-yes")),
		poll(`!document.querySelector("#queue-body").textContent.includes(`+jsString(printed.ID[:8])+`)`),
	)
	if o, err := k.Q.Get(printed.ID); err != nil || o.Status != queue.StatusComplete {
		t.Fatalf("marked printed, the order is %v (%v)", o.Status, err)
	}
	run(t, ctx, "retry the second",
		// The toast of the first is still up: clicks go through it.
		chromedp.Click(chromedp.CSS(`button[aria-label="Retry order `+again.ID[:8]+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
		chromedp.Click(chromedp.CSS("#confirm-yes")),
		poll(`!document.querySelector("#queue-body").textContent.includes("Unknown")`),
	)
	if o, err := k.Q.Get(again.ID); err != nil || o.Stage != queue.StageQueued {
		t.Fatalf("retried, the order is %v (%v)", o.Stage, err)
	}
}
