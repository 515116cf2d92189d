// forms.js - create and edit every kind the role may write, built from the
// schema the server serves (/schema.json, schema.js): per kind its fields in
// table order, each with the input its type asks for, its label in the
// current language, required, limits and enumeration values. Fields the
// server fills (server) or that only moderation sets (moderate: hidden,
// pinned, set with the moderate buttons) are not in the form. The form
// opens in a modal <dialog>; the server's errors appear next to the field
// they name (doc.title, set.traffic_light); a conflict shows the newer
// version field by field and lets the user merge.

import { h, uid } from './dom.js';
import { t, fmtDate, fmtDateTime, fieldLabel, valueLabel, kindLabel } from './i18n.js';
import { fieldsOf, fieldDef } from './schema.js';
import * as store from './store.js';
import { ctx, errorText } from './ctx.js';

// A string with room for more than this many characters gets a textarea
// (descriptions, notes, goal, question: 1000 and up); shorter ones an input
// (titles and names: 200, unit: 50, actor: 64).
const SHORT_TEXT = 200;
// The types the form has an input for; the others (feelings, string_set)
// are written by the server only.
const EDITABLE = new Set(['string', 'enum', 'enum_set', 'int', 'number', 'bool', 'date', 'datetime', 'ref', 'ref_set']);
// The types the form shows as a group of checkboxes and sends as an array.
const SETS = new Set(['enum_set', 'ref_set']);

/** The fields of KIND's form, in table order: what a client writes. */
export function formFields(kind) {
  return fieldsOf(kind).filter((f) => !f.server && !f.moderate && EDITABLE.has(f.type));
}

/** A document in words, for lists of choices and the delete question.
 * (Exception: the schema marks no field as a kind's title; these are the
 * fields that serve as one: title, sessie.question, lid.name,
 * reflectie.text.) */
export function docTitle(doc) {
  return doc.title || doc.question || doc.name || doc.text || doc.id;
}

const pad = (n) => String(n).padStart(2, '0');
function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The words for a field's value (conflict table, read-only views). */
export function showValue(kind, field, v) {
  if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) return t('conflict.empty');
  const f = fieldDef(kind, field);
  switch (f ? f.type : 'string') {
    case 'enum': return valueLabel(kind, field, v);
    case 'enum_set': return v.map((x) => valueLabel(kind, field, x)).join(', ');
    case 'ref': { const d = store.get(f.ref, v); return d ? docTitle(d) : String(v); }
    case 'ref_set': return v.map((x) => { const d = store.get(f.ref, x); return d ? docTitle(d) : String(x); }).join(', ');
    case 'date': return fmtDate(v);
    case 'datetime': return fmtDateTime(v);
    case 'bool': return v ? t('yes') : t('no');
    default: return String(v);
  }
}

/** The documents a ref or ref_set field F may name: [id, title] of the
 * documents of kind f.ref in OPGAVE, by title; plus each of VALUES (ids)
 * no longer among them (a deleted document), so that it stays visible. */
function refChoices(f, opgave, values) {
  const options = store.all(f.ref, opgave).map((d) => [d.id, docTitle(d)])
    .sort((a, b) => String(a[1]).localeCompare(String(b[1]), 'nl'));
  for (const v of values) {
    if (v !== undefined && v !== null && v !== '' && !options.some(([id]) => id === v)) options.push([v, String(v)]);
  }
  return options;
}

const isLong = (f) => f.type === 'string' && !(typeof f.max_len === 'number' && f.max_len <= SHORT_TEXT);

