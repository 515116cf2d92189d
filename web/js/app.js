// app.js - the page's entry: sign-in, the connection and its subscriptions,
// the header (connection indicator, language switch), and the hash router
// that mounts one view at a time. Views re-render their live parts when the
// store changes. Before the first view the page fetches /schema.json once:
// forms, buttons and the names of kinds, fields and values are built from
// it; without it the page says so and offers to try again.

import { h } from './dom.js';
import { t, tIn, getLang, setLang, kindLabel, roleLabel } from './i18n.js';
import { loadSchema, schemaReady } from './schema.js';
import { Conn } from './conn.js';
import * as store from './store.js';
import { ctx } from './ctx.js';
import { canManageKeys } from './perm.js';
import { mountSignin } from './views/signin.js';
import { mountPortfolio } from './views/portfolio.js';
import { mountOpgave } from './views/opgave.js';
import { mountSession, mountProjector } from './views/session.js';
import { mountAdmin } from './views/admin.js';
import { forgetDevice, forgetVotes } from './local.js';

const CRED_KEY = 'tafel.cred'; // sessionStorage only: gone when the tab closes

const state = {
  view: null,
  synced: false, // received the first snapshot
  extraSub: null, // {opgave, session}: a key holder at a session's table
  status: 'connecting',
  schemaError: null, // why /schema.json could not be had (the page waits for a retry)
};

const els = {};

function loadCred() {
  try {
    const c = JSON.parse(sessionStorage.getItem(CRED_KEY) || 'null');
    if (c && (typeof c.key === 'string' || (typeof c.code === 'string' && typeof c.name === 'string'))) return c;
  } catch { /* no storage or bad JSON */ }
  return null;
}
function saveCred(c) { try { sessionStorage.setItem(CRED_KEY, JSON.stringify(c)); } catch { /* ignore */ } }
function dropCred() { try { sessionStorage.removeItem(CRED_KEY); } catch { /* ignore */ } }

function joinCodeFromPath() {
  const m = /^\/join\/([A-Za-z0-9]{1,16})\/?$/.exec(location.pathname);
  return m ? m[1].toUpperCase() : null;
}

// ------------------------------------------------------------------ header

