// The customer web app: from the QR code's link to the finished case.
// This module starts the page and moves between its views: problem pages,
// the model picker, the design, and the order's status.

import { $, showView, viewName, banner } from 'casefleet/view';
import * as i18n from 'casefleet/i18n';
import { t, tn, minutes, countdown } from 'casefleet/i18n';
import { makeApi } from 'casefleet/api';
import * as store from 'casefleet/store';
import { setCatalogue, renderPicker, findProduct, findModelNamed } from 'casefleet/picker';
import * as editor from 'casefleet/editor';
import * as status from 'casefleet/status';
import { EventStream } from 'casefleet/events';
import { showProblem, clearProblem, listNearby } from 'casefleet/problems';
import { unlockAudio, enablePush } from 'casefleet/notify';

const boot = JSON.parse($('boot').textContent);
i18n.init(boot);
const code = boot.machine;
const api = makeApi(code || '-');

const app = {
  session: '',
  machine: null, // the machine's last status
  catalogue: false,
  problem: null, // [kind, opts] of the problem page shown, to redraw it in another language
  poll: null,
  saveTimer: null,
  designing: false, // past the offline warning
};

main().catch(fatal);

async function main() {
  wireLanguage();
  if (!code) return unknownMachine();
  $('kiosk-name').textContent = code;
  editor.initEditor({
    onOrder: placeOrder,
    onChangeModel: () => pick(editor.design().brandId),
    onChange: designChanged,
    onPhotoError: photoProblem,
  }, boot);
  status.initStatus({
    onCancel: cancelOrder,
    onAgain: designAnother,
    onRetry: backToDesign,
    onPush: () => enablePush(api, app.session, i18n.current(), boot.serviceWorker),
    priceOf: (order) => findProduct(order.productId)?.model.price,
  });
  status.setMachineName(code); // until the machine's status names it
  await start();
}

// start resumes the phone's session (or starts one) and shows where the
// customer left off: their order's status, their design, or the picker.
async function start() {
  const saved = store.load(code);
  let session;
  try {
    session = await api.startSession(saved.sessionId);
  } catch (e) {
    return startFailed(e);
  }
  app.session = session.sessionId;
  store.save(code, { sessionId: session.sessionId });
  startEvents();

  const [machine, products, pending] = await Promise.allSettled([api.status(), api.products(), store.loadPending(code)]);
  if (machine.status === 'fulfilled') applyMachine(machine.value);
  else if (machine.reason.code === 'unknown_machine') return unknownMachine();
  const attempt = pending.value;

  if (session.orderId && session.orderId !== saved.dismissedOrder) {
    // An order this page never heard of is the answer to its pending
    // attempt, lost on the way (the network dropped, the page reloaded).
    if (attempt && session.orderId !== saved.orderId) {
      store.clearPending(code);
      store.save(code, { orderId: session.orderId });
    }
    try {
      status.showOrder(await api.getOrder(session.orderId, app.session));
      if (products.status === 'fulfilled') {
        setCatalogue(products.value.brands, chooseModel);
        app.catalogue = true;
      }
      return;
    } catch {
      // the order is gone: design afresh
    }
  }
  if (products.status === 'rejected') return catalogueProblem(products.reason);
  setCatalogue(products.value.brands, chooseModel);
  app.catalogue = true;
  const carried = await store.takeCarry(code);
  if (app.machine?.status === 'offline' && !attempt) return offlineBeforeDesign();
  app.designing = true;
  if (carried) return receiveCarry(carried);
  await resumeDesign(saved.design || session.currentDesign, saved.photoName);
  // An order sent before a reload whose answer never came: send it again,
  // with its key, so that it is made once whether or not it arrived.
  if (attempt) await sendAttempt(attempt);
}

function startFailed(e) {
  if (e.code === 'unknown_machine' || e.code === 'invalid_machine_code') return unknownMachine();
  const again = { label: 'action.retry', primary: true, afterRetry: true, onClick: () => { showView('loading'); start().catch(fatal); } };
  if (e.code === 'rate_limited') return problem('rate_limited', { retryAfter: e.retryAfter, actions: [again] });
  if (e.status === 0 || e.status >= 500) return problem('network', { retryAfter: e.retryAfter, actions: [again] });
  problem('error', { detail: e.message, actions: [again] });
}