function buildField(kind, f, value, opgave, isEdit) {
  const { name, type } = f;
  const id = uid('f-');
  const errId = `${id}-err`;
  const text = fieldLabel(kind, name);
  const error = h('p', { class: 'field-error', id: errId, role: 'alert' });
  const req = f.required ? h('span', { class: 'req' }, ' *', h('span', { class: 'visually-hidden' }, t('form.required'))) : null;
  const common = { id, name, 'aria-describedby': errId, 'data-field': name };
  if (f.required) common['aria-required'] = 'true';
  if (f.immutable && isEdit) common.disabled = true;
  let input;
  if (SETS.has(type)) {
    // A group of checkboxes: the enumeration's values, or the documents
    // of kind f.ref in this opgave by title; the checked ones are sent.
    const list = Array.isArray(value) ? value : [];
    const set = new Set(list);
    const choices = type === 'enum_set'
      ? (f.values || []).map((v) => [v.value, valueLabel(kind, name, v.value)])
      : refChoices(f, opgave, list);
    return h('fieldset', { class: 'field', 'data-field': name },
      h('legend', null, text, req),
      choices.length
        ? h('div', { class: type === 'ref_set' ? 'checks ref-checks' : 'checks' }, choices.map(([v, l]) => {
          const cid = uid('c-');
          return h('span', { class: 'check' },
            h('input', { type: 'checkbox', id: cid, name, value: v, checked: set.has(v), 'aria-describedby': errId,
              disabled: common.disabled }),
            h('label', { for: cid }, l));
        }))
        : h('p', { class: 'help' }, t('form.none')),
      error);
  }
  if (type === 'bool') {
    return h('div', { class: 'field field-check', 'data-field': name },
      h('span', { class: 'check' }, h('input', { ...common, type: 'checkbox', checked: value === true }), h('label', { for: id }, text, req)),
      error);
  }
  if (type === 'string' && isLong(f)) {
    input = h('textarea', { ...common, rows: f.max_len >= 4000 ? 4 : 3, maxlength: f.max_len }, value ?? '');
  } else if (type === 'enum' || type === 'ref') {
    const options = type === 'enum'
      ? (f.values || []).map((v) => [v.value, valueLabel(kind, name, v.value)])
      : refChoices(f, opgave, []);
    // A value no longer among the choices (a deleted document) stays selectable.
    if (value !== undefined && value !== null && value !== '' && !options.some(([v]) => v === value)) options.push([value, showValue(kind, name, value)]);
    input = h('select', common,
      f.required && value ? null : h('option', { value: '' }, t('form.none')),
      options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
  } else {
    const itype = { date: 'date', datetime: 'datetime-local', int: 'number', number: 'number' }[type] || 'text';
    let v = value ?? '';
    if (type === 'datetime' && v) v = toLocalInput(v);
    const numeric = type === 'int' || type === 'number';
    input = h('input', { ...common, type: itype, value: v,
      maxlength: type === 'string' ? f.max_len : undefined,
      minlength: type === 'string' && f.min_len > 1 ? f.min_len : undefined,
      inputmode: type === 'int' ? 'numeric' : type === 'number' ? 'decimal' : undefined,
      step: type === 'number' ? 'any' : type === 'int' ? 1 : undefined,
      min: numeric ? f.min : undefined, max: numeric ? f.max : undefined });
  }
  return h('div', { class: 'field', 'data-field': name }, h('label', { for: id }, text, req), input, error);
}

/** Read the form into {field: value|undefined}; returns [values, errors]. */
function readForm(form, kind) {
  const values = {};
  const errors = {};
  for (const f of formFields(kind)) {
    const { name, type } = f;
    if (SETS.has(type)) {
      const boxes = [...form.querySelectorAll(`input[name="${name}"]`)];
      if (boxes.length && boxes[0].disabled) continue;
      values[name] = boxes.filter((c) => c.checked).map((c) => c.value);
      continue;
    }
    const el = form.elements.namedItem(name);
    if (!el || el.disabled) continue;
    if (type === 'bool') { values[name] = el.checked; continue; }
    // Text is sent as typed; other inputs without the spaces around them.
    const raw = type === 'string' ? el.value : el.value.trim();
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
  const fields = formFields(kind).map((f) => buildField(kind, f, base[f.name], opgave, isEdit));
  const title = t(isEdit ? 'editing.title' : 'creating.title', { kind: kindLabel(kind).toLowerCase(), Kind: kindLabel(kind) });
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
      // The common field opgave: a new opgave's is its own id (the server's).
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
    if (field && formFields(kind).some((f) => f.name === field)) errors[field] = errorText(reply);
    showErrors(form, errors, Object.keys(errors).length ? t('form.errors') : errorText(reply));
  }

  // The newer version next to the user's: per field the user keeps theirs
  // or takes the newer one; then the merge is saved against the newer rev.
  function showConflict(mine, current) {
    const box = form.querySelector('.conflict-box');
    const rows = [];
    const diffs = formFields(kind).map((f) => f.name).filter((name) => {
      if (!(name in mine)) return false;
      const m = Array.isArray(mine[name]) && mine[name].length === 0 ? undefined : mine[name];
      return !same(m, current[name]);
    });
    for (const name of diffs) {
      const mineChanged = !same(mine[name], original[name]);
      const gid = uid('g-');
      const fieldName = fieldLabel(kind, name);
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
      for (const name of formFields(kind).map((f) => f.name)) {
        if (!(name in mine)) continue;
        const row = box.querySelector(`tr[data-field="${name}"]`);
        const pick = row ? row.querySelector('input:checked')?.value : 'mine';
        merged[name] = pick === 'theirs' ? current[name] : mine[name];
      }
      rev = current.rev;
      original = { ...current };
      // Show the merge in the form, then save it.
      for (const [name, v] of Object.entries(merged)) {
        const f = fieldDef(kind, name);
        if (SETS.has(f.type)) {
          for (const c of form.querySelectorAll(`input[name="${name}"]`)) c.checked = (v || []).includes(c.value);
          continue;
        }
        const el = form.elements.namedItem(name);
        if (!el || el instanceof RadioNodeList) continue;
        if (f.type === 'bool') el.checked = v === true;
        else if (f.type === 'datetime') el.value = v ? toLocalInput(v) : '';
        else el.value = v ?? '';
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
  if (!window.confirm(t('confirm.delete', { title: docTitle(doc) }))) return;
  const reply = await ctx.conn.request({ type: 'delete', kind: doc.kind, id: doc.id, rev: doc.rev });
  if (reply.type === 'ok') { store.remove(doc.kind, doc.id); ctx.announce(t('form.deleted')); }
  else ctx.announce(errorText(reply));
}
