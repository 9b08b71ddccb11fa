package pages

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"casefleet/shared/locale"
)

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// Every string English has is translated in every language: present (for
// a counted string, in each plural form the language's rules use), with
// English's placeholders, and not a copy of English (which a key check
// alone would pass). New checks presence too, at start; this says what
// is wrong with each string at once.
func TestEveryStringIsTranslated(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	en := p.strings[locale.Fallback().Code]
	for _, l := range locale.Languages()[1:] {
		m := p.strings[l.Code]
		for key, want := range en {
			family, counted := pluralFamily(key)
			if !counted {
				got, ok := m[key]
				switch {
				case !ok || got == "":
					t.Errorf("%s: no %s", l.Code, key)
				case got == want:
					t.Errorf("%s: %s is the English %q", l.Code, key, got)
				case !samePlaceholders(got, want):
					t.Errorf("%s: %s has placeholders %v, English %v", l.Code, key, placeholder.FindAllString(got, -1), placeholder.FindAllString(want, -1))
				}
				continue
			}
			if key != family+".other" {
				continue // the family is checked once, at its other form
			}
			// A counted string's one form may spell the number out
			// ("طلب واحد"); its other form always shows it.
			for _, form := range usedForms(l) {
				got, ok := m[family+"."+form]
				switch {
				case !ok || got == "":
					t.Errorf("%s: no %s.%s (its plural rules use %q)", l.Code, family, form, form)
				case got == en[family+".one"] || got == en[family+".other"]:
					t.Errorf("%s: %s.%s is English: %q", l.Code, family, form, got)
				}
			}
			if other := m[family+".other"]; !strings.Contains(other, "{n}") {
				t.Errorf("%s: %s.other %q does not show the number {n}", l.Code, family, other)
			}
		}
	}
}

func samePlaceholders(a, b string) bool {
	pa, pb := placeholder.FindAllString(a, -1), placeholder.FindAllString(b, -1)
	slices.Sort(pa)
	slices.Sort(pb)
	return slices.Equal(pa, pb)
}

// The plural forms each language needs are CLDR's: English one and other,
// Chinese other only, Arabic all six.
func TestUsedForms(t *testing.T) {
	for _, c := range []struct {
		lang string
		want []string
	}{
		{"en", []string{"one", "other"}},
		{"de", []string{"one", "other"}},
		{"fr", []string{"one", "other"}},
		{"zh-CN", []string{"other"}},
		{"ar", []string{"few", "many", "one", "other", "two", "zero"}},
	} {
		l, _ := locale.Lookup(c.lang)
		got := usedForms(l)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: forms %v, want %v", c.lang, got, c.want)
		}
	}
}
