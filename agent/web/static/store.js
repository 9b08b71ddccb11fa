// What the phone remembers between visits, per machine: the session id,
// the design in progress and the latest order (localStorage), and the
// photo itself (IndexedDB: too large for localStorage). Everything here
// is best effort: private browsing may refuse both.

const key = (code) => `casefleet:v1:${code}`;

export function load(code) {
  try {
    return JSON.parse(localStorage.getItem(key(code))) || {};
  } catch {
    return {};
  }
}

export function save(code, patch) {
  const next = { ...load(code), ...patch };
  try {
    localStorage.setItem(key(code), JSON.stringify(next));
  } catch {
    // storage full or disabled: the server keeps the design too
  }
  return next;
}

function openDB() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('casefleet', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('photos');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function photos(mode, fn) {
  const db = await openDB();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction('photos', mode);
      const req = fn(tx.objectStore('photos'));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

// savePhoto keeps the chosen photo (a File or Blob) for code. It keeps
// the bytes, not the Blob: WebKit cannot store a Blob in IndexedDB in a
// private session (Safari's Private Browsing: "Error preparing Blob/File
// data to be stored in object store", webkit.org/b/156347), an
// ArrayBuffer it can.
export async function savePhoto(code, blob) {
  try {
    const bytes = await blob.arrayBuffer();
    await photos('readwrite', (s) => s.put({ bytes, type: blob.type }, code));
  } catch {
    // not kept: a reload will ask for the photo again
  }
}

export async function loadPhoto(code) {
  try {
    const kept = await photos('readonly', (s) => s.get(code));
    if (kept instanceof Blob) return kept; // kept by an earlier version of the page
    return kept?.bytes ? new Blob([kept.bytes], { type: kept.type || '' }) : null;
  } catch {
    return null;
  }
}

// The order attempt under way (see main.js placeOrder), kept until the
// agent answers it: its key, the prepared photo's bytes and the placement
// that go with them, so that after a reload exactly the same request goes
// up again. Kept beside the photo, in IndexedDB.
const pendingKey = (code) => `pending:${code}`;

export async function savePending(code, attempt) {
  try {
    const { blob, ...rest } = attempt;
    const bytes = await blob.arrayBuffer();
    await photos('readwrite', (s) => s.put({ ...rest, bytes, type: blob.type }, pendingKey(code)));
  } catch {
    // not kept: a reload cannot resume this attempt, but retries still can
  }
}

export async function loadPending(code) {
  try {
    const kept = await photos('readonly', (s) => s.get(pendingKey(code)));
    if (!kept?.key || !kept.bytes) return null;
    const { bytes, type, ...rest } = kept;
    return { ...rest, blob: new Blob([bytes], { type: type || '' }) };
  } catch {
    return null;
  }
}

export async function clearPending(code) {
  try {
    await photos('readwrite', (s) => s.delete(pendingKey(code)));
  } catch {
    // nothing to clear
  }
}

// A design carried to another machine nearby (main.js followNearby): the
// machine it comes from, the model, the placement, and the photo. One at a
// time, taken once, for half an hour.
const CARRY = 'casefleet:v1:carry';
const CARRY_FOR = 30 * 60 * 1000;

export async function saveCarry(carry, photo) {
  try {
    localStorage.setItem(CARRY, JSON.stringify({ ...carry, at: Date.now() }));
    if (photo) {
      const bytes = await photo.arrayBuffer();
      await photos('readwrite', (s) => s.put({ bytes, type: photo.type }, 'carry'));
    }
  } catch {
    // not carried: the other machine starts afresh
  }
}

// takeCarry returns { carry, photo } carried to machine code, or null,
// and forgets it.
export async function takeCarry(code) {
  let carry;
  try {
    carry = JSON.parse(localStorage.getItem(CARRY));
    localStorage.removeItem(CARRY);
  } catch {
    return null;
  }
  if (!carry || carry.to !== code || !(Date.now() - carry.at < CARRY_FOR)) return null;
  let photo = null;
  try {
    const kept = await photos('readonly', (s) => s.get('carry'));
    if (kept?.bytes) photo = new Blob([kept.bytes], { type: kept.type || '' });
    await photos('readwrite', (s) => s.delete('carry'));
  } catch {
    // the design comes without its photo
  }
  return { carry, photo };
}

export async function clearPhoto(code) {
  try {
    await photos('readwrite', (s) => s.delete(code));
  } catch {
    // nothing to clear
  }
}
