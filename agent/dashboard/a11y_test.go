package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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

	"casefleet/agent/agenttest"
	"casefleet/shared/tunnel"
)

// The operator's dashboard checked for accessibility in a real Chromium
// at phone size (390 x 844), screen by screen, as agent/web/a11y_test.go
// checks the customer's app:
//
//   - names: every interactive element has an accessible name as Chromium
//     computes it (the accessibility tree over CDP); images have alt text
//     or are marked decorative;
//   - contrast: every visible text's colour against the background it is
//     drawn on (the ancestors' background colours and opacities composited)
//     meets WCAG 2.x: 4.5:1, or 3:1 for large text; disabled controls are
//     exempt;
//   - keyboard: Tab (real key events) from the top of the page reaches
//     every visible focusable element, in reading order, each with a
//     visible focus indicator that is not hidden behind something else,
//     and leaves the page at the end (no trap);
//   - document: <html lang>, one <h1>, one main landmark, a title naming
//     the view, zoom allowed, touch targets of 24 x 24 CSS px at least
//     (WCAG 2.5.8; misses of 44 x 44, 2.5.5, are logged);
//
// and an order's button keeps the keyboard's focus through the live
// updates the dashboard takes every few seconds.
//
// The checks are a copy of agent/web/a11y_test.go's (test packages cannot
// share code without a package of their own): keep the two in step.

// a11yPage is one browser tab the checks report on to t.
type a11yPage struct {
	t    a11yReporter
	ctx  context.Context
	name string
}

// a11yReporter is a test, or a recorder of a check's failures.
type a11yReporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

func (p *a11yPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// a11yEval evaluates JavaScript (awaiting a promise) and decodes the result.
func a11yEval[T any](p *a11yPage, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: evaluate %.80s: %v", p.name, js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds.
func (p *a11yPage) waitFor(what, js string, within time.Duration) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		p.t.Fatalf("%s: within %v: %s (%s): %v", p.name, within, what, js, err)
	}
}

// a11yPhone is a headless Chromium at phone size (390 x 844 CSS px, twice
// the density, touch), as TestOperatorDashboardOnAPhone uses.
func a11yPhone(t *testing.T) *a11yPage {
	t.Helper()
	ctx := newBrowserContext(t, 390, 844)
	p := &a11yPage{t: t, ctx: ctx, name: "operator's phone"}
	p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2), chromedp.EmulateTouch))
	return p
}

