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

export async function clearPhoto(code) {
  try {
    await photos('readwrite', (s) => s.delete(code));
  } catch {
    // nothing to clear
  }
}
