// views/mine.js - "Mijn bijdragen": an inhabitant's right of access and
// erasure, on the session page. It downloads everything this device
// contributed (`device.export`, as a .json file) or erases it
// (`device.erase`, after a confirmation in plain words), and shows the
// device token to hand over at the municipality's desk instead.
//
// The device is named by the token this browser keeps for the join code
// (local.js): the server answers only for the device the page joined with.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { ctx, errorText } from '../ctx.js';
import { deviceFor, forgetDevice, forgetVotes } from '../local.js';

function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Offer @p doc as a file to save: a link to a blob, clicked once. */
function saveJson(doc, name) {
  const blob = new Blob([JSON.stringify(doc, null, 2) + '\n'], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, class: 'visually-hidden', tabindex: '-1' }, name);
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** The panel for the signed-in inhabitant, or null for anyone else. */
export function minePanel() {
  const me = ctx.me;
  const code = ctx.conn && ctx.conn.cred ? ctx.conn.cred.code : null;
  if (!me || me.role !== 'inwoner' || !code) return null;
  const token = () => deviceFor(code) || (ctx.conn.me && ctx.conn.me.device);

  const err = h('p', { class: 'field-error', id: 'mine-err', role: 'alert' });
  const download = h('button', { type: 'button', id: 'mine-download', onclick: () => doDownload() }, t('mine.download'));
  const erase = h('button', { type: 'button', id: 'mine-erase', class: 'danger', 'aria-expanded': 'false', 'aria-controls': 'mine-confirm',
    onclick: () => showConfirm(true) }, t('mine.erase'));
  const yes = h('button', { type: 'button', id: 'mine-erase-yes', class: 'danger-solid', onclick: () => doErase() }, t('mine.confirm.yes'));
  const no = h('button', { type: 'button', id: 'mine-erase-no', onclick: () => showConfirm(false) }, t('mine.confirm.no'));
  const confirmTitle = h('h3', { id: 'mine-confirm-title', tabindex: '-1' }, t('mine.confirm.title'));
  const confirm = h('div', { class: 'mine-confirm', id: 'mine-confirm', role: 'group', 'aria-labelledby': 'mine-confirm-title', hidden: true,
    onkeydown: (ev) => { if (ev.key === 'Escape') showConfirm(false); } },
  confirmTitle,
  h('p', null, t('mine.confirm.text')),
  h('p', null, t('mine.confirm.keep')),
  h('div', { class: 'mine-actions' }, yes, no));

  function busy(on) { for (const b of [download, erase, yes, no]) b.disabled = on; }

  function showConfirm(on) {
    confirm.hidden = !on;
    erase.setAttribute('aria-expanded', on ? 'true' : 'false');
    err.textContent = '';
    if (on) confirmTitle.focus(); else erase.focus();
  }

  async function doDownload() {
    err.textContent = '';
    busy(true);
    const reply = await ctx.conn.request({ type: 'device.export', device: token() }, 30000);
    busy(false);
    if (reply.type !== 'ok' || !reply.export) { err.textContent = errorText(reply); return; }
    saveJson(reply.export, `tafel-mijn-bijdragen-${today()}.json`);
    ctx.announce(t('mine.downloaded'));
  }

  async function doErase() {
    err.textContent = '';
    busy(true);
    const actor = me.actor;
    const reply = await ctx.conn.request({ type: 'device.erase', device: token() }, 30000);
    if (reply.type !== 'ok') { busy(false); err.textContent = errorText(reply); yes.focus(); return; }
    // The server closes this connection next (4403): leave first, and
    // forget what this browser kept for the participant that is gone.
    forgetDevice(code);
    forgetVotes(actor);
    ctx.signOut('mine.erased');
  }

  return h('section', { class: 'panel mine', id: 'mine', 'aria-labelledby': 'mine-title' },
    h('h2', { id: 'mine-title' }, t('mine.title')),
    h('p', null, t('mine.intro')),
    h('div', { class: 'mine-actions' }, download, erase),
    confirm,
    err,
    h('details', { class: 'mine-desk' },
      h('summary', null, t('mine.desk.title')),
      h('p', null, t('mine.desk.text')),
      h('p', null, h('code', { class: 'device-token', id: 'mine-token' }, token() || ''))));
}
