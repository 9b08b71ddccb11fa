package pages_test

import (
	"bytes"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"casefleet/relay/pages"
	"casefleet/shared/locale"
)

func load(t testing.TB) *pages.Pages {
	t.Helper()
	p, err := pages.New()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func render(t testing.TB, p *pages.Pages, pr pages.Problem) string {
	t.Helper()
	var b bytes.Buffer
	if err := p.Render(&b, pr); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func lang(t testing.TB, code string) locale.Language {
	t.Helper()
	l, ok := locale.Lookup(code)
	if !ok {
		t.Fatalf("no language %s", code)
	}
	return l
}

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// Every problem has a title and a text in every language, with the same
// placeholders as English, and no language repeats English (an
// untranslated copy would pass a key check).
func TestEveryProblemIsTranslated(t *testing.T) {
	p := load(t)
	en := locale.Fallback()
	if len(p.Problems()) < 10 {
		t.Fatalf("only %d problems: %v", len(p.Problems()), p.Problems())
	}
	for _, code := range p.Problems() {
		for _, l := range locale.Languages() {
			for _, part := range []string{".title", ".text"} {
				key := code + part
				got, want := p.Text(l, key, nil), p.Text(en, key, nil)
				if got == key || got == "" {
					t.Errorf("%s: no %s", l.Code, key)
				}
				if g, w := placeholder.FindAllString(got, -1), placeholder.FindAllString(want, -1); strings.Join(g, "") != strings.Join(w, "") {
					t.Errorf("%s %s has placeholders %v, English %v", l.Code, key, g, w)
				}
				if l != en && got == want {
					t.Errorf("%s %s is the English text %q", l.Code, key, got)
				}
			}
		}
	}
}

func TestPageSpeaksTheLanguage(t *testing.T) {
	p := load(t)
	u, _ := url.Parse("/editor?machine=CT0799999&location=mall-3f")
	for _, c := range []struct{ lang, dir, title string }{
		{"en", "ltr", "We don&#39;t know this machine"},
		{"es", "ltr", "No conocemos esta máquina"},
		{"fr", "ltr", "Nous ne connaissons pas cette borne"},
		{"de", "ltr", "Diesen Automaten kennen wir nicht"},
		{"zh-CN", "ltr", "我们不认识这台机器"},
		{"ar", "rtl", "لا نعرف هذا الجهاز"},
	} {
		page := render(t, p, pages.Problem{Lang: lang(t, c.lang), Code: "unknown_machine", Machine: "CT0799999", URL: u})
		if want := `<html lang="` + c.lang + `" dir="` + c.dir + `">`; !strings.Contains(page, want) {
			t.Errorf("%s: page does not start with %s", c.lang, want)
		}
		if !strings.Contains(page, "<h1>"+c.title+"</h1>") || !strings.Contains(page, "CT0799999") {
			t.Errorf("%s: no heading %q or no machine code in\n%s", c.lang, c.title, page)
		}
		// The switch offers every language, keeps the query, marks this one.
		for _, l := range locale.Languages() {
			link := `href="?lang=` + url.QueryEscape(l.Code) + `&amp;location=mall-3f&amp;machine=CT0799999"`
			if !strings.Contains(page, link) {
				t.Errorf("%s: no switch link %s", c.lang, link)
			}
		}
		if !strings.Contains(page, `hreflang="`+c.lang+`" aria-current="true"`) {
			t.Errorf("%s: the switch does not mark the current language", c.lang)
		}
	}
}

// Queue lengths of the alternatives take the language's plural forms and
// digits; an empty line says so in words.
func TestAlternativesInEachLanguage(t *testing.T) {
	p := load(t)
	alts := func(n int) []pages.Alternative {
		return []pages.Alternative{{Name: "Mall 3F, food court", Code: "CT0700027", URL: "/editor?machine=CT0700027&location=mall-3f", QueueLength: n}}
	}
	for _, c := range []struct {
		lang string
		n    int
		want string
	}{
		{"en", 0, "no line"},
		{"en", 1, "1 order in line"},
		{"en", 3, "3 orders in line"},
		{"fr", 1, "1 commande en attente"},
		{"de", 2, "2 Bestellungen warten"},
		{"zh-CN", 5, "5 个订单排队中"},
		{"ar", 1, "طلب واحد في الطابور"},
		{"ar", 2, "طلبان في الطابور"},
		{"ar", 3, "طلبات في الطابور"},  // few
		{"ar", 11, "طلبًا في الطابور"}, // many
	} {
		page := render(t, p, pages.Problem{Lang: lang(t, c.lang), Code: "machine_offline", OfferAlternatives: true, Alternatives: alts(c.n)})
		if !strings.Contains(page, c.want) {
			t.Errorf("%s, %d in line: no %q in\n%s", c.lang, c.n, c.want, page)
		}
		if !strings.Contains(page, `href="/editor?machine=CT0700027&amp;location=mall-3f"`) {
			t.Errorf("%s: no link to the alternative", c.lang)
		}
	}
	page := render(t, p, pages.Problem{Lang: lang(t, "es"), Code: "machine_offline", OfferAlternatives: true})
	if !strings.Contains(page, "Ahora mismo no hay otra máquina cercana conectada.") {
		t.Errorf("no alternatives: the page does not say so\n%s", page)
	}
	page = render(t, p, pages.Problem{Lang: lang(t, "en"), Code: "rate_limited"})
	if strings.Contains(page, "Other machines nearby") || strings.Contains(page, "No other machine") {
		t.Errorf("a rate limit offers alternatives\n%s", page)
	}
}

// Whatever reaches a page (a machine's name from its agent, the request's
// URL) is text, never markup.
func TestHostileInputIsEscaped(t *testing.T) {
	p := load(t)
	u, _ := url.Parse(`/editor?machine=CT0700026&location="><script>alert(1)</script>`)
	page := render(t, p, pages.Problem{
		Lang: locale.Fallback(), Code: "machine_offline", Machine: `CT0700026<img src=x onerror=alert(1)>`, URL: u,
		OfferAlternatives: true,
		Alternatives: []pages.Alternative{{
			Name: `<script>alert("name")</script>`, Code: "CT0700027",
			URL: `javascript:alert(1)`, QueueLength: 1,
		}},
	})
	for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q:\n%s", bad, page)
		}
	}

	// A request path that names another host never becomes a link to it:
	// the language links are queries, resolved on the relay.
	for _, raw := range []string{"//evil.example/x", "/%2F%2Fevil.example/", "///evil.example/"} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		page := render(t, p, pages.Problem{Lang: locale.Fallback(), Code: "bad_path", URL: u})
		for _, href := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1) {
			if !strings.HasPrefix(href[1], "?") {
				t.Errorf("path %q: a link %q leaves the page", raw, href[1])
			}
		}
	}
}