// resumeDesign reopens a saved design, or the picker when there is none.
async function resumeDesign(design, photoName) {
  const found = design?.productId && findProduct(design.productId);
  if (!found) return pick(design?.brandId);
  showView('design');
  const photoBlob = editor.snapshot().photo ? undefined : await store.loadPhoto(code);
  await editor.openDesign(found.brand, found.model, { placement: design.placement, photoBlob: photoBlob || undefined, photoName });
}

function pick(brandId) {
  renderPicker(brandId);
  showView('pick');
  showMachineBanner();
}

async function chooseModel(brand, model) {
  showView('design');
  showMachineBanner();
  // A photo carried from another machine waits for its model here.
  const photoBlob = app.carriedPhoto || undefined;
  app.carriedPhoto = null;
  await editor.openDesign(brand, model, { photoBlob, photoName: photoBlob?.name });
  designChanged(editor.design(), {});
}

// designChanged keeps the design on the phone at once, and on the agent
// shortly after (a burst of gestures is one save).
function designChanged(design, { photo }) {
  const patch = { design };
  if (photo) {
    patch.photoName = photo.name || 'photo';
    store.savePhoto(code, photo);
  }
  store.save(code, patch);
  clearTimeout(app.saveTimer);
  app.saveTimer = setTimeout(() => api.startSession(app.session, design).catch(() => {}), 1500);
}

function offlineBeforeDesign() {
  problem('offline', {
    nearby: true,
    actions: [{ label: 'action.designAnyway', primary: true, onClick: continueToDesign }],
  });
}

function continueToDesign() {
  app.designing = true;
  clearProblem();
  resumeDesign(store.load(code).design, store.load(code).photoName).catch(fatal);
}

// An order attempt is what goes up for one tap on Order: the photo as
// prepared for the print, the placement that goes with it, and a random
// Idempotency-Key. It is kept (store.savePending) until the agent answers,
// and sent again unchanged after a lost answer, a dropped connection or a
// reload: the agent makes the order once, whatever the network does.
async function placeOrder(snap) {
  unlockAudio(); // inside the tap: later alerts may make a sound
  editor.setUploading(0);
  let attempt;
  try {
    attempt = await store.loadPending(code);
    if (!sameDesign(attempt, snap)) attempt = await newAttempt(snap);
  } catch (e) {
    editor.setUploading(null);
    return fatal(e);
  }
  await sendAttempt(attempt);
}

// sameDesign: a pending attempt is still this design (the customer tapped
// Order again after a failure without changing anything).
function sameDesign(attempt, snap) {
  return !!attempt && attempt.productId === snap.model.productId &&
    JSON.stringify(attempt.design) === JSON.stringify(snap.placement) &&
    attempt.photoName === snap.photoName && attempt.photoSize === snap.photoBlob?.size;
}

async function newAttempt(snap) {
  const upload = await editor.prepareUpload(snap);
  const attempt = {
    key: newKey(), productId: snap.model.productId, placement: upload.placement, blob: upload.blob, name: upload.name,
    design: snap.placement, photoName: snap.photoName, photoSize: snap.photoBlob?.size,
  };
  await store.savePending(code, attempt);
  return attempt;
}

// newKey is 128 random bits, base64url (crypto.randomUUID needs HTTPS;
// the page is also opened over plain HTTP on the kiosk's LAN).
function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// Pauses before sending an attempt again after a failure that may pass
// (no connection, the relay could not reach the kiosk): about a minute in
// all, then the customer decides.
const RESEND_AFTER = [1, 2, 4, 8, 15, 30];

