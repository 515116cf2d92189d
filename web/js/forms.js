// forms.js - create and edit every kind the role may write, from one schema
// (after docs/data-model.md). The form opens in a modal <dialog>; the
// server's errors appear next to the field they name (doc.title,
// set.traffic_light); a conflict shows the newer version field by field and
// lets the user merge.

import { h, uid } from './dom.js';
import { t, tv, fmtDateTime } from './i18n.js';
import * as store from './store.js';
import { ctx, errorText } from './ctx.js';

// [field, type, options]; type: text textarea date datetime int number enum set ref
const E = (...v) => v;
export const SCHEMA = {
  opgave: [
    ['title', 'text', { required: true, max: 200 }],
    ['goal', 'textarea', { max: 4000 }],
    ['target_date', 'date'],
    ['political_sponsor', 'text', { max: 200 }],
    ['executive_sponsor', 'text', { max: 200 }],
    ['lead', 'text', { max: 200 }],
    ['traffic_light', 'enum', { values: E('groen', 'oranje', 'rood') }],
    ['traffic_light_note', 'textarea', { max: 1000 }],
    ['way_of_working', 'enum', { values: E('routine', 'project', 'programma', 'bestuursproces', 'improvisatie') }],
    ['domains', 'set', { values: E('fysiek', 'sociaal', 'bedrijfsvoering') }],
    ['complexity', 'int', { min: 1, max: 5 }],
    ['horizon_years', 'int', { min: 0, max: 30 }],
    ['description', 'textarea', { max: 4000 }],
  ],
  actielijn: [
    ['title', 'text', { required: true, max: 200 }],
    ['description', 'textarea', { max: 4000 }],
    ['position', 'int', { min: 0, max: 10000 }],
  ],
  activiteit: [
    ['actielijn', 'ref', { required: true, ref: 'actielijn' }],
    ['title', 'text', { required: true, max: 200 }],
    ['description', 'textarea', { max: 4000 }],
    ['owner', 'text', { max: 200 }],
    ['status', 'enum', { values: E('gepland', 'lopend', 'afgerond', 'gestopt') }],
    ['start_date', 'date'],
    ['end_date', 'date'],
  ],
  indicator: [
    ['title', 'text', { required: true, max: 200 }],
    ['type', 'enum', { required: true, values: E('effect', 'context') }],
    ['unit', 'text', { max: 50 }],
    ['baseline', 'number'],
    ['target', 'number'],
    ['direction', 'enum', { values: E('omhoog', 'omlaag') }],
    ['description', 'textarea', { max: 4000 }],
    ['source', 'text', { max: 200 }],
  ],
  meting: [
    ['indicator', 'ref', { required: true, ref: 'indicator' }],
    ['date', 'date', { required: true }],
    ['value', 'number', { required: true }],
    ['source', 'text', { max: 200 }],
    ['note', 'textarea', { max: 1000 }],
  ],
  reflectie: [
    ['sort', 'enum', { required: true, values: E('goed', 'beter', 'geleerd', 'succesverhaal', 'vraag', 'idee') }],
    ['text', 'textarea', { required: true, max: 4000 }],
  ],
  sessie: [
    ['question', 'textarea', { required: true, max: 1000 }],
    ['starts_at', 'datetime'],
  ],
  moment: [
    ['date', 'date', { required: true }],
    ['title', 'text', { required: true, max: 200 }],
    ['type', 'enum', { values: E('mijlpaal', 'moment') }],
    ['description', 'textarea', { max: 2000 }],
  ],
  lid: [
    ['actor', 'text', { required: true, max: 64, immutable: true }],
    ['name', 'text', { required: true, max: 200 }],
    ['role', 'enum', { required: true, values: E('opgaveleider', 'partner', 'waarnemer') }],
    ['organisation', 'text', { max: 200 }],
  ],
};

const pad = (n) => String(n).padStart(2, '0');
function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The words for a field's value (conflict table, read-only views). */
export function showValue(kind, field, v) {
  if (v === undefined || v === null || v === '') return t('conflict.empty');
  const spec = SCHEMA[kind].find((f) => f[0] === field);
  const type = spec ? spec[1] : 'text';
  if (type === 'enum') return tv(v);
  if (type === 'set') return v.map(tv).join(', ');
  if (type === 'ref') { const d = store.get(spec[2].ref, v); return d ? d.title : v; }
  if (type === 'datetime') return fmtDateTime(v);
  return String(v);
}

