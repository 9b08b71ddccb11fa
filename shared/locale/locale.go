// Package locale is the customer's language: the languages casefleet
// speaks to customers (the agent's web app, the relay's own pages, push
// messages) and how a request picks one. Both the agent and the relay use
// it, so a customer who chose Arabic on one page keeps Arabic on the next,
// whichever of the two served it.
package locale

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/language"
)

// Language is one language casefleet speaks.
type Language struct {
	Code string // BCP 47, as in a page's lang attribute and the string files
	Name string // the language's name for itself, for a language switch
	RTL  bool   // written right to left
}

// Dir is the language's writing direction for a dir attribute.
func (l Language) Dir() string {
	if l.RTL {
		return "rtl"
	}
	return "ltr"
}

// Tag is the language as a golang.org/x/text tag, for number formatting
// and plural rules.
func (l Language) Tag() language.Tag { return language.Make(l.Code) }

// languages are the languages casefleet speaks, the fallback first. Never
// changed; Languages hands out copies.
var languages = [...]Language{
	{Code: "en", Name: "English"},
	{Code: "es", Name: "Español"},
	{Code: "fr", Name: "Français"},
	{Code: "de", Name: "Deutsch"},
	{Code: "zh-CN", Name: "简体中文"},
	{Code: "ar", Name: "العربية", RTL: true},
}

// Languages are the languages casefleet speaks; the first is the fallback.
func Languages() []Language { return slices.Clone(languages[:]) }

// Fallback is the language used when nothing better fits.
func Fallback() Language { return languages[0] }

// Cookie is the cookie a language switch sets (path /, so the relay's
// pages and every machine's app behind it share the choice).
const Cookie = "lang"

// Lookup finds a language by its exact code.
func Lookup(code string) (Language, bool) {
	for _, l := range languages {
		if l.Code == code {
			return l, true
		}
	}
	return Language{}, false
}

// maxAcceptLanguage bounds the header a matcher reads; real browsers send
// well under 100 bytes.
const maxAcceptLanguage = 512

// Matcher picks languages for requests. It is safe for concurrent use.
type Matcher struct {
	m language.Matcher
}

// NewMatcher builds a matcher over Languages.
func NewMatcher() *Matcher {
	tags := make([]language.Tag, 0, len(languages))
	for _, l := range languages {
		tags = append(tags, language.MustParse(l.Code))
	}
	return &Matcher{m: language.NewMatcher(tags)}
}

// ForRequest picks a request's language: an explicit ?lang= wins, then
// the language switch's cookie, then the browser's Accept-Language.
func (m *Matcher) ForRequest(r *http.Request) Language {
	if l, ok := Lookup(r.URL.Query().Get("lang")); ok {
		return l
	}
	if c, err := r.Cookie(Cookie); err == nil {
		if l, ok := Lookup(c.Value); ok {
			return l
		}
	}
	return m.Match(r.Header.Get("Accept-Language"))
}

// Match is the best language for an Accept-Language header, the fallback
// when nothing fits (or the header is garbage).
func (m *Matcher) Match(acceptLanguage string) Language {
	if len(acceptLanguage) > maxAcceptLanguage {
		acceptLanguage = acceptLanguage[:maxAcceptLanguage]
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil {
		tags = lenientTags(acceptLanguage)
	}
	if len(tags) == 0 {
		return Fallback()
	}
	_, i, confidence := m.m.Match(tags...)
	if confidence == language.No {
		return Fallback()
	}
	return languages[i]
}

// lenientTags reads a malformed Accept-Language as well as it can: the
// language of each comma-separated entry that has one, by its quality (a
// readable q=, else 1), ties in the header's order.
func lenientTags(header string) []language.Tag {
	type entry struct {
		tag language.Tag
		q   float64
	}
	var entries []entry
	for _, part := range strings.Split(header, ",") {
		code, params, _ := strings.Cut(part, ";")
		tag, err := language.Parse(strings.TrimSpace(code))
		if err != nil {
			continue
		}
		q := 1.0
		for _, param := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(param), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		if q > 0 {
			entries = append(entries, entry{tag, q})
		}
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return cmp.Compare(b.q, a.q) })
	tags := make([]language.Tag, len(entries))
	for i, e := range entries {
		tags[i] = e.tag
	}
	return tags
}
