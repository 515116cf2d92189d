// views/session.js - a live session: its question in large type,
// contributions appearing as they are made, voting, who is at the table;
// and for the opgaveleider the projector view with the join code and its QR
// code.

import { h, replaceKeepFocus } from '../dom.js';
import { t, fieldLabel, valueLabel, roleLabel } from '../i18n.js';
import { valuesOf, fieldDef } from '../schema.js';
import * as store from '../store.js';
import { ctx, errorText } from '../ctx.js';
import { can, canModerate } from '../perm.js';
import { reflectionCard, sortReflections } from '../components.js';
import { qrSvg } from '../qr.js';
import { minePanel } from './mine.js';

// The contribution form is reflectie's sort and text, from the schema. Its
// choices start with what people at a table add most (an exception of
// order only: every other value follows in the schema's order).
const FIRST_SORTS = ['idee', 'vraag'];
function sortChoices() {
  const all = valuesOf('reflectie', 'sort').map((v) => v.value);
  return [...FIRST_SORTS.filter((s) => all.includes(s)), ...all.filter((s) => !FIRST_SORTS.includes(s))];
}

const joinUrl = (code) => `${location.origin}/join/${code}`;

function presenceList(sessionId, compact) {
  // One entry per actor: the same key may sit at the table from two tabs.
  const present = [...new Map(store.getPresence(sessionId).map((p) => [p.actor, p])).values()];
  if (!present.length) return h('p', { class: 'empty' }, t('session.present.none'));
  const names = [...present].sort((a, b) => a.name.localeCompare(b.name));
  // The compact list (projector) names no roles, but still marks an
  // inwoner's name as such: a typed name never passes for a key holder's.
  return h('ul', { class: compact ? 'presence compact' : 'presence' }, names.map((p) =>
    h('li', { 'data-actor': p.actor, 'data-role': p.role }, h('span', { class: 'avatar', 'aria-hidden': 'true' }, (p.name || '?').slice(0, 1).toUpperCase()),
      h('span', { class: 'p-name' }, p.name),
      compact ? (p.role === 'inwoner' ? h('span', { class: 'p-role' }, t('author.inwoner')) : null)
        : h('span', { class: 'p-role' }, roleLabel(p.role)))));
}

/** Keeps one QR code per join code, drawn once. */
function qrHolder() {
  let code = null;
  const box = h('div', { class: 'qr-box' });
  return {
    box,
    async set(c) {
      if (c === code) return;
      code = c;
      box.replaceChildren();
      if (!c) return;
      const el = await qrSvg(joinUrl(c), t('session.qr', { url: joinUrl(c) }));
      if (el && code === c) box.replaceChildren(el);
    },
  };
}

async function sessionAction(s, type) {
  const reply = await ctx.conn.request({ type, id: s.id });
  if (reply.type === 'ok') { if (reply.doc) store.put(reply.doc); } else ctx.announce(errorText(reply));
}

