// Package pages renders the pages the relay shows a browser itself, when
// it cannot hand the request to a machine: an unknown or offline machine
// (with other machines nearby), a full or slow machine, a rate limit. The
// pages speak the customer's language (shared/locale), the same six as the
// web app, right to left for Arabic, and need no script: a phone on a weak
// link gets one small HTML answer.
package pages

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/message"

	"casefleet/shared/locale"
)

//go:embed strings/*.json page.html
var files embed.FS

// Pages holds the parsed page template and every language's strings. It
// is safe for concurrent use.
type Pages struct {
	tmpl    *template.Template
	strings map[string]map[string]string // language code -> key -> text
}

// New loads the embedded strings and template. It fails when a language
// lacks a string English has, so a missing translation is caught at start
// (and by the tests), not shown to a customer.
func New() (*Pages, error) {
	p := &Pages{strings: map[string]map[string]string{}}
	for _, l := range locale.Languages() {
		b, err := files.ReadFile("strings/" + l.Code + ".json")
		if err != nil {
			return nil, fmt.Errorf("pages: strings for %s: %w", l.Code, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("pages: strings for %s: %w", l.Code, err)
		}
		p.strings[l.Code] = m
	}
	en := p.strings[locale.Fallback().Code]
	for code, m := range p.strings {
		for key := range en {
			if _, ok := m[key]; !ok && !strings.HasPrefix(key, "alts.queue.") {
				return nil, fmt.Errorf("pages: %s lacks %q", code, key)
			}
		}
		if _, ok := m["alts.queue.other"]; !ok {
			return nil, fmt.Errorf("pages: %s lacks alts.queue.other", code)
		}
	}
	tmpl, err := template.ParseFS(files, "page.html")
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	p.tmpl = tmpl
	return p, nil
}

// Has reports whether problem has a title and text (in every language,
// which New checked).
func (p *Pages) Has(problem string) bool {
	en := p.strings[locale.Fallback().Code]
	_, title := en[problem+".title"]
	_, text := en[problem+".text"]
	return title && text
}

// Text is the string key in lang with its {name} placeholders filled from
// vars; English when lang lacks it, the key itself when nobody has it.
func (p *Pages) Text(lang locale.Language, key string, vars map[string]string) string {
	s, ok := p.strings[lang.Code][key]
	if !ok {
		if s, ok = p.strings[locale.Fallback().Code][key]; !ok {
			return key
		}
	}
	for name, v := range vars {
		s = strings.ReplaceAll(s, "{"+name+"}", v)
	}
	return s
}

// Problem is one page: what went wrong, for whom, and what else to try.
type Problem struct {
	Lang locale.Language
	// Code names the problem ("unknown_machine", "machine_offline", …);
	// its title and text come from the strings as Code.title, Code.text.
	Code string
	// Vars fill the text's placeholders ({mb} in too_large).
	Vars map[string]string
	// Machine is the machine code the customer asked for, if any.
	Machine string
	// OfferAlternatives shows the alternatives section, which says so
	// when Alternatives is empty.
	OfferAlternatives bool
	Alternatives      []Alternative
	// URL is the request's, for the language switch's links.
	URL *url.URL
}

// Alternative is another machine the customer can use.
type Alternative struct {
	Name, Code  string
	URL         string // the machine's editor, relative
	QueueLength int
}

type pageData struct {
	Lang, Dir, Title, Text string
	Machine                string
	OfferAlternatives      bool
	AltsTitle, AltsNone    string
	Alternatives           []altData
	LanguageLabel          string
	LanguageName           string
	Languages              []langLink
}

type altData struct{ Name, Queue, URL string }

type langLink struct {
	Code, Name, URL string
	Current         bool
}

// Render writes the problem's page.
func (p *Pages) Render(w io.Writer, pr Problem) error {
	lang := pr.Lang
	if _, ok := p.strings[lang.Code]; !ok {
		lang = locale.Fallback()
	}
	d := pageData{
		Lang: lang.Code, Dir: lang.Dir(),
		Title:             p.Text(lang, pr.Code+".title", pr.Vars),
		Text:              p.Text(lang, pr.Code+".text", pr.Vars),
		OfferAlternatives: pr.OfferAlternatives,
		AltsTitle:         p.Text(lang, "alts.title", nil),
		AltsNone:          p.Text(lang, "alts.none", nil),
		LanguageLabel:     p.Text(lang, "language", nil),
		LanguageName:      lang.Name,
	}
	if pr.Machine != "" {
		d.Machine = p.Text(lang, "machine", map[string]string{"machine": pr.Machine})
	}
	for _, a := range pr.Alternatives {
		name := a.Name
		if name == "" {
			name = a.Code
		}
		d.Alternatives = append(d.Alternatives, altData{Name: name, Queue: p.queueText(lang, a.QueueLength), URL: a.URL})
	}
	for _, l := range locale.Languages() {
		d.Languages = append(d.Languages, langLink{Code: l.Code, Name: l.Name, URL: withLang(pr.URL, l.Code), Current: l.Code == lang.Code})
	}
	return p.tmpl.Execute(w, d)
}

// queueText says how long a machine's line is, in lang's plural form and
// digits.
func (p *Pages) queueText(lang locale.Language, n int) string {
	if n <= 0 {
		return p.Text(lang, "alts.noLine", nil)
	}
	tag := lang.Tag()
	key := "alts.queue." + formName(plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0))
	if _, ok := p.strings[lang.Code][key]; !ok {
		key = "alts.queue.other"
	}
	return p.Text(lang, key, map[string]string{"n": message.NewPrinter(tag).Sprint(n)})
}

func formName(f plural.Form) string {
	switch f {
	case plural.Zero:
		return "zero"
	case plural.One:
		return "one"
	case plural.Two:
		return "two"
	case plural.Few:
		return "few"
	case plural.Many:
		return "many"
	}
	return "other"
}

// withLang is the link to this page with ?lang=code, the other parameters
// kept. It is a query alone, so it always resolves on the relay itself:
// a path from the request ("//evil.example/x") would make it a link to
// another site.
func withLang(u *url.URL, code string) string {
	q := url.Values{}
	if u != nil {
		q = u.Query()
	}
	q.Set("lang", code)
	return "?" + q.Encode()
}

// Problems lists every problem with strings, sorted; for tests and docs.
func (p *Pages) Problems() []string {
	var out []string
	for key := range maps.Keys(p.strings[locale.Fallback().Code]) {
		if code, ok := strings.CutSuffix(key, ".title"); ok && p.Has(code) {
			out = append(out, code)
		}
	}
	slices.Sort(out)
	return out
}