function buildShell() {
  const app = document.getElementById('app');
  els.skip = h('a', { class: 'skip-link', href: '#main' }, t('nav.skip'));
  els.status = h('p', { class: 'conn-status', id: 'conn-status', role: 'status', 'data-state': 'connecting' });
  els.nav = h('nav', { class: 'main-nav', 'aria-label': t('nav.main') });
  els.user = h('div', { class: 'user' });
  els.lang = h('button', { type: 'button', class: 'lang', id: 'lang-switch', onclick: () => {
    setLang(getLang() === 'nl' ? 'en' : 'nl');
    rebuildChrome();
    route(false);
  } });
  els.header = h('header', { class: 'site-header' },
    h('div', { class: 'brand' }, h('a', { href: '#/', class: 'brand-link' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◯'), 'Tafel'),
      h('span', { class: 'tagline' }, t('app.tagline'))),
    els.nav, els.status, els.lang, els.user);
  els.main = h('main', { id: 'main', tabindex: '-1' });
  els.toast = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite', id: 'announcer' });
  app.replaceChildren(els.skip, els.header, els.main, els.toast);
  rebuildChrome();
}

function rebuildChrome() {
  els.skip.textContent = t('nav.skip');
  els.header.querySelector('.tagline').textContent = t('app.tagline');
  els.nav.setAttribute('aria-label', t('nav.main'));
  els.lang.textContent = t('lang.switch');
  els.lang.setAttribute('aria-label', t('lang.switch.label'));
  els.lang.setAttribute('lang', getLang() === 'nl' ? 'en' : 'nl');
  setStatus(state.status);
  const me = ctx.me;
  els.nav.replaceChildren();
  els.user.replaceChildren();
  if (!me) return;
  const links = [];
  if (me.role === 'inwoner') {
    links.push(['#/sessie/' + me.session, kindLabel('sessie')]);
    links.push(['#/opgave/' + me.opgaven[0], kindLabel('opgave')]);
  } else {
    links.push(['#/', t('nav.portfolio')]);
    if (canManageKeys(me)) links.push(['#/beheer', t('nav.admin')]);
  }
  els.nav.appendChild(h('ul', null, links.map(([href, text]) => h('li', null, h('a', { href, 'data-nav': href }, text)))));
  markNav();
  els.user.append(
    h('span', { class: 'who' }, t('signedin.as', { name: me.name, role: roleLabel(me.role) })),
    h('button', { type: 'button', class: 'signout', onclick: () => signOut('signout.done') }, t('signout')));
}

function markNav() {
  const cur = location.hash || '#/';
  for (const a of els.nav.querySelectorAll('a')) {
    const href = a.getAttribute('href');
    const active = href === '#/' ? cur === '#/' || cur === '' || cur.startsWith('#/opgave/') : cur.startsWith(href);
    if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

function setStatus(s) {
  state.status = s;
  els.status.dataset.state = s;
  els.status.replaceChildren(h('span', { class: 'dot', 'aria-hidden': 'true' }), t('conn.' + s));
  document.body.classList.toggle('is-offline', s === 'offline');
}

let toastTimer = null;
ctx.announce = (text) => {
  els.toast.textContent = text;
  els.toast.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => els.toast.classList.remove('show'), 4000);
};
ctx.navigate = (hash) => { location.hash = hash; };

// ----------------------------------------------------------- connection

function baseSub(me) {
  return me.role === 'inwoner' ? { opgave: me.opgaven[0], session: me.session } : { opgave: '*' };
}

// Again after a reconnect: `since` what the page has seen, with the data
// identity that seq counts in. If the server's data is not that history any
// more (restored from a backup), it answers with a snapshot that replaces
// the store's documents.
async function subscribe(s) {
  const msg = { type: 'sub', opgave: s.opgave };
  if (s.session) msg.session = s.session;
  if (state.synced) {
    msg.since = store.lastSeq();
    const dataId = store.dataIdOfSeq();
    if (dataId) msg.data_id = dataId;
  }
  const reply = await ctx.conn.request(msg, 60000);
  if (reply.type === 'ok') store.noteSeq(reply.seq);
  return reply;
}

async function onReady(me, again) {
  const prev = ctx.me;
  ctx.me = me;
  store.noteServer(me.data_id);
  if (!again) {
    saveCred(ctx.conn.cred);
    if (!prev || prev.actor !== me.actor) { store.clear(); state.synced = false; }
    if (me.role === 'inwoner' && !/^#\/(sessie|opgave)\//.test(location.hash)) {
      history.replaceState(null, '', '/#/sessie/' + me.session);
    } else if (joinCodeFromPath()) {
      history.replaceState(null, '', '/' + location.hash);
    }
    rebuildChrome();
  }
  const r = await subscribe(baseSub(me));
  if (r.type === 'ok') state.synced = true;
  if (state.extraSub) await subscribe(state.extraSub);
  if (!again) route(true);
  else if (state.view && state.view.update) state.view.update();
}

function onFatal(code, authError, everReady, reason) {
  if (!everReady) {
    const wasJoin = ctx.conn && ctx.conn.cred && !ctx.conn.cred.key;
    ctx.conn.stop();
    dropCred();
    // The server refused the name (control or invisible characters, too
    // long): say so in the join form, next to the name.
    const badName = wasJoin && authError && ['bad_request', 'too_large'].includes(authError.code) && authError.field === 'name';
    const key = code === 4429 || (authError && authError.code === 'rate_limited') ? 'signin.error.rate'
      : code === 0 ? 'signin.error.network'
        : badName ? 'signin.error.name.bad'
          : wasJoin ? 'signin.error.join' : 'signin.error.key';
    showSignin({ error: t(key), joinFailed: wasJoin, nameError: badName, code: wasJoin ? ctx.conn.cred.code : null, name: wasJoin ? ctx.conn.cred.name : null });
    return;
  }
  const inwoner = ctx.me && ctx.me.role === 'inwoner';
  // Its device's data erased (from another tab, or at the desk): say so.
  if (inwoner && code === 4403 && reason === 'erased') {
    forgetDevice(ctx.conn && ctx.conn.cred && ctx.conn.cred.code);
    forgetVotes(ctx.me.actor);
    signOut('mine.erased');
  }
  // An inwoner whose join code no longer works after a reconnect (4401):
  // the session was closed while the page was away.
  else if (inwoner && (code === 4403 || code === 4401)) signOut('signout.closed');
  else signOut(code === 4403 ? 'signout.revoked' : code === 4429 ? 'signin.error.rate' : 'signout.unauthorized');
}

function connect(cred) {
  if (ctx.conn) ctx.conn.stop();
  ctx.conn = new Conn({
    onReady: (me, again) => { onReady(me, again); },
    onMessage: (msg) => store.apply(msg),
    onStatus: setStatus,
    onFatal,
  });
  ctx.conn.start(cred);
}

/** A key holder sits at a session's table (presence) while its view is open. */
ctx.joinTable = async (opgave, session) => {
  if (!ctx.me || ctx.me.role === 'inwoner') return;
  state.extraSub = { opgave, session };
  await subscribe(state.extraSub);
};
ctx.leaveTable = async () => {
  if (!state.extraSub) return;
  const s = state.extraSub;
  state.extraSub = null;
  store.dropPresence(s.session);
  if (ctx.conn && ctx.conn.online) await ctx.conn.request({ type: 'unsub', opgave: s.opgave });
};

/** Leave (an inhabitant whose data was erased leaves its session). */
ctx.signOut = (messageKey) => signOut(messageKey);

function signOut(messageKey) {
  if (state.view && state.view.destroy) state.view.destroy();
  state.view = null;
  state.extraSub = null;
  if (ctx.conn) ctx.conn.stop();
  dropCred();
  ctx.me = null;
  store.clear();
  state.synced = false;
  history.replaceState(null, '', '/');
  rebuildChrome();
  showSignin({ message: t(messageKey) });
}

// --------------------------------------------------------------- routing

function showSignin(opts = {}) {
  document.body.classList.remove('projector-mode');
  setStatus('connecting');
  els.status.hidden = true;
  if (state.view && state.view.destroy) state.view.destroy();
  state.view = mountSignin(els.main, {
    ...opts,
    joinCode: opts.code || joinCodeFromPath(),
    onKey: (key) => { els.status.hidden = false; connect({ key }); },
    onJoin: (code, name) => { els.status.hidden = false; connect({ code, name }); },
  });
}

function route(focus) {
  if (!schemaReady()) { if (state.schemaError) showSchemaError(state.schemaError, focus); return; }
  if (!ctx.me) {
    if (!ctx.conn || ctx.conn.stopped) showSignin();
    return;
  }
  els.status.hidden = false;
  const hash = location.hash || '#/';
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (state.view && state.view.destroy) state.view.destroy();
  document.body.classList.remove('projector-mode');
  const me = ctx.me;
  let view;
  if (parts.length === 0) {
    if (me.role === 'inwoner') { location.hash = '#/sessie/' + me.session; return; }
    view = mountPortfolio(els.main);
  } else if (parts[0] === 'opgave' && parts[1]) {
    view = mountOpgave(els.main, parts[1]);
  } else if (parts[0] === 'sessie' && parts[1]) {
    view = parts[2] === 'projectie' ? mountProjector(els.main, parts[1]) : mountSession(els.main, parts[1]);
  } else if (parts[0] === 'beheer') {
    view = mountAdmin(els.main);
  } else {
    els.main.replaceChildren(h('h1', { tabindex: '-1' }, t('notfound')));
    view = null;
  }
  state.view = view;
  markNav();
  if (focus) {
    const h1 = els.main.querySelector('h1');
    if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: true }); }
    window.scrollTo(0, 0);
  }
}

