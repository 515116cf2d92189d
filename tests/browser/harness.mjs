// harness.mjs - what the browser tests share: a real tafeld on 127.0.0.1
// (init + serve with an OS-chosen port, restart on the same port), Debian's
// chromium driven by playwright-core, a small WebSocket client run inside a
// page to seed data, an axe-core check and screenshots.
//
// Every wait is bounded; every process started here is ended here, by the
// handle that started it.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
const KEY_RE = /^tafel_[A-Za-z0-9_-]{43}$/;
const LISTEN_RE = /listening on http:\/\/127\.0\.0\.1:(\d+)\//;

/** A slower tafeld (the ASan build) gets longer waits. */
export const SLOW = Number(process.env.TAFEL_TEST_SLOW || (process.env.ASAN_OPTIONS ? 3 : 1));
export const T = (ms) => ms * SLOW;

export function tafeldPath() {
  if (process.env.TAFELD) return process.env.TAFELD;
  for (const c of ['build/server/tafeld']) {
    const p = path.join(ROOT, c);
    if (fs.existsSync(p)) return p;
  }
  throw new Error('tafeld not found: set TAFELD=/path/to/tafeld');
}

export const SHOTS = process.env.TAFEL_SCREENSHOTS || path.join(ROOT, 'build', 'screenshots');

// ------------------------------------------------------------------ server

export class Tafeld {
  constructor() {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tafel-web-'));
    this.data = path.join(this.tmp, 'data');
    this.proc = null;
    this.port = null;
    this.log = [];
    // Should the test runner die midway, the server it started dies too.
    process.once('exit', () => this.kill());
  }

  init() {
    const out = execFileSync(tafeldPath(), ['init', '--data', this.data], { timeout: T(30000), stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const lines = out.split('\n').map((l) => l.trim()).filter(Boolean);
    this.adminKey = lines[lines.length - 1];
    if (!KEY_RE.test(this.adminKey)) throw new Error('init printed no key');
    return this.adminKey;
  }

  /** Serve on 127.0.0.1: a free port the first time, the same port after. */
  start(timeoutMs = T(15000)) {
    const listen = `127.0.0.1:${this.port || 0}`;
    const args = ['serve', '--data', this.data, '--listen', listen, '--web', path.join(ROOT, 'web'), '--write-rate', '0'];
    const proc = spawn(tafeldPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    return new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => { this.kill(); reject(new Error(`tafeld did not report its port:\n${this.log.join('\n')}`)); }, timeoutMs);
      const onData = (chunk) => {
        buf += chunk.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.log.push(line);
          if (this.log.length > 2000) this.log.shift();
          const m = LISTEN_RE.exec(line);
          if (m) { clearTimeout(timer); this.port = Number(m[1]); resolve(this.port); }
        }
      };
      proc.stderr.on('data', onData);
      proc.stdout.on('data', (c) => this.log.push(c.toString()));
      proc.on('exit', (code) => { clearTimeout(timer); if (!this.port || this.proc === proc) reject(new Error(`tafeld exited ${code}:\n${this.log.join('\n')}`)); });
    });
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  /** SIGTERM, then SIGKILL after a bound. */
  async stop(timeoutMs = T(10000)) {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) { this.proc = null; return; }
    this.proc = null;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(t);
  }

  kill() {
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
    this.proc = null;
  }

  cleanup() { fs.rmSync(this.tmp, { recursive: true, force: true }); }
}

// ----------------------------------------------------------------- browser

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: T(60000),
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', '--disable-renderer-backgrounding', '--disable-background-timer-throttling',
      '--disable-backgrounding-occluded-windows'],
  });
}

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const DESKTOP = { viewport: { width: 1280, height: 900 } };
export const PROJECTOR = { viewport: { width: 1920, height: 1080 } };

/** A new context + page. Errors in the page and CSP violations are
 * collected in page.problems (the tests assert there are none). */
