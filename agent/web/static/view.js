// Small DOM helpers shared by the views.

export const $ = (id) => document.getElementById(id);

let currentView = 'loading';

// showView shows one <section class="view"> and moves focus to its heading,
// so screen readers announce the new screen and keyboard users start there.
export function showView(name, { focus = true } = {}) {
  for (const v of document.querySelectorAll('main > .view')) v.hidden = v.id !== 'v-' + name;
  const changed = currentView !== name;
  currentView = name;
  if (focus && changed) {
    window.scrollTo(0, 0);
    const heading = document.querySelector(`#v-${name} h1`);
    if (heading) heading.focus({ preventScroll: true });
  }
}

export const viewName = () => currentView;

// el builds an element: el('a', {href: '/x', class: 'y'}, 'text', child).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

// banner shows a line at the top of every view (or hides it with '').
export function banner(text, kind = 'info') {
  const b = $('banner');
  b.textContent = text;
  b.dataset.kind = kind;
  b.hidden = !text;
}
