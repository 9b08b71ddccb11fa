// Package a11ytest checks a page shown in a real Chromium for
// accessibility, so that every casefleet page a customer or an operator
// meets (the customer's app, the operator's dashboard, the relay's own
// pages) is held to the same rules by the same code. Audit runs the
// checks on what a tab shows now:
//
//   - names: every interactive element has an accessible name as Chromium
//     computes it (the accessibility tree over CDP); images have alt text
//     or are marked decorative;
//   - contrast: every visible text's colour against the background it is
//     drawn on (the ancestors' background colours and opacities composited)
//     meets WCAG 2.x: 4.5:1, or 3:1 for large text; disabled controls are
//     exempt;
//   - keyboard: Tab (real key events) from the top of the page reaches
//     every visible focusable element, in reading order (right to left
//     along a row in a right-to-left page), each with a visible focus
//     indicator that is not hidden behind something else, and leaves the
//     page at the end (no trap);
//   - document: <html lang> and dir, one <h1>, one main landmark, a title
//     naming the view, zoom allowed, touch targets of 24 x 24 CSS px at
//     least (WCAG 2.5.8; misses of 44 x 44, 2.5.5, are logged).
//
// Why in a browser: a name, a colour or a tab order is only known once
// Chromium has laid the page out with its styles, scripts and language;
// reading the HTML would miss what the customer actually gets.
//
// What differs between pages (the language and direction they must
// declare, a title rule for an app's first screen) is a Page. Browser and
// Phone start a headless Chromium and open a phone-sized tab for tests
// that have no browser of their own; without Chromium they skip loudly, or
// fail when CASEFLEET_REQUIRE_SERVICES=1, as shared/testenv does. The
// package's own tests show each check failing on a page made to break it.
package a11ytest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// script installs window.__a11y, the in-page half of the checks. It reads
// the page and changes nothing but the focus: beginTab focuses the top of
// the page (the body, or the open dialog, with a tabindex of -1 until the
// first Tab) for the keyboard check.
//
//go:embed script.js
var script string

// Page is what a page is held to where pages differ.
type Page struct {
	// Lang is the language the page must declare: <html lang>.
	Lang string
	// RTL: the page must be laid out right to left (<html dir="rtl">),
	// and Tab goes right to left along a row.
	RTL bool
	// HomeTitle, when not "", is a title the page may have instead of
	// one naming its <h1> (an app's first screen: the app's name alone).
	HomeTitle string
}

// step bounds each of the checks' calls to the browser.
const step = 30 * time.Second

