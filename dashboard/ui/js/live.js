// The /ws live push: authenticates with the first message, reconnects with a growing delay,
// and asks for what it missed (`since` + `epoch`); on `resync` the app reloads through the API.
// Close code 4401 (the session ended: logout, disabled, deleted, new password, expired) is
// reported as {type: 'unauthorized'}, unless the tab holds another token by then (its own
// password change), which it reconnects with.
import { session } from './api.js';

export class Live {
  constructor(onMessage, onState) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.seq = null;
    this.epoch = null;
    this.delay = 500;
    this.ws = null;
    this.closed = false;
    this.paused = false;
    this.timer = null;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    const s = session();
    if (!s || this.closed || this.paused) return;
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'auth', token: s.token, ...(this.seq === null ? {} : { since: this.seq, epoch: this.epoch }) }));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const msg = JSON.parse(ev.data);
      if (msg.type === 'hello') {
        this.delay = 500;
        const fresh = this.seq === null;
        if (fresh || msg.epoch !== this.epoch) this.seq = msg.seq;
        this.epoch = msg.epoch;
        this.onState(true);
        this.onMessage({ ...msg, fresh });
        return;
      }
      if (typeof msg.seq === 'number' && msg.type !== 'resync') this.seq = Math.max(this.seq ?? 0, msg.seq);
      if (msg.type === 'resync') this.seq = msg.seq;
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onState(false);
      if (this.closed || this.paused) return;
      if (ev.code === 4401) {
        const now = session();
        if (now && now.token !== s.token) { this.connect(); return; }
        this.onMessage({ type: 'unauthorized' });
        return;
      }
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10_000);
    };
  }

  /** Stop for a moment (while the token is being replaced); resume() reconnects and catches up. */
  pause() {
    this.paused = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.onState(false);
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.connect();
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    ws?.close();
  }
}
