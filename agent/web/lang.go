package web

import (
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// Language is one language the app speaks.
type Language struct {
	Code string // BCP 47, as in the page's lang attribute and its string files
	Name string // the language's name for itself, for the switch
	RTL  bool   // written right to left
}

// Languages are the app's languages; the first is the fallback.
func Languages() []Language {
	return []Language{
		{Code: "en", Name: "English"},
		{Code: "es", Name: "Español"},
		{Code: "fr", Name: "Français"},
		{Code: "de", Name: "Deutsch"},
		{Code: "zh-CN", Name: "简体中文"},
		{Code: "ar", Name: "العربية", RTL: true},
	}
}

// langCookie is set by the page's language switch.
const langCookie = "lang"

// languageFor picks the page's language: an explicit ?lang= wins, then
// the switch's cookie, then the browser's Accept-Language.
func languageFor(r *http.Request, matcher language.Matcher) Language {
	if l, ok := lookupLanguage(r.URL.Query().Get("lang")); ok {
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := lookupLanguage(c.Value); ok {
			return l
		}
	}
	return matchLanguage(r.Header.Get("Accept-Language"), matcher)
}

func lookupLanguage(code string) (Language, bool) {
	for _, l := range Languages() {
		if l.Code == code {
			return l, true
		}
	}
	return Language{}, false
}

func newMatcher() language.Matcher {
	tags := make([]language.Tag, 0, len(Languages()))
	for _, l := range Languages() {
		tags = append(tags, language.MustParse(l.Code))
	}
	return language.NewMatcher(tags)
}

// matchLanguage is the best of Languages for an Accept-Language header,
// English when nothing fits (or the header is garbage).
func matchLanguage(acceptLanguage string, matcher language.Matcher) Language {
	if len(acceptLanguage) > 512 {
		acceptLanguage = acceptLanguage[:512]
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil {
		tags = lenientTags(acceptLanguage)
	}
	if len(tags) == 0 {
		return Languages()[0]
	}
	_, i, confidence := matcher.Match(tags...)
	if confidence == language.No {
		return Languages()[0]
	}
	return Languages()[i]
}

// lenientTags reads a malformed Accept-Language as well as it can: the
// language of each comma-separated entry that has one, in order.
func lenientTags(header string) []language.Tag {
	var tags []language.Tag
	for _, entry := range strings.Split(header, ",") {
		code, _, _ := strings.Cut(entry, ";")
		if tag, err := language.Parse(strings.TrimSpace(code)); err == nil {
			tags = append(tags, tag)
		}
	}
	return tags
}
