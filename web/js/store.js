// store.js - the documents this page has seen, kept current by the
// subscription's snapshots and events. Views read from it and are told
// (debounced) when something changed.
//
// The seq the page has seen counts in the history of one data directory:
// its identity, `data_id`, comes with hello/join. The page sends both with
// `since` when it subscribes again; when the server's data is another
// history (restored from a backup) it answers with a snapshot, and a
// snapshot REPLACES what the page holds for its scope: documents not in it
// are gone, and older revisions in it win (a restore goes back in time).

const docs = new Map(); // 'kind/id' -> doc
const listeners = new Set();
let seq = 0;
let dataId = null; // the data identity `seq` counts in (null: not known)
let serverDataId = null; // what the server reported at the latest hello/join
let timer = null;
const presence = new Map(); // session id -> Map(actor -> {actor, name, role})
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

/** The data identity lastSeq() belongs to (send it with `since`). */
export function dataIdOfSeq() { return dataId; }

/** The server's data identity from the hello/join ok. The first one is
 * taken as the identity of what the store will hold; a later, different
 * one is not: the next `sub` sends the old one with `since`, and the
 * snapshot the server then sends brings the new one in. */
export function noteServer(id) {
  serverDataId = typeof id === 'string' && id ? id : null;
  if (dataId === null && seq === 0) dataId = serverDataId;
}

export function put(doc) {
  const k = keyOf(doc.kind, doc.id);
  const old = docs.get(k);
  if (old && old.rev > doc.rev) return;
  docs.set(k, doc);
  changed();
}

/** Tell the views to render again (something outside the documents changed). */
export function touch() { changed(); }

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
  dataId = serverDataId;
  changed();
}

/** Who is at SESSION's table: [{actor, name, role}]. */
export function getPresence(session) {
  const m = presence.get(session);
  return m ? [...m.values()] : [];
}

/** Forget SESSION's presence (the page left its table; a full list comes
 * again when it sits down). */
export function dropPresence(session) {
  if (presence.delete(session)) changed();
}

function applyPresence(msg) {
  if (typeof msg.session !== 'string') return;
  let m = presence.get(msg.session);
  // The first message after join/sub is the full list; later ones are
  // deltas (`joined` people, `left` actor ids).
  if (Array.isArray(msg.present)) {
    m = new Map();
    presence.set(msg.session, m);
    for (const p of msg.present) if (p && p.actor) m.set(p.actor, p);
  }
  if (!m) { m = new Map(); presence.set(msg.session, m); }
  if (Array.isArray(msg.left)) for (const actor of msg.left) m.delete(actor);
  if (Array.isArray(msg.joined)) for (const p of msg.joined) if (p && p.actor) m.set(p.actor, p);
  changed();
}

function applySnapshot(msg) {
  // A snapshot is the whole current state of its scope: it replaces what
  // the store holds there. What it does not hold was deleted (or hidden)
  // while we were away, or does not exist in the data the server has now.
  const scope = msg.opgave || '*';
  let seen = snapshots.get(scope);
  if (!seen) { seen = new Set(); snapshots.set(scope, seen); }
  for (const d of msg.docs || []) {
    if (!d || typeof d.kind !== 'string' || typeof d.id !== 'string') continue;
    const k = keyOf(d.kind, d.id);
    docs.set(k, d); // even an older rev: after a restore it is the truth
    seen.add(k);
  }
  if (!msg.more) {
    snapshots.delete(scope);
    for (const [k, d] of docs) {
      if ((scope === '*' || d.opgave === scope) && !seen.has(k)) docs.delete(k);
    }
    // The seq and identity of the data the server has now (after a restore
    // the seq may be lower than what the page had seen).
    if (typeof msg.seq === 'number') seq = msg.seq;
    dataId = serverDataId;
  }
  changed();
}

/** Apply a server-initiated message. */
export function apply(msg) {
  if (msg.type === 'event') {
    // A delete carries a stub {id, kind, opgave, rev}: nothing else of the
    // document is read from it.
    if (msg.op === 'delete') { if (msg.doc) remove(msg.doc.kind, msg.doc.id); } else if (msg.doc) put(msg.doc);
    noteSeq(msg.seq);
  } else if (msg.type === 'snapshot') {
    applySnapshot(msg);
  } else if (msg.type === 'presence') {
    applyPresence(msg);
  }
}