// a11yScript installs window.__a11y, the in-page half of the checks. It
// reads the page and changes nothing but the focus: beginTab focuses the
// top of the page (the body, or the open dialog, with a tabindex of -1
// until the first Tab) for the keyboard check.
const a11yScript = `(() => {
if (window.__a11y) return true;
const A = {};
window.__a11y = A;

const keys = new WeakMap();
let nextKey = 1;
A.key = (el) => { if (!keys.has(el)) keys.set(el, nextKey++); return keys.get(el); };

// path is a short CSS path that names el in failure messages.
A.path = (el) => {
  const parts = [];
  for (let n = el; n && n.nodeType === 1 && parts.length < 4; n = n.parentElement) {
    if (n.id) { parts.unshift('#' + CSS.escape(n.id)); break; }
    let s = n.localName + [...n.classList].slice(0, 2).map((c) => '.' + CSS.escape(c)).join('');
    const attr = ['data-act', 'data-product', 'data-colour', 'data-step', 'value', 'aria-label', 'href'].find((a) => n.hasAttribute(a));
    if (attr) s += '[' + attr + '="' + n.getAttribute(attr).slice(0, 40) + '"]';
    else if (n.parentElement) {
      const same = [...n.parentElement.children].filter((c) => c.localName === n.localName);
      if (same.length > 1) s += ':nth-of-type(' + (same.indexOf(n) + 1) + ')';
    }
    parts.unshift(s);
  }
  return parts.join(' > ');
};

// The part of the page a user can reach: an open modal dialog, else all.
A.modal = () => document.querySelector('dialog:modal');
A.scope = () => A.modal() || document.documentElement;
A.inert = (el) => !!el.closest('[inert]') || !A.scope().contains(el);
A.shown = (el) => el.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true }) && !A.inert(el);

// clipped: visually hidden on purpose (the .sr pattern): in the
// accessibility tree, but no pixels of its own.
A.clipped = (el) => {
  for (let n = el; n && n !== document.body; n = n.parentElement) {
    const cs = getComputedStyle(n);
    if (/^inset\(50%/.test(cs.clipPath) || cs.clip === 'rect(0px, 0px, 0px, 0px)') return true;
    const r = n.getBoundingClientRect();
    if ((r.width <= 1 || r.height <= 1) && cs.overflow !== 'visible') return true;
  }
  return false;
};
// face is what a user sees of a control: a visually hidden input shows
// as its label.
A.face = (el) => (A.clipped(el) && (el.labels?.[0] || el.closest('label'))) || el;

const NATIVE = 'a[href], area[href], button, input:not([type=hidden]), select, textarea, summary, iframe, [contenteditable]:not([contenteditable=false])';
const ROLES = ['button', 'link', 'checkbox', 'radio', 'switch', 'tab', 'menuitem', 'option', 'slider', 'spinbutton', 'textbox', 'searchbox', 'combobox', 'listbox'];
A.isInteractive = (el) => el.matches(NATIVE) || ROLES.includes(el.getAttribute('role')) || (el.hasAttribute('tabindex') && el.tabIndex >= 0);
A.isTabbable = (el) => (el.matches(NATIVE) || el.hasAttribute('tabindex')) && el.tabIndex >= 0 && !el.disabled;
const all = () => [...A.scope().querySelectorAll('*')];
A.interactive = () => all().filter((el) => A.isInteractive(el) && A.shown(el));
A.tabbables = () => all().filter((el) => A.isTabbable(el) && A.shown(el));

// Elements that need an accessible name: the interactive ones and images
// given role=img (the preview canvas). Kept for collectNamed's caller.
A.collectNamed = () => {
  A.named = all().filter((el) => A.shown(el) && (A.isInteractive(el) || el.getAttribute('role') === 'img'));
  return A.named;
};
A.namedInfo = () => A.named.map((el) => ({ path: A.path(el), tabbable: A.isTabbable(el) }));

// images: an <img> needs alt (empty when decorative); inline SVG is
// hidden or named.
A.images = () => all().filter((el) => el.matches('img, svg, input[type=image]') && A.shown(el) && !el.closest('[aria-hidden=true], svg svg')).flatMap((el) => {
  const role = el.getAttribute('role');
  if (role === 'presentation' || role === 'none' || el.hasAttribute('aria-label') || el.hasAttribute('aria-labelledby')) return [];
  if (el.localName === 'svg') return role === 'img' ? [] : [{ path: A.path(el), problem: 'inline SVG neither aria-hidden nor role=img with a name' }];
  return el.hasAttribute('alt') ? [] : [{ path: A.path(el), problem: 'image without alt (alt="" if decorative)' }];
});

// Colours.
A.rgba = (c) => {
  const m = /^rgba?\(([^)]*)\)$/.exec(c);
  if (m) {
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  const cv = A.canvas || (A.canvas = Object.assign(document.createElement('canvas'), { width: 1, height: 1 }));
  const x = cv.getContext('2d', { willReadFrequently: true });
  x.clearRect(0, 0, 1, 1);
  x.fillStyle = c;
  x.fillRect(0, 0, 1, 1);
  const d = x.getImageData(0, 0, 1, 1).data;
  return { r: d[0], g: d[1], b: d[2], a: d[3] / 255 };
};
const over = (top, under) => ({ r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a), a: 1 });
const mix = (from, to, o) => ({ r: from.r + (to.r - from.r) * o, g: from.g + (to.g - from.g) * o, b: from.b + (to.b - from.b) * o, a: 1 });
A.hex = (c) => '#' + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
const lum = (c) => {
  const ch = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
};
A.ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };

// paint is the colour of a pixel of el (of its text when fg is given):
// the background colours of el and its ancestors composited over white,
// each ancestor's opacity applied to everything it draws. image tells a
// background image (a gradient) shows through, which the colour misses.
A.paint = (el, fg) => {
  const chain = [];
  for (let n = el; n; n = n.parentElement) chain.unshift(n);
  let image = false;
  const layer = (i, under) => {
    const cs = getComputedStyle(chain[i]);
    const bg = A.rgba(cs.backgroundColor);
    if (bg.a >= 1) image = false;
    if (cs.backgroundImage !== 'none') image = true;
    let px = over(bg, under);
    px = i + 1 < chain.length ? layer(i + 1, px) : fg ? over(fg, px) : px;
    const o = parseFloat(cs.opacity);
    return o < 1 ? mix(under, px, o) : px;
  };
  const px = layer(0, { r: 255, g: 255, b: 255, a: 1 });
  return { px, image };
};

// texts is every visible text with its contrast: one entry per element
// (its own text nodes), and the shown option of each select.
A.texts = () => {
  const found = new Map();
  const root = A.modal() || document.body;
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode());) {
    const el = n.parentElement;
    if (!n.data.trim() || !el || found.has(el) || el.closest('script, style, noscript, template, option, title')) continue;
    if (!A.shown(el) || A.clipped(el)) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    if (![...range.getClientRects()].some((r) => r.width > 0 && r.height > 0)) continue;
    found.set(el, n.data.trim());
  }
  for (const s of root.querySelectorAll('select')) if (A.shown(s)) found.set(s, s.selectedOptions[0]?.text || '');
  return [...found].map(([el, text]) => {
    const cs = getComputedStyle(el);
    const size = parseFloat(cs.fontSize), weight = parseInt(cs.fontWeight, 10) || 400;
    const large = size >= 24 || (size >= 18.66 && weight >= 700);
    const bg = A.paint(el, null), fg = A.paint(el, A.rgba(cs.color));
    return {
      path: A.path(el), text: text.replace(/\s+/g, ' ').slice(0, 40), color: cs.color, fg: A.hex(fg.px), bg: A.hex(bg.px),
      ratio: A.ratio(fg.px, bg.px), need: large ? 3 : 4.5, size, weight,
      disabled: !!el.closest(':disabled, [aria-disabled=true]'), image: bg.image,
    };
  });
};

// targets: each interactive element's size on screen (a hidden input's
// label's), with WCAG 2.5.8's exceptions worked out: a link inline in a
// sentence, and an undersized target whose 24 px circle touches no other.
A.targets = () => {
  const els = A.interactive().filter((el) => !el.disabled);
  const faces = els.map((el) => A.face(el));
  const rects = faces.map((f) => f.getBoundingClientRect());
  const small = (r) => r.width < 24 || r.height < 24;
  const dist = (r, x, y) => Math.hypot(Math.max(r.left - x, 0, x - r.right), Math.max(r.top - y, 0, y - r.bottom));
  return els.map((el, i) => {
    const r = rects[i], f = faces[i];
    const inline = el.localName === 'a' && getComputedStyle(el).display === 'inline' && (el.parentElement?.textContent || '').trim() !== el.textContent.trim();
    let spaced = false;
    if (small(r)) {
      const cx = (r.left + r.right) / 2, cy = (r.top + r.bottom) / 2;
      spaced = rects.every((o, j) => {
        if (j === i || faces[j] === f || f.contains(faces[j]) || faces[j].contains(f)) return true;
        if (small(o)) return Math.hypot((o.left + o.right) / 2 - cx, (o.top + o.bottom) / 2 - cy) >= 24;
        return dist(o, cx, cy) >= 12;
      });
    }
    return { path: A.path(el), w: r.width, h: r.height, inline, spaced };
  });
};

// doc is what the document says about itself.
A.doc = () => {
  const vp = document.querySelector('meta[name=viewport]');
  const visible = (el) => el.checkVisibility({ visibilityProperty: true });
  return {
    lang: document.documentElement.getAttribute('lang') || '', dir: document.documentElement.getAttribute('dir') || '',
    direction: getComputedStyle(document.body).direction, title: document.title,
    viewport: vp ? vp.content : null,
    h1: [...document.querySelectorAll('h1, [role=heading][aria-level="1"]')].filter(visible).map((h) => h.textContent.replace(/[\u2068\u2069]/g, '').replace(/\s+/g, ' ').trim()),
    mains: [...document.querySelectorAll('main, [role=main]')].filter(visible).map(A.path),
  };
};

// Keyboard. beginTab notes how every tabbable element looks unfocused,
// then moves the focus to the top of the page (or of the open dialog):
// the next Tab goes to the first element.
const FOCUS_STYLE = ['outlineStyle', 'outlineWidth', 'outlineColor', 'outlineOffset', 'boxShadow', 'borderTopColor', 'borderTopWidth', 'backgroundColor', 'color', 'textDecorationLine'];
const styleOf = (n) => { const cs = getComputedStyle(n); return Object.fromEntries(FOCUS_STYLE.map((p) => [p, cs[p]])); };
A.beginTab = () => {
  if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  const list = A.tabbables();
  A.unfocused = new Map();
  for (const el of list) for (const n of [el, A.face(el)]) A.unfocused.set(n, styleOf(n));
  const start = A.modal() || document.body;
  A.start = { el: start, tabindex: start.getAttribute('tabindex') };
  start.setAttribute('tabindex', '-1');
  start.focus({ preventScroll: true });
  window.scrollTo(0, 0);
  return list.map((el) => ({ key: A.key(el), path: A.path(el) }));
};
const endStart = () => {
  if (!A.start) return;
  if (A.start.tabindex === null) A.start.el.removeAttribute('tabindex');
  else A.start.el.setAttribute('tabindex', A.start.tabindex);
  A.start = null;
};

// indicator tells how the focused element (or its face) shows focus.
const indicator = (el) => {
  const problems = [];
  for (const n of new Set([A.face(el), el])) {
    const was = A.unfocused.get(n) || {}, now = styleOf(n);
    const differs = (p) => now[p] !== was[p];
    if (now.outlineStyle !== 'none' && parseFloat(now.outlineWidth) >= 1 && (differs('outlineStyle') || differs('outlineWidth') || differs('outlineColor'))) {
      if (now.outlineStyle === 'auto') return { how: 'outline (auto)' };
      const behind = A.paint(n.parentElement || n, null);
      const ratio = A.ratio(over(A.rgba(now.outlineColor), behind.px), behind.px);
      // The outline drawn outside the box: all of it clipped by an ancestor?
      const r = n.getBoundingClientRect(), out = parseFloat(now.outlineOffset) + parseFloat(now.outlineWidth);
      let clip = { left: 0, top: 0, right: innerWidth, bottom: innerHeight }, clipper = null;
      for (let a = n.parentElement; a && a !== document.body; a = a.parentElement) {
        const cs = getComputedStyle(a);
        if (cs.overflowX === 'visible' && cs.overflowY === 'visible' && cs.clipPath === 'none') continue;
        const ar = a.getBoundingClientRect();
        if (ar.left > clip.left || ar.top > clip.top || ar.right < clip.right || ar.bottom < clip.bottom) clipper = a;
        clip = { left: Math.max(clip.left, ar.left), top: Math.max(clip.top, ar.top), right: Math.min(clip.right, ar.right), bottom: Math.min(clip.bottom, ar.bottom) };
      }
      const visible = out <= 0 ? 0 : Math.max(Math.min(out, r.left - clip.left), 0) + Math.max(Math.min(out, clip.right - r.right), 0) +
        Math.max(Math.min(out, r.top - clip.top), 0) + Math.max(Math.min(out, clip.bottom - r.bottom), 0);
      if (out > 0 && visible === 0) { problems.push('its outline is all clipped by ' + (clipper ? A.path(clipper) : 'the viewport')); continue; }
      if (!behind.image && ratio < 3) { problems.push('its outline ' + A.hex(A.rgba(now.outlineColor)) + ' on ' + A.hex(behind.px) + ' is ' + ratio.toFixed(2) + ':1, under 3:1'); continue; }
      return { how: 'outline ' + now.outlineWidth + ' ' + A.hex(A.rgba(now.outlineColor)) + (behind.image ? '' : ' (' + ratio.toFixed(1) + ':1)') };
    }
    if (now.boxShadow !== 'none' && differs('boxShadow')) return { how: 'box-shadow' };
    if (differs('borderTopColor') || differs('borderTopWidth')) return { how: 'border' };
    if (differs('backgroundColor')) return { how: 'background' };
  }
  return { problem: problems.join('; ') || 'it looks the same focused as unfocused (no outline, box-shadow, border or background change)' };
};

// coveredBy: what hides the face at most of its points (sticky bars,
// overlays with a background), or '' when it can be seen.
const opaque = (n) => {
  const cs = getComputedStyle(n);
  return A.rgba(cs.backgroundColor).a > 0.3 || cs.backgroundImage !== 'none' || ['img', 'canvas', 'video', 'svg', 'iframe'].includes(n.localName);
};
const coveredBy = (face) => {
  const r = face.getBoundingClientRect();
  let seen = 0, onScreen = 0, by = null;
  for (const [fx, fy] of [[0.5, 0.5], [0.15, 0.2], [0.85, 0.2], [0.15, 0.8], [0.85, 0.8]]) {
    const x = r.left + r.width * fx, y = r.top + r.height * fy;
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
    onScreen++;
    const hit = document.elementFromPoint(x, y);
    if (!hit || face.contains(hit) || hit.contains(face)) { seen++; continue; }
    let cover = null;
    for (let n = hit; n && !n.contains(face); n = n.parentElement) if (opaque(n)) { cover = n; break; }
    if (cover) by = cover; else seen++;
  }
  if (seen > 0) return '';
  return onScreen === 0 ? 'it is off screen' : 'it is hidden behind ' + A.path(by);
};

// focused describes the focused element after a Tab, once a frame has
// been drawn.
A.focused = async () => {
  await new Promise((r) => requestAnimationFrame(() => r()));
  endStart();
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement || !A.scope().contains(el)) return { key: 0 };
  const face = A.face(el), r = face.getBoundingClientRect();
  const ind = indicator(el);
  return {
    key: A.key(el), path: A.path(el), shown: A.shown(el) && r.width > 0 && r.height > 0,
    top: r.top + scrollY, bottom: r.bottom + scrollY, left: r.left + scrollX, right: r.right + scrollX,
    how: ind.how || '', noIndicator: ind.problem || '', covered: coveredBy(face),
  };
};
return true;
})()`