export async function newPage(browser, opts = DESKTOP) {
  const context = await browser.newContext({ ...opts, locale: 'nl-NL', timezoneId: 'Europe/Amsterdam' });
  context.setDefaultTimeout(T(10000));
  const page = await context.newPage();
  page.problems = [];
  page.subs = []; // every `sub` the page sent, parsed (the reconnect test reads `since`)
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  // No CDN, nothing from the internet: every request stays on 127.0.0.1.
  const offHost = (url) => {
    const u = new URL(url);
    return !['data:', 'blob:', 'about:'].includes(u.protocol) && u.hostname !== '127.0.0.1';
  };
  context.on('request', (r) => { if (offHost(r.url())) page.problems.push(`off-host request: ${r.url()}`); });
  page.on('websocket', (ws) => {
    if (offHost(ws.url())) page.problems.push(`off-host websocket: ${ws.url()}`);
    ws.on('framesent', (f) => {
      if (typeof f.payload === 'string' && f.payload.includes('"sub"')) {
        try { const m = JSON.parse(f.payload); if (m.type === 'sub') page.subs.push(m); } catch { /* not JSON */ }
      }
    });
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) page.problems.push(`console: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) page.problems.push(`csp: ${m.text()}`);
  });
  return page;
}

// --------------------------------------------------- a client for seeding

/** A tafel.v1 connection opened inside a page (Node 18 has no WebSocket):
 * sequential requests, replies matched by req. */
export class Api {
  static async open(browser, srv, cred) {
    const page = await newPage(browser);
    await page.goto(`${srv.url}/healthz`);
    const api = new Api(page);
    api.me = await page.evaluate(async (cred) => {
      const ws = new WebSocket(`ws://${location.host}/ws`, 'tafel.v1');
      window.__ws = ws;
      window.__waiting = new Map();
      window.__inbox = [];
      ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        const w = m.req !== undefined && window.__waiting.get(m.req);
        if (w) { window.__waiting.delete(m.req); w(m); } else window.__inbox.push(m);
      };
      window.__req = 0;
      window.__send = (msg) => new Promise((resolve, reject) => {
        window.__req += 1;
        const req = window.__req;
        const t = setTimeout(() => { window.__waiting.delete(req); reject(new Error('no reply to ' + msg.type)); }, 20000);
        window.__waiting.set(req, (m) => { clearTimeout(t); resolve(m); });
        ws.send(JSON.stringify({ ...msg, req }));
      });
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('ws failed')); });
      const first = cred.key ? { type: 'hello', key: cred.key } : { type: 'join', code: cred.code, name: cred.name };
      return window.__send(first);
    }, cred);
    if (api.me.type !== 'ok') throw new Error(`sign-in refused: ${JSON.stringify(api.me)}`);
    return api;
  }

  constructor(page) { this.page = page; }

  req(msg) { return this.page.evaluate((m) => window.__send(m), msg); }

  async ok(msg) {
    const r = await this.req(msg);
    if (r.type !== 'ok') throw new Error(`${msg.type} failed: ${JSON.stringify(r)}`);
    return r;
  }

  async create(kind, doc) { return (await this.ok({ type: 'put', kind, doc })).doc; }

  async close() { await this.page.context().close(); }
}

// --------------------------------------------------------------- checks

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core on the page as it is: no serious or critical violation. */
export async function axeCheck(page, name) {
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' :: ' + n.failureSummary) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(`axe on ${name}: ${JSON.stringify(bad, null, 2)}`);
  return result;
}

export async function shot(page, name, fullPage = true) {
  fs.mkdirSync(SHOTS, { recursive: true });
  // The passing "saved" toast is left out: it would cover what the shot
  // shows. (Not with screenshot's `style`: an inline style breaks the CSP.)
  await page.evaluate(() => { for (const el of document.querySelectorAll('.toast.show')) el.classList.remove('show'); });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage, animations: 'disabled' });
}

/** Wait for fn() in the page to be truthy, bounded. */
export async function until(page, fn, arg, timeout = T(5000)) {
  return page.waitForFunction(fn, arg, { timeout, polling: 50 });
}

export async function signInWithKey(page, srv, key) {
  await page.goto(`${srv.url}/`);
  await page.fill('#key', key);
  await page.click('.signin-key button[type=submit]');
  await page.waitForSelector('.conn-status[data-state="online"]', { timeout: T(10000) });
}