async function sendAttempt(attempt, { renewed = false } = {}) {
  showView('design');
  for (let i = 0; ; i++) {
    editor.setUploading(0);
    try {
      const order = await api.order({
        sessionId: app.session, productId: attempt.productId, placement: attempt.placement,
        photo: attempt.blob, photoName: attempt.name, key: attempt.key,
      }, (p) => editor.setUploading(p));
      return ordered(order);
    } catch (e) {
      if (passing(e) && i < RESEND_AFTER.length) {
        await waitToResend(RESEND_AFTER[i]);
        continue;
      }
      editor.setUploading(null);
      banner('');
      if ((e.code === 'session_invalid' || e.code === 'session_required') && !renewed) {
        // The session ended (the kiosk forgot it): nothing was made under
        // it, so the same attempt goes in a new one.
        try {
          const s = await api.startSession('', editor.design());
          app.session = s.sessionId;
          store.save(code, { sessionId: s.sessionId });
          app.events?.stop();
          startEvents();
          return sendAttempt(attempt, { renewed: true });
        } catch (again) {
          return orderProblem(again, attempt);
        }
      }
      // A refusal that will not change (a bad photo, a reused key): this
      // attempt is over. Others (offline, full, no connection) may be
      // tried again as they are, with the same key.
      if (e.status >= 400 && e.status < 500 && e.status !== 429) store.clearPending(code);
      return orderProblem(e, attempt);
    }
  }
}

// passing: a failure that trying again soon may mend, with no answer from
// the kiosk itself (the order may or may not have been made: the key
// settles it).
function passing(e) {
  return e.status === 0 || e.status === 502 || e.status === 504 || e.code === 'truncated_image';
}

// waitToResend counts down to the next try in the banner.
function waitToResend(seconds) {
  app.resending = true;
  return new Promise((resolve) => {
    const at = Date.now() + seconds * 1000;
    const show = () => {
      const left = (at - Date.now()) / 1000;
      if (left <= 0) {
        clearInterval(timer);
        app.resending = false;
        banner(t('order.resending'), 'warn');
        return resolve();
      }
      banner(t('order.retrying', { countdown: countdown(left) }), 'warn');
    };
    const timer = setInterval(show, 250);
    show();
  });
}

function ordered(order) {
  editor.setUploading(null);
  store.clearPending(code);
  store.save(code, { orderId: order.id, dismissedOrder: null });
  banner('');
  status.setMachineName(app.machine?.name || code);
  status.showOrder(order);
}

// orderProblem explains a refused order and offers the way on.
function orderProblem(e, attempt) {
  const retry = { label: 'action.retry', primary: true, afterRetry: true, onClick: () => sendAttempt(attempt) };
  const back = { label: 'action.backToDesign', onClick: () => showView('design') };
  const other = { label: 'action.otherPhoto', primary: true, onClick: () => { showView('design'); $('photo-input').click(); } };
  switch (e.code) {
    case 'machine_offline':
      // It may be back any moment: trying again stays possible.
      return problem('offline', { retryAfter: e.retryAfter, nearby: true, actions: [{ ...retry, afterRetry: false }, back] });
    case 'queue_full':
      return problem('queue_full', { retryAfter: e.retryAfter, nearby: true, actions: [retry, back] });
    case 'idempotency_key_reused': // cannot happen from this page; start the order afresh
      return problem('error', { detail: e.message, actions: [{ ...retry, onClick: () => { showView('design'); placeOrder(editor.snapshot()); } }, back] });
    case 'too_large':
    case 'too_many_pixels':
      return problem('too_large', { actions: [other, back] });
    case 'not_an_image':
    case 'bad_image':
      return problem('not_image', { actions: [other, back] });
    case 'rate_limited':
      return problem('rate_limited', { retryAfter: e.retryAfter, actions: [retry, back] });
    case 'unknown_product':
      return problem('error', { detail: e.message, actions: [{ label: 'action.chooseModel', primary: true, onClick: () => pick() }] });
  }
  if (e.status === 0 || e.code === 'truncated_image') return problem('network', { actions: [retry, back] });
  problem('error', { detail: e.message, actions: [retry, back] });
}

function photoProblem(kind) {
  const other = { label: 'action.otherPhoto', primary: true, onClick: () => { showView('design'); $('photo-input').click(); } };
  problem(kind, { actions: [other, { label: 'action.backToDesign', onClick: () => showView('design') }] });
}

