// The events WebSocket (agent/api events.go), kept open: it reconnects by
// itself with a growing pause, at once when the phone comes back online
// or the page is looked at again, and resumes after the last event it saw
// so nothing is missed.

const MAX_PAUSE = 15000;

export class EventStream {
  // url(lastEventId) gives the WebSocket URL; onEvent gets each event;
  // onState gets 'live' or 'reconnecting'.
  constructor(url, { onEvent, onState }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastId = null;
    this.socket = null;
    this.pause = 1000;
    this.timer = null;
    this.stopped = true;
    this.state = '';
    this.hiddenSince = 0;
    this.wake = () => this.reconnectNow();
    this.visibility = () => {
      if (document.visibilityState === 'hidden') {
        this.hiddenSince = Date.now();
      } else if (this.hiddenSince && Date.now() - this.hiddenSince > 20000) {
        // A phone that slept may hold a socket that is silently dead.
        this.reconnectNow(true);
      }
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.wake);
    document.addEventListener('visibilitychange', this.visibility);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.wake);
    document.removeEventListener('visibilitychange', this.visibility);
    clearTimeout(this.timer);
    this.socket?.close();
    this.socket = null;
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.onState?.(s);
  }

  connect() {
    clearTimeout(this.timer);
    let ws;
    try {
      ws = new WebSocket(this.url(this.lastId));
    } catch {
      this.retry();
      return;
    }
    this.socket = ws;
    ws.onopen = () => {
      this.pause = 1000;
      this.setState('live');
    };
    ws.onmessage = (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch {
        return;
      }
      if (typeof ev.id === 'number') this.lastId = ev.id;
      this.onEvent(ev);
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    this.setState('reconnecting');
    clearTimeout(this.timer);
    const wait = this.pause * (0.75 + Math.random() / 2);
    this.pause = Math.min(this.pause * 2, MAX_PAUSE);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  reconnectNow(force = false) {
    if (this.stopped) return;
    if (this.socket && !force) return;
    const old = this.socket;
    this.socket = null;
    old?.close();
    this.pause = 1000;
    this.connect();
  }
}
