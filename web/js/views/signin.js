// views/signin.js - sign in with an access key, or join a live session with
// its code and a display name (also straight from /join/CODE).

import { h } from '../dom.js';
import { t } from '../i18n.js';

// What the server refuses in a name (docs/protocol.md, join): control
// characters, bidi controls, or nothing visible at all. Checked here too,
// so that a typo costs no failed join.
const BAD_NAME_CHAR = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const INVISIBLE = /^[\p{Z}\p{Cf}\u200B-\u200D\u2060\uFEFF]*$/u;

/** The i18n key of what is wrong with NAME (already trimmed), or null. */
export function nameProblem(name) {
  if (!name || [...name].length > 40) return 'signin.error.name';
  if (BAD_NAME_CHAR.test(name) || INVISIBLE.test(name)) return 'signin.error.name.bad';
  return null;
}

export function mountSignin(root, opts) {
  const invited = !!opts.joinCode;
  const keyErr = h('p', { class: 'field-error', id: 'key-err', role: 'alert' });
  const joinErr = h('p', { class: 'field-error', id: 'join-err', role: 'alert' });
  const keyInput = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'key-help key-err', 'aria-required': 'true' });
  const codeInput = h('input', { id: 'join-code', name: 'code', type: 'text', autocomplete: 'off', autocapitalize: 'characters',
    spellcheck: 'false', maxlength: 16, value: opts.joinCode || '', 'aria-describedby': 'code-help join-err', 'aria-required': 'true' });
  const nameInput = h('input', { id: 'join-name', name: 'name', type: 'text', autocomplete: 'nickname', maxlength: 40,
    value: opts.name || '', 'aria-describedby': 'name-help join-err', 'aria-required': 'true' });

  const keyForm = h('form', { class: 'card signin-key', novalidate: true, 'aria-labelledby': 'key-title', onsubmit: (ev) => {
    ev.preventDefault();
    const key = keyInput.value.trim();
    if (!key) { keyErr.textContent = t('signin.error.keyformat'); keyInput.focus(); return; }
    keyErr.textContent = '';
    busy.textContent = t('signin.busy');
    keyForm.querySelector('button').disabled = true;
    opts.onKey(key);
  } },
  h('h2', { id: 'key-title' }, t('signin.key.title')),
  h('div', { class: 'field' }, h('label', { for: 'key' }, t('signin.key.label')), keyInput,
    h('p', { class: 'help', id: 'key-help' }, t('signin.key.help')), keyErr),
  h('button', { type: 'submit', class: 'primary' }, t('signin.key.submit')));

  const joinForm = h('form', { class: 'card signin-join', novalidate: true, 'aria-labelledby': 'join-title', onsubmit: (ev) => {
    ev.preventDefault();
    const code = codeInput.value.trim().toUpperCase();
    const name = nameInput.value.trim();
    nameInput.removeAttribute('aria-invalid');
    if (!code) { joinErr.textContent = t('signin.error.join'); codeInput.focus(); return; }
    const problem = nameProblem(name);
    if (problem) { joinErr.textContent = t(problem); nameInput.setAttribute('aria-invalid', 'true'); nameInput.focus(); return; }
    joinErr.textContent = '';
    busy.textContent = t('signin.busy');
    joinForm.querySelector('button').disabled = true;
    opts.onJoin(code, name);
  } },
  h('h2', { id: 'join-title' }, t('signin.join.title')),
  invited ? h('p', { class: 'invited' }, t('signin.join.invited')) : null,
  h('div', { class: 'field' }, h('label', { for: 'join-code' }, t('signin.join.code')), codeInput,
    h('p', { class: 'help', id: 'code-help' }, t('signin.join.code.help'))),
  h('div', { class: 'field' }, h('label', { for: 'join-name' }, t('signin.join.name')), nameInput,
    h('p', { class: 'help', id: 'name-help' }, t('signin.join.name.help')), joinErr),
  h('button', { type: 'submit', class: 'primary' }, t('signin.join.submit')));

  const busy = h('p', { class: 'busy', role: 'status' });
  if (opts.error) (opts.joinFailed ? joinErr : keyErr).textContent = opts.error;
  if (opts.nameError) nameInput.setAttribute('aria-invalid', 'true');

  root.replaceChildren(h('div', { class: 'signin' },
    h('h1', null, t('signin.title')),
    h('p', { class: 'lead-text' }, t('signin.intro')),
    opts.message ? h('p', { class: 'notice', role: 'alert' }, opts.message) : null,
    h('div', { class: 'signin-forms' }, invited ? [joinForm, keyForm] : [keyForm, joinForm]),
    busy));
  if (invited || opts.nameError) nameInput.focus();
  return { destroy() {} };
}
