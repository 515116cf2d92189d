// local.js - what this browser remembers across reloads, in localStorage:
//
// - an inhabitant's device token per join code (`tafel.device.CODE`): the
//   server hands it out on the first `join` and gives the same participant
//   (actor id) back when it is sent again, after a reload, a reconnect or a
//   server restart. It is no access key: it only works with that session's
//   join code, while the session is open.
// - the page's own votes per actor id (`tafel.votes.ACTOR`): the server
//   keeps only the count, and tells the caller in `vote`'s ok whether it
//   now has a vote there (`voted`).
//
// Storage may be missing or full (private windows): then nothing is kept
// and the page still works, it only forgets across reloads.

const DEVICE_PREFIX = 'tafel.device.';
const VOTES_PREFIX = 'tafel.votes.';
const DEVICE_TTL_MS = 30 * 86400000; // a token older than this belongs to a session long gone
const VOTES_MAX = 5000; // ids kept per actor (a session holds at most 2000 reflecties)
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

function read(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}
function write(key, value) {
  try { localStorage.setItem(key, value); } catch { /* no storage, or full */ }
}
function drop(key) {
  try { localStorage.removeItem(key); } catch { /* ignore */ }
}
function keys(prefix) {
  const out = [];
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k && k.startsWith(prefix)) out.push(k);
    }
  } catch { /* ignore */ }
  return out;
}

const codeKey = (code) => DEVICE_PREFIX + String(code).toUpperCase();

/** The device token kept for join code CODE, or undefined. */
export function deviceFor(code) {
  if (!code) return undefined;
  try {
    const v = JSON.parse(read(codeKey(code)) || 'null');
    if (v && typeof v.device === 'string' && TOKEN_RE.test(v.device)) return v.device;
  } catch { /* bad JSON: as if none */ }
  return undefined;
}

/** Keep TOKEN for join code CODE (and forget tokens of long-gone sessions). */
export function keepDevice(code, token) {
  if (!code || typeof token !== 'string' || !TOKEN_RE.test(token)) return;
  const now = Date.now();
  for (const k of keys(DEVICE_PREFIX)) {
    try {
      const v = JSON.parse(read(k) || 'null');
      if (!v || typeof v.at !== 'number' || now - v.at > DEVICE_TTL_MS) drop(k);
    } catch { drop(k); }
  }
  write(codeKey(code), JSON.stringify({ device: token, at: now }));
}

/** Forget the token kept for join code CODE (its device was erased: the
 * server no longer knows it, and this browser should not either). */
export function forgetDevice(code) {
  if (code) drop(codeKey(code));
}

// ------------------------------------------------------------------ votes

const votes = new Map(); // actor -> Set of reflectie ids (a cache of localStorage)

function votesOf(actor) {
  let s = votes.get(actor);
  if (s) return s;
  s = new Set();
  try {
    const v = JSON.parse(read(VOTES_PREFIX + actor) || '[]');
    if (Array.isArray(v)) for (const id of v) if (typeof id === 'string') s.add(id);
  } catch { /* bad JSON: none */ }
  votes.set(actor, s);
  return s;
}

/** Whether ACTOR (this page's participant or key) has a vote on reflectie ID. */
export function hasVoted(actor, id) {
  return !!actor && votesOf(actor).has(id);
}

/** Remember the server's answer: ACTOR now has (VOTED) or has no vote on ID. */
export function setVoted(actor, id, voted) {
  if (!actor || !id) return;
  const s = votesOf(actor);
  if (voted) s.add(id); else s.delete(id);
  let list = [...s];
  if (list.length > VOTES_MAX) {
    list = list.slice(list.length - VOTES_MAX);
    votes.set(actor, new Set(list));
  }
  write(VOTES_PREFIX + actor, JSON.stringify(list));
}

/** Forget ACTOR's votes (its data was erased: they are gone on the server). */
export function forgetVotes(actor) {
  if (!actor) return;
  votes.delete(actor);
  drop(VOTES_PREFIX + actor);
}

// Another tab of the same browser voted: read its list again.
try {
  window.addEventListener('storage', (ev) => {
    if (ev.key === null) votes.clear();
    else if (ev.key.startsWith(VOTES_PREFIX)) votes.delete(ev.key.slice(VOTES_PREFIX.length));
  });
} catch { /* not in a window */ }