// Audit runs every check on what the tab in ctx (a chromedp context)
// shows now, reporting failures to t. The focus moves (the keyboard check
// tabs through the page); nothing else does. The page may forbid scripts
// of its own (the relay's do): the checks run over CDP all the same.
func Audit(t testing.TB, ctx context.Context, want Page) {
	t.Helper()
	// Lazy images in hidden views never load: only the shown ones count.
	waitFor(t, ctx, "the page settled (fonts, images, animations)",
		`document.fonts.status === 'loaded' && [...document.images].every((i) => i.complete || !i.checkVisibility()) && document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity)`, 10*time.Second)
	_ = eval[bool](t, ctx, `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	_ = eval[bool](t, ctx, script)
	checkDocument(t, ctx, want)
	checkNames(t, ctx)
	checkContrast(t, ctx)
	checkTargets(t, ctx)
	checkKeyboard(t, ctx, want)
}

// do runs browser actions in ctx.
func do(t testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, step)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%v", err)
	}
}

// eval evaluates JavaScript (awaiting a promise) and decodes the result.
func eval[T any](t testing.TB, ctx context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, step)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %.80s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds.
func waitFor(t testing.TB, ctx context.Context, what, js string, within time.Duration) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		t.Fatalf("within %v: %s (%s): %v", within, what, js, err)
	}
}

// evalJSON evaluates JavaScript that returns JSON and decodes it into out.
func evalJSON(t testing.TB, ctx context.Context, js string, out any) {
	t.Helper()
	if err := json.Unmarshal([]byte(eval[string](t, ctx, js)), out); err != nil {
		t.Fatalf("%v", err)
	}
}

func checkDocument(t testing.TB, ctx context.Context, want Page) {
	t.Helper()
	var d struct {
		Lang, Dir, Direction, Title string
		Viewport                    *string
		H1                          []string
		Mains                       []string
	}
	evalJSON(t, ctx, `JSON.stringify(__a11y.doc())`, &d)
	if d.Lang != want.Lang {
		t.Errorf("document: <html lang=%q>, want %q", d.Lang, want.Lang)
	}
	if wantDir := map[bool]string{true: "rtl", false: "ltr"}[want.RTL]; d.Direction != wantDir || (want.RTL && d.Dir != "rtl") {
		t.Errorf("document: <html dir=%q> lays the page out %s, want %s", d.Dir, d.Direction, wantDir)
	}
	switch {
	case len(d.H1) != 1:
		t.Errorf("document: %d visible <h1> (%q), want one per view", len(d.H1), d.H1)
	case d.H1[0] == "":
		t.Errorf("document: the <h1> is empty")
	case !strings.Contains(d.Title, d.H1[0]) && (want.HomeTitle == "" || d.Title != want.HomeTitle):
		t.Errorf("document: the title %q does not name the view (its heading %q)", d.Title, d.H1[0])
	}
	if strings.TrimSpace(d.Title) == "" {
		t.Errorf("document: no title")
	}
	if len(d.Mains) != 1 {
		t.Errorf("document: %d visible main landmarks (%q), want one", len(d.Mains), d.Mains)
	}
	if d.Viewport == nil {
		t.Errorf("document: no viewport meta")
	} else if problem := zoomBlocked(*d.Viewport); problem != "" {
		t.Errorf("document: the viewport %q %s", *d.Viewport, problem)
	}
}

// zoomBlocked says how a viewport meta's content stops pinch zoom (WCAG
// 1.4.4: user-scalable=no, or a maximum-scale under 2), or "".
func zoomBlocked(content string) string {
	for _, part := range strings.FieldsFunc(content, func(r rune) bool { return r == ',' || r == ';' }) {
		k, v, _ := strings.Cut(part, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))
		switch k {
		case "user-scalable":
			if v == "no" || v == "0" {
				return "turns zoom off (user-scalable=" + v + ")"
			}
		case "maximum-scale":
			if f, err := strconv.ParseFloat(v, 64); err == nil && f < 2 {
				return "stops zoom at " + v + "x (maximum-scale under 2)"
			}
		}
	}
	return ""
}

// checkNames asks Chromium for the accessible name of every interactive
// element (and role=img), and checks images' alt text.
func checkNames(t testing.TB, ctx context.Context) {
	t.Helper()
	type axName struct {
		name, role string
		ignored    bool
	}
	cctx, cancel := context.WithTimeout(ctx, step)
	defer cancel()
	names, err := chromedp.Run(cctx, func(ctx context.Context, tg *chromedp.Target) (map[int]axName, error) {
		const group = "a11y-names"
		ev, err := cdp.Call(ctx, tg, runtime.Evaluate, runtime.EvaluateParams{Expression: `__a11y.collectNamed()`, ObjectGroup: group})
		if err != nil {
			return nil, err
		}
		defer cdp.Call(ctx, tg, runtime.ReleaseObjectGroup, runtime.ReleaseObjectGroupParams{ObjectGroup: group})
		if ev.ExceptionDetails != nil || ev.Result == nil || ev.Result.ObjectID == "" {
			return nil, fmt.Errorf("collect the elements: %+v", ev.ExceptionDetails)
		}
		own := true
		props, err := cdp.Call(ctx, tg, runtime.GetProperties, runtime.GetPropertiesParams{ObjectID: ev.Result.ObjectID, OwnProperties: &own})
		if err != nil {
			return nil, err
		}
		out := map[int]axName{}
		for _, pd := range props.Result {
			i, err := strconv.Atoi(pd.Name)
			if err != nil || pd.Value == nil || pd.Value.ObjectID == "" {
				continue
			}
			noRelatives := false
			tree, err := cdp.Call(ctx, tg, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{ObjectID: pd.Value.ObjectID, FetchRelatives: &noRelatives})
			if err != nil {
				return nil, err
			}
			if len(tree.Nodes) == 0 {
				continue // no node: out of the tree, as an ignored one is
			}
			n := tree.Nodes[0]
			out[i] = axName{name: axString(n.Name), role: axString(n.Role), ignored: n.Ignored}
		}
		return out, nil
	})
	if err != nil {
		t.Fatalf("accessibility tree: %v", err)
	}
	var info []struct {
		Path     string
		Tabbable bool
	}
	evalJSON(t, ctx, `JSON.stringify(__a11y.namedInfo())`, &info)
	for i := range info {
		n, found := names[i]
		if !found {
			n.ignored = true
		}
		switch {
		case n.ignored && info[i].Tabbable:
			t.Errorf("names: %s can be focused but is hidden from assistive technology", info[i].Path)
		case n.ignored:
		case strings.TrimSpace(n.name) == "":
			t.Errorf("names: %s (role %s) has no accessible name", info[i].Path, n.role)
		}
	}
	var images []struct{ Path, Problem string }
	evalJSON(t, ctx, `JSON.stringify(__a11y.images())`, &images)
	for _, im := range images {
		t.Errorf("names: %s: %s", im.Path, im.Problem)
	}
}

// axString is an accessibility value's string ("" for none).
func axString(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(v.Value, &s) != nil {
		return string(v.Value)
	}
	return s
}

type textContrast struct {
	Path, Text, Color, Fg, Bg string
	Ratio, Need, Size         float64
	Weight                    int
	Disabled, Image           bool
}

// checkContrast reports every visible text under WCAG's contrast ratio,
// worst first.
func checkContrast(t testing.TB, ctx context.Context) {
	t.Helper()
	var texts []textContrast
	evalJSON(t, ctx, `JSON.stringify(__a11y.texts())`, &texts)
	if len(texts) == 0 {
		t.Errorf("contrast: no visible text found")
	}
	slices.SortFunc(texts, func(a, b textContrast) int { return cmpFloat(a.Ratio/a.Need, b.Ratio/b.Need) })
	var lowest []string
	for _, tx := range texts {
		if !tx.Disabled && len(lowest) < 3 {
			lowest = append(lowest, fmt.Sprintf("%s %.2f:1 (needs %.1f)", tx.Path, tx.Ratio, tx.Need))
		}
	}
	t.Logf("contrast: %d texts; the closest to their minimum: %s", len(texts), strings.Join(lowest, ", "))
	var bad []textContrast
	for _, tx := range texts {
		switch {
		case tx.Disabled: // WCAG 1.4.3: inactive controls are exempt
		case tx.Image:
			t.Logf("contrast: %s %q is drawn on a background image; %s on %s (%.2f:1) counts its colours only", tx.Path, tx.Text, tx.Fg, tx.Bg, tx.Ratio)
		case tx.Ratio < tx.Need:
			bad = append(bad, tx)
		}
	}
	slices.SortFunc(bad, func(a, b textContrast) int { return cmpFloat(a.Ratio, b.Ratio) })
	for _, tx := range bad {
		t.Errorf("contrast: %s %q: %s on %s is %.2f:1, needs %.1f:1 (%.4gpx, weight %d; colour %s)", tx.Path, tx.Text, tx.Fg, tx.Bg, tx.Ratio, tx.Need, tx.Size, tx.Weight, tx.Color)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkTargets holds every interactive element to WCAG 2.5.8 (24 x 24
// CSS px, AA) and logs those under 2.5.5's 44 x 44 (AAA).
func checkTargets(t testing.TB, ctx context.Context) {
	t.Helper()
	var targets []struct {
		Path           string
		W, H           float64
		Inline, Spaced bool
	}
	evalJSON(t, ctx, `JSON.stringify(__a11y.targets())`, &targets)
	var aaa []string
	for _, tg := range targets {
		switch {
		case tg.Inline: // a link in a sentence is exempt
		case (tg.W < 24 || tg.H < 24) && !tg.Spaced:
			t.Errorf("target size: %s is %.0f x %.0f CSS px, under 24 x 24 (WCAG 2.5.8), and near other targets", tg.Path, tg.W, tg.H)
		case tg.W < 44 || tg.H < 44:
			aaa = append(aaa, fmt.Sprintf("%s %.0fx%.0f", tg.Path, tg.W, tg.H))
		}
	}
	if len(aaa) > 0 {
		t.Logf("target size: under 44 x 44 CSS px (WCAG 2.5.5, AAA; not failed): %s", strings.Join(aaa, ", "))
	}
}

type focusStop struct {
	Key                      int
	Path                     string
	Shown                    bool
	Top, Bottom, Left, Right float64
	How, NoIndicator         string
	Covered                  string
}

// checkKeyboard tabs from the top of the page (or of the open dialog)
// with real key events until the focus leaves it or comes round again.
func checkKeyboard(t testing.TB, ctx context.Context, want Page) {
	t.Helper()
	var expected []struct {
		Key  int
		Path string
	}
	evalJSON(t, ctx, `JSON.stringify(__a11y.beginTab())`, &expected)
	// Shift+Tab from the top leaves the page (for the browser's own
	// controls), or comes round to the page's last element; either way,
	// Tab from there comes in at the start of the page's tab order, as it
	// does from the address bar.
	focused := func() focusStop {
		var f focusStop
		evalJSON(t, ctx, `__a11y.focused().then(JSON.stringify)`, &f)
		return f
	}
	do(t, ctx, chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
	back := focused()
	var stops []focusStop
	seen := map[int]bool{}
	ended, outside := false, false
	for range len(expected) + 4 {
		do(t, ctx, chromedp.KeyEvent(kb.Tab))
		f := focused()
		if f.Key == 0 && len(stops) == 0 && back.Key != 0 && !outside {
			outside = true // from the last element out of the page, on the way to the first
			continue
		}
		if f.Key == 0 || (len(stops) > 0 && f.Key == stops[0].Key) {
			ended = true // left the page, or came round to the first element again
			break
		}
		if len(stops) > 0 && f.Key == stops[len(stops)-1].Key {
			t.Errorf("keyboard: trap: Tab does not move the focus from %s", f.Path)
			ended = true
			break
		}
		if seen[f.Key] {
			t.Errorf("keyboard: trap: Tab goes back to %s after %s, never leaving the page", f.Path, stops[len(stops)-1].Path)
			ended = true
			break
		}
		seen[f.Key] = true
		stops = append(stops, f)
	}
	if !ended {
		t.Errorf("keyboard: after %d Tabs the focus is still in the page (a trap?): %s", len(expected)+4, stopPaths(stops))
	}
	if back.Key != 0 && len(stops) > 0 && back.Key != stops[len(stops)-1].Key {
		t.Errorf("keyboard: Shift+Tab from the top goes to %s, but Tab goes last to %s", back.Path, stops[len(stops)-1].Path)
	}
	for _, e := range expected {
		if !seen[e.Key] {
			t.Errorf("keyboard: Tab never reaches %s (went %s)", e.Path, stopPaths(stops))
		}
	}
	for i, f := range stops {
		switch {
		case !f.Shown:
			t.Errorf("keyboard: Tab focuses %s, which cannot be seen", f.Path)
			continue
		case f.NoIndicator != "":
			t.Errorf("keyboard: focus on %s cannot be seen: %s", f.Path, f.NoIndicator)
		case f.Covered != "":
			t.Errorf("keyboard: focused, %s cannot be seen: %s", f.Path, f.Covered)
		}
		if i > 0 {
			if problem := outOfOrder(stops[i-1], f, want.RTL); problem != "" {
				t.Errorf("keyboard: Tab goes from %s to %s, %s", stops[i-1].Path, f.Path, problem)
			}
		}
	}
	if len(stops) > 0 {
		how := make([]string, len(stops))
		for i, f := range stops {
			how[i] = f.Path + " [" + f.How + "]"
		}
		t.Logf("keyboard: Tab order: %s", strings.Join(how, ", "))
	}
}

func stopPaths(stops []focusStop) string {
	paths := make([]string, len(stops))
	for i, f := range stops {
		paths[i] = f.Path
	}
	return "[" + strings.Join(paths, ", ") + "]"
}

// outOfOrder says how b, focused after a, breaks the reading order: it
// may not start above a unless they share a row, and within a row it
// comes after a in the line's direction.
func outOfOrder(a, b focusStop, rtl bool) string {
	const slack = 2
	overlap := min(a.Bottom, b.Bottom) - max(a.Top, b.Top)
	sameRow := overlap > 0.5*min(a.Bottom-a.Top, b.Bottom-b.Top)
	switch {
	case sameRow && !rtl && b.Left < a.Left-slack:
		return fmt.Sprintf("leftwards in a left-to-right row (x %.0f then %.0f)", a.Left, b.Left)
	case sameRow && rtl && b.Right > a.Right+slack:
		return fmt.Sprintf("rightwards in a right-to-left row (right edge %.0f then %.0f)", a.Right, b.Right)
	case !sameRow && b.Top < a.Top-slack:
		return fmt.Sprintf("back up the page (y %.0f then %.0f)", a.Top, b.Top)
	}
	return ""
}
