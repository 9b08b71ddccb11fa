package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"casefleet/relay/fleet"
	"casefleet/relay/fleetpage"
	"casefleet/relay/sticker"
	"casefleet/shared/locale"
	"casefleet/shared/machine"
)

// Paths of the fleet page.
const (
	fleetPrefix      = "/fleet/"
	fleetLoginPath   = "/fleet/login"
	fleetLogoutPath  = "/fleet/logout"
	fleetEventsPath  = "/fleet/events"
	fleetCSVPath     = "/fleet/fleet.csv"
	fleetScriptPath  = "/fleet/fleet.js"
	fleetStickerPath = "/fleet/sticker/"
	// fleetHeartbeat keeps a live stream's connection from idling out and
	// is when a stream rechecks its session.
	fleetHeartbeat = 5 * time.Second
)

const fleetCSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// serveFleet answers everything under /fleet/.
func (s *Server) serveFleet(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin") // "no-referrer" would make Chromium send Origin: null with the forms
	h.Set("Content-Security-Policy", fleetCSP)
	p := r.URL.Path
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case p == "/fleet" && get:
		http.Redirect(w, r, fleetPrefix, http.StatusMovedPermanently)
	case p == fleetScriptPath && get:
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(s.fleetPages.Script())
	case p == fleetLoginPath && get:
		if _, ok := s.fleetAuth.session(r.Context(), r); ok {
			http.Redirect(w, r, fleetPrefix, http.StatusSeeOther)
			return
		}
		problem := ""
		if r.URL.Query().Get("ended") != "" {
			problem = "ended"
		}
		s.fleetLoginPage(w, r, http.StatusOK, problem, 0)
	case p == fleetLoginPath && r.Method == http.MethodPost:
		s.fleetLogin(w, r)
	case p == fleetLogoutPath && r.Method == http.MethodPost:
		s.fleetLogout(w, r)
	case p == fleetPrefix && get, p == fleetEventsPath && get, p == fleetCSVPath && get,
		strings.HasPrefix(p, fleetStickerPath) && get:
		sess, ok := s.fleetAuth.session(r.Context(), r)
		if !ok {
			if p == fleetPrefix {
				http.Redirect(w, r, fleetLoginPath, http.StatusSeeOther)
				return
			}
			http.Error(w, "log in at "+fleetLoginPath, http.StatusUnauthorized)
			return
		}
		switch {
		case p == fleetPrefix:
			s.fleetPage(w, r, sess)
		case p == fleetEventsPath:
			s.fleetEvents(w, r)
		case p == fleetCSVPath:
			s.fleetCSV(w, r)
		default:
			s.fleetSticker(w, r)
		}
	case p == fleetPrefix || p == fleetLoginPath || p == fleetLogoutPath || p == fleetEventsPath || p == fleetCSVPath || p == fleetScriptPath:
		h.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

// fleetLang is the page's language, kept in the language switch's cookie
// when chosen with ?lang=.
func (s *Server) fleetLang(w http.ResponseWriter, r *http.Request) locale.Language {
	lang := s.langs.ForRequest(r)
	if l, ok := locale.Lookup(r.URL.Query().Get("lang")); ok {
		secure := originOf(r, s.trusted).proto == "https"
		http.SetCookie(w, &http.Cookie{Name: locale.Cookie, Value: l.Code, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, Secure: secure})
	}
	w.Header().Set("Content-Language", lang.Code)
	w.Header().Add("Vary", "Accept-Language, Cookie")
	return lang
}

func (s *Server) fleetLoginPage(w http.ResponseWriter, r *http.Request, status int, problem string, wait time.Duration) {
	lang := s.fleetLang(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(wait)))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	u := *r.URL
	u.Path = fleetLoginPath
	q := u.Query()
	q.Del("ended")
	u.RawQuery = q.Encode()
	if err := s.fleetPages.Login(w, fleetpage.LoginView{Lang: lang, URL: &u, Problem: problem, RetryAfter: wait}); err != nil {
		s.log.Debug("write fleet login page", "err", err)
	}
}

