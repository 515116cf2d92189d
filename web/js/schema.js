// schema.js - the one description of the kinds of document, as the server
// serves it (GET /schema.json, built from protocol/'s table): roles, per
// kind its labels, permission cells (role x action: yes, no or own) and its
// fields (type, limits, enumeration values with their labels, flags).
// Fetched once when the page starts, before the first view; the forms
// (forms.js), the buttons (perm.js) and the names of kinds, fields and
// values (i18n.js) are read from it. No DOM here: node can check it.

const PROTOCOL = 'tafel.v1';

let schema = null;
const kinds = new Map(); // name -> kind object of schema.json
const fieldMaps = new Map(); // kind name -> Map(field name -> field)
const commonFields = new Map(); // field name -> field (id kind rev opgave ...)
const roleMap = new Map(); // role name -> role object

/** The reason a document is not a schema we can build from, or null. */
function problem(s) {
  if (!s || typeof s !== 'object') return 'not an object';
  if (s.protocol !== PROTOCOL) return `protocol ${JSON.stringify(s.protocol)}, not ${PROTOCOL}`;
  if (!Array.isArray(s.kinds) || !s.kinds.length) return 'no kinds';
  if (!Array.isArray(s.roles) || !s.roles.length) return 'no roles';
  for (const k of s.kinds) {
    if (!k || typeof k.name !== 'string' || !Array.isArray(k.fields) || !k.permissions) return 'a kind without name, fields or permissions';
  }
  return null;
}

/** Take SCHEMA (the parsed /schema.json) as the page's schema. */
export function setSchema(s) {
  const bad = problem(s);
  if (bad) throw new Error(`schema.json: ${bad}`);
  schema = s;
  kinds.clear();
  fieldMaps.clear();
  commonFields.clear();
  roleMap.clear();
  for (const k of s.kinds) {
    kinds.set(k.name, k);
    fieldMaps.set(k.name, new Map(k.fields.map((f) => [f.name, f])));
  }
  for (const f of s.common_fields || []) commonFields.set(f.name, f);
  for (const r of s.roles) roleMap.set(r.name, r);
}

/** Fetch /schema.json (once per call; the page calls it once at start and
 * again only when the user asks to retry). Throws with a short reason. */
export async function loadSchema(fetchFn = globalThis.fetch) {
  let res;
  try {
    res = await fetchFn('/schema.json', { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } });
  } catch {
    throw new Error('network');
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  let json;
  try { json = await res.json(); } catch { throw new Error('not JSON'); }
  setSchema(json);
  return schema;
}

export function schemaReady() { return schema !== null; }

/** The kinds in table order (their names). */
export function kindNames() { return schema ? schema.kinds.map((k) => k.name) : []; }

/** The kind object of schema.json, or undefined. */
export function kindDef(kind) { return kinds.get(kind); }

/** A kind's own fields in table order (not the common ones). */
export function fieldsOf(kind) { const k = kinds.get(kind); return k ? k.fields : []; }

/** A field of KIND by name: its own, else a common field; or undefined. */
export function fieldDef(kind, name) {
  const m = fieldMaps.get(kind);
  return (m && m.get(name)) || commonFields.get(name);
}

/** The {value, label} objects of an enum or enum_set field ([] if none). */
export function valuesOf(kind, name) {
  const f = fieldDef(kind, name);
  return f && Array.isArray(f.values) ? f.values : [];
}

export function roleDef(role) { return roleMap.get(role); }
export function roleNames() { return schema ? schema.roles.map((r) => r.name) : []; }

/** The permission cell of ROLE for ACTION on KIND: 'yes', 'no' or 'own'.
 * Anything the schema does not say (unknown role, kind or action) is 'no'. */
export function cell(role, kind, action) {
  const k = kinds.get(kind);
  const v = k && k.permissions[role] ? k.permissions[role][action] : undefined;
  return v === 'yes' || v === 'own' ? v : 'no';
}

/** The kinds with moderated fields (hidden, pinned): today reflectie. */
export function moderatedKinds() { return schema ? schema.kinds.filter((k) => k.moderated).map((k) => k.name) : []; }
