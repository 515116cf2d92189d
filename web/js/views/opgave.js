// views/opgave.js - one opgave: goal, sturingsdriehoek, werkwijze and
// domains; action lines with activities and owners; indicators with their
// charts (effect apart from context); the timeline with milestones and the
// gevoelsgrafiek; reflections as a wall filterable by sort; sessions and
// members. Editing buttons appear as the role allows.

import { h, replaceKeepFocus } from '../dom.js';
import { t, fmtDate, fmtDateTime, fmtNum, fieldLabel, valueLabel, kindLabel, kindPlural } from '../i18n.js';
import { valuesOf, kindNames, fieldsOf } from '../schema.js';
import * as store from '../store.js';
import { ctx, errorText } from '../ctx.js';
import { can, canRead, canModerate, canVote } from '../perm.js';
import { tlBadge, reflectionCard, sortReflections } from '../components.js';
import { indicatorChart, feelingChart, feelingStats } from '../charts.js';
import { indicatorProgress } from '../progress.js';
import { openEditor, deleteDoc, docTitle, showValue } from '../forms.js';

function editButtons(doc, label) {
  const me = ctx.me;
  const out = [];
  if (can(me, 'U', doc.kind, doc)) {
    out.push(h('button', { type: 'button', class: 'link', 'data-fk': `edit-${doc.kind}-${doc.id}`,
      'aria-label': `${t('edit')}: ${label}`, onclick: () => openEditor(doc.kind, doc, doc.opgave) }, t('edit')));
  }
  if (can(me, 'D', doc.kind, doc)) {
    out.push(h('button', { type: 'button', class: 'link danger', 'data-fk': `del-${doc.kind}-${doc.id}`,
      'aria-label': `${t('delete')}: ${label}`, onclick: () => deleteDoc(doc) }, t('delete')));
  }
  return out.length ? h('span', { class: 'edit-buttons' }, out) : null;
}

function addButton(kind, opgave, preset, id) {
  if (!can(ctx.me, 'C', kind)) return null;
  return h('button', { type: 'button', class: 'add', id, 'data-fk': id, onclick: () => openEditor(kind, null, opgave, preset) },
    h('span', { 'aria-hidden': 'true' }, '+ '), t('add.kind', { kind: kindLabel(kind).toLowerCase(), Kind: kindLabel(kind) }));
}

function sectionHead(id, title, addBtn) {
  return h('div', { class: 'section-head' }, h('h2', { id: `${id}-title`, tabindex: '-1' }, title), addBtn);
}

// The sections of an opgave: each shows one kind (the timeline: moments),
// headed by its plural from the schema, and only to whom may read it.
const SECTIONS = [
  ['sec-actions', 'actielijn'], ['sec-indicators', 'indicator'], ['sec-timeline', 'moment'],
  ['sec-reflections', 'reflectie'], ['sec-sessions', 'sessie'], ['sec-members', 'lid'],
];
// Kinds shown inside another's section (and the opgave itself).
const NESTED = new Set(['opgave', 'activiteit', 'meting']);
// A kind the schema gains later gets a section without a layout of its own:
// its documents, each with the fields a person fills in.
const genericKinds = () => kindNames().filter((k) => !NESTED.has(k) && !SECTIONS.some(([, s]) => s === k));
// The timeline is more than its moments' plural: its own words.
const sectionTitle = (kind) => (kind === 'moment' ? t('sec.timeline') : kindPlural(kind));

function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
}

