// conn.js - one WebSocket connection to tafeld (subprotocol tafel.v1):
// sign-in (hello/join), requests matched to replies by `req`, and
// reconnection with back-off. What to subscribe to after each (re)connect is
// the app's business (onReady); the app resubscribes with `since`.
//
// The credential lives in memory and in sessionStorage only; it is never
// logged and never put in a URL. An inhabitant's `join` carries the device
// token this browser keeps for the join code (local.js), so that every
// rejoin (reconnect, reload, server restart) is the same participant.

import { deviceFor, keepDevice } from './local.js';

const FATAL = new Set([4401, 4403, 4429]);
// A refused hello/join that will not work by trying again; other errors
// (unavailable, internal) are retried like a dropped connection.
const REFUSED = new Set(['unauthorized', 'forbidden', 'bad_request', 'too_large', 'rate_limited']);
const BACKOFF_MS = [200, 500, 1000, 2000, 3000];

export class Conn {
  /**
   * handlers: onReady(me, isReconnect), onMessage(msg), onStatus('connecting'|'online'|'offline'),
   * onFatal(code, firstError, everReady, reason) - the connection will not come back (wrong key, revoked,
   * session closed, a name the server refuses: firstError is the refusal).
   */
  constructor(handlers) {
    this.h = handlers;
    this.ws = null;
    this.cred = null;
    this.me = null;
    this.req = 0;
    this.pending = new Map();
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.everReady = false;
    this.authError = null;
  }

  /** Start (or restart) with cred {key} or {code, name}. */
  start(cred) {
    this.stop();
    this.cred = cred;
    this.stopped = false;
    this.everReady = false;
    this.attempt = 0;
    this.open();
  }

  /** Close for good (sign-out). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try { ws.close(1000); } catch { /* already closed */ }
    }
    this.failPending('offline');
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/ws`;
  }

  open() {
    this.h.onStatus(this.everReady ? 'offline' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url(), 'tafel.v1');
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.authError = null;
    ws.onopen = () => {
      let first;
      if (this.cred.key) {
        first = { type: 'hello', key: this.cred.key };
      } else {
        first = { type: 'join', code: this.cred.code, name: this.cred.name };
        const device = deviceFor(this.cred.code);
        if (device) first.device = device;
      }
      this.send(first).then((reply) => {
        if (this.ws !== ws) return;
        if (reply.type === 'ok') {
          if (!this.cred.key && typeof reply.device === 'string') keepDevice(this.cred.code, reply.device);
          const again = this.everReady;
          this.me = reply;
          this.everReady = true;
          this.attempt = 0;
          this.h.onStatus('online');
          this.h.onReady(reply, again);
        } else if (REFUSED.has(reply.code)) {
          // Refused for good: say so now (the server closes the connection
          // too, but may wait a moment after a failed join).
          this.authError = reply;
          const code = reply.code === 'rate_limited' ? 4429 : 4401;
          this.stop();
          this.h.onStatus('offline');
          this.h.onFatal(code, reply, this.everReady);
        } else {
          this.authError = reply;
          try { ws.close(1000); } catch { /* closed already */ }
        }
      }, () => { /* closed before the reply: onclose handles it */ });
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if ((msg.type === 'ok' || msg.type === 'error') && msg.req !== undefined && this.pending.has(msg.req)) {
        const p = this.pending.get(msg.req);
        this.pending.delete(msg.req);
        clearTimeout(p.timer);
        p.resolve(msg);
        return;
      }
      this.h.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending('offline');
      if (this.stopped) return;
      if (FATAL.has(ev.code)) {
        this.stopped = true;
        this.h.onStatus('offline');
        this.h.onFatal(ev.code, this.authError, this.everReady, ev.reason);
        return;
      }
      this.h.onStatus(this.everReady ? 'offline' : 'connecting');
      if (!this.everReady && this.attempt >= 2) {
        // Never got in: tell the sign-in form, but keep trying.
        this.h.onFatal(0, null, false);
      }
      this.scheduleReconnect();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    const delay = base + Math.floor(Math.random() * 200);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; if (!this.stopped) this.open(); }, delay);
  }

  failPending(code) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ type: 'error', code, message: code });
    }
    this.pending.clear();
  }

  get online() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN && !!this.me && this.everReady;
  }

  /** Send msg with a fresh req; resolves with the reply (ok or error; never
   * rejects: offline and time-outs come back as error codes). */
  send(msg, timeoutMs = 20000) {
    return new Promise((resolve) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        resolve({ type: 'error', code: 'offline', message: 'offline' });
        return;
      }
      this.req += 1;
      const req = this.req;
      const timer = setTimeout(() => {
        this.pending.delete(req);
        resolve({ type: 'error', code: 'timeout', message: 'timeout' });
      }, timeoutMs);
      this.pending.set(req, { resolve, timer });
      this.ws.send(JSON.stringify({ ...msg, req }));
    });
  }

  /** A request once signed in. */
  request(msg, timeoutMs) {
    if (!this.online) return Promise.resolve({ type: 'error', code: 'offline', message: 'offline' });
    return this.send(msg, timeoutMs);
  }
}