export function mountSession(root, id) {
  const me = ctx.me;
  const head = h('div', { class: 'session-head' });
  const codePanel = h('div', { class: 'code-panel' });
  const presence = h('div', { class: 'presence-box' });
  const list = h('div', { class: 'wall live', id: 'contributions' });
  const qr = qrHolder();
  const sortSel = h('select', { id: 'contrib-sort', name: 'sort', 'aria-required': fieldDef('reflectie', 'sort')?.required ? 'true' : undefined },
    sortChoices().map((s) => h('option', { value: s }, valueLabel('reflectie', 'sort', s))));
  const textField = fieldDef('reflectie', 'text') || {};
  const text = h('textarea', { id: 'contrib-text', name: 'text', rows: 3, maxlength: textField.max_len, 'aria-describedby': 'contrib-err',
    'aria-required': textField.required ? 'true' : undefined });
  const err = h('p', { class: 'field-error', id: 'contrib-err', role: 'alert' });
  const form = h('form', { class: 'panel contribute', novalidate: true, 'aria-labelledby': 'contrib-title', onsubmit: async (ev) => {
    ev.preventDefault();
    const s = store.get('sessie', id);
    if (!s) return;
    err.textContent = '';
    const btn = form.querySelector('button');
    btn.disabled = true;
    const reply = await ctx.conn.request({ type: 'put', kind: 'reflectie', doc: { opgave: s.opgave, session: id, sort: sortSel.value, text: text.value } });
    btn.disabled = false;
    if (reply.type === 'ok') {
      if (reply.doc) store.put(reply.doc);
      text.value = '';
      text.focus();
      ctx.announce(t(reply.doc && reply.doc.pending ? 'session.added.pending' : 'session.added'));
    } else {
      err.textContent = errorText(reply);
      text.setAttribute('aria-invalid', 'true');
      text.focus();
    }
  } },
  h('h2', { id: 'contrib-title' }, t('session.contribute')),
  h('div', { class: 'field' }, h('label', { for: 'contrib-sort' }, fieldLabel('reflectie', 'sort')), sortSel),
  h('div', { class: 'field' }, h('label', { for: 'contrib-text' }, fieldLabel('reflectie', 'text')), text, err),
  h('button', { type: 'submit', class: 'primary' }, t('session.contribute.submit')));

  root.replaceChildren(h('div', { class: 'session-view' },
    head,
    h('div', { class: 'session-grid' },
      h('div', { class: 'session-main' }, form,
        h('section', { 'aria-labelledby': 'contribs-title' }, h('h2', { id: 'contribs-title' }, t('session.contributions')), list)),
      h('aside', { class: 'session-side' }, codePanel,
        h('section', { class: 'panel', 'aria-labelledby': 'presence-title' }, h('h2', { id: 'presence-title' }, t('session.present')), presence),
        minePanel()))));

  let tabled = false;
  function update() {
    const s = store.get('sessie', id);
    if (!s) {
      replaceKeepFocus(head, h('h1', null, t('session.notfound')));
      form.hidden = true;
      return;
    }
    if (!tabled) { tabled = true; ctx.joinTable(s.opgave, s.id); }
    const o = store.get('opgave', s.opgave);
    const mod = canModerate(me, 'sessie'); // open, close, the join code and the projector
    replaceKeepFocus(head,
      o ? h('p', { class: 'crumb' }, h('a', { href: `#/opgave/${o.id}` }, o.title)) : null,
      h('p', { class: 'eyebrow' }, fieldLabel('sessie', 'question'), ' · ', h('span', { class: `state state-${s.state}` }, valueLabel('sessie', 'state', s.state || 'gepland'))),
      h('h1', { class: 'question' }, s.question),
      s.state === 'gesloten' ? h('p', { class: 'notice' }, t('session.closed')) : null,
      s.state !== 'open' && s.state !== 'gesloten' ? h('p', { class: 'notice' }, t('session.planned')) : null,
      mod ? h('div', { class: 'session-actions' },
        s.state !== 'open' && s.state !== 'gesloten' ? h('button', { type: 'button', class: 'primary', 'data-fk': 'open', onclick: () => sessionAction(s, 'session.open') }, t('session.open')) : null,
        s.state === 'open' ? h('a', { class: 'button primary', href: `#/sessie/${s.id}/projectie`, id: 'to-projector' }, t('session.projector')) : null,
        s.state === 'open' ? h('button', { type: 'button', 'data-fk': 'close', onclick: () => sessionAction(s, 'session.close') }, t('session.close')) : null) : null);
    form.hidden = !(s.state === 'open' && can(me, 'C', 'reflectie'));
    if (mod && s.state === 'open' && s.join_code) {
      qr.set(s.join_code);
      if (!codePanel.firstChild) {
        codePanel.append(h('section', { class: 'panel', 'aria-labelledby': 'code-title' }, h('h2', { id: 'code-title' }, fieldLabel('sessie', 'join_code')),
          h('p', { class: 'join-code', id: 'join-code-value' }), h('p', { class: 'join-url' }), qr.box));
      }
      codePanel.querySelector('.join-code').textContent = s.join_code;
      codePanel.querySelector('.join-url').textContent = t('session.join.at', { url: joinUrl(s.join_code) });
    } else {
      codePanel.replaceChildren();
      qr.set(null);
    }
    replaceKeepFocus(presence, presenceList(id, false));
    const contributions = sortReflections(store.all('reflectie', s.opgave).filter((r) => r.session === id));
    replaceKeepFocus(list, contributions.length ? contributions.map((r) => reflectionCard(r, { session: true }))
      : h('p', { class: 'empty' }, t('session.none')));
  }
  update();
  return { update, destroy() { ctx.leaveTable(); } };
}

export function mountProjector(root, id) {
  document.body.classList.add('projector-mode');
  const qr = qrHolder();
  const head = h('div', { class: 'proj-head' });
  const side = h('div', { class: 'proj-code' });
  const presence = h('div', { class: 'proj-presence' });
  const list = h('div', { class: 'proj-wall', id: 'projector-contributions', 'aria-live': 'polite' });
  root.replaceChildren(h('div', { class: 'projector' },
    h('div', { class: 'proj-main' }, head, list),
    h('aside', { class: 'proj-side', 'aria-label': fieldLabel('sessie', 'join_code') }, side, qr.box, presence,
      h('p', { class: 'proj-back' }, h('a', { href: `#/sessie/${id}` }, t('session.back'))))));
  let tabled = false;
  function update() {
    const s = store.get('sessie', id);
    if (!s) { replaceKeepFocus(head, h('h1', null, t('session.notfound'))); return; }
    if (!tabled) { tabled = true; ctx.joinTable(s.opgave, s.id); }
    replaceKeepFocus(head, h('h1', { class: 'proj-question' }, s.question));
    if (s.state === 'open' && s.join_code) {
      qr.set(s.join_code);
      side.replaceChildren(h('p', { class: 'proj-join' }, t('session.join.at', { url: `${location.host}/join/` })),
        h('p', { class: 'join-code big', id: 'projector-code' }, s.join_code));
    } else {
      qr.set(null);
      side.replaceChildren(h('p', { class: 'notice' }, s.state === 'gesloten' ? t('session.closed') : t('session.planned')));
    }
    const present = new Set(store.getPresence(id).map((p) => p.actor));
    presence.replaceChildren(h('p', { class: 'proj-count' }, t('session.present.n', { n: present.size })), presenceList(id, true));
    const contributions = sortReflections(store.all('reflectie', s.opgave).filter((r) => r.session === id && !r.hidden));
    list.replaceChildren(...(contributions.length ? contributions.map((r) => reflectionCard(r, { big: true, readonly: true }))
      : [h('p', { class: 'empty big' }, t('session.none'))]));
  }
  update();
  return { update, destroy() { document.body.classList.remove('projector-mode'); ctx.leaveTable(); } };
}
