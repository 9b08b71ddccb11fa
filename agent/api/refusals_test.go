package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
)

// Only accepted orders use up a session's order allowance: photos that are
// refused, and retries answered with the order already made, cost nothing.
func TestOnlyAcceptedOrdersUseTheAllowance(t *testing.T) {
	k := startKiosk(t, agenttest.SimOptions{PayDelay: -1}, func(c *config.Config) {
		c.Session.OrdersPerHour = 10 // a burst of 2, then one every 6 minutes
	})
	phone := agenttest.NewCustomer(t, k.agent.API())

	for i := range 3 {
		resp := phone.PostPrint(t, k.product, []byte("this is not a photo"), "")
		if got := errorCode(t, resp); resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("refused photo %d: %s %s, want 415", i+1, resp.Status, got)
		}
	}
	photo := agenttest.Photo(t, 100, 100)
	first := expectOrder(t, phone.PostPrintOnce(t, k.product, photo, "", "key-1"), http.StatusAccepted, "")
	for range 3 {
		again := expectOrder(t, phone.PostPrintOnce(t, k.product, photo, "", "key-1"), http.StatusOK, "true")
		if again.ID != first.ID {
			t.Fatalf("retry made order %s, want %s", again.ID, first.ID)
		}
	}
	expectOrder(t, phone.PostPrintOnce(t, k.product, photo, "", "key-2"), http.StatusAccepted, "")

	// Two accepted orders are the burst: the third waits its turn.
	resp := phone.PostPrintOnce(t, k.product, photo, "", "key-3")
	if got := errorCode(t, resp); resp.StatusCode != http.StatusTooManyRequests || got != "rate_limited" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third order: %s %s (Retry-After %q), want 429 rate_limited with Retry-After", resp.Status, got, resp.Header.Get("Retry-After"))
	}
}

// An image_url on an allowed host that redirects elsewhere is the
// request's fault: 400 image_host_not_allowed, not 502.
func TestImageURLRedirectingElsewhereIsRefused(t *testing.T) {
	k := startKiosk(t, agenttest.SimOptions{PayDelay: -1}, nil)
	// The allowed host is 127.0.0.1; "localhost" is not on the list.
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the agent followed the redirect to %s", r.URL)
	}))
	defer elsewhere.Close()
	target := strings.Replace(elsewhere.URL, "127.0.0.1", "localhost", 1) + "/photo.png"
	redirector := httptest.NewServer(http.RedirectHandler(target, http.StatusFound))
	defer redirector.Close()

	phone := agenttest.NewCustomer(t, k.agent.API())
	body := fmt.Sprintf(`{"image_url":%q,"sessionId":%q,"productId":%q}`, redirector.URL+"/photo.png", phone.SessionID, k.product)
	resp, err := http.Post(k.agent.API()+"/print", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := errorCode(t, resp); resp.StatusCode != http.StatusBadRequest || got != "image_host_not_allowed" {
		t.Fatalf("got %s %s, want 400 image_host_not_allowed", resp.Status, got)
	}
}
