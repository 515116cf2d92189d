// progress.js - an indicator's direction-aware progress and course, for the
// page: the twin of protocol/progress.c (tafel_progress.h has the
// definition), which the report and the CLI use. The page cannot run C, so
// the same arithmetic is written here once, in the same order, and both are
// held to the cases in tests/progress_cases.json (tests/unit/test_progress.c
// and tests/unit/progress.test.mjs): change one, change the other.
//
// No DOM, no i18n: the view turns the words into text.

/** How many of the latest measurements the trend is fitted through
 *  (TAFEL_PROGRESS_WINDOW). */
export const WINDOW = 4;

// Below this share of the window's largest value a fitted change is the
// rounding of the sums, not movement (FLAT_SHARE).
const FLAT_SHARE = 1e-9;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

// Days since 1970-01-01 of a valid "YYYY-MM-DD", or null: the validity
// rule of tafel_date_valid() (years 1900..2999, real month lengths).
function dayNumber(s) {
  const m = typeof s === 'string' ? DATE.exec(s) : null;
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1900 || y > 2999 || mo < 1 || mo > 12 || d < 1) return null;
  const ms = Date.UTC(y, mo - 1, d);
  if (new Date(ms).getUTCDate() !== d) return null; // 2025-02-30
  return Math.round(ms / 86400000);
}

const finite = (v) => typeof v === 'number' && Number.isFinite(v);

/**
 * The progress of indicator `ind` (baseline, target, direction: 'omhoog' |
 * 'omlaag') from its measurements `metingen` ({date, value}, any order).
 * Returns { direction, directionDerived, count, latest (the meting or null),
 * progress (number or null), trend ('up' | 'down' | 'flat' | 'none'),
 * slope (per day), window, course ('op_koers' | 'niet_op_koers' |
 * 'onbekend') }.
 */
export function indicatorProgress(ind, metingen) {
  const hasBase = finite(ind.baseline);
  const hasTarget = finite(ind.target);
  let direction = ind.direction === 'omhoog' || ind.direction === 'omlaag' ? ind.direction : null;
  let directionDerived = false;
  if (!direction && hasBase && hasTarget && ind.target !== ind.baseline) {
    direction = ind.target > ind.baseline ? 'omhoog' : 'omlaag';
    directionDerived = true;
  }
  // By (date, position): of equal dates the one given last is the latest.
  const usable = (metingen || []).map((m, i) => ({ m, i, day: dayNumber(m.date) }))
    .filter((x) => x.day !== null && finite(x.m.value))
    .sort((a, b) => (a.m.date < b.m.date ? -1 : a.m.date > b.m.date ? 1 : a.i - b.i));
  const win = usable.slice(-WINDOW);
  const out = {
    direction, directionDerived, count: usable.length, latest: null, progress: null,
    trend: 'none', slope: 0, window: win.length, course: 'onbekend',
  };
  if (!win.length) return out;
  out.latest = win[win.length - 1].m;
  const latest = out.latest.value;
  if (hasBase && hasTarget && ind.target !== ind.baseline) {
    out.progress = (latest - ind.baseline) / (ind.target - ind.baseline);
  }
  if (win.length >= 2) fit(win, out);
  if (!direction || out.trend === 'none') return out;
  const up = direction === 'omhoog';
  if (out.trend === 'flat') {
    // Standing still is on course only where the target is reached.
    const reached = hasTarget && (up ? latest >= ind.target : latest <= ind.target);
    out.course = reached ? 'op_koers' : 'niet_op_koers';
  } else {
    out.course = (out.trend === 'up') === up ? 'op_koers' : 'niet_op_koers';
  }
  return out;
}

// The least-squares slope of value over days through the window (oldest
// first, x in days from the oldest: the order progress.c sums in).
function fit(win, out) {
  const d0 = win[0].day;
  const x = win.map((p) => p.day - d0);
  const y = win.map((p) => p.m.value);
  let mx = 0; let my = 0; let scale = 1;
  for (let k = 0; k < win.length; k++) {
    mx += x[k]; my += y[k];
    if (Math.abs(y[k]) > scale) scale = Math.abs(y[k]);
  }
  mx /= win.length; my /= win.length;
  let sxx = 0; let sxy = 0;
  for (let k = 0; k < win.length; k++) {
    sxx += (x[k] - mx) * (x[k] - mx);
    sxy += (x[k] - mx) * (y[k] - my);
  }
  if (sxx === 0) return; // all on one date: no time passed, no trend
  out.slope = sxy / sxx;
  const change = out.slope * (x[x.length - 1] - x[0]);
  out.trend = Math.abs(change) <= FLAT_SHARE * scale ? 'flat' : change > 0 ? 'up' : 'down';
}