function catalogueProblem(e) {
  if (e.code === 'unknown_machine') return unknownMachine();
  problem(e.code === 'machine_offline' ? 'offline' : 'network', {
    retryAfter: e.retryAfter, nearby: e.code === 'machine_offline',
    actions: [{ label: 'action.retry', primary: true, afterRetry: true, onClick: () => { showView('loading'); start().catch(fatal); } }],
  });
}

function unknownMachine() {
  $('kiosk-name').textContent = t('app.title');
  problem('unknown', {
    detail: boot.requested ? { key: 'problem.unknown.code', params: { code: boot.requested } } : '',
    nearby: !!boot.location,
  });
}

// problem shows a problem page and remembers it, so that a language
// switch can draw it again (with the same retry time).
function problem(kind, opts = {}) {
  const retryAt = opts.retryAt ?? (opts.retryAfter > 0 ? Date.now() + opts.retryAfter * 1000 : 0);
  app.problem = [kind, { ...opts, retryAt }];
  showProblem(kind, {
    ...opts,
    retryAfter: retryAt ? Math.max(0, (retryAt - Date.now()) / 1000) : 0,
    nearby: opts.nearby ? { api, location: app.machine?.location || boot.location, self: code, onFollow: followNearby } : null,
  });
}

// followNearby opens another machine nearby with the design in progress:
// the model, the placement and the photo go along (store.saveCarry), so
// the customer does not start again there.
async function followNearby(machine, href) {
  const snap = editor.snapshot();
  const saved = store.load(code);
  const productId = snap.model?.productId || saved.design?.productId;
  const placement = snap.model ? snap.placement : saved.design?.placement;
  const photo = snap.photoBlob || await store.loadPhoto(code);
  if (productId || photo) {
    await store.saveCarry({
      to: machine.code, productId, placement, brandId: snap.brand?.id || saved.design?.brandId,
      modelName: findProduct(productId)?.model.name, photoName: snap.photoName || saved.photoName,
    }, photo);
  }
  location.href = href;
}

// receiveCarry opens a design carried from another machine: on the same
// phone model when this machine prints it (by product, else by name),
// else at the picker, with the photo waiting for the model chosen.
async function receiveCarry({ carry, photo }) {
  if (photo) photo.name = carry.photoName || 'photo';
  const found = findProduct(carry.productId) || findModelNamed(carry.modelName);
  if (!found) {
    app.carriedPhoto = photo;
    return pick(carry.brandId);
  }
  showView('design');
  showMachineBanner();
  await editor.openDesign(found.brand, found.model, { placement: carry.placement, photoBlob: photo || undefined, photoName: photo?.name });
  designChanged(editor.design(), { photo }); // kept here from now on
}

async function cancelOrder(order) {
  try {
    status.updateOrder(await api.cancel(order.id, app.session));
  } catch (e) {
    banner(e.code === 'not_cancellable' ? t('status.tooLate') : t('problem.error.text'), 'warn');
    try {
      status.updateOrder(await api.getOrder(order.id, app.session));
    } catch {
      // the events stream will tell
    }
  }
}

function designAnother() {
  const order = status.currentOrder();
  store.save(code, { dismissedOrder: order?.id, design: null, photoName: '' });
  store.clearPhoto(code);
  editor.forgetPhoto();
  status.leave();
  if (!app.catalogue) return location.reload();
  pick(editor.design().brandId);
}

function backToDesign(order) {
  store.save(code, { dismissedOrder: order?.id });
  status.leave();
  if (!app.catalogue) return location.reload();
  app.designing = true;
  resumeDesign(store.load(code).design, store.load(code).photoName).catch(fatal);
}

