// Package pages renders the pages the relay shows a browser itself, when
// it cannot hand the request to a machine: an unknown or offline machine
// (with other machines nearby), a full or slow machine, a rate limit. The
// pages speak the customer's language (shared/locale), the same six as the
// web app, right to left for Arabic, and need no script: a phone on a weak
// link gets one small HTML answer. A page for something that passes (an
// agent away) reloads itself with a meta refresh, which needs none either.
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
	if err := p.check(); err != nil {
		return nil, err
	}
	tmpl, err := template.ParseFS(files, "page.html")
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	p.tmpl = tmpl
	return p, nil
}

// check verifies that every language has every string English has. A
// counted string ("alts.queue.one", "alts.queue.other", …) is a family
// with one key per plural form: each language needs the forms its own
// plural rules use (Chinese only "other", Arabic six), as CLDR picks them
// for the counts a page shows.
func (p *Pages) check() error {
	en := p.strings[locale.Fallback().Code]
	for _, l := range locale.Languages() {
		m, forms := p.strings[l.Code], usedForms(l)
		for key := range en {
			family, counted := pluralFamily(key)
			if !counted {
				if _, ok := m[key]; !ok {
					return fmt.Errorf("pages: %s lacks %q", l.Code, key)
				}
				continue
			}
			for _, form := range forms {
				if _, ok := m[family+"."+form]; !ok {
					return fmt.Errorf("pages: %s lacks %q", l.Code, family+"."+form)
				}
			}
		}
	}
	return nil
}

// maxCount bounds the counts checked for plural forms: lines of orders
// and minutes of waiting stay well below it.
const maxCount = 1000

// usedForms are the plural forms lang's rules give to the counts 0 to
// maxCount.
func usedForms(lang locale.Language) []string {
	tag := lang.Tag()
	var forms []string
	for n := range maxCount + 1 {
		if f := formName(plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0)); !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}

// pluralFamily splits a counted string's key into its family and form:
// "alts.queue.few" is in "alts.queue". Other keys are not counted.
func pluralFamily(key string) (family string, counted bool) {
	i := strings.LastIndexByte(key, '.')
	if i < 0 || !slices.Contains(pluralForms, key[i+1:]) {
		return "", false
	}
	return key[:i], true
}

var pluralForms = []string{"zero", "one", "two", "few", "many", "other"}

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
	// URL is the request's, for the language switch's links and the
	// retry.
	URL *url.URL
	// RetryAfter, in seconds, when positive: the page loads itself again
	// after that long (the relay sends the same as Retry-After) and offers
	// to try again now. Both go to the same URL, in the same language.
	// For a GET only: a reload must not repeat another method.
	RetryAfter int
}

// Alternative is another machine the customer can use.
type Alternative struct {
	Name, Code           string
	URL                  string // the machine's editor, relative
	QueueLength          int
	EstimatedWaitSeconds int
	// Full: the machine's line is at capacity, so it takes no order now.
	// It is shown as such, without a link, after the machines that are
	// not full.
	Full bool
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
	RetryAfter             int
	RetryURL               string
	RetryLabel, RetryNote  string
}

// altData is one alternative as shown: a full machine gets Full (the
// word) and no URL.
type altData struct{ Name, Full, Queue, Wait, URL string }

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
	if pr.RetryAfter > 0 {
		d.RetryAfter = pr.RetryAfter
		d.RetryURL = withLang(pr.URL, lang.Code)
		d.RetryLabel = p.Text(lang, "retry.now", nil)
		d.RetryNote = p.counted(lang, "retry.auto", pr.RetryAfter)
	}
	// Full machines last: the first ones offered can take an order now.
	alts := slices.Clone(pr.Alternatives)
	slices.SortStableFunc(alts, func(a, b Alternative) int {
		switch {
		case a.Full == b.Full:
			return 0
		case a.Full:
			return 1
		}
		return -1
	})
	for _, a := range alts {
		ad := altData{Name: a.Name, Queue: p.queueText(lang, a.QueueLength)}
		if ad.Name == "" {
			ad.Name = a.Code
		}
		if a.Full {
			ad.Full = p.Text(lang, "alts.full", nil)
		} else {
			ad.URL = a.URL
			ad.Wait = p.waitText(lang, a.EstimatedWaitSeconds)
		}
		d.Alternatives = append(d.Alternatives, ad)
	}
	for _, l := range locale.Languages() {
		d.Languages = append(d.Languages, langLink{Code: l.Code, Name: l.Name, URL: withLang(pr.URL, l.Code), Current: l.Code == lang.Code})
	}
	return p.tmpl.Execute(w, d)
}

// queueText says how long a machine's line is.
func (p *Pages) queueText(lang locale.Language, n int) string {
	if n <= 0 {
		return p.Text(lang, "alts.noLine", nil)
	}
	return p.counted(lang, "alts.queue", n)
}

// waitText says about how long an order placed now waits, in whole
// minutes rounded up; nothing when the machine expects no wait.
func (p *Pages) waitText(lang locale.Language, seconds int) string {
	if seconds <= 0 {
		return ""
	}
	return p.counted(lang, "alts.wait", (seconds+59)/60)
}

// counted is the string of family for the count n, in lang's plural form
// and digits ({n}).
func (p *Pages) counted(lang locale.Language, family string, n int) string {
	tag := lang.Tag()
	key := family + "." + formName(plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0))
	if _, ok := p.strings[lang.Code][key]; !ok {
		key = family + ".other" // beyond maxCount, a form New did not require
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