// sameOrigin refuses a cross-site POST: a browser sends Origin (and
// Sec-Fetch-Site) with every POST; a script without them is not a
// browser, so not a cross-site forgery.
func sameOrigin(r *http.Request, o origin) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if org := r.Header.Get("Origin"); org != "" {
		return org == o.proto+"://"+o.host
	}
	return true
}

// fleetForm checks that a POST comes from the page itself and reads its
// small form; false when it has answered already.
func fleetForm(w http.ResponseWriter, r *http.Request, trusted []netip.Prefix) (origin, bool) {
	o := originOf(r, trusted)
	if !sameOrigin(r, o) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return o, false
	}
	return o, readForm(w, r)
}

// readForm reads a small urlencoded form body.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		http.Error(w, "send a form (application/x-www-form-urlencoded)", http.StatusUnsupportedMediaType)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return false
	}
	return true
}

func (s *Server) fleetLogin(w http.ResponseWriter, r *http.Request) {
	o, ok := fleetForm(w, r, s.trusted)
	if !ok {
		return
	}
	if l, ok := locale.Lookup(r.PostForm.Get("lang")); ok {
		q := r.URL.Query()
		q.Set("lang", l.Code)
		r.URL.RawQuery = q.Encode()
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	client := lockoutKey(o.client)
	value, sess, err := s.fleetAuth.login(r.Context(), client, token)
	if wait, locked := isLocked(err); locked {
		s.log.Warn("fleet login locked out", "client", client, "wait", wait)
		s.fleetLoginPage(w, r, http.StatusTooManyRequests, "locked", wait)
		return
	}
	if errors.Is(err, errNoSessions) {
		s.log.Warn("fleet login: no session store", "err", err)
		w.Header().Set("Retry-After", "30")
		s.fleetLoginPage(w, r, http.StatusServiceUnavailable, "unavailable", 0)
		return
	}
	if err != nil {
		problem := "wrong"
		if !errors.Is(err, fleet.ErrNotAdminToken) {
			problem = "expired" // expired, not yet valid, revoked: a real token
		}
		s.log.Info("fleet login refused", "client", client, "err", err)
		s.fleetLoginPage(w, r, http.StatusUnauthorized, problem, 0)
		return
	}
	s.log.Info("fleet login", "name", sess.Name, "token", sess.TokenID, "client", client)
	http.SetCookie(w, &http.Cookie{
		Name: fleetCookie, Value: value, Path: fleetCookiePath, Expires: time.Unix(sess.Expires, 0),
		HttpOnly: true, Secure: o.proto == "https", SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, fleetPrefix, http.StatusSeeOther)
}

func (s *Server) fleetLogout(w http.ResponseWriter, r *http.Request) {
	o, ok := fleetForm(w, r, s.trusted)
	if !ok {
		return
	}
	sess, ok := s.fleetAuth.session(r.Context(), r)
	if ok && r.PostForm.Get("csrf") != sess.CSRF {
		http.Error(w, "stale form: reload the page", http.StatusForbidden)
		return
	}
	if ok {
		if err := s.fleetAuth.logout(r.Context(), r); err != nil {
			s.log.Warn("fleet logout", "err", err)
			http.Error(w, "could not log out; try again", http.StatusServiceUnavailable)
			return
		}
		s.log.Info("fleet logout", "name", sess.Name, "token", sess.TokenID)
	}
	http.SetCookie(w, &http.Cookie{Name: fleetCookie, Value: "", Path: fleetCookiePath, MaxAge: -1, HttpOnly: true, Secure: o.proto == "https", SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, fleetLoginPath, http.StatusSeeOther)
}

// fleetView is the view for r: the latest snapshot, r's filter and
// language.
func (s *Server) fleetView(w http.ResponseWriter, r *http.Request, snap *fleetSnap) fleetpage.View {
	q := r.URL.Query()
	return fleetpage.View{
		Lang: s.fleetLang(w, r), URL: r.URL, Machines: snap.machines, Partial: snap.partial,
		Filter: fleetpage.ParseFilter(q.Get("location"), q.Get("problem")),
	}
}

// fleetSnapshot is the latest snapshot. It waits (briefly) for the first
// round, so a page opened as the relay starts is not empty, and for a
// round when a tunnel came or went here since the last.
func (s *Server) fleetSnapshot(r *http.Request) *fleetSnap {
	s.fleet.want()
	s.fleet.refresh() // gathering may have stopped while nobody looked
	timeout := time.NewTimer(fleetSummaryTimeout + time.Second)
	defer timeout.Stop()
	select {
	case <-s.fleet.gathered:
	case <-r.Context().Done():
	case <-timeout.C:
	}
	if next := s.fleet.upToDate(); next != nil {
		select {
		case <-next:
		case <-r.Context().Done():
		case <-timeout.C:
		}
	}
	snap, _ := s.fleet.current()
	return snap
}

func (s *Server) fleetPage(w http.ResponseWriter, r *http.Request, sess fleetSession) {
	v := s.fleetView(w, r, s.fleetSnapshot(r))
	v.CSRF = sess.CSRF
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	if err := s.fleetPages.Fleet(w, v); err != nil {
		s.log.Debug("write fleet page", "err", err)
	}
}

// fleetEvents streams the table (Server-Sent Events) each time the fleet
// changes, until the session ends, the client goes or the relay stops.
func (s *Server) fleetEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream: no request_timeout
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	s.fleetSnapshot(r)
	var sent uint64
	first := true
	beat := time.NewTicker(fleetHeartbeat)
	defer beat.Stop()
	for {
		snap, changed := s.fleet.current()
		if first || snap.version != sent {
			v := s.fleetView(w, r, snap)
			html, err := s.fleetPages.Table(v)
			if err != nil {
				s.log.Warn("render fleet table", "err", err)
				return
			}
			data, _ := json.Marshal(struct {
				Version uint64 `json:"version"`
				HTML    string `json:"html"`
			}{snap.version, string(html)})
			rc.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
			if _, err := fmt.Fprintf(w, "event: snapshot\nid: %d\ndata: %s\n\n", snap.version, data); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			sent, first = snap.version, false
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.fleet.closing:
			return
		case <-changed:
		case <-beat.C:
			s.fleet.want() // an open page keeps the relays gathering
			if _, ok := s.fleetAuth.session(r.Context(), r); !ok {
				fmt.Fprint(w, "event: end\ndata: {}\n\n")
				rc.Flush()
				return
			}
			rc.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func (s *Server) fleetCSV(w http.ResponseWriter, r *http.Request) {
	snap := s.fleetSnapshot(r)
	q := r.URL.Query()
	ms := fleetpage.ParseFilter(q.Get("location"), q.Get("problem")).Apply(snap.machines)
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="fleet-`+time.Now().UTC().Format("20060102-1504")+`.csv"`)
	if r.Method == http.MethodHead {
		return
	}
	if err := fleetpage.CSV(w, ms); err != nil {
		s.log.Debug("write fleet csv", "err", err)
	}
}

// fleetSticker answers /fleet/sticker/CODE.svg: the kiosk's QR sticker,
// for a machine the relay knows.
func (s *Server) fleetSticker(w http.ResponseWriter, r *http.Request) {
	code, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, fleetStickerPath), ".svg")
	if !ok || machine.ValidateCode(code) != nil {
		http.NotFound(w, r)
		return
	}
	snap := s.fleetSnapshot(r)
	var m *fleetpage.Machine
	for i := range snap.machines {
		if snap.machines[i].Code == code {
			m = &snap.machines[i]
		}
	}
	if m == nil {
		http.NotFound(w, r)
		return
	}
	base := s.cfg.PublicURL
	if base == "" {
		o := originOf(r, s.trusted)
		base = o.proto + "://" + o.host
	}
	st, err := sticker.New(base, m.Code, m.Location, m.Name())
	if err != nil {
		// A name or location the sticker cannot print: the code alone.
		if st, err = sticker.New(base, m.Code, "", ""); err != nil {
			http.Error(w, "cannot make this sticker: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Content-Disposition", `inline; filename="`+m.Code+`.svg"`)
	if r.Method == http.MethodHead {
		return
	}
	w.Write(st.Label().SVG())
}
