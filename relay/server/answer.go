package server

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
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

// failure is an answer the relay gives itself, in JSON for programs and
// as a page for browsers.
type failure struct {
	status     int
	code       string
	message    string // one sentence, for the customer
	title      string // the page's heading
	machine    string
	alts       *[]MachineInfo
	retryAfter time.Duration
}

// write answers r with f.
func (f failure) write(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((f.retryAfter+time.Second-1)/time.Second)))
	}
	if wantsHTML(r) {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.WriteHeader(f.status)
		if r.Method != http.MethodHead {
			pageTemplate.Execute(w, f.page())
		}
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(f.status)
	if r.Method != http.MethodHead {
		b, _ := json.Marshal(apiError{errorDetail{Code: f.code, Message: f.message, Machine: f.machine, Alternatives: f.alts}})
		w.Write(append(b, '\n'))
	}
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

type pageData struct {
	Title, Message string
	Alternatives   []MachineInfo
	ShowAlts       bool
}

func (f failure) page() pageData {
	d := pageData{Title: f.title, Message: f.message}
	if d.Title == "" {
		d.Title = http.StatusText(f.status)
	}
	if f.alts != nil {
		d.Alternatives, d.ShowAlts = *f.alts, true
	}
	return d
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:2rem 1.25rem;max-width:32rem;margin-inline:auto;color:#1b1b1f;background:#fafafa;line-height:1.5}
h1{font-size:1.4rem;margin:0 0 .75rem}
ul{list-style:none;padding:0}
li a{display:block;padding:.9rem 1rem;margin:.5rem 0;border-radius:.6rem;background:#fff;border:1px solid #d0d0d7;color:#0b57d0;text-decoration:none}
li a span{display:block;color:#55555f;font-size:.9rem}
</style></head>
<body><main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .ShowAlts}}{{if .Alternatives}}<h2 style="font-size:1.1rem">Other machines nearby</h2>
<ul>{{range .Alternatives}}<li><a href="{{.EditorURL}}">{{if .Name}}{{.Name}}{{else}}{{.Code}}{{end}}<span>{{.Code}} · {{.Status}} · {{.QueueLength}} in line</span></a></li>{{end}}</ul>
{{else}}<p>No other machine nearby is online right now. Please try again in a few minutes.</p>{{end}}{{end}}
</main></body></html>
`))
