(() => {
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
})()
