// The customer web app: from the QR code's link to the finished case.
// This module starts the page and moves between its views: problem pages,
// the model picker, the design, and the order's status.

import { $, showView, viewName, banner } from 'casefleet/view';
import * as i18n from 'casefleet/i18n';
import { t } from 'casefleet/i18n';
import { makeApi } from 'casefleet/api';
import * as store from 'casefleet/store';
import { setCatalogue, renderPicker, findProduct } from 'casefleet/picker';
import * as editor from 'casefleet/editor';
import * as status from 'casefleet/status';
import { EventStream } from 'casefleet/events';
import { showProblem, clearProblem } from 'casefleet/problems';
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

  const [machine, products] = await Promise.allSettled([api.status(), api.products()]);
  if (machine.status === 'fulfilled') applyMachine(machine.value);
  else if (machine.reason.code === 'unknown_machine') return unknownMachine();

  if (session.orderId && session.orderId !== saved.dismissedOrder) {
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
  if (app.machine?.status === 'offline') return offlineBeforeDesign();
  app.designing = true;
  await resumeDesign(saved.design || session.currentDesign, saved.photoName);
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
  await editor.openDesign(brand, model);
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

async function placeOrder(snap, { retried = false } = {}) {
  unlockAudio(); // inside the tap: later alerts may make a sound
  editor.setUploading(0);
  try {
    // Only what the print needs goes up: see editor.prepareUpload.
    const upload = await editor.prepareUpload(snap);
    const order = await api.order({
      sessionId: app.session, productId: snap.model.productId, placement: upload.placement,
      photo: upload.blob, photoName: upload.name,
    }, (p) => editor.setUploading(p));
    editor.setUploading(null);
    store.save(code, { orderId: order.id, dismissedOrder: null });
    banner('');
    status.setMachineName(app.machine?.name || code);
    status.showOrder(order);
  } catch (e) {
    editor.setUploading(null);
    if ((e.code === 'session_invalid' || e.code === 'session_required') && !retried) {
      try {
        const s = await api.startSession('', editor.design());
        app.session = s.sessionId;
        store.save(code, { sessionId: s.sessionId });
        app.events?.stop();
        startEvents();
        return placeOrder(snap, { retried: true });
      } catch (again) {
        return orderProblem(again, snap);
      }
    }
    orderProblem(e, snap);
  }
}

// orderProblem explains a refused order and offers the way on.
function orderProblem(e, snap) {
  const retry = { label: 'action.retry', primary: true, afterRetry: true, onClick: () => { showView('design'); placeOrder(snap); } };
  const back = { label: 'action.backToDesign', onClick: () => showView('design') };
  const other = { label: 'action.otherPhoto', primary: true, onClick: () => { showView('design'); $('photo-input').click(); } };
  switch (e.code) {
    case 'machine_offline':
      // It may be back any moment: trying again stays possible.
      return problem('offline', { retryAfter: e.retryAfter, nearby: true, actions: [{ ...retry, afterRetry: false }, back] });
    case 'queue_full':
      return problem('queue_full', { retryAfter: e.retryAfter, nearby: true, actions: [retry, back] });
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
    nearby: opts.nearby ? { api, location: app.machine?.location || boot.location, self: code } : null,
  });
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
  const offline = m.status === 'offline';
  editor.setOffline(offline);
  showMachineBanner();
  // Back online while the offline page waits: carry on designing.
  if (wasOffline && !offline && viewName() === 'problem' && app.problem?.[0] === 'offline' && !app.designing && app.catalogue) {
    banner(t('banner.backOnline'));
    continueToDesign();
  }
}

function showMachineBanner() {
  const offline = app.machine?.status === 'offline';
  const view = viewName();
  if (offline && view === 'status') banner(t('banner.offlineKeepPlace'), 'warn');
  else if (offline && (view === 'pick' || view === 'design')) banner(t('banner.offline'), 'warn');
  else if (!offline && $('banner').dataset.kind === 'warn') banner('');
}

function startEvents() {
  app.events = new EventStream((last) => api.eventsURL(app.session, last), {
    onEvent(ev) {
      if (ev.type === 'machineStatus' && ev.data) applyMachine(ev.data);
      else if (ev.type === 'orderUpdate' && ev.data) status.updateOrder(ev.data);
    },
    onState(state) {
      status.setConnection(state);
      clearInterval(app.poll);
      // While the stream is down, read the order now and then instead.
      if (state === 'reconnecting') app.poll = setInterval(pollOrder, 10000);
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