function buildField(kind, [name, type, opt = {}], value, opgave, isEdit) {
  const id = uid('f-');
  const errId = `${id}-err`;
  const label = h('label', { for: id }, t('f.' + name),
    opt.required ? h('span', { class: 'req' }, ' *', h('span', { class: 'visually-hidden' }, t('form.required'))) : null);
  let input;
  const common = { id, name, 'aria-describedby': errId, 'data-field': name };
  if (opt.required) common['aria-required'] = 'true';
  if (opt.immutable && isEdit) common.disabled = true;
  if (type === 'textarea') {
    input = h('textarea', { ...common, rows: name === 'text' || name === 'goal' ? 4 : 3, maxlength: opt.max }, value ?? '');
  } else if (type === 'enum' || type === 'ref') {
    const options = type === 'enum'
      ? opt.values.map((v) => [v, tv(v)])
      : store.all(opt.ref, opgave).sort((a, b) => (a.title || '').localeCompare(b.title || '')).map((d) => [d.id, d.title]);
    input = h('select', common,
      opt.required && value ? null : h('option', { value: '' }, t('form.none')),
      options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
  } else if (type === 'set') {
    const set = new Set(value || []);
    return h('fieldset', { class: 'field', 'data-field': name },
      h('legend', null, t('f.' + name)),
      h('div', { class: 'checks' }, opt.values.map((v) => {
        const cid = uid('c-');
        return h('span', { class: 'check' },
          h('input', { type: 'checkbox', id: cid, name, value: v, checked: set.has(v), 'aria-describedby': errId }),
          h('label', { for: cid }, tv(v)));
      })),
      h('p', { class: 'field-error', id: errId, role: 'alert' }));
  } else {
    const itype = { date: 'date', datetime: 'datetime-local', int: 'number', number: 'number' }[type] || 'text';
    let v = value ?? '';
    if (type === 'datetime' && v) v = toLocalInput(v);
    input = h('input', { ...common, type: itype, value: v, maxlength: type === 'text' ? opt.max : undefined,
      step: type === 'number' ? 'any' : undefined, min: opt.min, max: type === 'int' ? opt.max : undefined });
  }
  return h('div', { class: 'field', 'data-field': name }, label, input, h('p', { class: 'field-error', id: errId, role: 'alert' }));
}

/** Read the form into {field: value|undefined}; returns [values, errors]. */
function readForm(form, kind) {
  const values = {};
  const errors = {};
  for (const [name, type] of SCHEMA[kind]) {
    if (type === 'set') {
      values[name] = [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((c) => c.value);
      continue;
    }
    const el = form.elements.namedItem(name);
    if (!el || el.disabled) continue;
    const raw = el.value.trim ? (type === 'textarea' || type === 'text' ? el.value : el.value.trim()) : el.value;
    if (raw === '') { values[name] = undefined; continue; }
    if (type === 'int') {
      const n = Number(raw);
      if (!Number.isInteger(n)) errors[name] = t('form.invalid.int'); else values[name] = n;
    } else if (type === 'number') {
      const n = Number(raw.replace(',', '.'));
      if (!Number.isFinite(n)) errors[name] = t('form.invalid.number'); else values[name] = n;
    } else if (type === 'datetime') {
      const d = new Date(raw);
      values[name] = Number.isNaN(d.getTime()) ? raw : d.toISOString();
    } else {
      values[name] = raw;
    }
  }
  return [values, errors];
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function showErrors(form, errors, general) {
  for (const p of form.querySelectorAll('.field-error')) p.textContent = '';
  for (const f of form.querySelectorAll('.field')) f.classList.remove('has-error');
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const summary = form.querySelector('.form-error');
  summary.textContent = general || '';
  let first = null;
  for (const [name, text] of Object.entries(errors)) {
    const box = form.querySelector(`.field[data-field="${name}"]`);
    if (!box) { summary.textContent = `${summary.textContent} ${text}`.trim(); continue; }
    box.classList.add('has-error');
    box.querySelector('.field-error').textContent = text;
    const input = box.querySelector('input, select, textarea');
    if (input) { input.setAttribute('aria-invalid', 'true'); first = first || input; }
  }
  if (first) first.focus();
}

let dialog = null;
function getDialog() {
  if (!dialog) {
    dialog = h('dialog', { class: 'edit-dialog', 'aria-labelledby': 'dialog-title' });
    document.body.appendChild(dialog);
    dialog.addEventListener('close', () => { dialog.replaceChildren(); if (dialog.returnFocus) dialog.returnFocus.focus(); });
  }
  return dialog;
}

/**
 * Open the form for KIND: `doc` to edit, or null to create in OPGAVE with
 * `preset` fields (e.g. {actielijn: id}).
 */
export function openEditor(kind, doc, opgave, preset = {}) {
  const dlg = getDialog();
  dlg.returnFocus = document.activeElement;
  const isEdit = !!doc;
  const base = isEdit ? doc : preset;
  const fields = SCHEMA[kind].map((spec) => buildField(kind, spec, base[spec[0]], opgave, isEdit));
  const title = t(isEdit ? 'editing.title' : 'creating.title', { kind: t('kind.' + kind).toLowerCase(), Kind: t('kind.' + kind) });
  const form = h('form', { class: 'edit-form', novalidate: true, 'data-kind': kind },
    h('h2', { id: 'dialog-title' }, title),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', { class: 'conflict-box' }),
    fields,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, t('save')),
      h('button', { type: 'button', onclick: () => dlg.close() }, t('cancel'))));
  let rev = isEdit ? doc.rev : null;
  let original = isEdit ? { ...doc } : null;

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const [values, localErrors] = readForm(form, kind);
    if (Object.keys(localErrors).length) { showErrors(form, localErrors, t('form.errors')); return; }
    await save(values);
  });

  async function save(values) {
    let msg;
    if (!isEdit) {
      const d = { opgave: kind === 'opgave' ? undefined : opgave };
      for (const [k, v] of Object.entries(values)) {
        if (v === undefined) continue;
        if (Array.isArray(v) && v.length === 0) continue;
        d[k] = v;
      }
      if (kind === 'opgave') delete d.opgave;
      msg = { type: 'put', kind, doc: d };
    } else {
      const set = {};
      for (const [k, v] of Object.entries(values)) {
        const norm = Array.isArray(v) && v.length === 0 ? undefined : v;
        if (!same(norm, original[k])) set[k] = norm === undefined ? null : norm;
      }
      if (Object.keys(set).length === 0) { dlg.close(); return; }
      msg = { type: 'patch', kind, id: doc.id, rev, set };
    }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    const reply = await ctx.conn.request(msg);
    btn.disabled = false;
    if (reply.type === 'ok') {
      if (reply.doc) store.put(reply.doc);
      dlg.close();
      ctx.announce(t('form.saved'));
      return;
    }
    if (reply.code === 'conflict' && reply.current) {
      showConflict(values, reply.current);
      return;
    }
    const errors = {};
    // doc.title, set.traffic_light, doc.domains[3]: the form's field is the first name.
    const field = (reply.field || '').replace(/^(doc|set)\./, '').split(/[.[]/)[0];
    if (field && SCHEMA[kind].some((f) => f[0] === field)) errors[field] = errorText(reply);
    showErrors(form, errors, Object.keys(errors).length ? t('form.errors') : errorText(reply));
  }

  // The newer version next to the user's: per field the user keeps theirs
  // or takes the newer one; then the merge is saved against the newer rev.
  function showConflict(mine, current) {
    const box = form.querySelector('.conflict-box');
    const rows = [];
    const diffs = SCHEMA[kind].map((f) => f[0]).filter((name) => {
      if (!(name in mine)) return false;
      const m = Array.isArray(mine[name]) && mine[name].length === 0 ? undefined : mine[name];
      return !same(m, current[name]);
    });
    for (const name of diffs) {
      const mineChanged = !same(mine[name], original[name]);
      const gid = uid('g-');
      const fieldName = t('f.' + name);
      rows.push(h('tr', { 'data-field': name },
        h('th', { scope: 'row' }, fieldName),
        h('td', null, h('label', { class: 'pick' },
          h('input', { type: 'radio', name: gid, value: 'mine', checked: mineChanged, 'aria-label': t('conflict.keep.mine', { field: fieldName }) }),
          h('span', { class: 'val mine' }, showValue(kind, name, mine[name])))),
        h('td', null, h('label', { class: 'pick' },
          h('input', { type: 'radio', name: gid, value: 'theirs', checked: !mineChanged, 'aria-label': t('conflict.keep.theirs', { field: fieldName }) }),
          h('span', { class: 'val theirs' }, showValue(kind, name, current[name]))))));
    }
    const mergeBtn = h('button', { type: 'button', class: 'primary', onclick: async () => {
      const merged = {};
      for (const name of SCHEMA[kind].map((f) => f[0])) {
        if (!(name in mine)) continue;
        const row = box.querySelector(`tr[data-field="${name}"]`);
        const pick = row ? row.querySelector('input:checked')?.value : 'mine';
        merged[name] = pick === 'theirs' ? current[name] : mine[name];
      }
      rev = current.rev;
      original = { ...current };
      // Show the merge in the form, then save it.
      for (const [name, v] of Object.entries(merged)) {
        const el = form.elements.namedItem(name);
        if (el && !(el instanceof RadioNodeList) && el.type !== 'checkbox') el.value = v ?? '';
      }
      box.replaceChildren();
      await save(merged);
    } }, t('conflict.merge'));
    box.replaceChildren(h('section', { class: 'conflict', 'aria-labelledby': 'conflict-title' },
      h('h3', { id: 'conflict-title' }, t('conflict.title')),
      h('p', null, t('conflict.intro', { rev: current.rev })),
      rows.length ? h('table', { class: 'conflict-table' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('conflict.field')),
          h('th', { scope: 'col' }, t('conflict.mine')), h('th', { scope: 'col' }, t('conflict.theirs')))),
        h('tbody', null, rows)) : null,
      mergeBtn));
    mergeBtn.focus();
  }

  dlg.replaceChildren(form);
  dlg.showModal();
  const first = form.querySelector('input:not([disabled]), select, textarea');
  if (first) first.focus();
}

/** Delete after a confirmation; announces the outcome. */
export async function deleteDoc(doc) {
  const label = doc.title || doc.question || doc.name || doc.text || doc.id;
  if (!window.confirm(t('confirm.delete', { title: label }))) return;
  const reply = await ctx.conn.request({ type: 'delete', kind: doc.kind, id: doc.id, rev: doc.rev });
  if (reply.type === 'ok') { store.remove(doc.kind, doc.id); ctx.announce(t('form.deleted')); }
  else ctx.announce(errorText(reply));
}