// a11yLang is a language the screens are checked in.
type a11yLang struct {
	code string // <html lang>
	rtl  bool
}

var english = a11yLang{"en", false}

// auditA11y runs every check on what the phone shows now. The focus
// moves (the keyboard check tabs through the page); nothing else does.
func auditA11y(p *a11yPage, want a11yLang) {
	p.t.Helper()
	// Lazy images in hidden views never load: only the shown ones count.
	p.waitFor("the page settled (fonts, images, animations)",
		`document.fonts.status === 'loaded' && [...document.images].every((i) => i.complete || !i.checkVisibility()) && document.getAnimations().every((a) => a.playState !== 'running')`, 10*time.Second)
	_ = a11yEval[bool](p, `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	_ = a11yEval[bool](p, a11yScript)
	checkDocument(p, want)
	checkNames(p)
	checkContrast(p)
	checkTargets(p)
	checkKeyboard(p, want)
}

func checkDocument(p *a11yPage, want a11yLang) {
	p.t.Helper()
	var d struct {
		Lang, Dir, Direction, Title string
		Viewport                    *string
		H1                          []string
		Mains                       []string
	}
	raw := a11yEval[string](p, `JSON.stringify(__a11y.doc())`)
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		p.t.Fatalf("%v", err)
	}
	if d.Lang != want.code {
		p.t.Errorf("document: <html lang=%q>, want %q", d.Lang, want.code)
	}
	if wantDir := map[bool]string{true: "rtl", false: "ltr"}[want.rtl]; d.Direction != wantDir || (want.rtl && d.Dir != "rtl") {
		p.t.Errorf("document: <html dir=%q> lays the page out %s, want %s", d.Dir, d.Direction, wantDir)
	}
	switch {
	case len(d.H1) != 1:
		p.t.Errorf("document: %d visible <h1> (%q), want one per view", len(d.H1), d.H1)
	case d.H1[0] == "":
		p.t.Errorf("document: the <h1> is empty")
	case !strings.Contains(d.Title, d.H1[0]):
		p.t.Errorf("document: the title %q does not name the view (its heading %q)", d.Title, d.H1[0])
	}
	if strings.TrimSpace(d.Title) == "" {
		p.t.Errorf("document: no title")
	}
	if len(d.Mains) != 1 {
		p.t.Errorf("document: %d visible main landmarks (%q), want one", len(d.Mains), d.Mains)
	}
	if d.Viewport == nil {
		p.t.Errorf("document: no viewport meta")
	} else if problem := zoomBlocked(*d.Viewport); problem != "" {
		p.t.Errorf("document: the viewport %q %s", *d.Viewport, problem)
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
func checkNames(p *a11yPage) {
	p.t.Helper()
	type axName struct {
		name, role string
		ignored    bool
	}
	names, err := chromedp.Run(p.ctx, func(ctx context.Context, tg *chromedp.Target) (map[int]axName, error) {
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
		p.t.Fatalf("%s: accessibility tree: %v", p.name, err)
	}
	var info []struct {
		Path     string
		Tabbable bool
	}
	if err := json.Unmarshal([]byte(a11yEval[string](p, `JSON.stringify(__a11y.namedInfo())`)), &info); err != nil {
		p.t.Fatalf("%v", err)
	}
	for i := range info {
		n, found := names[i]
		if !found {
			n.ignored = true
		}
		switch {
		case n.ignored && info[i].Tabbable:
			p.t.Errorf("names: %s can be focused but is hidden from assistive technology", info[i].Path)
		case n.ignored:
		case strings.TrimSpace(n.name) == "":
			p.t.Errorf("names: %s (role %s) has no accessible name", info[i].Path, n.role)
		}
	}
	var images []struct{ Path, Problem string }
	if err := json.Unmarshal([]byte(a11yEval[string](p, `JSON.stringify(__a11y.images())`)), &images); err != nil {
		p.t.Fatalf("%v", err)
	}
	for _, im := range images {
		p.t.Errorf("names: %s: %s", im.Path, im.Problem)
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
func checkContrast(p *a11yPage) {
	p.t.Helper()
	var texts []textContrast
	if err := json.Unmarshal([]byte(a11yEval[string](p, `JSON.stringify(__a11y.texts())`)), &texts); err != nil {
		p.t.Fatalf("%v", err)
	}
	if len(texts) == 0 {
		p.t.Errorf("contrast: no visible text found")
	}
	slices.SortFunc(texts, func(a, b textContrast) int { return cmpFloat(a.Ratio/a.Need, b.Ratio/b.Need) })
	var lowest []string
	for _, tx := range texts {
		if !tx.Disabled && len(lowest) < 3 {
			lowest = append(lowest, fmt.Sprintf("%s %.2f:1 (needs %.1f)", tx.Path, tx.Ratio, tx.Need))
		}
	}
	p.t.Logf("contrast: %d texts; the closest to their minimum: %s", len(texts), strings.Join(lowest, ", "))
	var bad []textContrast
	for _, tx := range texts {
		switch {
		case tx.Disabled: // WCAG 1.4.3: inactive controls are exempt
		case tx.Image:
			p.t.Logf("contrast: %s %q is drawn on a background image; %s on %s (%.2f:1) counts its colours only", tx.Path, tx.Text, tx.Fg, tx.Bg, tx.Ratio)
		case tx.Ratio < tx.Need:
			bad = append(bad, tx)
		}
	}
	slices.SortFunc(bad, func(a, b textContrast) int { return cmpFloat(a.Ratio, b.Ratio) })
	for _, tx := range bad {
		p.t.Errorf("contrast: %s %q: %s on %s is %.2f:1, needs %.1f:1 (%.4gpx, weight %d; colour %s)", tx.Path, tx.Text, tx.Fg, tx.Bg, tx.Ratio, tx.Need, tx.Size, tx.Weight, tx.Color)
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
func checkTargets(p *a11yPage) {
	p.t.Helper()
	var targets []struct {
		Path           string
		W, H           float64
		Inline, Spaced bool
	}
	if err := json.Unmarshal([]byte(a11yEval[string](p, `JSON.stringify(__a11y.targets())`)), &targets); err != nil {
		p.t.Fatalf("%v", err)
	}
	var aaa []string
	for _, tg := range targets {
		switch {
		case tg.Inline: // a link in a sentence is exempt
		case (tg.W < 24 || tg.H < 24) && !tg.Spaced:
			p.t.Errorf("target size: %s is %.0f x %.0f CSS px, under 24 x 24 (WCAG 2.5.8), and near other targets", tg.Path, tg.W, tg.H)
		case tg.W < 44 || tg.H < 44:
			aaa = append(aaa, fmt.Sprintf("%s %.0fx%.0f", tg.Path, tg.W, tg.H))
		}
	}
	if len(aaa) > 0 {
		p.t.Logf("target size: under 44 x 44 CSS px (WCAG 2.5.5, AAA; not failed): %s", strings.Join(aaa, ", "))
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
func checkKeyboard(p *a11yPage, want a11yLang) {
	p.t.Helper()
	var expected []struct {
		Key  int
		Path string
	}
	if err := json.Unmarshal([]byte(a11yEval[string](p, `JSON.stringify(__a11y.beginTab())`)), &expected); err != nil {
		p.t.Fatalf("%v", err)
	}
	// Shift+Tab from the top leaves the page (for the browser's own
	// controls), or comes round to the page's last element; either way,
	// Tab from there comes in at the start of the page's tab order, as it
	// does from the address bar.
	focused := func() focusStop {
		var f focusStop
		if err := json.Unmarshal([]byte(a11yEval[string](p, `__a11y.focused().then(JSON.stringify)`)), &f); err != nil {
			p.t.Fatalf("%v", err)
		}
		return f
	}
	p.do(chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
	back := focused()
	var stops []focusStop
	seen := map[int]bool{}
	ended, outside := false, false
	for range len(expected) + 4 {
		p.do(chromedp.KeyEvent(kb.Tab))
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
			p.t.Errorf("keyboard: trap: Tab does not move the focus from %s", f.Path)
			ended = true
			break
		}
		if seen[f.Key] {
			p.t.Errorf("keyboard: trap: Tab goes back to %s after %s, never leaving the page", f.Path, stops[len(stops)-1].Path)
			ended = true
			break
		}
		seen[f.Key] = true
		stops = append(stops, f)
	}
	if !ended {
		p.t.Errorf("keyboard: after %d Tabs the focus is still in the page (a trap?): %s", len(expected)+4, stopPaths(stops))
	}
	if back.Key != 0 && len(stops) > 0 && back.Key != stops[len(stops)-1].Key {
		p.t.Errorf("keyboard: Shift+Tab from the top goes to %s, but Tab goes last to %s", back.Path, stops[len(stops)-1].Path)
	}
	for _, e := range expected {
		if !seen[e.Key] {
			p.t.Errorf("keyboard: Tab never reaches %s (went %s)", e.Path, stopPaths(stops))
		}
	}
	for i, f := range stops {
		switch {
		case !f.Shown:
			p.t.Errorf("keyboard: Tab focuses %s, which cannot be seen", f.Path)
			continue
		case f.NoIndicator != "":
			p.t.Errorf("keyboard: focus on %s cannot be seen: %s", f.Path, f.NoIndicator)
		case f.Covered != "":
			p.t.Errorf("keyboard: focused, %s cannot be seen: %s", f.Path, f.Covered)
		}
		if i > 0 {
			if problem := outOfOrder(stops[i-1], f, want.rtl); problem != "" {
				p.t.Errorf("keyboard: Tab goes from %s to %s, %s", stops[i-1].Path, f.Path, problem)
			}
		}
	}
	if len(stops) > 0 {
		how := make([]string, len(stops))
		for i, f := range stops {
			how[i] = f.Path + " [" + f.How + "]"
		}
		p.t.Logf("keyboard: Tab order: %s", strings.Join(how, ", "))
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

// TestDashboardAccessibility checks every screen of the operator's
// dashboard on a phone: the login, a wrong PIN, the dashboard with an
// order in every state and its QR code, the confirmation dialog, the
// paused queue, and the page of a dashboard that is switched off.
func TestDashboardAccessibility(t *testing.T) {
	p := a11yPhone(t) // skips (or fails on CI) without Chromium, before starting anything
	k := startKiosk(t, kioskOptions{PayDelay: -1, RelayURL: "https://relay.example.com", Name: "Mall 3F, east escalator", Location: "mall-3f"})
	k.Dash.SetTunnel(tunnel.State{Connected: true, PublicURL: "https://cases.example.com", Since: time.Now().Add(-3 * time.Hour)})
	noToasts := poll(`document.querySelectorAll(".toast").length === 0`)
	var last string // the last order in line, cancelled through the dialog
	var c *agenttest.Customer

	for _, s := range []struct {
		name  string
		reach func()
		after func()
	}{
		{name: "login", reach: func() {
			p.do(chromedp.Navigate(k.URL+"/operator/login"), chromedp.WaitVisible(chromedp.CSS("#pin")))
		}},
		{name: "wrong PIN", reach: func() {
			p.do(chromedp.SendKeys(chromedp.CSS("#pin"), "000000"), chromedp.Submit(chromedp.CSS("#pin")), chromedp.WaitVisible(chromedp.CSS("#login-error")))
		}},
		{name: "dashboard", reach: func() {
			p.do(chromedp.SendKeys(chromedp.CSS("#pin"), testPIN), chromedp.Submit(chromedp.CSS("#pin")), chromedp.WaitVisible(chromedp.CSS("#live.pill-ok")))
			// A failed order, one at the machine waiting for payment, two in line.
			c = k.customer(t)
			failed := k.order(t, c)
			agenttest.Eventually(t, 20*time.Second, "the first order reaches the machine", func() bool {
				return len(k.Sim.Orders(t, testCode)) == 1 && k.Sim.Orders(t, testCode)[0].Status == "pending"
			})
			k.Sim.Admin(t, http.MethodPost, "/admin/orders/"+k.Sim.Orders(t, testCode)[0].ID+"/fail", map[string]string{"reason": "head jam"}, nil)
			p.do(shows("#fail-body", failed.ID[:8]))
			atMachine := k.order(t, c)
			p.do(shows("#current", atMachine.ID[:8]))
			k.order(t, c)
			last = k.order(t, c).ID
			p.do(shows("#queue-body", last[:8]), shows("#queue-count", "2"), chromedp.WaitVisible(chromedp.CSS("#qr-img")), noToasts)
		}, after: func() {
			// The page takes a new state every few seconds: an operator's
			// focus on an order's button stays there.
			t.Run("focus_through_live_updates", func(t *testing.T) {
				q := *p
				q.t = t
				cancelLast := `button[aria-label="Cancel order ` + last[:8] + `"]`
				q.do(chromedp.Focus(chromedp.CSS(cancelLast)))
				a11yEval[bool](&q, `(window.focusedBefore = document.activeElement, true)`)
				// A state that changes no order: the very same button keeps it.
				k.Dash.SetTunnel(tunnel.State{Err: errors.New("a test cut the line"), Since: time.Now()})
				q.do(shows("#tunnel", "a test cut the line"))
				if !a11yEval[bool](&q, `document.activeElement === window.focusedBefore`) {
					t.Errorf("a live update that changed no order moved the focus from %s to %s", cancelLast, a11yEval[string](&q, `document.activeElement.outerHTML.slice(0, 80)`))
				}
				k.Dash.SetTunnel(tunnel.State{Connected: true, PublicURL: "https://cases.example.com", Since: time.Now()})
				q.do(shows("#tunnel", "Connected"))
				// A new order in line: the list is drawn anew, the focus stays on the order's button.
				newer := k.order(t, c)
				q.do(shows("#queue-body", newer.ID[:8]), shows("#queue-count", "3"))
				if !a11yEval[bool](&q, `document.activeElement.matches(`+jsString(cancelLast)+`)`) {
					t.Errorf("a new order in line moved the focus from %s to %s", cancelLast, a11yEval[string](&q, `document.activeElement.outerHTML.slice(0, 80)`))
				}
			})
		}},
		{name: "cancel question", reach: func() {
			p.do(chromedp.Click(chromedp.CSS(`button[aria-label="Cancel order `+last[:8]+`"]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-yes")))
		}, after: func() {
			// No trap: Escape closes the dialog.
			p.do(chromedp.KeyEvent(kb.Escape), poll(`!document.getElementById("confirm").open`))
		}},
		{name: "queue paused", reach: func() {
			p.do(chromedp.Click(chromedp.CSS("#pause-btn")), chromedp.WaitVisible(chromedp.CSS("#paused-banner")), shows("#pause-btn", "Resume queue"), noToasts)
		}},
		{name: "switched off", reach: func() {
			off := startKiosk(t, kioskOptions{PIN: "-"})
			p.do(chromedp.Navigate(off.URL+"/operator/"), shows("h1", "switched off"))
		}},
	} {
		s.reach()
		t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) {
			q := *p
			q.t = t
			auditA11y(&q, english)
		})
		if s.after != nil {
			s.after()
		}
	}
}

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