export function mountOpgave(root, id) {
  let filter = 'alle';
  const body = h('div', { class: 'opgave-view' });
  root.replaceChildren(body);

  function header(o) {
    return h('header', { class: 'opgave-head' },
      h('p', { class: 'crumb' }, h('a', { href: '#/' }, t('nav.portfolio'))),
      h('div', { class: 'page-head' }, h('h1', { id: 'opgave-title' }, o.title), editButtons(o, o.title)),
      h('div', { class: 'card-tl' }, tlBadge(o.traffic_light), o.traffic_light_note ? h('p', { class: 'tl-note' }, o.traffic_light_note) : null));
  }

  function overview(o) {
    const tri = h('div', { class: 'triangle', role: 'group', 'aria-labelledby': 'tri-title' },
      h('div', { class: 'tri-node tri-top' }, h('span', { class: 'tri-role' }, fieldLabel('opgave', 'political_sponsor')), h('span', { class: 'tri-name' }, o.political_sponsor || '–')),
      h('div', { class: 'tri-node tri-left' }, h('span', { class: 'tri-role' }, fieldLabel('opgave', 'executive_sponsor')), h('span', { class: 'tri-name' }, o.executive_sponsor || '–')),
      h('div', { class: 'tri-node tri-right' }, h('span', { class: 'tri-role' }, fieldLabel('opgave', 'lead')), h('span', { class: 'tri-name' }, o.lead || '–')));
    return h('div', { class: 'overview' },
      h('section', { class: 'panel goal', 'aria-labelledby': 'goal-title' },
        h('h2', { id: 'goal-title' }, t('opgave.goal')),
        h('p', { class: 'goal-text' }, o.goal || '–'),
        o.description ? h('p', { class: 'description' }, o.description) : null),
      h('section', { class: 'panel', 'aria-labelledby': 'tri-title' }, h('h2', { id: 'tri-title' }, t('opgave.triangle')), tri),
      h('section', { class: 'panel', 'aria-labelledby': 'facts-title' },
        h('h2', { id: 'facts-title' }, t('opgave.facts')),
        dl([[fieldLabel('opgave', 'target_date'), fmtDate(o.target_date)],
          [fieldLabel('opgave', 'way_of_working'), o.way_of_working ? valueLabel('opgave', 'way_of_working', o.way_of_working) : null],
          [fieldLabel('opgave', 'domains'), (o.domains || []).length ? h('span', { class: 'chips' }, o.domains.map((d) => h('span', { class: 'chip' }, valueLabel('opgave', 'domains', d)))) : null],
          [fieldLabel('opgave', 'complexity'), o.complexity], [fieldLabel('opgave', 'horizon_years'), o.horizon_years]])));
  }

  function actions(o) {
    const lines = store.all('actielijn', o.id).sort((a, b) => (a.position ?? 1e9) - (b.position ?? 1e9) || a.title.localeCompare(b.title));
    const acts = store.all('activiteit', o.id);
    return h('section', { class: 'section', id: 'sec-actions', 'aria-labelledby': 'sec-actions-title' },
      sectionHead('sec-actions', sectionTitle('actielijn'), addButton('actielijn', o.id, {}, 'add-actielijn')),
      lines.length ? h('ol', { class: 'action-lines' }, lines.map((l) => {
        const mine = acts.filter((a) => a.actielijn === l.id).sort((a, b) => (a.start_date || '').localeCompare(b.start_date || ''));
        return h('li', { class: 'action-line', 'data-id': l.id },
          h('div', { class: 'line-head' }, h('h3', null, l.title), editButtons(l, l.title)),
          l.description ? h('p', null, l.description) : null,
          mine.length ? h('ul', { class: 'activities' }, mine.map((a) => h('li', { class: 'activity', 'data-id': a.id },
            h('div', { class: 'act-main' }, h('span', { class: 'act-title' }, a.title),
              a.status ? h('span', { class: `status status-${a.status}` }, valueLabel('activiteit', 'status', a.status)) : null),
            h('div', { class: 'act-meta' },
              h('span', { class: 'owner' }, `${t('activity.owner')}: `, h('strong', null, a.owner || '–')),
              a.start_date || a.end_date ? h('span', null, `${t('activity.period')}: ${fmtDate(a.start_date) || '…'} – ${fmtDate(a.end_date) || '…'}`) : null),
            a.description ? h('p', { class: 'act-desc' }, a.description) : null,
            editButtons(a, a.title))))
            : h('p', { class: 'empty' }, t('activities.none')),
          addButton('activiteit', o.id, { actielijn: l.id }, `add-activiteit-${l.id}`));
      })) : h('p', { class: 'empty' }, t('actions.none')));
  }

  // The course in words, with the trend or why it is unknown, and the share
  // of the way: progress.js, the twin of what the report prints. Text with
  // a mark, never colour alone.
  function progressLine(pr) {
    const detail = [pr.trend === 'none' ? t('ind.why.few') : t('ind.trend.' + pr.trend)];
    if (!pr.direction) detail.push(t('ind.why.direction'));
    const mark = { op_koers: '✓', niet_op_koers: '✗', onbekend: '?' }[pr.course];
    return h('p', { class: `ind-progress course-${pr.course}`, 'data-course': pr.course },
      h('span', { class: 'course' }, h('span', { class: 'course-mark', 'aria-hidden': 'true' }, mark),
        h('strong', null, t('ind.course.' + pr.course)), ` (${detail.join('; ')})`),
      pr.progress !== null ? h('span', { class: 'share' }, t('ind.progress', { pct: fmtNum(Math.round(pr.progress * 100)) })) : null);
  }

  function indicatorBlock(ind) {
    const ms = store.all('meting', ind.opgave).filter((m) => m.indicator === ind.id).sort((a, b) => a.date.localeCompare(b.date));
    const unit = ind.unit ? ` ${ind.unit}` : '';
    const pr = indicatorProgress(ind, ms);
    const baseDate = ind.baseline_date ? ` (${fmtDate(ind.baseline_date)})` : '';
    return h('article', { class: 'indicator', 'data-id': ind.id },
      h('div', { class: 'line-head' }, h('h4', null, ind.title), editButtons(ind, ind.title)),
      h('p', { class: 'ind-meta' },
        h('span', null, `${fieldLabel('indicator', 'baseline')}: ${fmtNum(ind.baseline)}${unit}${baseDate}`),
        h('span', null, `${fieldLabel('indicator', 'target')}: ${fmtNum(ind.target)}${unit}`),
        pr.direction ? h('span', null, `${fieldLabel('indicator', 'direction')}: ${valueLabel('indicator', 'direction', pr.direction)}${pr.directionDerived ? ` (${t('ind.derived')})` : ''}`) : null,
        ind.source ? h('span', null, `${fieldLabel('indicator', 'source')}: ${ind.source}`) : null),
      progressLine(pr),
      indicatorChart(ind, ms),
      ms.length ? h('details', { class: 'measurements' },
        h('summary', null, `${kindPlural('meting')} (${ms.length})`),
        h('table', null,
          h('thead', null, h('tr', null, ['date', 'value', 'source', 'note'].map((f) => h('th', { scope: 'col' }, fieldLabel('meting', f))), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('admin.col.action'))))),
          h('tbody', null, ms.map((m) => h('tr', { 'data-id': m.id }, h('td', null, fmtDate(m.date)), h('td', { class: 'num' }, `${fmtNum(m.value)}${unit}`),
            h('td', null, m.source || ''), h('td', null, m.note || ''), h('td', null, editButtons(m, `${ind.title} ${fmtDate(m.date)}`)))))))
        : h('p', { class: 'empty' }, t('ind.nomeasurements')),
      addButton('meting', ind.opgave, { indicator: ind.id }, `add-meting-${ind.id}`));
  }

  function indicators(o) {
    const all = store.all('indicator', o.id).sort((a, b) => a.title.localeCompare(b.title));
    // Effect apart from context: a group per value of indicator.type. The
    // headings are prose (ind.effect: "Effectindicatoren"); a value the
    // page has no heading for is headed by its label from the schema.
    const group = (type) => {
      const list = all.filter((i) => i.type === type);
      const key = 'ind.' + type;
      return h('div', { class: `ind-group ind-${type}` }, h('h3', null, t(key) !== key ? t(key) : valueLabel('indicator', 'type', type)),
        list.length ? h('div', { class: 'ind-list' }, list.map(indicatorBlock)) : h('p', { class: 'empty' }, t('ind.none')));
    };
    return h('section', { class: 'section', id: 'sec-indicators', 'aria-labelledby': 'sec-indicators-title' },
      sectionHead('sec-indicators', sectionTitle('indicator'), addButton('indicator', o.id, {}, 'add-indicator')),
      valuesOf('indicator', 'type').map((v) => group(v.value)));
  }

  async function feel(m, value) {
    const reply = await ctx.conn.request({ type: 'feel', id: m.id, value });
    if (reply.type === 'ok') { if (reply.doc) store.put(reply.doc); } else ctx.announce(errorText(reply));
  }

  function timeline(o) {
    const moments = store.all('moment', o.id).sort((a, b) => a.date.localeCompare(b.date));
    const me = ctx.me;
    const withFeel = moments.filter((m) => feelingStats(m));
    return h('section', { class: 'section', id: 'sec-timeline', 'aria-labelledby': 'sec-timeline-title' },
      sectionHead('sec-timeline', sectionTitle('moment'), addButton('moment', o.id, {}, 'add-moment')),
      moments.length ? h('ol', { class: 'timeline' }, moments.map((m) => {
        const mine = (m.feelings || {})[me.actor];
        const s = feelingStats(m);
        return h('li', { class: ['moment', m.type === 'mijlpaal' && 'milestone'], 'data-id': m.id },
          h('p', { class: 'moment-date' }, fmtDate(m.date)),
          h('div', { class: 'moment-body' },
            h('div', { class: 'line-head' }, h('h3', null, m.title,
              // A moment without a type is a plain moment (the schema's doc: "moment (default)").
              h('span', { class: `type-tag ${m.type === 'mijlpaal' ? 'is-milestone' : ''}` }, valueLabel('moment', 'type', m.type || 'moment'))),
            editButtons(m, m.title)),
            m.description ? h('p', null, m.description) : null,
            s ? h('p', { class: 'feel-stats' }, `${t('tl.avg')} ${fmtNum(s.avg)} · ${t('tl.spread')} ${s.min}…${s.max} · ${t('tl.count')} ${s.n}`) : null,
            canVote(me) ? h('div', { class: 'feel', role: 'group', 'aria-label': t('tl.feel.legend', { title: m.title }) },
              h('span', { class: 'feel-q', 'aria-hidden': 'true' }, t('tl.feel')),
              [-2, -1, 0, 1, 2].map((v) => h('button', { type: 'button', class: `feel-btn feel-${v + 2}`, 'aria-pressed': mine === v ? 'true' : 'false',
                'data-fk': `feel-${m.id}-${v}`, title: t('tl.feel.' + v), 'aria-label': `${v > 0 ? '+' + v : v} ${t('tl.feel.' + v)}`,
                onclick: () => feel(m, v) }, v > 0 ? `+${v}` : String(v)))) : null));
      })) : h('p', { class: 'empty' }, t('tl.none')),
      h('div', { class: 'panel curve' }, h('h3', null, t('tl.curve')),
        h('p', { class: 'help' }, t('tl.curve.desc')),
        withFeel.length ? feelingChart(moments) : h('p', { class: 'empty' }, t('tl.curve.none'))));
  }

  function reflections(o) {
    const me = ctx.me;
    let list = store.all('reflectie', o.id);
    const sorts = valuesOf('reflectie', 'sort').map((v) => v.value);
    const counts = Object.fromEntries(sorts.map((s) => [s, list.filter((r) => r.sort === s).length]));
    if (filter !== 'alle') list = list.filter((r) => r.sort === filter);
    const opts = [['alle', `${t('refl.all')} (${store.all('reflectie', o.id).length})`],
      ...sorts.map((s) => [s, `${valueLabel('reflectie', 'sort', s)} (${counts[s]})`])];
    return h('section', { class: 'section', id: 'sec-reflections', 'aria-labelledby': 'sec-reflections-title' },
      sectionHead('sec-reflections', sectionTitle('reflectie'), addButton('reflectie', o.id, {}, 'add-reflectie')),
      h('div', { class: 'filter', role: 'group', 'aria-label': t('refl.filter') },
        h('span', { class: 'filter-label', 'aria-hidden': 'true' }, `${t('refl.filter')}:`),
        opts.map(([v, l]) => h('button', { type: 'button', class: `filter-btn sort-${v}`, 'data-filter': v, 'data-fk': `filter-${v}`,
          'aria-pressed': filter === v ? 'true' : 'false', onclick: () => { filter = v; update(); } }, l))),
      list.length ? h('div', { class: 'wall' }, sortReflections(list).map((r) => reflectionCard(r, { me })))
        : h('p', { class: 'empty' }, t('refl.none')));
  }

  async function sessionAction(s, type) {
    const reply = await ctx.conn.request({ type, id: s.id });
    if (reply.type === 'ok') { if (reply.doc) store.put(reply.doc); } else ctx.announce(errorText(reply));
  }

  function sessions(o) {
    const me = ctx.me;
    const list = store.all('sessie', o.id).sort((a, b) => (b.created_at || '').localeCompare(a.created_at || ''));
    return h('section', { class: 'section', id: 'sec-sessions', 'aria-labelledby': 'sec-sessions-title' },
      sectionHead('sec-sessions', sectionTitle('sessie'), addButton('sessie', o.id, {}, 'add-sessie')),
      list.length ? h('ul', { class: 'sessions' }, list.map((s) => h('li', { class: 'session-item', 'data-id': s.id },
        h('p', { class: 'session-q' }, h('a', { href: `#/sessie/${s.id}`, 'data-fk': `go-${s.id}` }, s.question)),
        h('p', { class: 'session-meta' }, h('span', { class: `state state-${s.state}` }, valueLabel('sessie', 'state', s.state || 'gepland')),
          s.starts_at ? h('span', null, fmtDateTime(s.starts_at)) : null,
          s.state === 'open' && s.join_code ? h('span', null, `${fieldLabel('sessie', 'join_code')}: `, h('strong', { class: 'code' }, s.join_code)) : null),
        h('div', { class: 'session-actions' },
          canModerate(me, 'sessie') && s.state !== 'open' && s.state !== 'gesloten' ? h('button', { type: 'button', 'data-fk': `open-${s.id}`, onclick: () => sessionAction(s, 'session.open') }, t('session.open')) : null,
          canModerate(me, 'sessie') && s.state === 'open' ? h('button', { type: 'button', 'data-fk': `close-${s.id}`, onclick: () => sessionAction(s, 'session.close') }, t('session.close')) : null,
          canModerate(me, 'sessie') && s.state === 'open' ? h('a', { class: 'button', href: `#/sessie/${s.id}/projectie` }, t('session.projector')) : null,
          editButtons(s, s.question)))))
        : h('p', { class: 'empty' }, t('sessions.none')));
  }

  function members(o) {
    const list = store.all('lid', o.id).sort((a, b) => a.name.localeCompare(b.name));
    return h('section', { class: 'section', id: 'sec-members', 'aria-labelledby': 'sec-members-title' },
      sectionHead('sec-members', sectionTitle('lid'), addButton('lid', o.id, {}, 'add-lid')),
      list.length ? h('table', { class: 'members' },
        h('thead', null, h('tr', null, ['name', 'role', 'organisation'].map((f) => h('th', { scope: 'col' }, fieldLabel('lid', f))),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('admin.col.action'))))),
        h('tbody', null, list.map((l) => h('tr', { 'data-id': l.id }, h('td', null, l.name), h('td', null, valueLabel('lid', 'role', l.role)),
          h('td', null, l.organisation || ''), h('td', null, editButtons(l, l.name)))))) : h('p', { class: 'empty' }, t('members.none')));
  }

  function generic(kind, o) {
    const sid = `sec-${kind}`;
    const fields = fieldsOf(kind).filter((f) => !f.server);
    const list = store.all(kind, o.id);
    return h('section', { class: 'section', id: sid, 'aria-labelledby': `${sid}-title` },
      sectionHead(sid, sectionTitle(kind), addButton(kind, o.id, {}, `add-${kind}`)),
      list.length ? h('ul', { class: 'generic-list' }, list.map((d) => h('li', { 'data-id': d.id },
        h('h3', null, docTitle(d)),
        dl(fields.filter((f) => d[f.name] !== undefined && d[f.name] !== docTitle(d))
          .map((f) => [fieldLabel(kind, f.name), showValue(kind, f.name, d[f.name])])),
        editButtons(d, docTitle(d)))))
        : h('p', { class: 'empty' }, t('generic.none', { kinds: kindPlural(kind).toLowerCase() })));
  }

  const allSections = () => SECTIONS.concat(genericKinds().map((k) => [`sec-${k}`, k]));

  function sectionNav() {
    const items = allSections().filter(([, kind]) => canRead(ctx.me, kind));
    return h('nav', { class: 'section-nav', 'aria-label': t('opgave.sections') }, h('ul', null, items.map(([sid, kind]) =>
      h('li', null, h('button', { type: 'button', class: 'link', 'data-fk': `nav-${sid}`, onclick: () => {
        const el = document.getElementById(`${sid}-title`);
        if (el) { el.scrollIntoView({ block: 'start' }); el.focus({ preventScroll: true }); }
      } }, sectionTitle(kind))))));
  }

  function update() {
    const o = store.get('opgave', id);
    if (!o) {
      replaceKeepFocus(body, h('h1', null, t('opgave.notfound')), h('p', null, h('a', { href: '#/' }, t('nav.portfolio'))));
      return;
    }
    document.title = `${o.title} — Tafel`;
    const build = { actielijn: actions, indicator: indicators, moment: timeline, reflectie: reflections, sessie: sessions, lid: members };
    replaceKeepFocus(body, header(o), overview(o), sectionNav(),
      allSections().filter(([, kind]) => canRead(ctx.me, kind))
        .map(([, kind]) => (build[kind] ? build[kind](o) : generic(kind, o))));
  }
  update();
  return { update, destroy() { document.title = 'Tafel'; } };
}
