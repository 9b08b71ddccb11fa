// The pages for when things cannot go on as planned: unknown machine,
// machine offline, queue full, photo too large, not a photo, too many
// tries, no connection. Where another machine could help, the online
// machines at the same location are offered (from the relay's
// GET /api/machines; on the kiosk's LAN there is no such list, and none is
// shown).

import { $, el, showView } from 'casefleet/view';
import { t, tn, clock, countdown, minutes } from 'casefleet/i18n';

const ICONS = { unknown: '?', offline: '!', queue_full: '◷', rate_limited: '◷', network: '!', too_large: '!', not_image: '!', session: '!', error: '!' };

let tick = null;

// showProblem shows the page for kind. opts:
//   retryAfter  seconds until trying again makes sense (shown as a time and a countdown)
//   detail      a line of detail: the server's message, or {key, params} of a string
//   actions     [{label, primary, onClick, afterRetry}]: buttons (label is a string's key);
//               afterRetry ones wait for retryAfter
//   nearby      {api, location, self, onFollow}: list the other online machines there
export function showProblem(kind, { retryAfter = 0, detail = '', actions = [], nearby = null } = {}) {
  clearInterval(tick);
  $('problem-icon').textContent = ICONS[kind] || '!';
  $('problem-icon').dataset.kind = kind;
  $('problem-title').textContent = t(`problem.${kind}.title`);
  $('problem-text').textContent = t(`problem.${kind}.text`);
  $('problem-detail').textContent = typeof detail === 'string' ? detail : t(detail.key, detail.params);
  $('problem-detail').hidden = !detail;

  const buttons = actions.map((a) => el('button', {
    type: 'button', class: a.primary ? 'btn primary' : 'btn', onclick: a.onClick,
  }, t(a.label)));
  $('problem-actions').replaceChildren(...buttons);

  const retry = $('problem-retry');
  retry.hidden = !(retryAfter > 0);
  if (retryAfter > 0) {
    const at = Date.now() + retryAfter * 1000;
    const waiting = actions.map((a, i) => (a.afterRetry ? buttons[i] : null)).filter(Boolean);
    const update = () => {
      const left = (at - Date.now()) / 1000;
      if (left <= 0) {
        clearInterval(tick);
        retry.textContent = t('problem.retryNow');
        for (const b of waiting) b.disabled = false;
        return;
      }
      retry.textContent = t('problem.retryAt', { time: clock(new Date(at)), countdown: countdown(left) });
      for (const b of waiting) b.disabled = true;
    };
    update();
    tick = setInterval(update, 1000);
  }

  $('problem-alts').hidden = true;
  showView('problem');
  if (nearby) {
    listNearby({ ...nearby, list: $('problem-alt-list') }).then((shown) => {
      $('problem-alts').hidden = !shown;
    });
  }
}

export function clearProblem() {
  clearInterval(tick);
}

// listNearby fills list with the other machines online at location,
// shortest line first and full ones last (said so, without a link: they
// cannot take an order either). Following one calls onFollow(machine,
// href), which may carry the design over. It resolves false where there
// is no list (on the kiosk's LAN).
export async function listNearby({ api, location, self, list, onFollow }) {
  const machines = await api.machines();
  if (!machines) return false;
  const others = machines
    .filter((m) => m && m.code !== self && (!location || m.location === location) && m.status !== 'offline')
    .sort((a, b) => (!!a.full - !!b.full) || (a.queueLength ?? 0) - (b.queueLength ?? 0));
  list.replaceChildren();
  if (others.length === 0) {
    list.append(el('li', { class: 'help' }, t('alts.none')));
  }
  for (const m of others) {
    const href = `/editor?machine=${encodeURIComponent(m.code)}` + (m.location ? `&location=${encodeURIComponent(m.location)}` : '');
    const line = m.queueLength ? tn('alts.queue', m.queueLength) : t('alts.noLine');
    const wait = !m.full && m.queueLength && m.estimatedWaitSeconds > 0 ? ` · ${t('alts.wait', { wait: minutes(Math.ceil(m.estimatedWaitSeconds / 60)) })}` : '';
    const parts = [
      el('span', { class: 'alt-name' }, m.name || m.code),
      el('span', { class: 'alt-queue' }, m.full ? `${t('alts.full')} · ${line}` : line + wait),
    ];
    if (m.full) {
      list.append(el('li', {}, el('span', { class: 'alt full', 'data-full': '' }, ...parts)));
      continue;
    }
    const link = el('a', { href, class: 'alt' }, ...parts);
    if (onFollow) {
      link.addEventListener('click', (e) => {
        e.preventDefault();
        onFollow(m, href);
      });
    }
    list.append(el('li', {}, link));
  }
  return true;
}
