// The /ws live push: authenticates with the first message, reconnects with a growing delay,
// and asks for what it missed (`since` + `epoch`); on `resync` the app reloads through the API.
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
  }

  connect() {
    const s = session();
    if (!s || this.closed) return;
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'auth', token: s.token, ...(this.seq === null ? {} : { since: this.seq, epoch: this.epoch }) }));
    };
    ws.onmessage = (ev) => {
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
      this.onState(false);
      if (this.closed) return;
      if (ev.code === 4401) { this.onMessage({ type: 'unauthorized' }); return; }
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10_000);
    };
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}