func TestTextFillsPlaceholdersAndFallsBack(t *testing.T) {
	p := load(t)
	if got := p.Text(lang(t, "de"), "too_large.text", map[string]string{"mb": "20"}); !strings.Contains(got, "20 MB") {
		t.Errorf("too_large in German: %q", got)
	}
	if got := p.Text(locale.Language{Code: "xx"}, "not_found.title", nil); got != "Nothing here" {
		t.Errorf("an unknown language: %q, want English", got)
	}
	if got := p.Text(locale.Fallback(), "no.such.key", nil); got != "no.such.key" {
		t.Errorf("a missing key: %q", got)
	}
	if !p.Has("unknown_machine") || p.Has("no_such_problem") {
		t.Error("Has is wrong")
	}
}

func BenchmarkRender(b *testing.B) {
	p := load(b)
	u, _ := url.Parse("/editor?machine=CT0700027&location=mall-3f")
	pr := pages.Problem{Lang: lang(b, "ar"), Code: "machine_offline", Machine: "CT0700027", URL: u, OfferAlternatives: true,
		Alternatives: []pages.Alternative{{Name: "Mall 3F, east escalator", Code: "CT0700026", URL: "/editor?machine=CT0700026&location=mall-3f", QueueLength: 3}}}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := p.Render(&buf, pr); err != nil {
			b.Fatal(err)
		}
	}
}
