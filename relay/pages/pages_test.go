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

// Each machine offered shows its line and about how long an order placed
// now waits, in the language's words and plural forms; a full machine
// says "Full", comes after the ones that can take an order, and is no
// link (it would only refuse the order).
func TestAlternativesShowLineWaitAndFull(t *testing.T) {
	p := load(t)
	nearby := []pages.Alternative{
		{Name: "Food court", Code: "CT0700027", URL: "/editor?machine=CT0700027&location=mall-3f", QueueLength: 20, EstimatedWaitSeconds: 7200, Full: true},
		{Name: "East escalator", Code: "CT0700026", URL: "/editor?machine=CT0700026&location=mall-3f", QueueLength: 3, EstimatedWaitSeconds: 25*60 - 30},
	}
	for _, c := range []struct{ lang, free, full string }{
		{"en", "3 orders in line · wait about 25 minutes", "Full"},
		{"es", "3 pedidos en cola · espera aprox. de 25 minutos", "Llena"},
		{"fr", "3 commandes en attente · environ 25 minutes d’attente", "Complète"},
		{"de", "3 Bestellungen warten · ca. 25 Minuten Wartezeit", "Voll"},
		{"zh-CN", "3 个订单排队中 · 预计等待约 25 分钟", "已满"},
		{"ar", "٣ طلبات في الطابور · انتظار نحو ٢٥ دقيقة", "ممتلئ"}, // Arabic-Indic digits, "many" form
	} {
		t.Run(c.lang, func(t *testing.T) {
			page := render(t, p, pages.Problem{Lang: lang(t, c.lang), Code: "machine_offline", OfferAlternatives: true, Alternatives: nearby})
			if !strings.Contains(page, `<a class="alt" href="/editor?machine=CT0700026&amp;location=mall-3f"><span class="name">East escalator</span><span class="queue">`+c.free) {
				t.Errorf("the free machine is not offered with %q:\n%s", c.free, page)
			}
			if !strings.Contains(page, `<span class="name">Food court</span><span class="queue"><span class="full-tag">`+c.full+`</span> · `) {
				t.Errorf("the full machine does not say %q:\n%s", c.full, page)
			}
			if strings.Contains(page, "machine=CT0700027") {
				t.Errorf("the full machine is offered as a link:\n%s", page)
			}
			if strings.Index(page, "East escalator") > strings.Index(page, "Food court") {
				t.Errorf("the full machine comes before the free one:\n%s", page)
			}
		})
	}

	// Waits take the plural form of their number of minutes, rounded up;
	// a machine that expects no wait says nothing of it.
	for _, c := range []struct {
		lang    string
		seconds int
		want    string
	}{
		{"en", 40, "no line · wait about 1 minute<"},
		{"en", 61, "no line · wait about 2 minutes<"},
		{"en", 0, "no line<"},
		{"de", 60, "ca. 1 Minute Wartezeit<"},
		{"fr", 60, "environ 1 minute d’attente<"},
		{"es", 120, "espera aprox. de 2 minutos<"},
		{"ar", 60, "انتظار نحو دقيقة واحدة<"},
		{"ar", 120, "انتظار نحو دقيقتين<"},
		{"ar", 5 * 60, "دقائق<"},  // few
		{"ar", 12 * 60, "دقيقة<"}, // many
	} {
		alts := []pages.Alternative{{Name: "East", Code: "CT0700026", URL: "/editor?machine=CT0700026", EstimatedWaitSeconds: c.seconds}}
		page := render(t, p, pages.Problem{Lang: lang(t, c.lang), Code: "machine_offline", OfferAlternatives: true, Alternatives: alts})
		if !strings.Contains(page, c.want) {
			t.Errorf("%s, %d s to wait: no %q in\n%s", c.lang, c.seconds, c.want, page)
		}
	}
}

// A page for a machine that cannot answer now loads itself again after
// the relay's Retry-After, and offers to try again at once: both go to
// the same address, in the customer's language. Other pages stay put.
func TestRetryingPages(t *testing.T) {
	p := load(t)
	u, _ := url.Parse("/editor?machine=CT0700027&location=mall-3f")
	for _, c := range []struct{ lang, button, note string }{
		{"en", "Try again", "This page tries again by itself in 30 seconds."},
		{"es", "Reintentar", "Esta página lo volverá a intentar sola en 30 segundos."},
		{"fr", "Réessayer", "Cette page réessaiera d’elle-même dans 30 secondes."},
		{"de", "Erneut versuchen", "Diese Seite versucht es in 30 Sekunden von selbst erneut."},
		{"zh-CN", "重试", "本页面将在 30 秒后自动重试。"},
		{"ar", "إعادة المحاولة", "ستعيد هذه الصفحة المحاولة تلقائيًا بعد"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			same := `?lang=` + c.lang + `&amp;location=mall-3f&amp;machine=CT0700027`
			page := render(t, p, pages.Problem{Lang: lang(t, c.lang), Code: "machine_offline", Machine: "CT0700027", URL: u, RetryAfter: 30})
			for _, want := range []string{
				`<meta http-equiv="refresh" content="30; url=` + same + `">`,
				`<a class="retry" href="` + same + `">` + c.button + `</a>`,
				c.note,
			} {
				if !strings.Contains(page, want) {
					t.Errorf("no %s in\n%s", want, page)
				}
			}
			page = render(t, p, pages.Problem{Lang: lang(t, c.lang), Code: "unknown_machine", Machine: "CT0700027", URL: u})
			if strings.Contains(page, "http-equiv") || strings.Contains(page, `class="retry"`) {
				t.Errorf("a page without RetryAfter retries:\n%s", page)
			}
		})
	}
	page := render(t, p, pages.Problem{Lang: lang(t, "en"), Code: "agent_reconnected", URL: u, RetryAfter: 1})
	if !strings.Contains(page, `content="1; url=`) || !strings.Contains(page, "in 1 second.") {
		t.Errorf("a one-second retry:\n%s", page)
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
		}, {
			Name: `<script>alert("full")</script>`, Code: "CT0700028", QueueLength: 20, Full: true,
		}},
		RetryAfter: 30,
	})
	for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q:\n%s", bad, page)
		}
	}

	// A request path that names another host never becomes a link to it,
	// nor the page's retry: the language links and the retry are queries,
	// resolved on the relay; a quote in the query stays in the query.
	for _, raw := range []string{"//evil.example/x", "/%2F%2Fevil.example/", "///evil.example/", `/editor?machine=x";url=//evil.example/&'a=1`} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		page := render(t, p, pages.Problem{Lang: locale.Fallback(), Code: "agent_timeout", URL: u, RetryAfter: 5})
		links := regexp.MustCompile(`(?:href="|url=)([^"]*)"`).FindAllStringSubmatch(page, -1)
		if len(links) != len(locale.Languages())+2 {
			t.Errorf("path %q: %d links, want the languages', the button's and the refresh's", raw, len(links))
		}
		for _, link := range links {
			if !strings.HasPrefix(link[1], "?") || strings.ContainsAny(strings.ReplaceAll(link[1], "&amp;", "&"), `;'"`) {
				t.Errorf("path %q: a link %q leaves the page", raw, link[1])
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
