package dashboard

import (
	"bytes"
	"net/http"
	"strconv"
	"time"
)

// pageData fills pages/page.html: the login form, or a message page.
type pageData struct {
	Title   string
	Message string
	Error   string
	Login   bool // show the PIN form
	Machine string
}

func (d *Dashboard) renderPage(w http.ResponseWriter, status int, p pageData) {
	if p.Machine == "" {
		p.Machine = d.opt.Name
		if p.Machine == "" {
			p.Machine = d.opt.MachineCode
		}
	}
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, "page.html", p); err != nil {
		d.log.Error("render page", "err", err)
		http.Error(w, "page unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (d *Dashboard) offPage(w http.ResponseWriter) {
	d.renderPage(w, http.StatusForbidden, pageData{Title: "Operator dashboard is switched off", Message: offMessage})
}

// index serves the dashboard page to operators and sends others to log in.
func (d *Dashboard) index(w http.ResponseWriter, r *http.Request) {
	if _, fail := d.auth.check(r); fail != nil {
		switch fail.code {
		case "dashboard_off":
			d.offPage(w)
		case "locked_out":
			d.lockedPage(w, fail.retryAfter)
		default:
			http.Redirect(w, r, loginPath, http.StatusSeeOther)
		}
		return
	}
	http.ServeFileFS(w, r, static, "index.html")
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	if !d.auth.enabled() {
		d.offPage(w)
		return
	}
	if c, err := r.Cookie(cookieName); err == nil && d.auth.validSession(c.Value) {
		http.Redirect(w, r, basePath, http.StatusSeeOther)
		return
	}
	d.renderPage(w, http.StatusOK, pageData{Title: "Operator login", Login: true})
}

func (d *Dashboard) lockedPage(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	d.renderPage(w, http.StatusTooManyRequests, pageData{
		Title: "Operator login", Login: true,
		Error: "Too many wrong PINs from this device. Try again in " + humanWait(wait) + ".",
	})
}

// maxLoginForm bounds the login form's body.
const maxLoginForm = 4 << 10

// login checks the PIN from the form and starts a session.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if !d.auth.enabled() {
		d.offPage(w)
		return
	}
	client := clientKey(r)
	if wait := d.auth.lock.Wait(client); wait > 0 {
		d.lockedPage(w, wait)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		d.renderPage(w, http.StatusBadRequest, pageData{Title: "Operator login", Login: true, Error: "The form could not be read. Please try again."})
		return
	}
	if !d.auth.pinMatches(r.PostForm.Get("pin")) {
		left, locked := d.auth.lock.Failed(client)
		d.log.Warn("wrong operator PIN", "client", client, "tries_left", left)
		if locked > 0 {
			d.lockedPage(w, locked)
			return
		}
		msg := "That PIN is not right. " + strconv.Itoa(left) + " more tries before a pause."
		if left == 1 {
			msg = "That PIN is not right. 1 more try before a pause."
		}
		d.renderPage(w, http.StatusUnauthorized, pageData{Title: "Operator login", Login: true, Error: msg})
		return
	}
	d.auth.lock.Succeeded(client)
	value, exp, err := d.auth.newSession()
	if err != nil {
		d.log.Error("start operator session", "err", err)
		http.Error(w, "cannot start a session", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: cookiePath, Expires: exp,
		MaxAge: int(sessionLength / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil,
	})
	d.log.Info("operator logged in", "client", client)
	http.Redirect(w, r, basePath, http.StatusSeeOther)
}

// logout ends the session on the agent, not only in this browser: a copy
// of the cookie is worthless afterwards.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		d.auth.endSession(c.Value)
		d.log.Info("operator logged out", "client", clientKey(r))
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
}
