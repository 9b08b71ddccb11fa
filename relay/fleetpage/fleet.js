// The fleet page's live updates: the relay sends the table again (already
// rendered, in the page's language, for the page's filters) each time the
// fleet changes. Filters apply on change. Without this script the page
// still works: filters by their button, a reload for news.
'use strict';
(function () {
  const fleet = document.getElementById('fleet');
  const live = document.getElementById('live');
  const filters = document.getElementById('filters');
  if (filters) {
    for (const sel of filters.querySelectorAll('select')) {
      sel.addEventListener('change', () => filters.submit());
    }
  }
  if (!fleet || !window.EventSource) return;
  const setLive = (on) => {
    live.dataset.on = on ? '1' : '0';
    live.textContent = on ? live.dataset.textLive : live.dataset.textAway;
  };
  const es = new EventSource(fleet.dataset.events);
  es.addEventListener('open', () => setLive(true));
  es.addEventListener('error', () => {
    setLive(false);
    // Refused (the session is gone): the browser will not try again.
    if (es.readyState === EventSource.CLOSED) window.location.assign('/fleet/login?ended=1');
  });
  es.addEventListener('snapshot', (e) => {
    const d = JSON.parse(e.data);
    fleet.innerHTML = d.html;
    fleet.dataset.version = String(d.version);
    setLive(true);
  });
  // The session ended (logout elsewhere, a revoked token): to the login.
  es.addEventListener('end', () => {
    es.close();
    window.location.assign('/fleet/login?ended=1');
  });
})();
