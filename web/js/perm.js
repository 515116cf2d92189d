// perm.js - what the signed-in role may do, after docs/permissions.md. Only
// to decide which buttons to show: the server checks every request itself.

const WRITE = {
  //           beheerder  opgaveleider  partner  inwoner
  opgave:     ['CUD',     'U',          '',      ''],
  actielijn:  ['CUD',     'CUD',        '',      ''],
  activiteit: ['CUD',     'CUD',        'C*',    ''],
  indicator:  ['CUD',     'CUD',        '',      ''],
  meting:     ['CUD',     'CUD',        'C*',    ''],
  reflectie:  ['CUD',     'CUD',        'C*',    'C'],
  sessie:     ['CUD',     'CUD',        '',      ''],
  moment:     ['CUD',     'CUD',        'C*',    ''],
  lid:        ['CUD',     'CUD',        '',      ''],
};
const COL = { beheerder: 0, opgaveleider: 1, partner: 2, inwoner: 3 };

/** can(me, 'C'|'U'|'D', kind, doc?) */
export function can(me, action, kind, doc) {
  if (!me) return false;
  const col = COL[me.role];
  if (col === undefined) return false; // waarnemer
  const rule = WRITE[kind][col];
  if (rule.includes(action)) return true;
  // partner: U and D only on documents it created
  if (rule.endsWith('*') && (action === 'U' || action === 'D')) {
    return !!doc && doc.created_by === me.actor;
  }
  return false;
}

export const canModerate = (me) => !!me && (me.role === 'beheerder' || me.role === 'opgaveleider');
export const canVote = (me) => !!me && me.role !== 'waarnemer';
export const canReadMembers = (me) => !!me && me.role !== 'inwoner';
export const canManageKeys = (me) => !!me && (me.role === 'beheerder' || me.role === 'opgaveleider');
export const canAudit = (me) => !!me && me.role === 'beheerder';
