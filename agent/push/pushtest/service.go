package pushtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Delivery is one request a push service received.
type Delivery struct {
	Path   string
	Header http.Header
	Body   []byte
}

// PushService is a push service on 127.0.0.1: it records each request
// and answers with the next scripted status (201 Created when the script
// is empty). Subscriptions' endpoints are URL + a path of the test's
// choosing.
type PushService struct {
	*httptest.Server
	got chan Delivery

	mu     sync.Mutex
	script []int
}

// NewPushService starts a push service that answers the first requests
// with the statuses of script, in order, and 201 after them. It stops
// when the test ends.
func NewPushService(t testing.TB, script ...int) *PushService {
	t.Helper()
	ps := &PushService{got: make(chan Delivery, 64), script: script}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 8192))
		ps.got <- Delivery{Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		ps.mu.Lock()
		status := http.StatusCreated
		if len(ps.script) > 0 {
			status, ps.script = ps.script[0], ps.script[1:]
		}
		ps.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(ps.Close)
	return ps
}

// Next waits up to within for the next request, and fails the test when
// none comes.
func (ps *PushService) Next(t testing.TB, within time.Duration) Delivery {
	t.Helper()
	select {
	case d := <-ps.got:
		return d
	case <-time.After(within):
		t.Fatalf("no push message within %v", within)
		return Delivery{}
	}
}

// Pending returns a request received and not yet taken by Next, if any,
// without waiting.
func (ps *PushService) Pending() (Delivery, bool) {
	select {
	case d := <-ps.got:
		return d, true
	default:
		return Delivery{}, false
	}
}

// topic is RFC 8030 §5.4's rule: at most 32 characters of the base64url
// alphabet.
var topic = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Open checks d as this push service and the browser b would, and returns
// the decrypted message and the VAPID token's claims:
//   - RFC 8030: a TTL of whole seconds; Urgency and Topic, when present,
//     well formed; a body a push service takes (at most 4096 bytes).
//   - RFC 8292: the Authorization header carries vapidKey (the agent's
//     public key, base64url) and an ES256 JWT that verifies with it, for
//     this service's origin, expiring within 24 hours, with a mailto: or
//     https: contact.
//   - RFC 8291: Content-Encoding aes128gcm, and b decrypts the body.
//
// A failure ends the test.
func (ps *PushService) Open(t testing.TB, d Delivery, b *Browser, vapidKey string) ([]byte, VAPIDClaims) {
	t.Helper()
	h := d.Header
	if got := h.Get("Content-Encoding"); got != "aes128gcm" {
		t.Errorf("push message: Content-Encoding %q, want aes128gcm", got)
	}
	if ttl, err := strconv.Atoi(h.Get("TTL")); err != nil || ttl < 0 {
		t.Errorf("push message: TTL %q, want whole seconds", h.Get("TTL"))
	}
	switch u := h.Get("Urgency"); u {
	case "", "very-low", "low", "normal", "high":
	default:
		t.Errorf("push message: Urgency %q", u)
	}
	if tp := h.Get("Topic"); tp != "" && !topic.MatchString(tp) {
		t.Errorf("push message: Topic %q is not at most 32 base64url characters", tp)
	}
	if len(d.Body) > 4096 {
		t.Errorf("push message: body of %d bytes exceeds what push services take", len(d.Body))
	}
	claims, err := VerifyVAPID(h.Get("Authorization"), vapidKey)
	if err != nil {
		t.Fatalf("push message: VAPID: %v", err)
	}
	if claims.Aud != ps.URL {
		t.Errorf("push message: VAPID audience %q, want the push service's origin %s", claims.Aud, ps.URL)
	}
	if exp := time.Unix(claims.Exp, 0); time.Until(exp) <= 0 || time.Until(exp) > 24*time.Hour {
		t.Errorf("push message: VAPID token expires at %v: RFC 8292 wants within 24 h", exp)
	}
	if !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:") {
		t.Errorf("push message: VAPID contact %q is neither mailto: nor https:", claims.Sub)
	}
	plain, err := b.Decrypt(d.Body)
	if err != nil {
		t.Fatalf("push message: decrypt: %v", err)
	}
	return plain, claims
}
