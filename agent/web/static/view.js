// Small DOM helpers shared by the views.

import { t } from 'casefleet/i18n';
import { setTitle } from 'casefleet/notify';

export const $ = (id) => document.getElementById(id);

let currentView = 'loading';

// retitle names the tab after the screen shown, in its language: the
// heading, then the app's name (the picker, the first screen, is the
// app's name alone). Screen readers read the title, and so do tab lists.
let title = '';
function retitle() {
  const heading = document.querySelector(`#v-${currentView} h1`)?.textContent.trim();
  const now = heading && currentView !== 'pick' ? `${heading} · ${t('app.title')}` : t('app.title');
  if (now === title) return; // the design's heading is redrawn as the photo moves
  title = now;
  setTitle(now);
}
// A heading changes with the language, the model and the order's progress.
for (const h of document.querySelectorAll('main > .view h1')) {
  new MutationObserver(() => {
    if (h.closest('.view').id === `v-${currentView}`) retitle();
  }).observe(h, { childList: true, characterData: true, subtree: true });
}

// showView shows one <section class="view"> and moves focus to its heading,
// so screen readers announce the new screen and keyboard users start there.
export function showView(name, { focus = true } = {}) {
  for (const v of document.querySelectorAll('main > .view')) v.hidden = v.id !== 'v-' + name;
  const changed = currentView !== name;
  currentView = name;
  retitle();
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
