// store.js - the documents this page has seen, kept current by the
// subscription's snapshots and events. Views read from it and are told
// (debounced) when something changed.

const docs = new Map(); // 'kind/id' -> doc
const listeners = new Set();
let seq = 0;
let timer = null;
const presence = new Map(); // session id -> [{actor, name, role}]
const snapshots = new Map(); // scope -> Set of keys seen in the snapshot being received

const keyOf = (kind, id) => `${kind}/${id}`;

function changed() {
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    for (const fn of listeners) fn();
  }, 15);
}

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function lastSeq() { return seq; }
export function noteSeq(s) { if (typeof s === 'number' && s > seq) seq = s; }

export function put(doc) {
  const k = keyOf(doc.kind, doc.id);
  const old = docs.get(k);
  if (old && old.rev > doc.rev) return;
  docs.set(k, doc);
  changed();
}

export function remove(kind, id) {
  if (docs.delete(keyOf(kind, id))) changed();
}

export function get(kind, id) { return docs.get(keyOf(kind, id)); }

/** Every document of KIND (in OPGAVE if given). */
export function all(kind, opgave) {
  const out = [];
  for (const d of docs.values()) {
    if (d.kind === kind && (!opgave || d.opgave === opgave)) out.push(d);
  }
  return out;
}

export function clear() {
  docs.clear();
  presence.clear();
  snapshots.clear();
  seq = 0;
  changed();
}

export function getPresence(session) { return presence.get(session) || []; }

/** Apply a server-initiated message. */
export function apply(msg) {
  if (msg.type === 'event') {
    if (msg.op === 'delete') remove(msg.doc.kind, msg.doc.id);
    else put(msg.doc);
    noteSeq(msg.seq);
  } else if (msg.type === 'snapshot') {
    // A snapshot is the whole current state of its scope: what it does not
    // hold was deleted (or hidden) while we were away.
    const scope = msg.opgave || '*';
    let seen = snapshots.get(scope);
    if (!seen) { seen = new Set(); snapshots.set(scope, seen); }
    for (const d of msg.docs || []) { put(d); seen.add(keyOf(d.kind, d.id)); }
    if (!msg.more) {
      snapshots.delete(scope);
      for (const [k, d] of docs) {
        if ((scope === '*' || d.opgave === scope) && !seen.has(k)) docs.delete(k);
      }
      noteSeq(msg.seq);
      changed();
    }
  } else if (msg.type === 'presence') {
    presence.set(msg.session, msg.present || []);
    changed();
  }
}
