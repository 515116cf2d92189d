// charts.js - small hand-drawn SVG charts: the portfolio (complexity x time
// horizon), an indicator (baseline, target, measurements) and the
// gevoelsgrafiek (average feeling per moment with its spread). SVG keeps
// them sharp on a projector, styleable from the stylesheet (the CSP allows no
// inline styles) and readable by screen readers (role=img with a
// description; the data is also on the page as text or a table). Each chart
// is a few dozen lines: a chart library would weigh more than it gives.

import { svg } from './dom.js';
import { t, fmtDate, fmtNum, fieldLabel, valueLabel } from './i18n.js';

// Presentation, not data: each traffic light value (opgave.traffic_light)
// has a shape as well as a colour (tafel.css .tl-*); another value would
// get the ring.
const TL_SHAPE = { groen: 'circle', oranje: 'diamond', rood: 'square' };

/** A marker whose shape, not only its colour, tells the traffic light. */
export function marker(light, x, y, r) {
  const cls = `mark tl-${light || 'none'}`;
  const shape = TL_SHAPE[light] || 'ring';
  if (shape === 'square') return svg('rect', { class: cls, x: x - r * 0.85, y: y - r * 0.85, width: r * 1.7, height: r * 1.7 });
  if (shape === 'diamond') return svg('polygon', { class: cls, points: `${x},${y - r * 1.15} ${x + r * 1.15},${y} ${x},${y + r * 1.15} ${x - r * 1.15},${y}` });
  return svg('circle', { class: shape === 'ring' ? `${cls} ring` : cls, cx: x, cy: y, r });
}

/** A small inline marker for legends and badges. */
export function markerIcon(light) {
  return svg('svg', { class: 'marker-icon', viewBox: '0 0 20 20', width: 14, height: 14, 'aria-hidden': 'true', focusable: 'false' },
    marker(light, 10, 10, 7));
}

