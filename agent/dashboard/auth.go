package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Session cookie: "v1.<expiry unix>.<random nonce>.<HMAC>", signed with a
// key made when the agent starts (so a restart logs everyone out, and a
// leaked cookie tells nothing about the PIN).
const (
	cookieName    = "casefleet_operator"
	cookiePath    = "/operator/"
	sessionLength = 12 * time.Hour // a shift
	maxCookieLen  = 256
	// csrfHeader must accompany every POST that relies on the cookie: a
	// cross-site form cannot set it, and a cross-site script cannot send it
	// without a CORS preflight this server never approves.
	csrfHeader = "X-Casefleet-Operator"
)

// auth checks PINs and session cookies.
type auth struct {
	pin  [sha256.Size]byte // hash of the PIN, so comparisons take the same time whatever the length
	on   bool
	key  []byte
	now  func() time.Time
	lock *lockout
}

func newAuth(pin string, now func() time.Time) (*auth, error) {
	a := &auth{pin: sha256.Sum256([]byte(pin)), on: pin != "", key: make([]byte, 32), now: now, lock: newLockout(now)}
	if _, err := rand.Read(a.key); err != nil {
		return nil, fmt.Errorf("dashboard session key: %w", err)
	}
	return a, nil
}

func (a *auth) enabled() bool { return a.on }

// pinMatches compares in constant time.
func (a *auth) pinMatches(pin string) bool {
	got := sha256.Sum256([]byte(pin))
	return a.on && subtle.ConstantTimeCompare(got[:], a.pin[:]) == 1
}

// newSession returns a signed session cookie value and its expiry.
func (a *auth) newSession() (string, time.Time, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", time.Time{}, err
	}
	exp := a.now().Add(sessionLength).Truncate(time.Second)
	payload := "v1." + strconv.FormatInt(exp.Unix(), 10) + "." + hex.EncodeToString(nonce[:])
	return payload + "." + a.sign(payload), exp, nil
}

func (a *auth) sign(payload string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validSession reports whether v is a session this agent signed and that
// has not expired.
func (a *auth) validSession(v string) bool {
	if !a.on || len(v) > maxCookieLen {
		return false
	}
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return false
	}
	payload, sig := v[:i], v[i+1:]
	if !hmac.Equal([]byte(sig), []byte(a.sign(payload))) {
		return false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	return err == nil && a.now().Unix() < exp
}

// how a request proved it is an operator's.
type proof int

const (
	proofNone   proof = iota
	proofCookie       // a browser session: POSTs also need the CSRF header
	proofBearer       // a script with the PIN
)

// authFailure is why a request is refused.
type authFailure struct {
	status     int
	code, msg  string
	retryAfter time.Duration
}

// check decides whether r comes from an operator. A bearer PIN counts
// toward the lockout like a PIN typed into the form.
func (a *auth) check(r *http.Request) (proof, *authFailure) {
	if !a.on {
		return proofNone, &authFailure{status: http.StatusForbidden, code: "dashboard_off", msg: offMessage}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		pin, ok := bearer(h)
		if !ok {
			return proofNone, &authFailure{status: http.StatusUnauthorized, code: "bad_credentials", msg: "Send Authorization: Bearer <operator PIN>."}
		}
		client := clientKey(r)
		if wait := a.lock.wait(client); wait > 0 {
			return proofNone, lockedOut(wait)
		}
		if !a.pinMatches(pin) {
			if _, locked := a.lock.failed(client); locked > 0 {
				return proofNone, lockedOut(locked)
			}
			return proofNone, &authFailure{status: http.StatusUnauthorized, code: "wrong_pin", msg: "That is not the operator PIN."}
		}
		a.lock.succeeded(client)
		return proofBearer, nil
	}
	if c, err := r.Cookie(cookieName); err == nil && a.validSession(c.Value) {
		return proofCookie, nil
	}
	return proofNone, &authFailure{status: http.StatusUnauthorized, code: "login_required", msg: "Log in with the operator PIN."}
}

func lockedOut(wait time.Duration) *authFailure {
	return &authFailure{
		status: http.StatusTooManyRequests, code: "locked_out", retryAfter: wait,
		msg: "Too many wrong PINs from this device. Try again in " + humanWait(wait) + ".",
	}
}

// bearer extracts the PIN from an Authorization header.
func bearer(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) <= len(prefix) || len(h) > 512 || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

// humanWait says a wait the way a person would: "40 seconds", "3 minutes".
func humanWait(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	switch {
	case s <= 1:
		return "1 second"
	case s < 90:
		return strconv.Itoa(s) + " seconds"
	default:
		return strconv.Itoa((s+59)/60) + " minutes"
	}
}

// offMessage tells the technician how to switch the dashboard on.
const offMessage = "The operator dashboard is switched off because no operator PIN is set. " +
	"Set lan.operator_pin (at least 6 characters) in the agent's configuration file, " +
	"or the environment variable CASEFLEET_LAN_OPERATOR_PIN, and restart the agent."
