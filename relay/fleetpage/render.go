package fleetpage

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"casefleet/shared/locale"
)

//go:embed pages.html fleet.js strings/*.json
var files embed.FS

// Pages holds the parsed templates and every language's strings. It is
// safe for concurrent use.
type Pages struct {
	tmpl    *template.Template
	strings map[string]map[string]string
	script  []byte
}

// New loads the embedded templates and strings; it fails when a language
// lacks a string English has.
func New() (*Pages, error) {
	p := &Pages{strings: map[string]map[string]string{}}
	for _, l := range locale.Languages() {
		b, err := files.ReadFile("strings/" + l.Code + ".json")
		if err != nil {
			return nil, fmt.Errorf("fleetpage: strings for %s: %w", l.Code, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("fleetpage: strings for %s: %w", l.Code, err)
		}
		p.strings[l.Code] = m
	}
	en := p.strings[locale.Fallback().Code]
	for code, m := range p.strings {
		for k := range en {
			if m[k] == "" {
				return nil, fmt.Errorf("fleetpage: %s lacks %q", code, k)
			}
		}
	}
	tmpl, err := template.ParseFS(files, "pages.html")
	if err != nil {
		return nil, fmt.Errorf("fleetpage: %w", err)
	}
	p.tmpl = tmpl
	if p.script, err = files.ReadFile("fleet.js"); err != nil {
		return nil, fmt.Errorf("fleetpage: %w", err)
	}
	return p, nil
}

// Script is the page's script (GET /fleet/fleet.js).
func (p *Pages) Script() []byte { return p.script }

// text is key in lang with {name} replaced by vars (name, value pairs).
func (p *Pages) text(lang locale.Language, key string, vars ...any) string {
	s, ok := p.strings[lang.Code][key]
	if !ok {
		s = p.strings[locale.Fallback().Code][key]
	}
	for i := 0; i+1 < len(vars); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(vars[i])+"}", fmt.Sprint(vars[i+1]))
	}
	return s
}

// View is what the fleet page shows.
type View struct {
	Lang     locale.Language
	URL      *url.URL // the page's, for the language links
	Machines []Machine
	Filter   Filter
	Partial  bool   // the shared directory did not answer
	CSRF     string // the session's token for the logout form
}

// LoginView is what the login page shows.
type LoginView struct {
	Lang       locale.Language
	URL        *url.URL
	Problem    string        // "", "wrong", "expired", "locked", "ended", "unavailable"
	RetryAfter time.Duration // for "locked"
}

type langLink struct {
	Code, Name, URL string
	Current         bool
}

type option struct {
	Value, Label string
	Selected     bool
}

type page struct {
	p    *Pages
	Lang locale.Language
	url  *url.URL

	Message                   string
	CSRF, CSVURL, EventsURL   string
	Locations, ProblemOptions []option
	Partial                   bool
	Count                     int
	Groups                    []group
}

type group struct {
	Location string
	Rows     []row
}

type row struct {
	Code, Name, State, StateText, Problems string
	Line, Wait                             string
	Full                                   bool
	HasInk, InkLow                         bool
	Ink                                    []inkDot
	InkText, Order                         string
	Failures                               int
	Heard                                  bool
	Reasons                                []string
	Version, Tunnel, Relay                 string
	Printer, LastError, Sticker            string
}

type inkDot struct{ Colour, Level, Title string }

// T is a string of the page's language, for the templates.
func (pg *page) T(key string, vars ...any) string { return pg.p.text(pg.Lang, key, vars...) }

// Langs are the language switch's links.
func (pg *page) Langs() []langLink {
	var out []langLink
	for _, l := range locale.Languages() {
		u := *pg.url
		q := u.Query()
		q.Set("lang", l.Code)
		u.RawQuery = q.Encode()
		out = append(out, langLink{Code: l.Code, Name: l.Name, URL: u.RequestURI(), Current: l.Code == pg.Lang.Code})
	}
	return out
}

// Login writes the login page.
func (p *Pages) Login(w io.Writer, v LoginView) error {
	pg := &page{p: p, Lang: v.Lang, url: v.URL}
	switch v.Problem {
	case "wrong", "expired", "ended", "unavailable":
		pg.Message = pg.T("login." + v.Problem)
	case "locked":
		pg.Message = pg.T("login.locked", "seconds", int((v.RetryAfter+time.Second-1)/time.Second))
	}
	return p.tmpl.ExecuteTemplate(w, "login", pg)
}

// Fleet writes the whole fleet page.
func (p *Pages) Fleet(w io.Writer, v View) error {
	return p.tmpl.ExecuteTemplate(w, "fleet", p.build(v))
}

// Table is the part of the fleet page that live updates replace.
func (p *Pages) Table(v View) ([]byte, error) {
	var b bytes.Buffer
	err := p.tmpl.ExecuteTemplate(&b, "table", p.build(v))
	return b.Bytes(), err
}

