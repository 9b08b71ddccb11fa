// The agent's customer API (agent/api), from the page's own origin: the
// agent on the LAN, or the relay that forwards to it.

// ApiError is an answer other than success: status 0 means no answer.
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from Retry-After
  }
}

async function errorFrom(resp) {
  let code = `http_${resp.status}`;
  let message = resp.statusText;
  try {
    const body = await resp.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch {
    // not our JSON: a proxy's page
  }
  return new ApiError(resp.status, code, message, Number(resp.headers.get('Retry-After')) || 0);
}

export function makeApi(machine) {
  const base = `/api/chitu/machine/${encodeURIComponent(machine)}`;

  async function call(method, path, { body, session, absolute = false } = {}) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (session) headers['X-Session-Id'] = session;
    let resp;
    try {
      resp = await fetch(absolute ? path : base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'network', e.message);
    }
    if (!resp.ok) throw await errorFrom(resp);
    return resp.status === 204 ? null : resp.json();
  }

  return {
    startSession: (sessionId, currentDesign) =>
      call('POST', '/session', { body: { sessionId: sessionId || undefined, currentDesign } }),
    getSession: (sessionId) => call('GET', `/session/${encodeURIComponent(sessionId)}`),
    status: () => call('GET', '/status'),
    products: () => call('GET', '/products'),
    getOrder: (id, session) => call('GET', `/queue/${encodeURIComponent(id)}`, { session }),
    cancel: (id, session) => call('DELETE', `/queue/${encodeURIComponent(id)}`, { session }),
    pushKey: () => call('GET', '/push/key'),
    subscribe: (subscription, session) => call('POST', '/push', { body: subscription, session }),
    unsubscribe: (session) => call('DELETE', '/push', { session }),

    // machines lists the online machines the relay knows, or null where
    // there is no relay (the page was opened on the kiosk's LAN).
    async machines() {
      try {
        const list = await call('GET', '/api/machines', { absolute: true });
        return Array.isArray(list) ? list : Array.isArray(list?.machines) ? list.machines : null;
      } catch {
        return null;
      }
    },

    eventsURL(session, lastEventId) {
      const u = new URL(base + '/events', location.href);
      u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      u.searchParams.set('sessionId', session);
      if (lastEventId != null) u.searchParams.set('lastEventId', lastEventId);
      return u.href;
    },

    // order uploads the photo and placement; onProgress gets 0..1. It uses
    // XMLHttpRequest because fetch cannot report upload progress, which
    // matters for a large photo on a slow connection. key is the order
    // attempt's Idempotency-Key: sent again with it, the order is the one
    // already made (200), never a second one.
    order({ sessionId, productId, placement, photo, photoName, key }, onProgress) {
      const form = new FormData();
      form.append('sessionId', sessionId);
      form.append('productId', productId);
      form.append('placement', JSON.stringify(placement));
      form.append('image', photo, photoName || 'photo');
      return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', base + '/print');
        if (key) xhr.setRequestHeader('Idempotency-Key', key);
        xhr.responseType = 'json';
        xhr.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
        xhr.onerror = () => reject(new ApiError(0, 'network', 'upload failed'));
        xhr.ontimeout = xhr.onerror;
        xhr.onload = () => {
          if (xhr.status === 202 || xhr.status === 200) return resolve(xhr.response);
          const e = xhr.response?.error || {};
          reject(new ApiError(xhr.status, e.code || `http_${xhr.status}`, e.message || '',
            Number(xhr.getResponseHeader('Retry-After')) || 0));
        };
        xhr.send(form);
      });
    },
  };
}
