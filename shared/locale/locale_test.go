package locale_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"casefleet/shared/locale"
)

func TestRequestLanguage(t *testing.T) {
	m := locale.NewMatcher()
	for _, c := range []struct {
		query, cookie, acceptLanguage string
		want, dir                     string
	}{
		{"", "", "", "en", "ltr"},
		{"", "", "fr-CA,fr;q=0.9", "fr", "ltr"},
		{"", "", "es-MX", "es", "ltr"},
		{"", "", "zh-CN,zh;q=0.9", "zh-CN", "ltr"},
		{"", "", "zh-Hans", "zh-CN", "ltr"},
		{"", "", "ar-SA,ar;q=0.8,en;q=0.5", "ar", "rtl"},
		{"", "", "pt-BR,pt;q=0.9", "en", "ltr"},          // not spoken: the fallback
		{"", "", "pt-BR,pt;q=0.9,de;q=0.5", "de", "ltr"}, // the next language that is
		{"", "", "it;q=0.1,es;q=0.9", "es", "ltr"},       // by quality, not order
		{"", "", "ar-EG,ar;q=0.9;q=0.9", "ar", "rtl"},    // malformed, but readable
		{"", "", "!!!,;;;q=x", "en", "ltr"},              // garbage
		{"", "", "en;q=0.1, fr;q=0.9, x;;", "fr", "ltr"}, // malformed: the qualities still count
		{"", "", "zh-TW", "zh-CN", "ltr"},                // Traditional alone: Simplified rather than English
		{"", "", "zh-HK,en;q=0.5", "en", "ltr"},          // Traditional with English: English
		{"", "", strings.Repeat("de-DE,", 500), "de", "ltr"},
		{"", "es", "fr", "es", "ltr"},        // the switch's cookie beats the browser
		{"", "xx", "fr", "fr", "ltr"},        // an unknown cookie is ignored
		{"lang=ar", "es", "fr", "ar", "rtl"}, // ?lang= beats both
		{"lang=%3Cscript%3E", "", "de", "de", "ltr"},
	} {
		r := httptest.NewRequest("GET", "/editor?"+c.query, nil)
		r.Header.Set("Accept-Language", c.acceptLanguage)
		if c.cookie != "" {
			r.Header.Set("Cookie", locale.Cookie+"="+c.cookie)
		}
		got := m.ForRequest(r)
		if got.Code != c.want || got.Dir() != c.dir {
			t.Errorf("query %q cookie %q Accept-Language %.40q: %s %s, want %s %s", c.query, c.cookie, c.acceptLanguage, got.Code, got.Dir(), c.want, c.dir)
		}
	}
}

func TestEveryLanguageHasANameAndATag(t *testing.T) {
	seen := map[string]bool{}
	for _, l := range locale.Languages() {
		if l.Name == "" || seen[l.Code] {
			t.Errorf("%+v: no name, or listed twice", l)
		}
		seen[l.Code] = true
		if got, ok := locale.Lookup(l.Code); !ok || got != l {
			t.Errorf("Lookup(%q) = %+v, %v", l.Code, got, ok)
		}
		if l.Tag().String() != l.Code {
			t.Errorf("%s: tag %s", l.Code, l.Tag())
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"", "en", "fr-CA,fr;q=0.9", "ar;q=0.9;q=0.9", "!!!,;;;q=x", "zh-Hant-TW;q=0.5", "*", "x-klingon"} {
		f.Add(s)
	}
	m := locale.NewMatcher()
	f.Fuzz(func(t *testing.T, header string) {
		l := m.Match(header)
		if _, ok := locale.Lookup(l.Code); !ok {
			t.Fatalf("Match(%q) = %+v, not a language we speak", header, l)
		}
		if again := m.Match(header); again != l {
			t.Fatalf("Match(%q) gave %s then %s", header, l.Code, again.Code)
		}
	})
}