func (p *Pages) build(v View) *page {
	u := v.URL
	if u == nil {
		u = &url.URL{Path: "/fleet/"}
	}
	pg := &page{p: p, Lang: v.Lang, url: u, CSRF: v.CSRF, Partial: v.Partial}
	lang := "lang=" + v.Lang.Code
	pg.CSVURL = "/fleet/fleet.csv" + v.Filter.Query()
	pg.EventsURL = "/fleet/events" + v.Filter.Query(lang)
	for _, l := range Locations(v.Machines) {
		pg.Locations = append(pg.Locations, option{Value: l, Selected: l == v.Filter.Location})
	}
	for _, pr := range Problems() {
		pg.ProblemOptions = append(pg.ProblemOptions, option{Value: pr, Label: pg.T("problem." + pr), Selected: pr == v.Filter.Problem})
	}
	shown := v.Filter.Apply(v.Machines)
	pg.Count = len(shown)
	for _, m := range shown {
		if n := len(pg.Groups); n == 0 || pg.Groups[n-1].Location != m.Location {
			pg.Groups = append(pg.Groups, group{Location: m.Location})
		}
		g := &pg.Groups[len(pg.Groups)-1]
		g.Rows = append(g.Rows, pg.row(m))
	}
	return pg
}

func (pg *page) when(t time.Time) string {
	// On one line (no-break spaces and hyphens), and left to right inside
	// right-to-left text (an isolate).
	return "\u2066" + t.UTC().Format("2006\u201101\u201102\u00a015:04:05\u00a0UTC") + "\u2069"
}

func (pg *page) row(m Machine) row {
	r := row{
		Code: m.Code, Name: m.Name(), State: m.State(), Problems: strings.Join(m.Problems(), " "),
		Sticker: "/fleet/sticker/" + url.PathEscape(m.Code) + ".svg",
	}
	r.StateText = pg.T("state." + r.State)
	switch {
	case m.Online:
		r.Tunnel = pg.T("tunnel.up", "time", pg.when(m.UpSince))
	case !m.DownSince.IsZero():
		r.Tunnel = pg.T("tunnel.down", "time", pg.when(m.DownSince))
	default:
		r.Tunnel = pg.T("tunnel.downUnknown")
	}
	if m.Relay != "" {
		r.Relay = pg.T("tunnel.via", "relay", m.Relay)
	}
	s := m.Summary
	if s == nil {
		r.Printer = pg.T("printer.never")
		return r
	}
	r.Heard = true
	r.Version = s.Version
	if m.Online {
		r.Line = pg.T("line.value", "n", s.QueueLength, "cap", s.QueueCapacity)
		if s.QueueCapacity == 0 { // an agent older than the line's capacity
			r.Line = pg.T("line.count", "n", s.QueueLength)
		}
		r.Full = s.Full
		if s.QueueLength > 0 && s.WaitSeconds > 0 {
			r.Wait = pg.T("line.wait", "min", (s.WaitSeconds+59)/60)
		}
		if s.Current != nil {
			stage := pg.T("stage." + s.Current.Stage)
			if strings.HasPrefix(stage, "stage.") || stage == "" {
				stage = s.Current.Stage
			}
			r.Order = stage
			if s.Current.PickupCode != "" {
				r.Order += " · " + pg.T("order.pickup", "code", s.Current.PickupCode)
			}
		}
	}
	r.HasInk = true
	for _, c := range []struct{ colour, level string }{{"cyan", s.Ink.Cyan}, {"magenta", s.Ink.Magenta}, {"yellow", s.Ink.Yellow}, {"black", s.Ink.Black}} {
		r.Ink = append(r.Ink, inkDot{Colour: c.colour, Level: c.level, Title: pg.T("colour."+c.colour) + ": " + c.level})
	}
	switch {
	case len(s.InkLow) > 0:
		names := make([]string, len(s.InkLow))
		for i, c := range s.InkLow {
			names[i] = pg.T("colour." + c)
		}
		r.InkLow, r.InkText = true, pg.T("ink.low", "colours", strings.Join(names, ", "))
	case s.Ink.Cyan == "ok" && s.Ink.Magenta == "ok" && s.Ink.Yellow == "ok" && s.Ink.Black == "ok":
		r.InkText = pg.T("ink.ok")
	default:
		r.InkText = pg.T("ink.unknown")
	}
	r.Failures = s.Failures
	for _, fr := range s.FailureReasons {
		r.Reasons = append(r.Reasons, fr.Reason+" ×"+strconv.Itoa(fr.Count))
	}
	if s.LastContact != nil {
		r.Printer = pg.T("printer.heard", "time", pg.when(*s.LastContact))
	} else {
		r.Printer = pg.T("printer.never")
	}
	r.LastError = s.LastError
	return r
}