// recorder collects a check's failures instead of failing the test.
type recorder struct {
	t      *testing.T
	errors []string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Logf(format string, args ...any)   { r.t.Logf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.t.Fatalf(format, args...) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestDashboardAccessibilityChecksCatchProblems runs the checks on a page that
// breaks each rule: a check that passes the app must fail here.
func TestDashboardAccessibilityChecksCatchProblems(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, brokenPage)
	}))
	t.Cleanup(srv.Close)
	p := a11yPhone(t)
	p.do(chromedp.Navigate(srv.URL))
	rec := &recorder{t: t}
	q := *p
	q.t = rec
	auditA11y(&q, english)
	for _, want := range []string{
		`document: <html lang="">, want "en"`,
		`document: 2 visible <h1>`,
		`document: no title`,
		`document: 0 visible main landmarks`,
		`stops zoom at 1x (maximum-scale under 2)`,
		`names: #unnamed (role button) has no accessible name`,
		`names: #no-alt: image without alt`,
		`p.faint:nth-of-type(1) "Faint text": #999999 on #ffffff is 2.85:1, needs 4.5:1`,
		`p.ghost:nth-of-type(2) "Faded text": #999999 on #ffffff is 2.85:1`, // black at 40% opacity`
		`target size: #tiny-a is 16 x 16 CSS px`,
		`keyboard: focus on #no-ring cannot be seen`,
		`keyboard: Tab goes from #jumps-the-queue to #unnamed, back up the page`,
		`keyboard: focused, #under-the-bar cannot be seen: it is hidden behind html > body > div.bar`,
		`keyboard: trap: Tab does not move the focus from #trap`,
	} {
		if !slices.ContainsFunc(rec.errors, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("no failure %q; the checks said:\n%s", want, strings.Join(rec.errors, "\n"))
		}
	}
}

func TestDashboardA11yReadingOrder(t *testing.T) {
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

func TestDashboardA11yZoomBlocked(t *testing.T) {
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
