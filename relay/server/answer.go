package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"casefleet/relay/pages"
	"casefleet/shared/locale"
)

// apiError is the error shape of every casefleet API, with the relay's
// extras for a machine that cannot be reached.
type apiError struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Machine string `json:"machine,omitempty"`
	// Alternatives are other online machines at the same location; set
	// (possibly empty) for unknown_machine and machine_offline.
	Alternatives *[]MachineInfo `json:"alternatives,omitempty"`
}

// failure is an answer the relay gives itself: JSON for programs, a
// page in the customer's language for browsers (relay/pages). Its code
// names both the JSON error code and the page's strings.
type failure struct {
	status     int
	code       string
	vars       map[string]string // placeholders of the page's text ({mb})
	machine    string
	alts       *[]MachineInfo
	retryAfter time.Duration
}

// answer writes f for r.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, f failure) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept") // a page for browsers, JSON for programs
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retrySeconds(f.retryAfter)))
	}
	if wantsHTML(r) {
		s.answerPage(w, r, f)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(f.status)
	if r.Method != http.MethodHead {
		msg := s.pages.Text(locale.Fallback(), f.code+".text", f.vars)
		b, _ := json.Marshal(apiError{errorDetail{Code: f.code, Message: msg, Machine: f.machine, Alternatives: f.alts}})
		w.Write(append(b, '\n'))
	}
}

// answerPage writes f as a page in the customer's language. A language
// chosen with ?lang= on the page is kept in the cookie the web app's
// switch also sets, so the machine's app behind the next link speaks it.
func (s *Server) answerPage(w http.ResponseWriter, r *http.Request, f failure) {
	lang := s.langs.ForRequest(r)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang.Code)
	h.Add("Vary", "Accept-Language, Cookie")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	if l, ok := locale.Lookup(r.URL.Query().Get("lang")); ok {
		secure := originOf(r, s.trusted).proto == "https"
		http.SetCookie(w, &http.Cookie{Name: locale.Cookie, Value: l.Code, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, Secure: secure})
	}
	w.WriteHeader(f.status)
	if r.Method == http.MethodHead {
		return
	}
	p := pages.Problem{Lang: lang, Code: f.code, Vars: f.vars, Machine: f.machine, URL: r.URL}
	if f.retryAfter > 0 && r.Method == http.MethodGet {
		// The page tries again when Retry-After says it may (a machine
		// whose agent is away, a rate limit): a customer who waits lands
		// in the app once the agent is back, without a tap.
		p.RetryAfter = retrySeconds(f.retryAfter)
	}
	if f.alts != nil {
		p.OfferAlternatives = true
		for _, m := range *f.alts {
			p.Alternatives = append(p.Alternatives, pages.Alternative{
				Name: m.Name, Code: m.Code, URL: m.EditorURL,
				QueueLength: m.QueueLength, EstimatedWaitSeconds: m.EstimatedWaitSeconds, Full: m.Full,
			})
		}
	}
	if err := s.pages.Render(w, p); err != nil {
		s.log.Debug("write page", "code", f.code, "err", err)
	}
}

// retrySeconds is d in whole seconds, rounded up, for Retry-After and
// the page's own retry alike.
func retrySeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// wantsHTML reports whether the client is a browser navigating, rather
// than a program (the web app's fetch calls, curl) wanting JSON.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}