// The machine's state, from GET status and then the events stream.
function applyMachine(m) {
  const wasOffline = app.machine?.status === 'offline';
  app.machine = m;
  $('kiosk-name').textContent = m.name || code;
  $('kiosk-place').textContent = m.name ? code : '';
  status.setMachineName(m.name || code);
  if (i18n.setCurrency(m.currency)) {
    if (app.catalogue) renderPicker();
    editor.render();
    status.render();
  }
  const offline = m.status === 'offline';
  editor.setOffline(offline);
  showMachineBanner();
  showLine();
  // Back online while the offline page waits: carry on designing.
  if (wasOffline && !offline && viewName() === 'problem' && app.problem?.[0] === 'offline' && !app.designing && app.catalogue) {
    banner(t('banner.backOnline'));
    continueToDesign();
  }
}

function showMachineBanner() {
  const offline = app.machine?.status === 'offline';
  const full = !offline && !!app.machine?.full;
  const view = viewName();
  if (offline && view === 'status') banner(t('banner.offlineKeepPlace'), 'warn');
  else if (offline && (view === 'pick' || view === 'design')) banner(t('banner.offline'), 'warn');
  else if (full && view === 'design') banner(t('banner.full'), 'warn');
  else if ($('banner').dataset.kind === 'warn' && !app.resending) banner('');
}

// showLine tells on the picker, before any design, how long this
// machine's line is; when it is full, it says so at once and lists the
// machines nearby that can take the order (with their lines).
function showLine() {
  const m = app.machine;
  const up = !!m && m.status !== 'offline';
  $('pick-line').hidden = !up;
  if (up) {
    const wait = minutes(Math.max(1, Math.ceil((m.estimatedWaitSeconds || 0) / 60)));
    $('pick-line').textContent = m.full ? tn('pick.lineFull', m.queueLength) : m.queueLength ? tn('pick.line', m.queueLength, { wait }) : t('pick.noLine');
  }
  const full = up && !!m.full;
  const box = $('pick-full');
  if (full && (box.hidden || box.dataset.lang !== i18n.current())) {
    box.dataset.lang = i18n.current();
    $('pick-alts').hidden = true;
    listNearby({ api, location: m.location || boot.location, self: code, list: $('pick-alt-list'), onFollow: followNearby })
      .then((shown) => { $('pick-alts').hidden = !shown; });
  }
  box.hidden = !full;
}

function startEvents() {
  app.events = new EventStream((last) => api.eventsURL(app.session, last), {
    onEvent(ev) {
      if (ev.type === 'machineStatus' && ev.data) applyMachine(ev.data);
      else if (ev.type === 'orderUpdate' && ev.data) status.updateOrder(ev.data);
    },
    onState(state) {
      clearInterval(app.poll);
      if (state === 'reconnecting') {
        app.streamDown = true;
        status.setConnection(state);
        // While the stream is down, read the order now and then instead.
        app.poll = setInterval(pollOrder, 10000);
        return;
      }
      if (!app.streamDown) return status.setConnection(state);
      // Back after a break: read the order and the line again before
      // saying "Live updates", so nothing shown is from before the break.
      app.streamDown = false;
      Promise.allSettled([api.status().then(applyMachine), pollOrder()])
        .then(() => { if (app.events?.state === 'live') status.setConnection('live'); });
    },
  });
  app.events.start();
}

async function pollOrder() {
  const order = status.currentOrder();
  if (!order) return;
  try {
    status.updateOrder(await api.getOrder(order.id, app.session));
  } catch (e) {
    if (e.code === 'session_invalid') {
      clearInterval(app.poll);
      problem('session', { actions: [{ label: 'action.startAgain', primary: true, onClick: () => location.reload() }] });
    }
  }
}

function wireLanguage() {
  const select = $('lang');
  select.addEventListener('change', async () => {
    try {
      await i18n.setLanguage(select.value);
    } catch {
      select.value = i18n.current();
    }
  });
  i18n.onChange(() => {
    select.value = i18n.current();
    if (app.machine) applyMachine(app.machine);
    if (app.catalogue) renderPicker();
    editor.render();
    status.render();
    if (viewName() === 'problem' && app.problem) problem(...app.problem);
  });
}

function fatal(e) {
  console.error('casefleet:', e);
  problem('error', { detail: String(e?.message || e), actions: [{ label: 'action.startAgain', primary: true, onClick: () => location.reload() }] });
}
