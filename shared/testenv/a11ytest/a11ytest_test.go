package a11ytest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// brokenPage breaks every rule the checks enforce, once each.
const brokenPage = `<!doctype html>
<html><head>
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no">
<title></title>
<style>
  body { margin: 0; font: 16px sans-serif; }
  button { min-height: 44px; min-width: 44px; }
  .faint { color: #999; }
  .ghost { opacity: .4; }
  #no-ring:focus { outline: none; }
  .tiny { min-height: 0; min-width: 0; width: 16px; height: 16px; padding: 0; }
  .bar { position: fixed; inset-inline: 0; bottom: 0; height: 200px; background: #fff; }
</style></head>
<body>
<h1>One</h1>
<h1>Two</h1>
<button id="unnamed"></button>
<p class="faint">Faint text</p>
<p class="ghost">Faded text</p>
<button id="no-ring">No ring</button>
<img id="no-alt" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="20" height="20">
<button class="tiny" id="tiny-a">a</button><button class="tiny" id="tiny-b">b</button>
<div style="height: 1200px"></div>
<button id="jumps-the-queue" tabindex="1">First in line</button>
<div style="height: 1200px"></div>
<button id="under-the-bar">Under the bar</button>
<div id="trap" tabindex="0" aria-label="Trap">It keeps the focus</div>
<div style="height: 100px"></div>
<div class="bar">A bar fixed at the bottom</div>
<script>
document.getElementById('trap').addEventListener('keydown', (e) => { if (e.key === 'Tab') e.preventDefault(); });
</script>
</body></html>`

// homePage is an app's first screen in Arabic, titled with the app's
// name alone; %s is its <html> element's attributes.
const homePage = `<!doctype html>
<html %s><head>
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Casefleet</title>
<style>nav { display: flex; gap: 1rem; } nav a { min-height: 44px; padding: 0 1rem; display: flex; align-items: center; }</style>
</head>
<body><main><h1>اختر هاتفك</h1><p>ثم صمّم غطاءه.</p>
<nav><a href="/next">التالي</a><a href="/help">مساعدة</a></nav></main></body></html>`

// recorder collects a check's failures instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// audit opens html, served as the relay serves its pages (a policy that
// allows no script of the page's own but inline ones), in a fresh phone
// of browser, and returns what the checks say of it.
func audit(t *testing.T, browser context.Context, html string, want Page) []string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:")
		fmt.Fprint(w, html)
	}))
	t.Cleanup(srv.Close)
	ctx := Phone(t, browser)
	do(t, ctx, chromedp.Navigate(srv.URL))
	rec := &recorder{TB: t}
	Audit(rec, ctx, want)
	return rec.errors
}

func wantFailures(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.ContainsFunc(got, func(e string) bool { return strings.Contains(e, w) }) {
			t.Errorf("no failure %q; the checks said:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

// TestAccessibilityChecksCatchProblems runs the checks on pages that
// break each rule: a check that passes an app must fail here. A page that
// keeps them all passes.
func TestAccessibilityChecksCatchProblems(t *testing.T) {
	browser := Browser(t) // skips (or fails on CI) without Chromium
	t.Run("broken_page", func(t *testing.T) {
		wantFailures(t, audit(t, browser, brokenPage, Page{Lang: "en"}),
			`document: <html lang="">, want "en"`,
			`document: 2 visible <h1>`,
			`document: no title`,
			`document: 0 visible main landmarks`,
			`stops zoom at 1x (maximum-scale under 2)`,
			`names: #unnamed (role button) has no accessible name`,
			`names: #no-alt: image without alt`,
			`p.faint:nth-of-type(1) "Faint text": #999999 on #ffffff is 2.85:1, needs 4.5:1`,
			`p.ghost:nth-of-type(2) "Faded text": #999999 on #ffffff is 2.85:1`, // black at 40% opacity
			`target size: #tiny-a is 16 x 16 CSS px`,
			`keyboard: focus on #no-ring cannot be seen`,
			`keyboard: Tab goes from #jumps-the-queue to #unnamed, back up the page`,
			`keyboard: focused, #under-the-bar cannot be seen: it is hidden behind html > body > div.bar`,
			`keyboard: trap: Tab does not move the focus from #trap`,
		)
	})
	t.Run("right_to_left_without_dir", func(t *testing.T) {
		wantFailures(t, audit(t, browser, fmt.Sprintf(homePage, `lang="ar"`), Page{Lang: "ar", RTL: true}),
			`document: <html dir=""> lays the page out ltr, want rtl`,
			`document: the title "Casefleet" does not name the view (its heading "اختر هاتفك")`,
			`a[href="/next"] to body > main > nav > a[href="/help"], rightwards in a right-to-left row`,
		)
	})
	t.Run("good_home_page", func(t *testing.T) {
		if got := audit(t, browser, fmt.Sprintf(homePage, `lang="ar" dir="rtl"`), Page{Lang: "ar", RTL: true, HomeTitle: "Casefleet"}); len(got) > 0 {
			t.Errorf("a page that keeps every rule fails:\n%s", strings.Join(got, "\n"))
		}
	})
}

func TestA11yReadingOrder(t *testing.T) {
	row := func(top, left, width float64) focusStop {
		return focusStop{Top: top, Bottom: top + 40, Left: left, Right: left + width}
	}
	for _, c := range []struct {
		name string
		a, b focusStop
		rtl  bool
		bad  bool
	}{
		{"down the page", row(0, 200, 50), row(100, 0, 50), false, false},
		{"on along a row", row(0, 0, 50), row(0, 100, 50), false, false},
		{"back along a row", row(0, 100, 50), row(0, 0, 50), false, true},
		{"right to left along a row", row(0, 100, 50), row(0, 0, 50), true, false},
		{"left to right in an RTL row", row(0, 0, 50), row(0, 100, 50), true, true},
		{"back up the page", row(100, 0, 50), row(0, 0, 50), false, true},
		{"a taller neighbour in the row", focusStop{Top: 0, Bottom: 100, Left: 0, Right: 50}, row(30, 60, 50), false, false},
	} {
		if got := outOfOrder(c.a, c.b, c.rtl); (got != "") != c.bad {
			t.Errorf("%s: outOfOrder says %q", c.name, got)
		}
	}
}

func TestA11yZoomBlocked(t *testing.T) {
	for content, blocked := range map[string]bool{
		"width=device-width, initial-scale=1, viewport-fit=cover": false,
		"width=device-width, initial-scale=1":                     false,
		"width=device-width, maximum-scale=1":                     true,
		"width=device-width, maximum-scale=5":                     false,
		"width=device-width,user-scalable=no":                     true,
		"width=device-width, user-scalable=0":                     true,
		"width=device-width, user-scalable=yes":                   false,
	} {
		if got := zoomBlocked(content); (got != "") != blocked {
			t.Errorf("%q: zoomBlocked says %q", content, got)
		}
	}
}
