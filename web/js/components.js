// components.js - pieces several views share: the stoplicht badge, a
// reflection card with its votes and moderation buttons.

import { h } from './dom.js';
import { t, fmtDateTime, fieldLabel, valueLabel } from './i18n.js';
import { markerIcon } from './charts.js';
import { ctx, errorText } from './ctx.js';
import * as store from './store.js';
import { canModerate, canVote, can } from './perm.js';
import { openEditor, deleteDoc } from './forms.js';
import { hasVoted, setVoted } from './local.js';

/** The stoplicht: colour, shape and the word (never colour alone). */
export function tlBadge(light) {
  return h('span', { class: `tl-badge tl-${light || 'none'}` }, markerIcon(light),
    h('span', { class: 'visually-hidden' }, `${fieldLabel('opgave', 'traffic_light')}: `),
    light ? valueLabel('opgave', 'traffic_light', light) : t('tl.light.none'));
}

export async function moderate(r, action) {
  const reply = await ctx.conn.request({ type: 'moderate', id: r.id, action });
  if (reply.type === 'ok') { if (reply.doc) store.put(reply.doc); ctx.announce(t('mod.done.' + action)); }
  else ctx.announce(errorText(reply));
}

// The server keeps only the count; whether this participant voted comes
// back in the ok (`voted`) and is remembered in this browser per actor id.
async function vote(r, value) {
  const me = ctx.me;
  const reply = await ctx.conn.request({ type: 'vote', id: r.id, value });
  if (reply.type === 'ok') {
    setVoted(me.actor, r.id, typeof reply.voted === 'boolean' ? reply.voted : value);
    if (reply.doc) store.put(reply.doc);
    store.touch();
  } else ctx.announce(errorText(reply));
}

/** The author's name; an inwoner's marked as such ("Fatima (inwoner)"), so
 * that a name typed at the join form never passes for a key holder's. */
export function authorLabel(r) {
  if (!r.author) return null;
  if (r.author_role !== 'inwoner') return h('span', { class: 'author' }, t('refl.by', { name: r.author }));
  return h('span', { class: 'author by-inwoner', 'data-role': 'inwoner' }, t('refl.by', { name: r.author }), ' ',
    h('span', { class: 'author-role' }, t('author.inwoner')));
}

/** Waiting for approval first (only moderators have those), then pinned,
 * then most votes, then newest. */
export function sortReflections(list) {
  return [...list].sort((a, b) => (!!b.pending - !!a.pending) || (!!b.pinned - !!a.pinned) || ((b.votes || 0) - (a.votes || 0)) ||
    (b.created_at || '').localeCompare(a.created_at || ''));
}

/** One reflection: text, sort, author, votes; vote and moderation buttons
 * as the role allows. opts.big: the projector's larger cards. */
export function reflectionCard(r, opts = {}) {
  const me = ctx.me;
  const mine = hasVoted(me.actor, r.id);
  const n = r.votes || 0;
  const votesText = n === 1 ? t('refl.vote1') : t('refl.votes', { n });
  const actions = [];
  if (!opts.readonly && canVote(me) && !r.hidden) {
    actions.push(h('button', { type: 'button', class: mine ? 'vote voted' : 'vote', 'aria-pressed': mine ? 'true' : 'false',
      'data-fk': `vote-${r.id}`, 'aria-label': `${mine ? t('refl.unvote') : t('refl.vote')} (${votesText}): ${r.text.slice(0, 60)}`,
      onclick: () => vote(r, !mine) }, h('span', { 'aria-hidden': 'true' }, mine ? '★ ' : '☆ '), mine ? t('refl.unvote') : t('refl.vote')));
  }
  if (!opts.readonly && canModerate(me, r.kind)) {
    if (r.pending) {
      actions.push(h('button', { type: 'button', class: 'mod primary', 'data-fk': `approve-${r.id}`, onclick: () => moderate(r, 'approve') },
        t('mod.approve')));
    }
    actions.push(h('button', { type: 'button', class: 'mod', 'data-fk': `hide-${r.id}`, onclick: () => moderate(r, r.hidden && !r.pending ? 'restore' : 'hide') },
      r.pending ? t('mod.reject') : r.hidden ? t('mod.restore') : t('mod.hide')));
    if (!r.hidden) {
      actions.push(h('button', { type: 'button', class: 'mod', 'data-fk': `pin-${r.id}`, onclick: () => moderate(r, r.pinned ? 'unpin' : 'pin') },
        r.pinned ? t('mod.unpin') : t('mod.pin')));
    }
  }
  if (!opts.readonly && !opts.session && can(me, 'U', r.kind, r)) {
    actions.push(h('button', { type: 'button', class: 'link', 'data-fk': `edit-${r.kind}-${r.id}`, onclick: () => openEditor(r.kind, r, r.opgave) }, t('edit')));
  }
  if (!opts.readonly && !opts.session && can(me, 'D', r.kind, r)) {
    actions.push(h('button', { type: 'button', class: 'link', 'data-fk': `del-${r.kind}-${r.id}`, onclick: () => deleteDoc(r) }, t('delete')));
  }
  return h('article', { class: ['reflection', `sort-${r.sort}`, r.hidden && 'is-hidden', r.pinned && 'is-pinned', opts.big && 'big'],
    'data-id': r.id, 'data-sort': r.sort },
    h('p', { class: 'refl-meta' },
      h('span', { class: `sort-tag sort-${r.sort}` }, valueLabel(r.kind, 'sort', r.sort)),
      r.pinned ? h('span', { class: 'flag pinned' }, h('span', { 'aria-hidden': 'true' }, '📌 '), t('refl.pinned')) : null,
      r.pending ? h('span', { class: 'flag pending' }, t('refl.pending'))
        : r.hidden ? h('span', { class: 'flag hidden' }, t('refl.hidden')) : null),
    h('p', { class: 'refl-text' }, r.text),
    h('p', { class: 'refl-foot' },
      authorLabel(r),
      opts.big ? null : h('span', { class: 'when' }, fmtDateTime(r.created_at)),
      h('span', { class: 'votes', 'data-votes': n }, votesText)),
    actions.length ? h('div', { class: 'refl-actions' }, actions) : null);
}
