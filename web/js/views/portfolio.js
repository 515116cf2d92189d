// views/portfolio.js - every opgave the key may see: cards with title,
// stoplicht and its explanation, opgaveleider and next milestone; and the
// chart of complexity x time horizon.

import { h, replaceKeepFocus } from '../dom.js';
import { t, fmtDate, kindLabel, valueLabel } from '../i18n.js';
import { valuesOf } from '../schema.js';
import * as store from '../store.js';
import { ctx } from '../ctx.js';
import { can } from '../perm.js';
import { tlBadge } from '../components.js';
import { portfolioChart, markerIcon } from '../charts.js';
import { openEditor } from '../forms.js';

// The local date: at 00:30 in the Netherlands it is already tomorrow.
const today = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

export function nextMilestone(opgaveId) {
  const now = today();
  return store.all('moment', opgaveId).filter((m) => m.type === 'mijlpaal' && m.date >= now)
    .sort((a, b) => a.date.localeCompare(b.date))[0];
}

function card(o) {
  const ms = nextMilestone(o.id);
  return h('li', { class: `opgave-card tl-edge-${o.traffic_light || 'none'}`, 'data-id': o.id },
    h('h2', { class: 'card-title' }, h('a', { href: `#/opgave/${o.id}`, 'data-fk': `card-${o.id}` }, o.title)),
    h('div', { class: 'card-tl' }, tlBadge(o.traffic_light),
      o.traffic_light_note ? h('p', { class: 'tl-note' }, o.traffic_light_note) : null),
    h('dl', { class: 'facts' },
      h('div', null, h('dt', null, t('card.lead')), h('dd', null, o.lead || '–')),
      h('div', null, h('dt', null, t('card.milestone')), h('dd', { class: 'milestone' },
        ms ? `${fmtDate(ms.date)} — ${ms.title}` : t('card.nomilestone')))));
}

export function mountPortfolio(root) {
  const cards = h('ul', { class: 'cards', 'aria-labelledby': 'portfolio-title' });
  const chartBox = h('div', { class: 'chart-box' });
  const unplaced = h('p', { class: 'unplaced' });
  const me = ctx.me;
  root.replaceChildren(h('div', { class: 'portfolio' },
    h('div', { class: 'page-head' },
      h('h1', { id: 'portfolio-title' }, t('portfolio.title')),
      can(me, 'C', 'opgave') ? h('button', { type: 'button', class: 'primary', id: 'new-opgave', onclick: () => openEditor('opgave', null, null) },
        t('add.kind', { kind: kindLabel('opgave').toLowerCase(), Kind: kindLabel('opgave') })) : null),
    h('p', { class: 'lead-text' }, t('portfolio.intro')),
    cards,
    h('section', { class: 'panel', 'aria-labelledby': 'chart-title' },
      h('h2', { id: 'chart-title' }, t('portfolio.chart.title')),
      h('p', { class: 'help' }, t('portfolio.chart.desc')),
      h('ul', { class: 'legend' }, valuesOf('opgave', 'traffic_light').map(({ value }) =>
        h('li', null, markerIcon(value), valueLabel('opgave', 'traffic_light', value)))),
      chartBox, unplaced)));

  function update() {
    const list = store.all('opgave').sort((a, b) => a.title.localeCompare(b.title, 'nl'));
    if (!list.length) replaceKeepFocus(cards, h('li', { class: 'empty' }, t('portfolio.none')));
    else replaceKeepFocus(cards, list.map(card));
    chartBox.replaceChildren(portfolioChart(list, (o) => ctx.navigate(`#/opgave/${o.id}`)));
    const un = list.filter((o) => !o.complexity || o.horizon_years === undefined).map((o) => o.title);
    unplaced.textContent = un.length ? t('portfolio.unplaced', { list: un.join(', ') }) : '';
  }
  update();
  return { update, destroy() {} };
}
