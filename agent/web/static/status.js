// The status view after ordering: pickup code, place in line, a wait
// estimate counting down, the steps from "in line" to "ready", and the
// alerts when it is the customer's turn to pay and when the case is ready.

import { $, showView } from 'casefleet/view';
import { t, tn, clock, countdown, price } from 'casefleet/i18n';
import { alertCustomer, pushSupported, pushPermission } from 'casefleet/notify';

// Which step of the progress list each stage is at.
const STEP = { queued: 0, sending: 1, sent: 1, awaiting_payment: 2, paid: 3, printing: 3, complete: 4 };
// Which screen each stage shows.
const SCREEN = {
  queued: 'queued', sending: 'sent', sent: 'sent', awaiting_payment: 'pay', paid: 'paid',
  printing: 'printing', complete: 'done', failed: 'failed', cancelled: 'cancelled',
  unknown_outcome: 'unknown', // the staff will say whether it printed
};

let order = null;
let machineName = '';
let hooks = null;
let deadline = 0; // when the wait estimate runs out (ms)
let tick = null;
let pushState = ''; // '', 'on', 'denied', 'failed', 'working'

// initStatus wires the view once. hooks: onCancel(order), onAgain(),
// onRetry(order), onPush(), priceOf(order) (the catalogue's price text).
export function initStatus(h) {
  hooks = h;
  $('cancel-btn').addEventListener('click', () => {
    const dialog = $('confirm-cancel');
    dialog.returnValue = '';
    dialog.showModal();
  });
  $('confirm-cancel').addEventListener('close', () => {
    if ($('confirm-cancel').returnValue === 'cancel' && order) hooks.onCancel(order);
  });
  $('again-btn').addEventListener('click', () => hooks.onAgain());
  $('retry-btn').addEventListener('click', () => hooks.onRetry(order));
  $('push-btn').addEventListener('click', async () => {
    setPush('working');
    setPush(await hooks.onPush());
  });
}

export const currentOrder = () => order;

export function setMachineName(name) {
  machineName = name || '';
  if (order) render();
}

// showOrder opens the view on an order.
export function showOrder(o) {
  order = null;
  deadline = 0;
  updateOrder(o, { force: true });
  showView('status');
}

// updateOrder applies an order update (from the events stream or a read).
export function updateOrder(o, { force = false } = {}) {
  if (!force && (!order || o.id !== order.id)) return;
  const before = order;
  order = { ...(before || {}), ...o };
  if (order.stage === 'queued' && o.estimatedWaitSeconds != null && (force || o.estimatedWaitSeconds !== before?.estimatedWaitSeconds || o.queuePosition !== before?.queuePosition)) {
    deadline = Date.now() + o.estimatedWaitSeconds * 1000;
  }
  render();
  const screen = SCREEN[order.stage] || 'queued';
  if (before?.stage !== order.stage) {
    if (screen === 'pay') alertOnce('pay', t('status.pay.title'));
    if (screen === 'done') alertOnce('done', t('status.done.title'));
  }
}

// alertOnce alerts for an order's moment once, even across reloads.
function alertOnce(what, message) {
  const key = `casefleet:alerted:${order.id}:${what}`;
  try {
    if (sessionStorage.getItem(key)) return; // the tab's title names the screen (view.js)
    sessionStorage.setItem(key, '1');
  } catch {
    // no storage: alert anyway
  }
  alertCustomer(message);
}

export function setConnection(state) {
  // #conn is a live region: rewrite it only when its words change, or a
  // screen reader says it again on every order update.
  const text = state === 'live' ? t('status.live') : t('status.reconnecting');
  if ($('conn').textContent !== text) $('conn').textContent = text;
  $('conn').dataset.state = state;
}

function setPush(state) {
  pushState = state;
  render();
}

// render draws the view from the order.
export function render() {
  if (!order) return;
  const screen = SCREEN[order.stage] || 'queued';
  // The machine's name is isolated, so that a Latin name keeps its order
  // inside an Arabic sentence.
  const params = { machine: `\u2068${machineName}\u2069` };
  // A cancellation by the staff is told as such: the customer did not do it.
  const words = screen === 'cancelled' && order.cancelledBy === 'staff' ? 'staff' : screen;
  $('status-title').textContent = t(`status.${words}.title`);
  let text = t(`status.${words}.text`, params);
  if (screen === 'failed' && order.failureReason) text = `${text} ${t('status.failed.reason', { reason: order.failureReason })}`;
  $('status-text').textContent = text;
  // The amount, where the customer is about to pay it.
  const amount = screen === 'pay' ? price(hooks.priceOf?.(order) ?? '') : '';
  $('pay-amount').hidden = !amount;
  $('pay-amount').textContent = amount ? t('status.pay.amount', { price: amount }) : '';

  $('pickup').hidden = !order.pickupCode;
  $('pickup-code').textContent = order.pickupCode || '';
  $('pickup').dataset.screen = screen;

  const queued = screen === 'queued';
  $('fact-position').hidden = !queued || !order.queuePosition;
  if (queued && order.queuePosition) {
    $('position').textContent = order.queuePosition <= 1 ? t('status.next') : tn('status.ahead', order.queuePosition - 1);
  }
  $('fact-wait').hidden = !queued || !deadline;
  clearInterval(tick);
  if (queued && deadline) {
    renderWait();
    tick = setInterval(renderWait, 1000);
  }

  $('v-status').dataset.screen = screen;
  const step = STEP[order.stage];
  const complete = screen === 'done';
  $('steps').hidden = step === undefined;
  for (const li of $('steps').children) {
    const i = [...$('steps').children].indexOf(li);
    li.classList.toggle('done', step !== undefined && (i < step || complete));
    li.classList.toggle('now', i === step);
    if (i === step) li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  }

  const finished = ['done', 'failed', 'cancelled'].includes(screen);
  $('cancel-btn').hidden = order.stage !== 'queued';
  $('again-btn').hidden = screen !== 'done';
  $('retry-btn').hidden = !(screen === 'failed' || screen === 'cancelled');
  $('retry-btn').textContent = t(screen === 'failed' ? 'status.retry' : 'status.designAgain');

  const canPush = pushSupported() && !finished && pushPermission() !== 'denied' && pushState !== 'on';
  $('push-btn').hidden = !canPush;
  $('push-btn').textContent = t(STEP[order.stage] >= STEP.awaiting_payment ? 'push.enableReady' : 'push.enable');
  $('push-btn').disabled = pushState === 'working';
  const note = pushState === 'on' ? 'push.on' : pushState === 'denied' || pushPermission() === 'denied' ? 'push.denied' : pushState === 'failed' ? 'push.failed' : '';
  $('push-note').hidden = !note || finished;
  $('push-note').textContent = note ? t(note) : '';
  // The connection's label too, so that it follows a change of language.
  if ($('conn').dataset.state) setConnection($('conn').dataset.state);
}

function renderWait() {
  const left = (deadline - Date.now()) / 1000;
  if (left <= 0) {
    $('countdown').textContent = t('status.anyMoment');
    $('ready-at').textContent = '';
    clearInterval(tick);
    return;
  }
  $('countdown').textContent = countdown(left);
  $('ready-at').textContent = t('status.readyAt', { time: clock(new Date(deadline)) });
}

export function leave() {
  clearInterval(tick);
  order = null;
}
