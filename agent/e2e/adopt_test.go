package e2e

import (
	"net/http"
	"path"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/agent/chitu/sim"
	"casefleet/shared/testenv"
)

// Found by TestChaos (seed 16256077104655759283): a word from the machine
// about a vendor order the agent never learned the id of is not given to
// an order that merely could own it while another could too. Here the
// first order's send is cut short by a kill (its vendor order is at the
// machine, but the agent heard nothing of it) and it goes of unknown
// outcome; the next order's send is cut short too (the machine, busy with
// the first, refused it, but the answer came too late). When the machine
// prints the first order's case, the second order must not be reported
// complete: its customer would be handed someone else's case.
//
// It failed when adoption gave the word to the order at the machine, or
// to the newest order of unknown outcome: the machine's fetch of a print
// file now says which order it has, and with no such sign none is given
// the word.
func TestAWordTwoCutShortSendsCouldOwnIsAdoptedByNeither(t *testing.T) {
	k := startKiosk(t, []string{"--pay-seconds", "-1", "--print-seconds", "0.3", "--fetch-seconds", "4"},
		"CASEFLEET_QUEUE_RESEND_GRACE=1s", "CASEFLEET_QUEUE_RETRY_DELAY=200ms",
		// A clean MQTT session loses the status heard but not applied when
		// the agent is killed (the default persistent session delivers it
		// again, and the first order is simply adopted): so both orders
		// are left without their vendor ids, as statuses lost any other
		// way would leave them.
		"CASEFLEET_CHITU_CLEAN_SESSION=true")
	k.waitOnline()
	// Both sends are answered 3 s late, long after the agent's 1 s timeout.
	k.admin.Admin(t, http.MethodPost, "/admin/faults", sim.Fault{Call: "machineCreateOrder", DelayMs: 3000, Count: 2}, nil)
	phone := agenttest.NewCustomer(t, k.api)
	product := phone.FirstProduct(t)
	first := phone.Order(t, product)
	testenv.Eventually(t, 10*time.Second, "the first order created at the machine", func() bool { return k.vendorOrders() == 1 })
	k.crash() // the first order's "pending" was heard, not yet applied: gone with the process
	testenv.Eventually(t, 10*time.Second, "the first order of unknown outcome", func() bool {
		return phone.Get(t, first.ID).Stage == "unknown_outcome"
	})
	second := phone.Order(t, product)
	testenv.Eventually(t, 10*time.Second, "the second order's send cut short", func() bool {
		return k.admin.Orders(t, code)[0].Fetch.Done && phone.Get(t, second.ID).Stage != "queued"
	})

	v := k.admin.Orders(t, code)[0]
	k.admin.Admin(t, http.MethodPost, "/admin/orders/"+v.ID+"/pay", nil, nil)
	testenv.Eventually(t, 10*time.Second, "the machine to print the first order's case", func() bool {
		return k.admin.Orders(t, code)[0].Status == "completed"
	})
	if n := k.vendorOrders(); n != 1 || path.Base(v.ImageURL) != path.Base(phone.Get(t, first.ID).ImageURL) {
		t.Fatalf("the machine has %d orders, the first printing %s; want only the first order's file", n, v.ImageURL)
	}
	testenv.Eventually(t, 10*time.Second, "the second order settled", func() bool {
		return phone.Get(t, second.ID).Stage == "unknown_outcome" || phone.Get(t, second.ID).Status == "complete"
	})
	if got := phone.Get(t, second.ID); got.Status == "complete" {
		t.Fatalf("the second order is reported complete (pickup %s), but the machine printed the first order's case", got.PickupCode)
	}
	if got := phone.Get(t, first.ID); got.Status == "failed" {
		t.Fatalf("the first order, which printed, is reported failed: %s", got.FailureReason)
	}
}
