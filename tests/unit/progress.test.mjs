// progress.test.mjs - web/js/progress.js, the page's twin of
// protocol/progress.c, held to the cases of tests/progress_cases.json that
// test_progress holds the C to: the page, the CLI and the report cannot
// tell different stories about an indicator. Node alone (node --test).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { indicatorProgress, WINDOW } from '../../web/js/progress.js';

const EPS = 1e-9;
const { cases } = JSON.parse(readFileSync(new URL('../progress_cases.json', import.meta.url), 'utf8'));

// The C header's window, so the two cannot drift apart unnoticed.
test('the window is the C one', () => {
  const h = readFileSync(new URL('../../protocol/tafel_progress.h', import.meta.url), 'utf8');
  assert.equal(Number(/#define TAFEL_PROGRESS_WINDOW (\d+)/.exec(h)[1]), WINDOW);
});

const num = (want, got, what) => {
  if (want === null) assert.equal(got, null, what);
  else assert.ok(typeof got === 'number' && Math.abs(got - want) <= EPS, `${what}: ${got} != ${want}`);
};

for (const c of cases) {
  test(c.name, () => {
    const p = indicatorProgress(c.indicator, c.metingen);
    for (const [k, want] of Object.entries(c.expect)) {
      switch (k) {
        case 'direction': assert.equal(p.direction, want, k); break;
        case 'direction_derived': assert.equal(p.directionDerived, want, k); break;
        case 'count': case 'window': case 'trend': case 'course': assert.equal(p[k], want, k); break;
        case 'latest_date': assert.equal(p.latest ? p.latest.date : null, want, k); break;
        case 'latest_value': num(want, p.latest ? p.latest.value : null, k); break;
        case 'progress': num(want, p.progress, k); break;
        case 'slope': num(want, p.slope, k); break;
        default: assert.fail(`a member this test does not know: ${k}`);
      }
    }
  });
}