function frame(w, h, label, cls) {
  return svg('svg', { viewBox: `0 0 ${w} ${h}`, class: `chart ${cls}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' });
}

const short = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/** Opgaven placed on complexity (1..5, y) x horizon (years, x). */
export function portfolioChart(opgaven, onPick) {
  const W = 720, H = 380, L = 64, R = 24, T = 20, B = 56;
  const maxX = Math.max(10, ...opgaven.map((o) => o.horizon_years || 0));
  const xs = (v) => L + (v / maxX) * (W - L - R);
  const ys = (v) => T + ((5 - v) / 4) * (H - T - B);
  const el = frame(W, H, `${t('portfolio.chart.title')}. ${t('portfolio.chart.desc')}`, 'portfolio-chart');
  el.appendChild(svg('rect', { class: 'plot-bg', x: L, y: T, width: W - L - R, height: H - T - B }));
  for (let c = 1; c <= 5; c++) {
    el.appendChild(svg('line', { class: 'grid', x1: L, x2: W - R, y1: ys(c), y2: ys(c) }));
    el.appendChild(svg('text', { class: 'tick', x: L - 10, y: ys(c) + 5, 'text-anchor': 'end' }, String(c)));
  }
  const step = maxX <= 10 ? 1 : maxX <= 20 ? 2 : 5;
  for (let y = 0; y <= maxX; y += step) {
    el.appendChild(svg('line', { class: 'grid', x1: xs(y), x2: xs(y), y1: T, y2: H - B }));
    el.appendChild(svg('text', { class: 'tick', x: xs(y), y: H - B + 20, 'text-anchor': 'middle' }, String(y)));
  }
  el.appendChild(svg('text', { class: 'axis-label', x: (L + W - R) / 2, y: H - 10, 'text-anchor': 'middle' }, t('axis.horizon')));
  el.appendChild(svg('text', { class: 'axis-label', x: 16, y: (T + H - B) / 2, 'text-anchor': 'middle', transform: `rotate(-90 16 ${(T + H - B) / 2})` }, t('axis.complexity')));
  // Opgaven on the same spot fan out a little.
  const seen = new Map();
  for (const o of opgaven) {
    if (!o.complexity || o.horizon_years === undefined) continue;
    const k = `${o.complexity}/${o.horizon_years}`;
    const n = seen.get(k) || 0;
    seen.set(k, n + 1);
    const x = xs(o.horizon_years) + n * 14, y = ys(o.complexity) - n * 14;
    const tl = o.traffic_light ? valueLabel('opgave', 'traffic_light', o.traffic_light) : t('tl.light.none');
    const g = svg('g', { class: 'point', 'data-id': o.id },
      svg('title', null, `${o.title} — ${fieldLabel('opgave', 'traffic_light').toLowerCase()} ${tl}, ${t('axis.complexity').toLowerCase()} ${o.complexity}, ${o.horizon_years} ${t('axis.horizon').toLowerCase()}`),
      marker(o.traffic_light, x, y, 9),
      // Near the right edge the label goes to the marker's left, inside the chart.
      x > W - R - 200 ? svg('text', { class: 'point-label', x: x - 14, y: y + 5, 'text-anchor': 'end' }, short(o.title, 28))
        : svg('text', { class: 'point-label', x: x + 14, y: y + 5 }, short(o.title, 28)));
    if (onPick) g.addEventListener('click', () => onPick(o));
    el.appendChild(g);
  }
  return el;
}

/** A range with round ticks around VALUES: [lo, hi, ticks]. */
function niceRange(values) {
  let lo = Math.min(...values), hi = Math.max(...values);
  if (lo === hi) { lo -= 1; hi += 1; }
  const raw = (hi - lo) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Math.round(v / step) * step);
  return [lo, hi, ticks];
}

/** An indicator: measurements over time, baseline and target as lines. */
export function indicatorChart(ind, metingen) {
  const W = 560, H = 240, L = 60, R = 110, T = 16, B = 40;
  const ms = [...metingen].sort((a, b) => a.date.localeCompare(b.date));
  const vals = ms.map((m) => m.value);
  if (typeof ind.baseline === 'number') vals.push(ind.baseline);
  if (typeof ind.target === 'number') vals.push(ind.target);
  const label = t('ind.chart.desc', { title: ind.title, baseline: fmtNum(ind.baseline), target: fmtNum(ind.target), n: ms.length });
  const el = frame(W, H, label, 'indicator-chart');
  if (!vals.length) return el;
  const [lo, hi, ticks] = niceRange(vals);
  const ys = (v) => T + ((hi - v) / (hi - lo)) * (H - T - B);
  const times = ms.map((m) => Date.parse(m.date));
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const xs = (tm) => (t1 === t0 ? (L + W - R) / 2 : L + ((tm - t0) / (t1 - t0)) * (W - L - R));
  el.appendChild(svg('rect', { class: 'plot-bg', x: L, y: T, width: W - L - R, height: H - T - B }));
  for (const v of ticks) {
    el.appendChild(svg('line', { class: 'grid', x1: L, x2: W - R, y1: ys(v), y2: ys(v) }));
    el.appendChild(svg('text', { class: 'tick', x: L - 8, y: ys(v) + 4, 'text-anchor': 'end' }, fmtNum(v)));
  }
  const hline = (v, cls, text) => {
    el.appendChild(svg('line', { class: cls, x1: L, x2: W - R, y1: ys(v), y2: ys(v) }));
    el.appendChild(svg('text', { class: `ref-label ${cls}-label`, x: W - R + 6, y: ys(v) + 4 }, `${text} ${fmtNum(v)}`));
  };
  if (typeof ind.baseline === 'number') hline(ind.baseline, 'baseline', fieldLabel('indicator', 'baseline'));
  if (typeof ind.target === 'number') hline(ind.target, 'target', fieldLabel('indicator', 'target'));
  if (ms.length) {
    el.appendChild(svg('polyline', { class: 'series', points: ms.map((m, i) => `${xs(times[i])},${ys(m.value)}`).join(' ') }));
    ms.forEach((m, i) => el.appendChild(svg('circle', { class: 'series-point', cx: xs(times[i]), cy: ys(m.value), r: 4 },
      svg('title', null, `${fmtDate(m.date)}: ${fmtNum(m.value)}${ind.unit ? ' ' + ind.unit : ''}`))));
    el.appendChild(svg('text', { class: 'tick', x: xs(t0), y: H - B + 18, 'text-anchor': t1 === t0 ? 'middle' : 'start' }, fmtDate(ms[0].date)));
    if (t1 !== t0) el.appendChild(svg('text', { class: 'tick', x: xs(t1), y: H - B + 18, 'text-anchor': 'end' }, fmtDate(ms[ms.length - 1].date)));
  }
  return el;
}

/** The feelings on one moment: {avg, min, max, n} or null. */
export function feelingStats(moment) {
  const v = Object.values(moment.feelings || {});
  if (!v.length) return null;
  const avg = v.reduce((a, b) => a + b, 0) / v.length;
  return { avg, min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** The gevoelsgrafiek: per moment (in date order) the average, and a band
 * from the lowest to the highest feeling. */
export function feelingChart(moments) {
  const ms = [...moments].sort((a, b) => a.date.localeCompare(b.date));
  const W = 720, H = 260, L = 44, R = 24, T = 16, B = 70;
  const el = frame(W, H, `${t('tl.curve')}. ${t('tl.curve.desc')}`, 'feeling-chart');
  const ys = (v) => T + ((2 - v) / 4) * (H - T - B);
  const xs = (i) => (ms.length === 1 ? (L + W - R) / 2 : L + 20 + (i / (ms.length - 1)) * (W - L - R - 40));
  el.appendChild(svg('rect', { class: 'plot-bg', x: L, y: T, width: W - L - R, height: H - T - B }));
  for (let v = -2; v <= 2; v++) {
    el.appendChild(svg('line', { class: v === 0 ? 'grid zero' : 'grid', x1: L, x2: W - R, y1: ys(v), y2: ys(v) }));
    el.appendChild(svg('text', { class: 'tick', x: L - 8, y: ys(v) + 4, 'text-anchor': 'end' }, v > 0 ? `+${v}` : String(v)));
  }
  const stats = ms.map(feelingStats);
  const pts = stats.map((s, i) => (s ? [xs(i), s] : null)).filter(Boolean);
  if (pts.length > 1) {
    const upper = pts.map(([x, s]) => `${x},${ys(s.max)}`);
    const lower = pts.map(([x, s]) => `${x},${ys(s.min)}`).reverse();
    el.appendChild(svg('polygon', { class: 'spread', points: [...upper, ...lower].join(' ') }));
    el.appendChild(svg('polyline', { class: 'series', points: pts.map(([x, s]) => `${x},${ys(s.avg)}`).join(' ') }));
  }
  ms.forEach((m, i) => {
    const x = xs(i);
    const s = stats[i];
    if (s) {
      el.appendChild(svg('line', { class: 'whisker', x1: x, x2: x, y1: ys(s.min), y2: ys(s.max) }));
      el.appendChild(svg('circle', { class: m.type === 'mijlpaal' ? 'series-point milestone' : 'series-point', cx: x, cy: ys(s.avg), r: 5 },
        svg('title', null, `${m.title}: ${t('tl.avg')} ${fmtNum(s.avg)}, ${t('tl.spread')} ${s.min}…${s.max} (${s.n})`)));
    }
    el.appendChild(svg('text', { class: 'tick', x, y: H - B + 18, 'text-anchor': 'middle' }, fmtDate(m.date)));
    el.appendChild(svg('text', { class: 'tick moment-label', x, y: H - B + 34, 'text-anchor': 'middle' }, short(m.title, 16)));
  });
  return el;
}
