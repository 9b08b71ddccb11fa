package web

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"casefleet/shared/locale"
	"casefleet/shared/machine"
)

// Options tune the web app.
type Options struct {
	// MachineCode is this agent's machine: /editor without ?machine= opens
	// its page, and a code of another machine shows "unknown machine"
	// (through the relay, requests only reach the machine they name).
	MachineCode string
	// MaxUploadBytes and MaxPixels are the agent's image limits, so that
	// the page can refuse a photo before a long upload. Zero: unknown.
	MaxUploadBytes int64
	MaxPixels      int64
	Logger         *slog.Logger
}

//go:embed editor.html
var editorHTML string

// app serves the page and its files.
type app struct {
	opt     Options
	log     *slog.Logger
	assets  assets
	page    *template.Template
	strings map[string]json.RawMessage // language code -> its string file
	matcher *locale.Matcher
}

// Handler serves GET /editor and GET /app/... (mount both on it).
func Handler(opt Options) (http.Handler, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	as, err := loadAssets()
	if err != nil {
		return nil, err
	}
	page, err := template.New("editor").Parse(editorHTML)
	if err != nil {
		return nil, fmt.Errorf("web app page: %w", err)
	}
	a := &app{opt: opt, log: opt.Logger, assets: as, page: page, strings: map[string]json.RawMessage{}, matcher: locale.NewMatcher()}
	for _, l := range locale.Languages() {
		s := as["i18n/"+l.Code+".json"]
		if s == nil || !json.Valid(s.body) {
			return nil, fmt.Errorf("web app: strings for %s missing or not JSON", l.Code)
		}
		a.strings[l.Code] = s.body
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /editor", a.editor)
	mux.HandleFunc("GET /app/", as.serve)
	return mux, nil
}

// moduleNames are the page's JavaScript modules, by the bare names they
// import each other with ("casefleet/" + name).
func moduleNames() []string {
	return []string{"main", "api", "i18n", "store", "preview", "prepare", "gestures", "editor", "picker", "status", "events", "notify", "problems", "view"}
}

// locationPattern bounds the optional ?location= (an opaque hint).
var locationPattern = regexp.MustCompile(`^[\p{L}\p{N} ._-]{1,64}$`)

// pageData fills editor.html.
type pageData struct {
	Lang      string
	Dir       string
	Title     string
	Nonce     string
	CSS       string
	Icon      string
	Main      string
	ImportMap template.HTML // JSON from json.Marshal: <, > and & are escaped
	Boot      template.JS   // likewise
	Languages []langOption
}

type langOption struct {
	Code, Name string
	Selected   bool
}

// boot is what the page starts from, in its <script id="boot">.
type boot struct {
	Machine        string            `json:"machine"`   // "" when the code is not valid here
	Requested      string            `json:"requested"` // the code as asked for, for the unknown-machine page
	Location       string            `json:"location,omitempty"`
	Lang           string            `json:"lang"`
	Strings        json.RawMessage   `json:"strings"`
	Locales        map[string]string `json:"locales"` // language -> URL of its strings
	ServiceWorker  string            `json:"serviceWorker"`
	MaxUploadBytes int64             `json:"maxUploadBytes,omitempty"`
	MaxPixels      int64             `json:"maxPixels,omitempty"`
}

// editor serves the page for the machine of ?machine= (this kiosk's when
// absent; the unknown-machine page, with 404, for any other).
func (a *app) editor(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	requested := q.Get("machine")
	if requested == "" && a.opt.MachineCode != "" {
		target := url.Values{"machine": {a.opt.MachineCode}}
		if l := q.Get("location"); l != "" {
			target.Set("location", l)
		}
		http.Redirect(w, r, "/editor?"+target.Encode(), http.StatusFound)
		return
	}
	code, status := requested, http.StatusOK
	if machine.ValidateCode(code) != nil || (a.opt.MachineCode != "" && code != a.opt.MachineCode) {
		code, status = "", http.StatusNotFound
	}
	if len(requested) > 32 {
		requested = requested[:32]
	}
	location := q.Get("location")
	if !locationPattern.MatchString(location) {
		location = ""
	}
	lang := a.matcher.ForRequest(r)
	nonce := rand.Text()

	data, err := a.pageData(code, requested, location, lang, nonce)
	if err != nil {
		a.fail(w, err)
		return
	}
	var page bytes.Buffer
	if err := a.page.Execute(&page, data); err != nil {
		a.fail(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang.Code)
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie, Accept-Encoding")
	setSecurityHeaders(h, nonce)
	body := page.Bytes()
	if acceptsGzip(r) {
		var zipped bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zipped, gzip.BestSpeed)
		zw.Write(body)
		zw.Close()
		h.Set("Content-Encoding", "gzip")
		body = zipped.Bytes()
	}
	w.WriteHeader(status)
	w.Write(body)
}

// pageData fills the page for machine code ("" when unknown here): every
// URL in it carries ?machine=, and the strings of lang travel inline.
func (a *app) pageData(code, requested, location string, lang locale.Language, nonce string) (pageData, error) {
	machineParam := url.QueryEscape(code)
	imports := map[string]string{}
	for _, m := range moduleNames() {
		imports["casefleet/"+m] = a.assets.url(m+".js", machineParam)
	}
	importMap, err := json.Marshal(map[string]any{"imports": imports})
	if err != nil {
		return pageData{}, err
	}
	locales := map[string]string{}
	for _, l := range locale.Languages() {
		locales[l.Code] = a.assets.url("i18n/"+l.Code+".json", machineParam)
	}
	bootJSON, err := json.Marshal(boot{
		Machine: code, Requested: requested, Location: location, Lang: lang.Code, Strings: a.strings[lang.Code],
		Locales: locales, ServiceWorker: a.assets.url("sw.js", machineParam),
		MaxUploadBytes: a.opt.MaxUploadBytes, MaxPixels: a.opt.MaxPixels,
	})
	if err != nil {
		return pageData{}, err
	}
	var title struct {
		Title string `json:"app.title"`
	}
	_ = json.Unmarshal(a.strings[lang.Code], &title)
	data := pageData{
		Lang: lang.Code, Dir: lang.Dir(), Title: title.Title, Nonce: nonce,
		CSS: a.assets.url("app.css", machineParam), Icon: a.assets.url("icon.svg", machineParam),
		Main:      a.assets.url("main.js", machineParam),
		ImportMap: template.HTML(importMap), Boot: template.JS(bootJSON),
	}
	for _, l := range locale.Languages() {
		data.Languages = append(data.Languages, langOption{Code: l.Code, Name: l.Name, Selected: l.Code == lang.Code})
	}
	return data, nil
}

// setSecurityHeaders allows the page only its own scripts (the import map
// by its nonce), styles and connections.
func setSecurityHeaders(h http.Header, nonce string) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' 'nonce-" + nonce + "'",
		"style-src 'self'",
		// Phone pictures come from the vendor's servers; photos are blobs.
		"img-src 'self' data: blob: https: http:",
		"connect-src 'self'",
		"worker-src 'self'",
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; "))
}

func (a *app) fail(w http.ResponseWriter, err error) {
	a.log.Error("render the web app page", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}
