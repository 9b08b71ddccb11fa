// Getting the customer's attention when it is their turn and when the case
// is ready: a chime (Web Audio), vibration, and the tab's title; and,
// opted into, Web Push so the phone is told even with the page closed.

let audio = null;
let titleTimer = null;
let baseTitle = document.title;

// unlockAudio must run inside a tap (browsers only let a page make sound
// after the customer touched it); the order button calls it.
export function unlockAudio() {
  try {
    audio ??= new AudioContext();
    if (audio.state === 'suspended') audio.resume();
  } catch {
    audio = null;
  }
}

// chime plays three rising notes.
function chime() {
  if (!audio || audio.state !== 'running') return;
  const now = audio.currentTime;
  [660, 880, 1320].forEach((hz, i) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = hz;
    const t0 = now + i * 0.18;
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.4, t0 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.5);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0);
    osc.stop(t0 + 0.55);
  });
}

// flashTitle shows message as the tab's title; while the page is not
// looked at, it alternates with the usual title until it is.
function flashTitle(message) {
  clearInterval(titleTimer);
  titleTimer = null;
  document.title = message;
  if (document.visibilityState === 'visible') return;
  let on = true;
  titleTimer = setInterval(() => {
    document.title = (on = !on) ? message : baseTitle;
  }, 1000);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && titleTimer) {
    clearInterval(titleTimer);
    titleTimer = null;
    document.title = baseTitle;
  }
});

// setTitle sets the tab's usual title (an alert's flashing goes on).
export function setTitle(text) {
  baseTitle = text;
  if (!titleTimer) document.title = text;
}

// alertCustomer sounds, vibrates and retitles the page with message.
export function alertCustomer(message) {
  chime();
  try {
    navigator.vibrate?.([250, 120, 250, 120, 500]);
  } catch {
    // not allowed without a tap on some browsers
  }
  flashTitle(message);
}


// Web Push.

export function pushSupported() {
  return window.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

export const pushPermission = () => (pushSupported() ? Notification.permission : 'unsupported');

function keyBytes(base64url) {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

// enablePush asks for permission, subscribes through the browser's push
// service and hands the subscription to the agent. It returns 'on',
// 'denied' or 'failed'.
export async function enablePush(api, sessionId, lang, workerURL) {
  try {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') return 'denied';
    const registration = await navigator.serviceWorker.register(workerURL, { scope: '/app/' });
    await activated(registration);
    const { publicKey } = await api.pushKey();
    let sub = await registration.pushManager.getSubscription();
    if (sub && !sameKey(sub, publicKey)) {
      await sub.unsubscribe();
      sub = null;
    }
    sub ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
    await api.subscribe({ ...sub.toJSON(), lang }, sessionId);
    return 'on';
  } catch (e) {
    console.warn('casefleet: push', e);
    return 'failed';
  }
}

// activated waits until registration has an active worker, which
// subscribing needs. (navigator.serviceWorker.ready would wait for ever:
// it waits for a worker whose scope covers this page, and the worker's
// scope, /app/, does not cover /editor.)
function activated(registration) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (registration.active) return resolve();
      const worker = registration.installing || registration.waiting;
      if (!worker) return reject(new Error('the service worker did not install'));
      worker.addEventListener('statechange', check, { once: true });
    };
    check();
  });
}

function sameKey(sub, publicKey) {
  const key = sub.options?.applicationServerKey;
  if (!key) return true;
  const want = keyBytes(publicKey);
  const got = new Uint8Array(key);
  return got.length === want.length && got.every((b, i) => b === want[i]);
}
