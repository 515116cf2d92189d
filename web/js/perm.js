// perm.js - what the signed-in role may do: only to decide which buttons to
// show, the server checks every request itself. The answer is the schema's
// permission cell (role x kind x action: yes, no, or own = a document this
// key created), as the server reads the same cell (server/perm.c). No DOM
// here.

import { cell, moderatedKinds } from './schema.js';

const ACTIONS = { R: 'read', C: 'create', U: 'update', D: 'delete', M: 'moderate' };

/** The cell of ME's role for ACTION on KIND, applied to DOC: 'own' holds
 * only for a document whose created_by is ME's actor id. */
export function allowed(me, action, kind, doc) {
  if (!me) return false;
  const v = cell(me.role, kind, ACTIONS[action] || action);
  if (v === 'yes') return true;
  if (v === 'own') return !!doc && typeof doc.created_by === 'string' && doc.created_by === me.actor;
  return false;
}

/** can(me, 'C'|'U'|'D' (or 'create'...), kind, doc?) */
export function can(me, action, kind, doc) {
  // Exception, as in server/perm.c: a new opgave has no opgave to be
  // scoped to, so only a key for every opgave ('*') creates one.
  if (kind === 'opgave' && (ACTIONS[action] || action) === 'create' && me && me.opgaven !== '*') return false;
  return allowed(me, action, kind, doc);
}

/** May ME read documents of KIND (the sections the page shows). */
export const canRead = (me, kind) => allowed(me, 'read', kind);

/** The moderate cell: of KIND (sessie: open and close; reflectie: hide and
 * pin), or, without a kind, of any moderated kind (hidden/pinned fields). */
export function canModerate(me, kind) {
  if (kind) return allowed(me, 'moderate', kind);
  return moderatedKinds().some((k) => allowed(me, 'moderate', k));
}

/** Members (lid) are listed only to those who may read them. */
export const canReadMembers = (me) => canRead(me, 'lid');

// Not cells of a kind, so not in the schema's table: the server's own rules.
/** vote and feel: every role but waarnemer (server: tafel_perm_can_interact). */
export const canVote = (me) => !!me && me.role !== 'waarnemer';
/** key.create/list/revoke: beheerder and opgaveleider (server/dispatch.c LEADS). */
export const canManageKeys = (me) => !!me && (me.role === 'beheerder' || me.role === 'opgaveleider');
/** audit.list: beheerder only. */
export const canAudit = (me) => !!me && me.role === 'beheerder';