store.onChange(() => { if (state.view && state.view.update && ctx.me) state.view.update(); });
window.addEventListener('hashchange', () => route(true));

// ------------------------------------------------------------ starting

/** The schema could not be fetched: say so in the page's language (Dutch
 * unless the user chose English) and, below it, in the other one; why; and
 * offer to try again. */
function showSchemaError(reason, focus = true) {
  const other = getLang() === 'nl' ? 'en' : 'nl';
  els.status.hidden = true;
  const retry = h('button', { type: 'button', class: 'primary', id: 'schema-retry', onclick: () => {
    retry.disabled = true;
    start();
  } }, t('schema.retry'));
  els.main.replaceChildren(h('section', { class: 'panel schema-error', 'aria-labelledby': 'schema-error-title' },
    h('h1', { id: 'schema-error-title', tabindex: '-1' }, t('schema.error.title')),
    h('div', { role: 'alert' }, h('p', null, t('schema.error.text')),
      h('p', { class: 'help' }, t('schema.error.reason', { reason }))),
    h('p', { class: 'other-lang', lang: other }, `${tIn(other, 'schema.error.title')}. ${tIn(other, 'schema.error.text')}`),
    retry));
  if (focus) els.main.querySelector('h1').focus();
}

async function start() {
  els.status.hidden = true;
  els.main.replaceChildren(h('p', { class: 'loading', role: 'status' }, t('loading')));
  try {
    await loadSchema();
  } catch (e) {
    state.schemaError = e.message || String(e);
    showSchemaError(state.schemaError);
    return;
  }
  state.schemaError = null;
  const cred = loadCred();
  const code = joinCodeFromPath();
  if (cred && !(code && cred.key === undefined && cred.code !== code)) {
    els.main.replaceChildren(h('p', { class: 'loading' }, t('loading')));
    els.status.hidden = false;
    connect(cred);
  } else {
    showSignin();
  }
}

buildShell();
start();
