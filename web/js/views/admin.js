// views/admin.js - keys (create: shown once with a copy button; list;
// revoke) and, for beheerders, the audit log.

import { h, replaceKeepFocus } from '../dom.js';
import { t, fmtDateTime, roleLabel } from '../i18n.js';
import * as store from '../store.js';
import { ctx, errorText } from '../ctx.js';
import { canManageKeys, canAudit } from '../perm.js';

// Which roles' keys a role may make: the server's key.create rule
// (server/writes.c), not a cell of a kind, so not in the schema's table.
const ROLES = { beheerder: ['beheerder', 'opgaveleider', 'partner', 'inwoner', 'waarnemer'], opgaveleider: ['partner', 'inwoner', 'waarnemer'] };

async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.select();
    try { return document.execCommand('copy'); } catch { return false; }
  }
}

export function mountAdmin(root) {
  const me = ctx.me;
  if (!canManageKeys(me)) {
    root.replaceChildren(h('h1', null, t('admin.title')), h('p', null, t('admin.forbidden')));
    return { destroy() {} };
  }
  let keys = [];
  let audit = [];
  let auditMore = false;
  let auditNext = null; // the audit entry the next page starts after (the server says)
  const createdBox = h('div', { class: 'created-key', 'aria-live': 'polite' });
  const keyList = h('div', { class: 'key-list' });
  const auditBox = h('div', { class: 'audit' });
  const scopeBox = h('div', { class: 'scope-box' });
  const formErr = h('p', { class: 'form-error', role: 'alert' });
  const roleSel = h('select', { id: 'key-role', name: 'role' }, ROLES[me.role].map((r) => h('option', { value: r, selected: r === 'partner' }, roleLabel(r))));
  const labelIn = h('input', { id: 'key-label', name: 'label', type: 'text', maxlength: 200, 'aria-describedby': 'key-label-help key-label-err' });
  const labelErr = h('p', { class: 'field-error', id: 'key-label-err', role: 'alert' });
  const expiresIn = h('input', { id: 'key-expires', name: 'expires', type: 'number', min: 1, max: 3650, 'aria-describedby': 'key-expires-help' });

  const opgaveTitle = (id) => (store.get('opgave', id) || {}).title || id;

  function renderScope() {
    const list = store.all('opgave').sort((a, b) => a.title.localeCompare(b.title, 'nl'));
    const checked = new Set([...scopeBox.querySelectorAll('input[name=scope]:checked')].map((c) => c.value));
    const allBox = me.opgaven === '*'
      ? h('span', { class: 'check' }, h('input', { type: 'checkbox', id: 'scope-all', name: 'scope', value: '*', checked: checked.has('*') }),
        h('label', { for: 'scope-all' }, t('admin.keys.scope.all')))
      : null;
    replaceKeepFocus(scopeBox, h('fieldset', { class: 'field', 'data-field': 'opgaven' }, h('legend', null, t('admin.keys.scope')),
      h('div', { class: 'checks' }, allBox, list.map((o) => h('span', { class: 'check' },
        h('input', { type: 'checkbox', id: `scope-${o.id}`, name: 'scope', value: o.id, checked: checked.has(o.id), 'data-fk': `scope-${o.id}` }),
        h('label', { for: `scope-${o.id}` }, o.title)))),
      h('p', { class: 'field-error', id: 'key-scope-err', role: 'alert' })));
  }

  const form = h('form', { class: 'panel key-form', novalidate: true, 'aria-labelledby': 'key-create-title', onsubmit: async (ev) => {
    ev.preventDefault();
    formErr.textContent = '';
    labelErr.textContent = '';
    const scope = [...scopeBox.querySelectorAll('input[name=scope]:checked')].map((c) => c.value);
    const msg = { type: 'key.create', role: roleSel.value, opgaven: scope.includes('*') ? '*' : scope, label: labelIn.value.trim() };
    const days = Number(expiresIn.value);
    if (expiresIn.value !== '' && Number.isInteger(days) && days > 0) msg.expires_in = days * 86400;
    const reply = await ctx.conn.request(msg);
    if (reply.type !== 'ok') {
      const field = reply.field || '';
      const text = errorText(reply);
      if (field === 'label') { labelErr.textContent = text; labelIn.focus(); }
      else if (field.startsWith('opgaven')) { scopeBox.querySelector('.field-error').textContent = text; }
      else formErr.textContent = text;
      return;
    }
    const keyIn = h('input', { id: 'new-key', type: 'text', readonly: true, value: reply.key, class: 'key-value', spellcheck: 'false' });
    const copied = h('p', { class: 'help', role: 'status' });
    createdBox.replaceChildren(h('section', { class: 'panel once', 'aria-labelledby': 'new-key-title' },
      h('h3', { id: 'new-key-title' }, t('admin.keys.created', { label: msg.label })),
      h('p', { class: 'warning' }, t('admin.keys.once')),
      h('label', { for: 'new-key', class: 'visually-hidden' }, t('admin.keys.new.value')),
      h('div', { class: 'copy-row' }, keyIn,
        h('button', { type: 'button', class: 'primary', id: 'copy-key', onclick: async () => {
          copied.textContent = (await copyText(reply.key, keyIn)) ? t('admin.keys.copied') : t('admin.keys.copy.failed');
        } }, t('admin.keys.copy'))),
      copied,
      h('button', { type: 'button', class: 'link', onclick: () => createdBox.replaceChildren() }, t('close'))));
    keyIn.focus();
    keyIn.select();
    labelIn.value = '';
    loadKeys();
  } },
  h('h2', { id: 'key-create-title' }, t('admin.keys.create')),
  formErr,
  h('div', { class: 'form-grid' },
    h('div', { class: 'field' }, h('label', { for: 'key-role' }, t('admin.keys.role')), roleSel),
    h('div', { class: 'field' }, h('label', { for: 'key-label' }, t('admin.keys.label')), labelIn,
      h('p', { class: 'help', id: 'key-label-help' }, t('admin.keys.label.help')), labelErr),
    h('div', { class: 'field' }, h('label', { for: 'key-expires' }, t('admin.keys.expires')), expiresIn,
      h('p', { class: 'help', id: 'key-expires-help' }, t('admin.keys.expires.help')))),
  scopeBox,
  h('button', { type: 'submit', class: 'primary', id: 'create-key' }, t('admin.keys.create')));

  async function revoke(k) {
    if (!window.confirm(t('admin.keys.revoke.confirm', { label: k.label || k.key_id }))) return;
    const reply = await ctx.conn.request({ type: 'key.revoke', key_id: k.key_id });
    ctx.announce(reply.type === 'ok' ? t('admin.keys.revoked.done') : errorText(reply));
    loadKeys();
  }

  function renderKeys() {
    if (!keys.length) { replaceKeepFocus(keyList, h('p', { class: 'empty' }, t('admin.keys.none'))); return; }
    const now = new Date().toISOString();
    const sorted = [...keys].sort((a, b) => (b.created_at || '').localeCompare(a.created_at || ''));
    replaceKeepFocus(keyList, h('div', { class: 'table-wrap' }, h('table', { class: 'keys' },
      h('thead', null, h('tr', null, ['label', 'role', 'scope', 'created', 'expires', 'status', 'action'].map((c) => h('th', { scope: 'col' }, t('admin.col.' + c))))),
      h('tbody', null, sorted.map((k) => {
        const status = k.revoked_at ? 'revoked' : k.expires_at && k.expires_at < now ? 'expired' : 'active';
        return h('tr', { 'data-key-id': k.key_id, class: `key-${status}` },
          h('td', null, k.label || k.key_id),
          h('td', null, roleLabel(k.role)),
          h('td', null, k.opgaven === '*' ? t('admin.keys.scope.all') : (k.opgaven || []).map(opgaveTitle).join(', ')),
          h('td', null, fmtDateTime(k.created_at)),
          h('td', null, k.expires_at ? fmtDateTime(k.expires_at) : t('never')),
          h('td', null, h('span', { class: `key-status ${status}` }, t(status === 'revoked' ? 'admin.keys.revoked' : status === 'expired' ? 'admin.keys.expired' : 'admin.keys.active'))),
          h('td', null, status === 'revoked' ? null : h('button', { type: 'button', class: 'danger', 'data-fk': `revoke-${k.key_id}`,
            'aria-label': t('admin.keys.revoke.label', { label: k.label || k.key_id }), onclick: () => revoke(k) }, t('admin.keys.revoke'))));
      })))));
  }

  async function loadKeys() {
    const reply = await ctx.conn.request({ type: 'key.list' });
    if (reply.type === 'ok') { keys = reply.keys || []; renderKeys(); if (audit.length) renderAudit(); } else replaceKeepFocus(keyList, h('p', { class: 'form-error' }, errorText(reply)));
  }

  // The audit names actors by key id: show the key's label where we know it.
  function actorName(id) {
    const k = keys.find((x) => x.key_id === id);
    return k && k.label ? h('span', { title: id }, k.label) : h('code', null, id);
  }

  function renderAudit() {
    if (!audit.length) { auditBox.replaceChildren(h('p', { class: 'empty' }, t('admin.audit.none'))); return; }
    replaceKeepFocus(auditBox, h('div', { class: 'table-wrap' }, h('table', { class: 'audit-table' },
      h('thead', null, h('tr', null, ['n', 'at', 'actor', 'actionname', 'target', 'detail'].map((c) => h('th', { scope: 'col' }, t('admin.col.' + c))))),
      h('tbody', null, [...audit].reverse().map((e) => h('tr', null, h('td', { class: 'num' }, String(e.n)), h('td', null, fmtDateTime(e.at)),
        h('td', null, actorName(e.actor)), h('td', null, e.action), h('td', null, h('code', null, e.target || '')),
        h('td', { class: 'detail' }, e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : '')))))),
    auditMore ? h('button', { type: 'button', 'data-fk': 'audit-more', onclick: () => loadAudit(false) }, t('admin.audit.more')) : null);
  }

  async function loadAudit(fresh) {
    if (fresh) { audit = []; auditNext = null; }
    const after = auditNext !== null ? auditNext : (audit.length ? audit[audit.length - 1].n : 0);
    const reply = await ctx.conn.request({ type: 'audit.list', after, limit: 100 });
    if (reply.type === 'ok') {
      audit = audit.concat(reply.entries || []);
      auditMore = !!reply.more;
      auditNext = typeof reply.next === 'number' ? reply.next : null;
      renderAudit();
    } else auditBox.replaceChildren(h('p', { class: 'form-error' }, errorText(reply)));
  }

  root.replaceChildren(h('div', { class: 'admin' },
    h('h1', null, t('admin.title')),
    h('section', { class: 'section', 'aria-labelledby': 'keys-title' }, h('h2', { id: 'keys-title' }, t('admin.keys')),
      form, createdBox,
      h('h3', null, t('admin.keys.list')), keyList),
    canAudit(me) ? h('section', { class: 'section', 'aria-labelledby': 'audit-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'audit-title' }, t('admin.audit')),
        h('button', { type: 'button', id: 'audit-refresh', onclick: () => loadAudit(true) }, t('admin.audit.refresh'))),
      auditBox) : null));
  renderScope();
  loadKeys();
  if (canAudit(me)) loadAudit(true);
  return { update() { renderScope(); renderKeys(); }, destroy() {} };
}
