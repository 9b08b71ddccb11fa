package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"casefleet/shared/lockout"
)

// Operator sessions live in the agent's memory: the cookie carries a
// random token, and the agent keeps each token's session until it expires
// or its operator logs out. So logout ends a session at once (even if the
// cookie was copied), and a restart ends them all. The PIN is read when
// the agent starts, so changing it (a restart) logs everyone out too.
// Sessions are not persisted on purpose: operators log in again after a
// restart, which is rare and cheap, and no session outlives a PIN change.
const (
	cookieName    = "casefleet_operator"
	cookiePath    = "/operator/"
	sessionLength = 12 * time.Hour // a shift
	maxCookieLen  = 256
	// maxSessions bounds the table; when full, the session nearest its
	// end makes room (operators are a handful, logins need the PIN).
	maxSessions = 256
	// csrfHeader must accompany every POST that relies on the cookie: a
	// cross-site form cannot set it, and a cross-site script cannot send it
	// without a CORS preflight this server never approves.
	csrfHeader = "X-Casefleet-Operator"
)

// auth checks PINs and session cookies.
type auth struct {
	pin  [sha256.Size]byte // hash of the PIN, so comparisons take the same time whatever the length
	on   bool
	now  func() time.Time
	lock *lockout.Table

	mu       sync.Mutex
	sessions map[[sha256.Size]byte]*opSession // by the hash of the token: the table holds nothing a cookie could be made from
}

// opSession is one operator's login.
type opSession struct {
	expires time.Time
	// ended is cancelled on logout (or when the session makes room for
	// another): requests and live streams under it stop.
	ended  context.Context
	cancel context.CancelFunc
}

func newAuth(pin string, now func() time.Time) *auth {
	return &auth{
		pin: sha256.Sum256([]byte(pin)), on: pin != "", now: now, lock: lockout.New(lockout.Default(), now),
		sessions: make(map[[sha256.Size]byte]*opSession),
	}
}

func (a *auth) enabled() bool { return a.on }

// pinMatches compares in constant time.
func (a *auth) pinMatches(pin string) bool {
	got := sha256.Sum256([]byte(pin))
	return a.on && subtle.ConstantTimeCompare(got[:], a.pin[:]) == 1
}

// newSession starts a session and returns its cookie value and expiry.
func (a *auth) newSession() (string, time.Time, error) {
	var token [32]byte
	if _, err := rand.Read(token[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("operator session token: %w", err)
	}
	value := "v2." + base64.RawURLEncoding.EncodeToString(token[:])
	now := a.now()
	exp := now.Add(sessionLength).Truncate(time.Second)
	ended, cancel := context.WithCancel(context.Background())

	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sessions) >= maxSessions {
		a.makeRoom(now)
	}
	a.sessions[sha256.Sum256([]byte(value))] = &opSession{expires: exp, ended: ended, cancel: cancel}
	return value, exp, nil
}

// makeRoom drops expired sessions, or else the one nearest its end; a.mu
// must be held.
func (a *auth) makeRoom(now time.Time) {
	var soonest [sha256.Size]byte
	var first *opSession
	for k, s := range a.sessions {
		if !now.Before(s.expires) {
			s.cancel()
			delete(a.sessions, k)
			continue
		}
		if first == nil || s.expires.Before(first.expires) {
			soonest, first = k, s
		}
	}
	if len(a.sessions) >= maxSessions && first != nil {
		first.cancel()
		delete(a.sessions, soonest)
	}
}

// session returns the live session whose cookie value is v, or nil.
func (a *auth) session(v string) *opSession {
	if !a.on || len(v) > maxCookieLen {
		return nil
	}
	key := sha256.Sum256([]byte(v))
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[key]
	if s == nil {
		return nil
	}
	if !a.now().Before(s.expires) {
		s.cancel()
		delete(a.sessions, key)
		return nil
	}
	return s
}

// validSession reports whether v names a live session.
func (a *auth) validSession(v string) bool { return a.session(v) != nil }

// endSession ends the session whose cookie value is v, if any.
func (a *auth) endSession(v string) {
	key := sha256.Sum256([]byte(v))
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.sessions[key]; s != nil {
		s.cancel()
		delete(a.sessions, key)
	}
}

// sessionOf returns the live session of r's cookie, or nil.
func (a *auth) sessionOf(r *http.Request) *opSession {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	return a.session(c.Value)
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
		if wait := a.lock.Wait(client); wait > 0 {
			return proofNone, lockedOut(wait)
		}
		if !a.pinMatches(pin) {
			if _, locked := a.lock.Failed(client); locked > 0 {
				return proofNone, lockedOut(locked)
			}
			return proofNone, &authFailure{status: http.StatusUnauthorized, code: "wrong_pin", msg: "That is not the operator PIN."}
		}
		a.lock.Succeeded(client)
		return proofBearer, nil
	}
	if a.sessionOf(r) != nil {
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
