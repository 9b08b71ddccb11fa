package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"casefleet/relay/fleet"
	"casefleet/relay/route"
	"casefleet/shared/enroll"
	"casefleet/shared/lockout"
)

// The fleet owner logs in with a token from `casefleet-relay issue-admin`
// (signed by the fleet key, so every relay accepts it with the fleet.pub it
// already has). A login starts a server-side session: the cookie carries a
// random value, the relay keeps (in Redis when it has one, so any relay
// accepts it; else in memory) the session by the hash of that value. So
// logout ends a session at once everywhere, and revoking the token
// (jti:<id> in the revocations file) ends every session it started, live
// streams included.
const (
	fleetCookie        = "casefleet_fleet"
	fleetCookiePath    = "/fleet/"
	fleetSessionLength = 12 * time.Hour
	maxFleetCookieLen  = 128
	maxFleetSessions   = 1024 // in memory; the soonest to end makes room
	maxLoginBody       = 8 << 10
)

// fleetSession is one owner's login.
type fleetSession struct {
	TokenID string `json:"jti"`  // the admin token's id, for revocation
	Name    string `json:"name"` // its holder
	CSRF    string `json:"csrf"` // for the session's forms
	Expires int64  `json:"exp"`  // Unix seconds
}

// sessionStore keeps sessions by key (the hash of the cookie).
type sessionStore interface {
	put(ctx context.Context, key string, s fleetSession, ttl time.Duration) error
	get(ctx context.Context, key string) (fleetSession, bool, error)
	del(ctx context.Context, key string) error
}

// memSessions is the store of a relay without Redis.
type memSessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]fleetSession
}

func (s *memSessions) put(_ context.Context, key string, v fleetSession, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxFleetSessions {
		var soonest string
		for k, o := range s.m {
			if soonest == "" || o.Expires < s.m[soonest].Expires {
				soonest = k
			}
		}
		delete(s.m, soonest)
	}
	s.m[key] = v
	return nil
}

func (s *memSessions) get(_ context.Context, key string) (fleetSession, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if ok && s.now().Unix() >= v.Expires {
		delete(s.m, key)
		return fleetSession{}, false, nil
	}
	return v, ok, nil
}

func (s *memSessions) del(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// redisSessions keeps sessions in the directory's Redis.
type redisSessions struct{ dir *route.Directory }

func (s redisSessions) put(ctx context.Context, key string, v fleetSession, ttl time.Duration) error {
	b, _ := json.Marshal(v)
	return s.dir.PutSession(ctx, key, b, ttl)
}

func (s redisSessions) get(ctx context.Context, key string) (fleetSession, bool, error) {
	b, ok, err := s.dir.GetSession(ctx, key)
	if err != nil || !ok {
		return fleetSession{}, false, err
	}
	var v fleetSession
	if len(b) > 4<<10 || json.Unmarshal(b, &v) != nil || v.TokenID == "" || v.CSRF == "" {
		return fleetSession{}, false, nil
	}
	return v, true, nil
}

func (s redisSessions) del(ctx context.Context, key string) error {
	return s.dir.DeleteSession(ctx, key)
}

// fleetAuth checks admin tokens and sessions.
type fleetAuth struct {
	s     *Server
	now   func() time.Time
	store sessionStore
	lock  *loginLock
}

func newFleetAuth(s *Server, now func() time.Time) *fleetAuth {
	a := &fleetAuth{s: s, now: now, lock: &loginLock{dir: s.dir, mem: lockout.New(lockout.Default(), now), log: func(msg string, err error) { s.log.Warn(msg, "err", err) }}}
	if s.dir != nil {
		a.store = redisSessions{s.dir}
	} else {
		a.store = &memSessions{now: now, m: map[string]fleetSession{}}
	}
	return a
}

// errNoSessions means the token was good but no session could be kept
// (Redis does not answer).
var errNoSessions = errors.New("sessions cannot be stored now")

// errLocked means the client must wait before trying another token.
type errLocked struct{ wait time.Duration }

func (e errLocked) Error() string { return fmt.Sprintf("locked out for %v", e.wait) }

// login checks token for client; on success it starts a session and
// returns its cookie value.
func (a *fleetAuth) login(ctx context.Context, client, token string) (value string, sess fleetSession, err error) {
	if wait := a.lock.wait(ctx, client); wait > 0 {
		return "", fleetSession{}, errLocked{wait}
	}
	now := a.now()
	c, err := fleet.VerifyAdmin(a.s.pub, a.s.revs.Load(), token, now)
	if err != nil {
		if locked := a.lock.failed(ctx, client); locked > 0 {
			return "", fleetSession{}, errLocked{locked}
		}
		return "", fleetSession{}, err
	}
	a.lock.succeeded(ctx, client)
	exp := now.Add(fleetSessionLength)
	if c.ExpiresAt != 0 && time.Unix(c.ExpiresAt, 0).Before(exp) {
		exp = time.Unix(c.ExpiresAt, 0)
	}
	value, csrf := randomValue(), randomValue()
	sess = fleetSession{TokenID: c.ID, Name: c.Name, CSRF: csrf, Expires: exp.Unix()}
	if err := a.store.put(ctx, sessionKey(value), sess, exp.Sub(now)); err != nil {
		return "", fleetSession{}, fmt.Errorf("%w: %w", errNoSessions, err)
	}
	return value, sess, nil
}

// session returns the live session of r's cookie. A session whose token
// has been revoked since is ended here.
func (a *fleetAuth) session(ctx context.Context, r *http.Request) (fleetSession, bool) {
	c, err := r.Cookie(fleetCookie)
	if err != nil || len(c.Value) > maxFleetCookieLen || c.Value == "" {
		return fleetSession{}, false
	}
	key := sessionKey(c.Value)
	sess, ok, err := a.store.get(ctx, key)
	if err != nil {
		a.s.log.Warn("fleet session", "err", err)
		return fleetSession{}, false
	}
	if !ok || a.now().Unix() >= sess.Expires {
		return fleetSession{}, false
	}
	if err := a.s.revs.Load().Check(enroll.Claims{ID: sess.TokenID}); err != nil {
		a.store.del(ctx, key)
		a.s.log.Info("fleet session ended: its token is revoked", "token", sess.TokenID, "name", sess.Name)
		return fleetSession{}, false
	}
	return sess, true
}

// logout ends r's session.
func (a *fleetAuth) logout(ctx context.Context, r *http.Request) error {
	c, err := r.Cookie(fleetCookie)
	if err != nil || len(c.Value) > maxFleetCookieLen {
		return nil
	}
	return a.store.del(ctx, sessionKey(c.Value))
}

func sessionKey(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(h[:])
}

// randomValue is 256 random bits, base64url.
func randomValue() string {
	var b [32]byte
	rand.Read(b[:]) // never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// lockoutKey names a client for the lockout: its address, and for IPv6
// its /64, since one device can use many addresses of its network.
func lockoutKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

// isLocked reports a lockout and its wait.
func isLocked(err error) (time.Duration, bool) {
	var l errLocked
	if errors.As(err, &l) {
		return l.wait, true
	}
	return 0, false
}
