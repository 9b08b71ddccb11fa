package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

//go:embed static
var staticFiles embed.FS

//go:embed pages/*.html
var pageFiles embed.FS

var (
	static = mustSub(staticFiles, "static")
	pages  = template.Must(template.ParseFS(pageFiles, "pages/*.html"))
)

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Paths. Handler expects to be mounted at /operator/ (and /operator) of
// the LAN listener's mux, with the full path left on the request.
const (
	basePath  = "/operator/"
	loginPath = "/operator/login"
	apiPath   = "/operator/api"
)

// Handler routes the dashboard: the page, login and logout, its static
// files, and the operator API.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /operator", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, basePath, http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /operator/{$}", d.index)
	mux.HandleFunc("GET "+loginPath, d.loginPage)
	mux.HandleFunc("POST "+loginPath, d.login)
	mux.HandleFunc("POST /operator/logout", d.logout)
	mux.HandleFunc("GET /operator/static/{file}", serveStatic)

	mux.Handle("GET "+apiPath+"/state", d.api(d.getState))
	mux.Handle("GET "+apiPath+"/events", d.api(d.stream))
	mux.Handle("POST "+apiPath+"/pause", d.api(d.pause))
	mux.Handle("POST "+apiPath+"/resume", d.api(d.resume))
	mux.Handle("POST "+apiPath+"/orders/{id}/cancel", d.api(d.cancel))
	mux.Handle("POST "+apiPath+"/orders/{id}/retry", d.api(d.retry))
	mux.Handle("POST "+apiPath+"/orders/{id}/printed", d.api(d.printed))
	mux.Handle("POST "+apiPath+"/nozzle/clean", d.api(d.clean))
	mux.Handle("POST "+apiPath+"/qr/show", d.api(d.qrShow))
	mux.Handle("GET "+apiPath+"/qr.png", d.api(d.qrPNG))
	mux.Handle("GET "+apiPath+"/qr.svg", d.api(d.qrSVG))
	mux.Handle("GET "+apiPath+"/store/check", d.api(d.storeCheck))
	mux.HandleFunc(apiPath+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, code: "not_found", msg: "There is no such operator API."})
	})
	mux.HandleFunc(basePath, func(w http.ResponseWriter, r *http.Request) {
		d.renderPage(w, http.StatusNotFound, pageData{Title: "Not found", Message: "There is no such page on the operator dashboard."})
	})

	// Browsers must not send state-changing requests from other sites,
	// whatever cookies they hold (Sec-Fetch-Site / Origin checks).
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errCrossOrigin)
	}))
	return securityHeaders(cop.Handler(mux))
}

var errCrossOrigin = &apiError{status: http.StatusForbidden, code: "cross_origin", msg: "Requests from other sites are refused. Use the dashboard itself."}

// securityHeaders: no framing, no outside content, no caching of what
// operators see.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// api wraps an operator API handler: the caller must be an operator, and
// a POST that relies on the session cookie must carry the CSRF header.
func (d *Dashboard) api(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, fail := d.auth.check(r)
		if fail != nil {
			writeError(w, &apiError{status: fail.status, code: fail.code, msg: fail.msg, retryAfter: fail.retryAfter})
			return
		}
		if p == proofCookie && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get(csrfHeader) != "1" {
			writeError(w, &apiError{status: http.StatusForbidden, code: "csrf", msg: "This request must come from the dashboard page (" + csrfHeader + " header missing)."})
			return
		}
		if p == proofCookie {
			// The request (a live stream above all) ends with its session:
			// at logout, or when the shift's session runs out.
			if s := d.auth.sessionOf(r); s != nil {
				ctx, cancel := context.WithTimeout(r.Context(), s.expires.Sub(d.opt.Now()))
				defer cancel()
				defer context.AfterFunc(s.ended, cancel)()
				r = r.WithContext(ctx)
			}
		}
		if err := h(w, r); err != nil {
			var e *apiError
			if !errors.As(err, &e) {
				d.log.Error("operator request failed", "path", r.URL.Path, "err", err)
				e = &apiError{status: http.StatusInternalServerError, code: "internal", msg: "Something went wrong on the kiosk. Please try again; if it keeps happening, restart the agent."}
			}
			writeError(w, e)
		}
	})
}

// apiError is an answer other than success, written as
// {"error": {"code", "message"}} like the customer API's.
type apiError struct {
	status     int
	code, msg  string
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.status, map[string]any{"error": map[string]string{"code": e.code, "message": e.msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// serveStatic serves the page's script and style sheet. They hold nothing
// secret, so the login page can use them too.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "index.html" {
		http.NotFound(w, r) // the page itself is served only to operators
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, static, name)
}
