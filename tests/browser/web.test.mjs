// web.test.mjs - the web page in Debian's chromium (playwright-core)
// against a real tafeld on 127.0.0.1: sign-in with a key and with a join
// code, live changes between browser contexts, an inhabitant's contribution
// on the projector, moderation, a conflict, keys created and revoked, the
// page catching up after a server restart, an inhabitant who reloads staying
// the same participant (one vote), the page after a restore from an older
// backup (a snapshot replaces what it held), the page built from
// /schema.json (every form's fields, labels, controls, limits and choices in
// Dutch and English; each role's buttons after the permission cells; an
// error with a retry when the schema cannot be had), an inhabitant
// downloading what it contributed and erasing it ("Mijn bijdragen"),
// axe-core on every view, and a screenshot of every view (TAFEL_SCREENSHOTS,
// default build/screenshots).
//
//   TAFELD=build/server/tafeld node --test tests/browser/

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Tafeld, launch, newPage, Api, axeCheck, shot, until, signInWithKey, tafeldPath, T, PHONE, PROJECTOR, DESKTOP } from './harness.mjs';
import { seed } from './seed.mjs';

let srv;
let browser;
let admin; // Api as beheerder
let data; // what seed() made
const pages = []; // the current test's pages: checked and closed after it

async function page(opts) {
  const p = await newPage(browser, opts);
  pages.push(p);
  return p;
}

/** Sign in on a fresh page with KEY, at HASH. */
async function signedIn(key, hash = '#/', opts = DESKTOP) {
  const p = await page(opts);
  await signInWithKey(p, srv, key);
  if (hash !== '#/') await p.goto(`${srv.url}/${hash}`);
  return p;
}

/** A phone that joins the open session from its join URL as NAME. */
async function inhabitant(name) {
  const p = await page(PHONE);
  await p.goto(`${srv.url}/join/${data.sessie.join_code}`);
  await p.waitForSelector('#join-name:focus');
  await p.fill('#join-name', name);
  await p.click('.signin-join button[type=submit]');
  await p.waitForSelector('.session-view h1.question');
  return p;
}

async function contribute(p, text, sort = 'idee') {
  await p.selectOption('#contrib-sort', sort);
  await p.fill('#contrib-text', text);
  await p.click('.contribute button[type=submit]');
}

const card = (text) => `.reflection:has(.refl-text:text-is(${JSON.stringify(text)}))`;

before(async () => {
  srv = new Tafeld();
  srv.init();
  await srv.start();
  browser = await launch();
  admin = await Api.open(browser, srv, { key: srv.adminKey });
  data = await seed(admin, (cred) => Api.open(browser, srv, cred));
}, { timeout: T(120000) });

// Each test's pages: no script error, no CSP violation, no request off
// 127.0.0.1; then closed, so later tests do not pay for earlier ones' pages.
afterEach(async () => {
  const mine = pages.splice(0);
  try {
    for (const p of mine) assert.deepEqual(p.problems, [], `problems in a page: ${p.url()}`);
  } finally {
    await Promise.all(mine.map((p) => p.context().close().catch(() => {})));
  }
}, { timeout: T(30000) });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (srv) { await srv.stop(); srv.cleanup(); }
}, { timeout: T(60000) });

/** The page fits its viewport's width (no sideways scrolling on a phone). */
async function fitsWidth(p, name) {
  const [scroll, width] = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= width, `${name}: ${scroll} px wide in a ${width} px viewport`);
}

test('sign-in with an access key: the portfolio, the key only in sessionStorage', { timeout: T(60000) }, async () => {
  const p = await page(DESKTOP);
  await p.goto(`${srv.url}/`);
  await p.waitForSelector('#key');
  await axeCheck(p, 'sign-in');
  await shot(p, '01-sign-in');
  // keyboard: the first Tab reaches the skip link
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.className), 'skip-link');

  await p.fill('#key', 'tafel_' + 'x'.repeat(43));
  await p.click('.signin-key button[type=submit]');
  await p.waitForSelector('#key-err:not(:empty)', { timeout: T(8000) });
  assert.match(await p.textContent('#key-err'), /niet \(meer\) geaccepteerd/);
  assert.equal(await p.evaluate(() => sessionStorage.getItem('tafel.cred')), null);

  await p.fill('#key', srv.adminKey);
  await p.press('#key', 'Enter'); // the keyboard submits the form
  await p.waitForSelector('.opgave-card');
  assert.equal(await p.locator('.opgave-card').count(), 3);
  assert.ok(!p.url().includes(srv.adminKey), 'the key is never in the URL');
  assert.equal(JSON.parse(await p.evaluate(() => sessionStorage.getItem('tafel.cred'))).key, srv.adminKey);
  assert.equal(await p.evaluate(() => JSON.stringify(localStorage).includes('tafel_')), false);
  // stoplicht in words as well as colour; opgaveleider and next milestone
  const europa = p.locator(`.opgave-card[data-id="${data.europaplein.id}"]`);
  assert.match(await europa.textContent(), /oranje/);
  assert.match(await europa.textContent(), /Sanne Bakker/);
  assert.match(await europa.textContent(), /Verlichting aanbesteed/);
  assert.equal(await p.locator('svg.portfolio-chart .point').count(), 3);
  await axeCheck(p, 'portfolio');
  // The heading has the focus after a keyboard sign-in (and shows it); the
  // picture for the README is of the page at rest.
  await p.evaluate(() => document.activeElement.blur());
  await shot(p, '02-portfolio');

  // a reload keeps the sign-in (sessionStorage), signing out forgets it
  await p.reload();
  await p.waitForSelector('.opgave-card');
  await p.click('button.signout');
  await p.waitForSelector('#key');
  assert.equal(await p.evaluate(() => sessionStorage.getItem('tafel.cred')), null);
  assert.ok(!srv.log.join('\n').includes(srv.adminKey), 'the key is in no server log');
});

test('the opgave: goal, sturingsdriehoek, action lines, indicators, timeline, reflection wall', { timeout: T(60000) }, async () => {
  const p = await signedIn(data.partnerKey, `#/opgave/${data.europaplein.id}`);
  await p.waitForSelector('.opgave-view h1');
  assert.equal(await p.textContent('.opgave-view h1'), data.europaplein.title);
  assert.match(await p.textContent('.goal-text'), /75% van de bewoners/);
  assert.match(await p.textContent('.triangle'), /Wethouder A. de Vries/);
  assert.match(await p.textContent('.triangle'), /M. Jansen/);
  assert.match(await p.textContent('.triangle'), /Sanne Bakker/);
  const facts = await p.textContent('.facts');
  assert.match(facts, /Werkwijze\s*programma/);
  assert.match(facts, /fysiek/);
  assert.match(facts, /sociaal/);
  assert.match(facts, /31-12-2028/);
  const line2 = p.locator(`.action-line[data-id="${data.lines[1].id}"]`);
  assert.equal(await line2.locator('.activity').count(), 2);
  assert.match(await line2.textContent(), /Eigenaar: Jongerenwerk Welzijn Kennemerland/);
  // indicators: effect apart from context; baseline, target and the measurements
  assert.equal(await p.locator('.ind-effect svg.indicator-chart').count(), 2);
  assert.equal(await p.locator('.ind-context svg.indicator-chart').count(), 1);
  const safe = p.locator(`.ind-effect .indicator[data-id="${data.indicators[0].id}"]`);
  assert.equal(await safe.locator('svg line.baseline').count(), 1);
  assert.equal(await safe.locator('svg line.target').count(), 1);
  assert.equal(await safe.locator('svg circle.series-point').count(), 3);
  assert.match(await safe.locator('svg').textContent(), /Nulmeting 52/);
  assert.equal(await p.locator(`.ind-context .indicator[data-id="${data.indicators[2].id}"]`).count(), 1);
  // progress and course, direction-aware (web/js/progress.js, the twin of
  // the report's): in words, not colour alone. Overlast fell 41, 35, 31 and
  // then rose to 33: the last two alone would say "stijgend"; the fitted
  // trend over the four still falls, and lower is better.
  assert.match(await safe.locator('.ind-progress').textContent(), /Op koers \(stijgend\)\s*39 % van nulmeting naar streefwaarde/);
  const overlast = p.locator(`.indicator[data-id="${data.indicators[1].id}"] .ind-progress`);
  assert.match(await overlast.textContent(), /Op koers \(dalend\)\s*35 % van nulmeting naar streefwaarde/);
  assert.equal(await overlast.getAttribute('data-course'), 'op_koers');
  assert.match(await p.textContent(`.indicator[data-id="${data.indicators[2].id}"] .ind-progress`), /Koers onbekend \(stijgend; geen gewenste richting\)/);
  // the gevoelsgrafiek: the average per moment and the spread as a band
  assert.equal(await p.locator('svg.feeling-chart .series-point').count(), 4);
  assert.equal(await p.locator('svg.feeling-chart polygon.spread').count(), 1);
  assert.match(await p.textContent(`.moment[data-id="${data.moments[1].id}"] .feel-stats`), /spreiding -2…0/);
  assert.match(await p.textContent('.timeline'), /15-01-2025/, 'dates in the Dutch format');
  assert.equal(await p.locator('#sec-reflections .reflection').count(), 5);
  await axeCheck(p, 'opgave');
  await shot(p, '03-opgave');

  await p.click('.filter-btn[data-filter="succesverhaal"]');
  await until(p, () => document.querySelectorAll('#sec-reflections .reflection').length === 1);
  assert.equal(await p.getAttribute('#sec-reflections .reflection', 'data-sort'), 'succesverhaal');
  assert.equal(await p.getAttribute('.filter-btn[data-filter="succesverhaal"]', 'aria-pressed'), 'true');
  await p.click('.filter-btn[data-filter="alle"]');

  // a partner places its feeling on a moment: the curve follows
  const m = data.moments[1].id;
  await p.click(`.moment[data-id="${m}"] .feel-btn.feel-4`);
  await until(p, (id) => document.querySelector(`.moment[data-id="${id}"] .feel-btn.feel-4`).getAttribute('aria-pressed') === 'true', m);
  assert.match(await p.textContent(`.moment[data-id="${m}"] .feel-stats`), /aantal 4/);

  // a partner adds an activity of its own and may edit that one only
  await p.click(`#add-activiteit-${data.lines[1].id}`);
  await p.waitForSelector('dialog.edit-dialog[open]');
  assert.equal(await p.inputValue('dialog select[name="actielijn"]'), data.lines[1].id);
  await p.fill('dialog input[name="title"]', 'Huiswerkbegeleiding in het buurthuis');
  await p.fill('dialog input[name="owner"]', 'Woonstichting De Key');
  await p.selectOption('dialog select[name="status"]', 'gepland');
  await p.click('dialog button[type=submit]');
  await p.waitForSelector('dialog.edit-dialog', { state: 'hidden' });
  const own = line2.locator('.activity:has-text("Huiswerkbegeleiding in het buurthuis")');
  await own.waitFor();
  assert.equal(await own.locator('.edit-buttons button').count(), 2, 'edit and delete its own');
  assert.equal(await line2.locator('.activity:has-text("Wijkagent op het schoolplein") .edit-buttons').count(), 0);
  assert.equal(await p.locator('#add-indicator').count(), 0, 'a partner creates no indicators');
});

test('an inhabitant joins from /join/CODE on a phone; the contribution appears on the projector', { timeout: T(90000) }, async () => {
  const lead = await signedIn(data.leaderKey, `#/sessie/${data.sessie.id}/projectie`, PROJECTOR);
  await lead.waitForSelector('#projector-code');
  assert.equal(await lead.textContent('#projector-code'), data.sessie.join_code);
  await lead.waitForSelector('svg.qr');
  assert.equal(await lead.getAttribute('svg.qr', 'data-qr'), `${srv.url}/join/${data.sessie.join_code}`);
  const size = await lead.evaluate(() => parseFloat(getComputedStyle(document.querySelector('h1.proj-question')).fontSize));
  assert.ok(size >= 48, `the question in large type on the projector (${size} px)`);

  const phone = await page(PHONE);
  await phone.goto(`${srv.url}/join/${data.sessie.join_code}`);
  await phone.waitForSelector('#join-name:focus');
  assert.equal(await phone.inputValue('#join-code'), data.sessie.join_code);
  await axeCheck(phone, 'join');
  await shot(phone, '04-join-phone');
  await phone.fill('#join-name', 'Fatima');
  await phone.click('.signin-join button[type=submit]');
  await phone.waitForSelector('.session-view h1.question');
  assert.ok(!phone.url().includes('/join/'), 'the join URL is replaced by the session');
  assert.equal(await phone.textContent('h1.question'), data.sessie.question);

  // presence: the inhabitant at the table, on the projector
  await lead.waitForSelector('.proj-presence li:has-text("Fatima")', { timeout: T(3000) });

  const text = 'Meer bankjes in de schaduw en een plek voor jongeren.';
  const t0 = Date.now();
  await contribute(phone, text);
  await lead.waitForSelector(`#projector-contributions ${card(text)}`, { timeout: T(3000) });
  const latency = Date.now() - t0;
  assert.ok(latency < T(2000), `appeared after ${latency} ms`);
  await phone.waitForSelector(`#contributions ${card(text)}`);

  // others vote on it; the projector shows the count
  const partner = await signedIn(data.partnerKey, `#/sessie/${data.sessie.id}`);
  await partner.waitForSelector(`${card(text)} button.vote`);
  await partner.click(`${card(text)} button.vote`);
  await lead.waitForSelector(`#projector-contributions ${card(text)} .votes[data-votes="1"]`, { timeout: T(3000) });
  await phone.waitForSelector(`${card(text)} .votes[data-votes="1"]`, { timeout: T(3000) });
  await contribute(phone, 'Het plein is ’s avonds te donker.', 'beter');
  await partner.waitForSelector(`${card('Het plein is ’s avonds te donker.')}`, { timeout: T(3000) });
  await partner.waitForSelector('.presence li:has-text("Fatima")');

  await axeCheck(phone, 'session (phone)');
  await fitsWidth(phone, 'session (phone)');
  await shot(phone, '05-session-phone');
  await axeCheck(partner, 'session');
  await shot(partner, '06-session');
  await lead.waitForTimeout(300);
  await axeCheck(lead, 'projector');
  await shot(lead, '07-projector', false);
});

test('joining with the code typed on the sign-in form', { timeout: T(60000) }, async () => {
  const p = await page(PHONE);
  await p.goto(`${srv.url}/`);
  await p.fill('#join-code', 'ZZZZZZZZ');
  await p.fill('#join-name', 'Kees');
  await p.click('.signin-join button[type=submit]');
  await p.waitForSelector('#join-err:not(:empty)', { timeout: T(8000) });
  await p.fill('#join-code', data.sessie.join_code.toLowerCase());
  await p.click('.signin-join button[type=submit]');
  await p.waitForSelector('.session-view h1.question');
  assert.equal(await p.textContent('h1.question'), data.sessie.question);
});

test('two browser contexts see each other\'s changes live', { timeout: T(60000) }, async () => {
  const lead = await signedIn(data.leaderKey, `#/opgave/${data.europaplein.id}`);
  const partner = await signedIn(data.partnerKey, '#/');
  await partner.waitForSelector(`.opgave-card[data-id="${data.europaplein.id}"]`);

  await lead.waitForSelector('.opgave-head button.link');
  await lead.click('.opgave-head button.link'); // Bewerken
  await lead.waitForSelector('dialog.edit-dialog[open]');
  await axeCheck(lead, 'edit form');
  await shot(lead, '08-edit-form', false);
  await lead.selectOption('dialog select[name="traffic_light"]', 'rood');
  await lead.fill('dialog textarea[name="traffic_light_note"]', 'Aanbesteding opnieuw uitgesteld.');
  await lead.click('dialog button[type=submit]');
  await lead.waitForSelector('dialog.edit-dialog', { state: 'hidden' });

  const cardSel = `.opgave-card[data-id="${data.europaplein.id}"]`;
  await partner.waitForSelector(`${cardSel} .tl-badge.tl-rood`, { timeout: T(2000) });
  assert.match(await partner.textContent(`${cardSel} .tl-badge`), /rood/);
  assert.match(await partner.textContent(`${cardSel} .tl-note`), /opnieuw uitgesteld/);

  // and the other way: the partner writes a reflection, the lead sees it
  await partner.click(`${cardSel} a`);
  await partner.waitForSelector('#add-reflectie');
  await partner.click('#add-reflectie');
  await partner.waitForSelector('dialog.edit-dialog[open]');
  await partner.selectOption('dialog select[name="sort"]', 'goed');
  await partner.fill('dialog textarea[name="text"]', 'De schouw met de wijkagent werkte goed.');
  await partner.click('dialog button[type=submit]');
  await lead.waitForSelector(`#sec-reflections ${card('De schouw met de wijkagent werkte goed.')}`, { timeout: T(2000) });
});

test('the server\'s error appears next to the field it names', { timeout: T(60000) }, async () => {
  const lead = await signedIn(data.leaderKey, `#/opgave/${data.europaplein.id}`);
  await lead.waitForSelector('#add-actielijn');
  await lead.click('#add-actielijn');
  await lead.waitForSelector('dialog.edit-dialog[open]');
  await lead.fill('dialog input[name="title"]', 'x'.repeat(201)); // maxlength is a hint: paste past it
  await lead.evaluate(() => { const i = document.querySelector('dialog input[name="title"]'); i.removeAttribute('maxlength'); i.value = 'x'.repeat(201); });
  await lead.click('dialog button[type=submit]');
  await lead.waitForSelector('dialog .field[data-field="title"].has-error .field-error:not(:empty)', { timeout: T(3000) });
  assert.equal(await lead.getAttribute('dialog input[name="title"]', 'aria-invalid'), 'true');
  await lead.fill('dialog input[name="title"]', 'Samen beheren');
  await lead.click('dialog button[type=submit]');
  await lead.waitForSelector('dialog.edit-dialog', { state: 'hidden' });
  await lead.waitForSelector('.action-line h3:text-is("Samen beheren")');
});

/** Open the form with ADD, fill FIELDS (name -> value; an array checks
 * boxes), save, and wait for the dialog to close. */
async function createWith(p, add, fields) {
  await p.click(add);
  await p.waitForSelector('dialog.edit-dialog[open]');
  for (const [name, v] of Object.entries(fields)) {
    if (Array.isArray(v)) {
      for (const x of v) await p.check(`dialog input[name="${name}"][value="${x}"]`);
      continue;
    }
    const el = p.locator(`dialog [name="${name}"]`);
    if (await el.evaluate((e) => e.tagName) === 'SELECT') await el.selectOption(v);
    else await el.fill(v);
  }
  await p.click('dialog button[type=submit]');
  await p.waitForSelector('dialog.edit-dialog', { state: 'hidden' });
}

test('every kind the role may write, through its form', { timeout: T(90000) }, async () => {
  const E = data.europaplein.id;
  const lead = await signedIn(data.leaderKey, `#/opgave/${E}`);
  await lead.waitForSelector('#add-indicator');

  await createWith(lead, `#add-activiteit-${data.lines[0].id}`, { title: 'Camera bij de fietsenstalling', owner: 'Politie Noord-Holland', status: 'lopend', start_date: '2026-01-05' });
  await lead.waitForSelector(`.action-line[data-id="${data.lines[0].id}"] .activity:has-text("Camera bij de fietsenstalling") .owner:has-text("Politie Noord-Holland")`);

  await createWith(lead, '#add-indicator', { title: 'Woningen rond het plein', type: 'context', unit: 'woningen', baseline: '310', target: '400', source: 'BAG' });
  const ind = lead.locator('.ind-context .indicator:has(h4:text-is("Woningen rond het plein"))');
  await ind.waitFor();
  const indId = await ind.getAttribute('data-id');
  await createWith(lead, `#add-meting-${indId}`, { date: '2026-01-15', value: '325.5', note: 'Na oplevering blok A' });
  await lead.waitForSelector(`.indicator[data-id="${indId}"] svg circle.series-point`);
  assert.match(await lead.textContent(`.indicator[data-id="${indId}"] .measurements`), /15-01-2026\s*325,5 woningen/);

  await createWith(lead, '#add-moment', { date: '2027-06-01', title: 'Plein heringericht', type: 'mijlpaal' });
  await lead.waitForSelector('.moment.milestone h3:has-text("Plein heringericht")');

  await createWith(lead, '#add-sessie', { question: 'Hoe gebruiken we het plein in de zomer?', starts_at: '2026-12-01T19:30' });
  const item = lead.locator('.session-item:has-text("Hoe gebruiken we het plein in de zomer?")');
  await item.waitFor();
  assert.match(await item.textContent(), /gepland.*01-12-2026 19:30/);

  await createWith(lead, '#add-lid', { actor: 'k_politie_nh', name: 'Politie Noord-Holland', role: 'partner', organisation: 'Politie' });
  await lead.waitForSelector('table.members td:text-is("Politie Noord-Holland")');

  // the beheerder creates an opgave from the portfolio
  const admin = await signedIn(srv.adminKey, '#/');
  await admin.waitForSelector('#new-opgave');
  await createWith(admin, '#new-opgave', { title: 'Energiearme wijken', goal: 'In 2035 is de helft van de woningen van het gas af.',
    traffic_light: 'groen', way_of_working: 'programma', domains: ['fysiek'], complexity: '5', horizon_years: '10' });
  await admin.waitForSelector('.opgave-card:has-text("Energiearme wijken") .tl-badge.tl-groen');
  assert.equal(await admin.locator('svg.portfolio-chart .point').count(), 4);
});

test('on a phone: portfolio and opgave fit the screen', { timeout: T(60000) }, async () => {
  const p = await signedIn(data.partnerKey, '#/', PHONE);
  await p.waitForSelector('.opgave-card');
  await fitsWidth(p, 'portfolio (phone)');
  await axeCheck(p, 'portfolio (phone)');
  await p.goto(`${srv.url}/#/opgave/${data.europaplein.id}`);
  await p.waitForSelector('svg.feeling-chart');
  await fitsWidth(p, 'opgave (phone)');
  await axeCheck(p, 'opgave (phone)');
  await shot(p, '14-opgave-phone', false);
});

test('a conflict shows the newer version and lets the user merge', { timeout: T(60000) }, async () => {
  const a = await signedIn(srv.adminKey, `#/opgave/${data.kernen.id}`);
  const b = await signedIn(srv.adminKey, `#/opgave/${data.kernen.id}`); // a second tab of the same beheerder
  for (const p of [a, b]) {
    await p.waitForSelector('.opgave-head button.link');
    await p.click('.opgave-head button.link');
    await p.waitForSelector('dialog.edit-dialog[open]');
  }
  await a.fill('dialog input[name="title"]', 'Vitale kernen en dorpen');
  await a.click('dialog button[type=submit]');
  await a.waitForSelector('dialog.edit-dialog', { state: 'hidden' });

  await b.fill('dialog input[name="lead"]', 'Joris Peeters en Anouk Smit');
  await b.click('dialog button[type=submit]');
  await b.waitForSelector('dialog .conflict', { timeout: T(3000) });
  assert.match(await b.textContent('dialog .conflict'), /Vitale kernen en dorpen/, 'shows the newer value');
  await axeCheck(b, 'conflict');
  await shot(b, '09-conflict', false);
  await b.click('dialog .conflict button.primary');
  await b.waitForSelector('dialog.edit-dialog', { state: 'hidden' });
  const doc = (await admin.ok({ type: 'get', kind: 'opgave', id: data.kernen.id })).doc;
  assert.equal(doc.title, 'Vitale kernen en dorpen');
  assert.equal(doc.lead, 'Joris Peeters en Anouk Smit');
});

test('moderation: hiding a contribution hides it for the others, restore and pin', { timeout: T(90000) }, async () => {
  const phone = await inhabitant('Noor');
  const text = 'Graag een jeu-de-boulesbaan!';
  await contribute(phone, text);
  const partner = await signedIn(data.partnerKey, `#/sessie/${data.sessie.id}`);
  const lead = await signedIn(data.leaderKey, `#/sessie/${data.sessie.id}`);
  await partner.waitForSelector(card(text));
  await lead.waitForSelector(`${card(text)} button.mod`);

  await lead.click(`${card(text)} button.mod:text-is("Verbergen")`);
  await phone.waitForSelector(card(text), { state: 'detached', timeout: T(2000) });
  await partner.waitForSelector(card(text), { state: 'detached', timeout: T(2000) });
  await lead.waitForSelector(`${card(text)}.is-hidden .flag.hidden`);
  await axeCheck(lead, 'session (moderator)');
  await shot(lead, '10-moderation');

  await lead.click(`${card(text)} button.mod:text-is("Herstellen")`);
  await phone.waitForSelector(card(text), { timeout: T(2000) });
  await lead.click(`${card(text)} button.mod:text-is("Vastpinnen")`);
  await phone.waitForSelector(`${card(text)}.is-pinned .flag.pinned`, { timeout: T(2000) });
  // pinned first
  assert.equal(await phone.getAttribute('#contributions .reflection >> nth=0', 'data-id'),
    await phone.getAttribute(card(text), 'data-id'));
});

test('pre-moderation: a contribution waits for the moderator; the projector shows it only once approved', { timeout: T(90000) }, async () => {
  const s = await admin.create('sessie', { opgave: data.europaplein.id, question: 'Wat mag er beter op het plein?', premoderation: true });
  const opened = (await admin.ok({ type: 'session.open', id: s.id })).doc;
  const lead = await signedIn(data.leaderKey, `#/sessie/${s.id}`);
  const projector = await signedIn(data.leaderKey, `#/sessie/${s.id}/projectie`, PROJECTOR);
  await projector.waitForSelector('#projector-code');
  const phone = await page(PHONE);
  await phone.goto(`${srv.url}/join/${opened.join_code}`);
  await phone.waitForSelector('#join-name:focus');
  await phone.fill('#join-name', 'Sem');
  await phone.click('.signin-join button[type=submit]');
  await phone.waitForSelector('.session-view h1.question');
  const text = 'Een waterpunt voor de honden.';
  await contribute(phone, text);
  // The inhabitant is told it waits; the moderator sees it, marked, with Goedkeuren.
  await phone.waitForFunction(() => /bekijkt hem eerst/.test(document.body.textContent), null, { timeout: T(3000) });
  await lead.waitForSelector(`${card(text)} .flag.pending`, { timeout: T(3000) });
  assert.equal(await projector.$(card(text)), null, 'the projector shows nothing unapproved');
  assert.equal(await phone.$(card(text)), null, 'nor do the other participants');
  await axeCheck(lead, 'session (pending contribution)');
  await shot(lead, '11-premoderation');
  await lead.click(`${card(text)} button.mod:text-is("Goedkeuren")`);
  await projector.waitForSelector(`#projector-contributions ${card(text)}`, { timeout: T(3000) });
  await phone.waitForSelector(card(text), { timeout: T(3000) });
  assert.equal(await lead.$(`${card(text)} .flag.pending`), null);
});

test('keys: created and shown once with a copy button, listed, revoked (the revoked page signs out)', { timeout: T(90000) }, async () => {
  const p = await signedIn(srv.adminKey, '#/beheer');
  await p.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url });
  await p.waitForSelector('table.keys');
  await p.waitForSelector('table.audit-table');
  await p.selectOption('#key-role', 'waarnemer');
  await p.fill('#key-label', 'Raadslid J. de Boer');
  await p.check(`#scope-${data.europaplein.id}`);
  await p.click('#create-key');
  await p.waitForSelector('#new-key');
  const key = await p.inputValue('#new-key');
  assert.match(key, /^tafel_[A-Za-z0-9_-]{43}$/);
  await p.click('#copy-key');
  await p.waitForSelector('.once [role=status]:not(:empty)');
  assert.equal(await p.evaluate(() => navigator.clipboard.readText()), key);
  await p.waitForSelector('tr:has-text("Raadslid J. de Boer")');
  await axeCheck(p, 'administration');
  await shot(p, '11-admin');

  const observer = await signedIn(key, `#/opgave/${data.europaplein.id}`);
  await observer.waitForSelector('.opgave-view h1');
  assert.equal(await observer.locator('#add-reflectie').count(), 0, 'an observer writes nothing');

  p.once('dialog', (d) => d.accept());
  await p.click('tr:has-text("Raadslid J. de Boer") button.danger');
  await observer.waitForSelector('#key', { timeout: T(3000) });
  assert.match(await observer.textContent('.notice'), /ingetrokken/);
  assert.equal(await observer.evaluate(() => sessionStorage.getItem('tafel.cred')), null);
  await axeCheck(observer, 'signed out (revoked)');
  await shot(observer, '12-revoked', false);
  await p.waitForSelector('tr:has-text("Raadslid J. de Boer") .key-status.revoked');
  await p.click('#audit-refresh');
  await p.waitForSelector('.audit-table td:text-is("key.revoke")');
  await p.waitForSelector('.audit-table td:text-is("key.create")');

  // shown once: after a reload the key is nowhere on the page
  await p.reload();
  await p.waitForSelector('tr:has-text("Raadslid J. de Boer")');
  assert.equal((await p.content()).includes(key), false);
});

test('English with a switch; dates stay Dutch', { timeout: T(60000) }, async () => {
  const p = await signedIn(data.partnerKey, `#/opgave/${data.europaplein.id}`);
  await p.waitForSelector('#lang-switch');
  await p.click('#lang-switch');
  await p.waitForSelector('html[lang="en"]');
  const plural = (await schemaJson()).kinds.find((k) => k.name === 'actielijn').plural.en;
  await p.waitForSelector(`#sec-actions-title:text-is(${JSON.stringify(plural)})`);
  assert.match(await p.textContent('.timeline'), /15-01-2025/);
  assert.match(await p.textContent(`.indicator[data-id="${data.indicators[1].id}"] .ind-progress`), /On course \(falling\)\s*35% of the way from baseline to target/);
  await axeCheck(p, 'opgave (English)');
  await shot(p, '13-opgave-english', false);
  await p.click('#lang-switch');
  await p.waitForSelector('html[lang="nl"]');
});

// ------------------------------------------------ the page follows the schema

let schemaDoc = null;
/** GET /schema.json, as the page gets it (once per test run). */
async function schemaJson() {
  if (!schemaDoc) {
    const res = await fetch(`${srv.url}/schema.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /^application\/json/);
    schemaDoc = await res.json();
  }
  return schemaDoc;
}

// What a form holds for a field of the schema: what a client writes.
const EDITABLE = new Set(['string', 'enum', 'enum_set', 'int', 'number', 'bool', 'date', 'datetime', 'ref', 'ref_set']);
const formFieldsOf = (k) => k.fields.filter((f) => !f.server && !f.moderate && EDITABLE.has(f.type));

/** The open dialog's form as data: per field its name, label (without the
 * required mark), whether it is marked required, its control and choices. */
function readDialog(p) {
  return p.evaluate(() => {
    const textOf = (el) => { const c = el.cloneNode(true); for (const r of c.querySelectorAll('.req')) r.remove(); return c.textContent.trim(); };
    return {
      title: document.querySelector('dialog #dialog-title').textContent,
      fields: [...document.querySelectorAll('dialog form.edit-form .field')].map((el) => {
        const set = el.tagName === 'FIELDSET';
        const input = el.querySelector('input, select, textarea');
        const label = set ? el.querySelector('legend') : el.querySelector(`label[for="${input.id}"]`);
        return {
          name: el.dataset.field,
          label: textOf(label),
          required: !!label.querySelector('.req') && (set || input.getAttribute('aria-required') === 'true'),
          legend: set ? el.firstElementChild.tagName === 'LEGEND' : null,
          control: set ? 'checkboxes' : input.tagName === 'INPUT' ? `input:${input.type}` : input.tagName.toLowerCase(),
          maxlength: input ? input.getAttribute('maxlength') : null,
          min: input ? input.getAttribute('min') : null,
          max: input ? input.getAttribute('max') : null,
          choices: set ? [...el.querySelectorAll('.check')].map((c) => [c.querySelector('input').value, c.querySelector('label').textContent])
            : input.tagName === 'SELECT' ? [...input.options].filter((o) => o.value !== '').map((o) => [o.value, o.textContent]) : null,
        };
      }),
    };
  });
}

/** The control the schema's field asks for (forms.js: strings up to 200
 * characters get an input, longer ones a textarea). */
function controlOf(f) {
  switch (f.type) {
    case 'string': return typeof f.max_len === 'number' && f.max_len <= 200 ? 'input:text' : 'textarea';
    case 'enum': case 'ref': return 'select';
    case 'enum_set': case 'ref_set': return 'checkboxes';
    case 'int': case 'number': return 'input:number';
    case 'bool': return 'input:checkbox';
    case 'date': return 'input:date';
    case 'datetime': return 'input:datetime-local';
    default: return '?';
  }
}

test('every form is built from /schema.json: fields, order, labels, controls, limits and choices, in Dutch and English', { timeout: T(120000) }, async () => {
  const S = await schemaJson();
  const E = data.europaplein.id;
  const p = await page(DESKTOP);
  const fetched = [];
  p.on('request', (r) => { if (new URL(r.url()).pathname === '/schema.json') fetched.push(r.url()); });
  await signInWithKey(p, srv, srv.adminKey);
  const go = async (hash, sel) => { await p.evaluate((x) => { location.hash = x; }, hash); await p.waitForSelector(sel); };
  for (const lang of ['nl', 'en']) {
    if (lang === 'en') { await p.click('#lang-switch'); await p.waitForSelector('html[lang="en"]'); }
    for (const k of S.kinds) {
      // a beheerder for every opgave may create every kind: each has its button
      if (k.name === 'opgave') { await go('#/', '#new-opgave'); await p.click('#new-opgave'); }
      else { await go(`#/opgave/${E}`, '#sec-actions'); await p.locator(`[id^="add-${k.name}"]`).first().click(); }
      await p.waitForSelector('dialog.edit-dialog[open]');
      const form = await readDialog(p);
      assert.ok(form.title.toLowerCase().includes(k.label[lang].toLowerCase()), `${lang} ${k.name}: the title names the kind (${form.title})`);
      const want = formFieldsOf(k);
      assert.deepEqual(form.fields.map((f) => f.name), want.map((f) => f.name), `${lang} ${k.name}: the fields in the schema's order`);
      for (const [i, f] of want.entries()) {
        const got = form.fields[i];
        const what = `${lang} ${k.name}.${f.name}`;
        assert.equal(got.label, f.label[lang], `${what}: label`);
        assert.equal(got.required, !!f.required, `${what}: required`);
        assert.equal(got.control, controlOf(f), `${what}: control`);
        if (f.type === 'string') assert.equal(got.maxlength, f.max_len === undefined ? null : String(f.max_len), `${what}: maxlength`);
        if (f.type === 'int' || f.type === 'number') {
          assert.equal(Number(got.min), f.min, `${what}: min`);
          assert.equal(Number(got.max), f.max, `${what}: max`);
        }
        if (f.type === 'enum' || f.type === 'enum_set') {
          assert.deepEqual(got.choices, f.values.map((v) => [v.value, v.label[lang]]), `${what}: the values and their labels`);
        }
        if (f.type === 'ref' || f.type === 'ref_set') {
          const ids = await p.evaluate(async ([kind, o]) => (await import('/js/store.js')).all(kind, o).map((d) => d.id).sort(), [f.ref, E]);
          assert.deepEqual(got.choices.map(([v]) => v).sort(), ids, `${what}: the ${f.ref} documents of this opgave`);
        }
        if (got.control === 'checkboxes') assert.ok(got.legend, `${what}: a fieldset named by its legend`);
      }
      if (lang === 'en' && k.name === 'indicator') {
        await axeCheck(p, 'form (English)');
        await shot(p, '17-form-english', false);
      }
      await p.click('dialog .actions button:not([type=submit])');
      await p.waitForSelector('dialog.edit-dialog', { state: 'hidden' });
    }
    // the page's own view of the schema: section headings are the plurals,
    // the reflection filter the sort values, the facts the field labels
    await go(`#/opgave/${E}`, '#sec-actions');
    const kindOf = (n) => S.kinds.find((k) => k.name === n);
    for (const [sec, kind] of [['actions', 'actielijn'], ['indicators', 'indicator'], ['reflections', 'reflectie'], ['sessions', 'sessie'], ['members', 'lid']]) {
      assert.equal(await p.textContent(`#sec-${sec}-title`), kindOf(kind).plural[lang], `${lang}: section ${sec}`);
    }
    const sorts = kindOf('reflectie').fields.find((f) => f.name === 'sort').values;
    for (const v of sorts) assert.match(await p.textContent(`.filter-btn[data-filter="${v.value}"]`), new RegExp(`^${v.label[lang]} \\(\\d+\\)$`));
    const opgave = kindOf('opgave');
    const facts = await p.textContent('.overview .facts');
    for (const name of ['target_date', 'way_of_working', 'domains', 'complexity', 'horizon_years']) {
      assert.ok(facts.includes(opgave.fields.find((f) => f.name === name).label[lang]), `${lang}: the facts name ${name}`);
    }
    const tl = opgave.fields.find((f) => f.name === 'traffic_light');
    const light = (await admin.ok({ type: 'get', kind: 'opgave', id: E })).doc.traffic_light;
    assert.match(await p.textContent('.opgave-head .tl-badge'), new RegExp(tl.values.find((v) => v.value === light).label[lang]));
  }
  await p.click('#lang-switch');
  await p.waitForSelector('html[lang="nl"]');
  assert.equal(fetched.length, 1, 'the page fetched /schema.json once');
});

// The opgave's sections, each of one kind.
const SECTIONS = { actielijn: 'actions', indicator: 'indicators', moment: 'timeline', reflectie: 'reflections', sessie: 'sessions', lid: 'members' };

test('the buttons each role sees follow the permission cells of /schema.json', { timeout: T(150000) }, async () => {
  const S = await schemaJson();
  const E = data.europaplein.id;
  const cellOf = (role, kind, action) => S.kinds.find((k) => k.name === kind).permissions[role][action];
  const observerKey = (await admin.ok({ type: 'key.create', role: 'waarnemer', opgaven: [E], label: 'Waarnemer (schema)' })).key;
  // a document of the partner's own: its `own` cells give it edit and delete there only
  const partnerApi = await Api.open(browser, srv, { key: data.partnerKey });
  await partnerApi.create('moment', { opgave: E, date: '2026-05-04', title: 'Schouw met de partner', type: 'moment' });
  await partnerApi.close();
  const signIns = [['beheerder', () => signedIn(srv.adminKey, `#/opgave/${E}`)], ['opgaveleider', () => signedIn(data.leaderKey, `#/opgave/${E}`)],
    ['partner', () => signedIn(data.partnerKey, `#/opgave/${E}`)], ['waarnemer', () => signedIn(observerKey, `#/opgave/${E}`)],
    ['inwoner', async () => { const p = await inhabitant('Ilse'); await p.evaluate((x) => { location.hash = x; }, `#/opgave/${E}`); return p; }]];
  const roles = new Set();
  for (const [role, open] of signIns) {
    roles.add(role);
    const p = await open();
    await p.waitForSelector('.opgave-view h1#opgave-title');
    await p.waitForSelector('#sec-reflections .reflection');
    const seen = await p.evaluate(async ([o, kinds, SECTIONS]) => {
      const store = await import('/js/store.js');
      const { ctx } = await import('/js/ctx.js');
      const me = ctx.me;
      const q = (sel) => !!document.querySelector(sel);
      const docs = [];
      for (const kind of kinds) {
        for (const d of kind === 'opgave' ? [store.get('opgave', o)] : store.all(kind, o)) {
          if (!d) continue;
          // only documents the page shows (a hidden reflection is not shown to all)
          const shown = q(`[data-id="${d.id}"]`) || kind === 'opgave';
          if (shown) docs.push({ kind, id: d.id, mine: d.created_by === me.actor, edit: q(`[data-fk="edit-${kind}-${d.id}"]`), del: q(`[data-fk="del-${kind}-${d.id}"]`) });
        }
      }
      return {
        me: { role: me.role, opgaven: me.opgaven },
        docs,
        adds: Object.fromEntries(kinds.map((k) => [k, q(`[id^="add-${k}"]`)])),
        sections: Object.fromEntries(Object.entries(SECTIONS).map(([k, sec]) => [k, q(`#sec-${sec}`)])),
        moderate: q('.reflection button.mod'),
        sessionButtons: q('.session-item [data-fk^="open-"], .session-item [data-fk^="close-"]'),
      };
    }, [E, S.kinds.map((k) => k.name), SECTIONS]);
    assert.equal(seen.me.role, role);
    const yes = (kind, action, doc) => { const c = cellOf(role, kind, action); return c === 'yes' || (c === 'own' && !!doc && doc.mine); };
    let owns = 0;
    for (const d of seen.docs) {
      assert.equal(d.edit, yes(d.kind, 'update', d), `${role}: edit ${d.kind} ${d.id} (${cellOf(role, d.kind, 'update')}, mine: ${d.mine})`);
      assert.equal(d.del, yes(d.kind, 'delete', d), `${role}: delete ${d.kind} ${d.id} (${cellOf(role, d.kind, 'delete')}, mine: ${d.mine})`);
      if (cellOf(role, d.kind, 'update') === 'own' && d.mine) owns += 1;
    }
    for (const [k, shown] of Object.entries(seen.sections)) {
      assert.equal(shown, cellOf(role, k, 'read') === 'yes', `${role}: the ${k} section (read ${cellOf(role, k, 'read')})`);
    }
    for (const k of S.kinds.map((x) => x.name).filter((x) => x !== 'opgave')) {
      const want = cellOf(role, k, 'read') === 'yes' && cellOf(role, k, 'create') === 'yes';
      assert.equal(seen.adds[k], want, `${role}: add ${k} (create ${cellOf(role, k, 'create')})`);
    }
    assert.equal(seen.moderate, cellOf(role, 'reflectie', 'moderate') === 'yes', `${role}: moderation buttons`);
    assert.equal(seen.sessionButtons, cellOf(role, 'sessie', 'moderate') === 'yes', `${role}: open/close a session`);
    if (role === 'partner') assert.ok(owns >= 1, 'the partner sees its own documents (own cells) with their buttons');
    if (role !== 'inwoner') {
      // a new opgave: the create cell, for a key of every opgave only
      await p.evaluate(() => { location.hash = '#/'; });
      await p.waitForSelector('.opgave-card');
      assert.equal(await p.locator('#new-opgave').count() === 1, cellOf(role, 'opgave', 'create') === 'yes' && seen.me.opgaven === '*', `${role}: new opgave`);
    }
  }
  assert.deepEqual([...roles].sort(), S.roles.map((r) => r.name).sort(), 'every role of the schema was tried');
});

test('without /schema.json the page says so (Dutch first) and tries again when asked', { timeout: T(60000) }, async () => {
  const p = await page(DESKTOP);
  let fail = true;
  await p.route('**/schema.json', (route) => (fail ? route.fulfill({ status: 503, contentType: 'text/plain', body: 'unavailable' }) : route.continue()));
  await p.goto(`${srv.url}/`);
  await p.waitForSelector('#schema-retry');
  assert.equal(await p.getAttribute('html', 'lang'), 'nl');
  assert.match(await p.textContent('.schema-error h1'), /Tafel kan niet starten/);
  assert.match(await p.textContent('.schema-error [role=alert]'), /HTTP 503/);
  assert.match(await p.textContent('.schema-error p[lang="en"]'), /^Tafel cannot start\./, 'and in English below it');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'schema-error-title');
  assert.equal(await p.locator('#key').count(), 0, 'no view before the schema');
  await axeCheck(p, 'schema error');
  await shot(p, '16-schema-error', false);
  // in English too, with the switch
  await p.click('#lang-switch');
  await p.waitForSelector('.schema-error h1:text-is("Tafel cannot start")');
  await p.click('#lang-switch');
  await p.waitForSelector('.schema-error h1:text-is("Tafel kan niet starten")');
  fail = false;
  await p.click('#schema-retry');
  await p.waitForSelector('#key');
  await p.fill('#key', srv.adminKey);
  await p.press('#key', 'Enter');
  await p.waitForSelector('.opgave-card');
});

/** The actor id the page is signed in as. */
const actorOf = (p) => p.evaluate(async () => (await import('/js/ctx.js')).ctx.me.actor);

test('an inhabitant who reloads the page is the same participant: same actor id, one vote', { timeout: T(90000) }, async () => {
  const text = 'Een watertappunt bij de speeltuin.';
  const writer = await inhabitant('Sem');
  await contribute(writer, text);
  await writer.waitForSelector(`#contributions ${card(text)}`);
  // an inhabitant's name is marked as such, also for the others
  assert.match(await writer.textContent(`${card(text)} .author`), /Sem\s*\(inwoner\)/);
  const id = await writer.getAttribute(card(text), 'data-id');

  const p = await inhabitant('Lotte');
  const actor = await actorOf(p);
  assert.match(actor, /^i[a-z0-9]{10}$/);
  const kept = JSON.parse(await p.evaluate((code) => localStorage.getItem(`tafel.device.${code}`), data.sessie.join_code) || 'null');
  assert.ok(kept && /^[A-Za-z0-9_-]{43}$/.test(kept.device), 'the device token is kept per join code');
  assert.match(await p.textContent(`${card(text)} .author`), /Sem\s*\(inwoner\)/);
  await p.click(`${card(text)} button.vote[aria-pressed="false"]`);
  await p.waitForSelector(`${card(text)} button.vote[aria-pressed="true"]`);
  await p.waitForSelector(`${card(text)} .votes[data-votes="1"]`);

  // a reload: the same participant, its vote remembered
  await p.reload();
  await p.waitForSelector('.session-view h1.question');
  assert.equal(await actorOf(p), actor, 'the same actor id after a reload');
  await p.waitForSelector(`${card(text)} button.vote[aria-pressed="true"]`);
  assert.equal(await p.getAttribute(`${card(text)} .votes`, 'data-votes'), '1');

  // a page that forgot its votes still cannot vote twice: the server knows
  // the participant, and its answer (`voted`) puts the button right
  await p.evaluate(() => { for (const k of Object.keys(localStorage)) if (k.startsWith('tafel.votes.')) localStorage.removeItem(k); });
  await p.reload();
  await p.waitForSelector(`${card(text)} button.vote[aria-pressed="false"]`);
  assert.equal(await actorOf(p), actor);
  await p.click(`${card(text)} button.vote`);
  await p.waitForSelector(`${card(text)} button.vote[aria-pressed="true"]`);
  assert.equal(await p.getAttribute(`${card(text)} .votes`, 'data-votes'), '1', 'still one vote');
  assert.equal((await admin.ok({ type: 'get', kind: 'reflectie', id })).doc.votes, 1);

  // a second tab of the same browser (no sessionStorage) joining with the code: the same participant
  const tab = await p.context().newPage();
  await tab.goto(`${srv.url}/join/${data.sessie.join_code}`);
  await tab.waitForSelector('#join-name:focus');
  await tab.fill('#join-name', 'Lotte');
  await tab.click('.signin-join button[type=submit]');
  await tab.waitForSelector('.session-view h1.question');
  assert.equal(await actorOf(tab), actor, 'the same actor id in a new tab');
  await tab.waitForSelector(`${card(text)} button.vote[aria-pressed="true"]`);
  await axeCheck(p, 'session after a reload (phone)');
});

test('a name with invisible or control characters is refused in plain words', { timeout: T(60000) }, async () => {
  const p = await page(PHONE);
  await p.goto(`${srv.url}/join/${data.sessie.join_code}`);
  await p.waitForSelector('#join-name:focus');
  for (const name of ['\u200B\u200B', 'Fa\u202Etima']) {
    await p.fill('#join-name', name);
    await p.click('.signin-join button[type=submit]');
    await p.waitForSelector('#join-err:not(:empty)');
    assert.match(await p.textContent('#join-err'), /Deze naam kan niet/);
    assert.equal(await p.getAttribute('#join-name', 'aria-invalid'), 'true');
    assert.equal(await p.evaluate(() => document.activeElement.id), 'join-name');
  }
  await axeCheck(p, 'join with a refused name');
  // the server's refusal (bad_request, field name) reads the same: a page
  // that rejoins with a stored name the form never checked
  await p.evaluate((code) => sessionStorage.setItem('tafel.cred', JSON.stringify({ code, name: '\u2066Fatima\u2069' })), data.sessie.join_code);
  await p.goto(`${srv.url}/`);
  await p.waitForSelector('#join-err:not(:empty)', { timeout: T(8000) });
  assert.match(await p.textContent('#join-err'), /Deze naam kan niet/);
  assert.equal(await p.getAttribute('#join-name', 'aria-invalid'), 'true');
  assert.equal(await p.evaluate(() => document.activeElement.id), 'join-name');
  assert.equal(await p.evaluate(() => sessionStorage.getItem('tafel.cred')), null);
  await p.fill('#join-name', 'Fatima');
  await p.click('.signin-join button[type=submit]');
  await p.waitForSelector('.session-view h1.question');
});

test('"Mijn bijdragen": an inhabitant downloads what it contributed, then erases it; gone for the others', { timeout: T(90000) }, async () => {
  const phone = await inhabitant('Mira');
  const text = 'Een moestuin achter de school.';
  await contribute(phone, text);
  await phone.waitForSelector(`#contributions ${card(text)}`);
  const id = await phone.getAttribute(card(text), 'data-id');
  const actor = await actorOf(phone);
  const viewer = await signedIn(data.partnerKey, `#/sessie/${data.sessie.id}`);
  await viewer.waitForSelector(card(text));
  // a panel of its own, named, only for the inhabitant
  await phone.waitForSelector('section#mine[aria-labelledby="mine-title"]');
  assert.equal(await phone.textContent('#mine-title'), 'Mijn bijdragen');
  assert.equal(await viewer.locator('#mine').count(), 0);
  const token = JSON.parse(await phone.evaluate((code) => localStorage.getItem(`tafel.device.${code}`), data.sessie.join_code)).device;
  assert.equal(await phone.textContent('#mine-token'), token, 'the token to show at the desk');
  await axeCheck(phone, 'my contributions');

  // the download: a .json file of everything it contributed
  const [download] = await Promise.all([phone.waitForEvent('download'), phone.click('#mine-download')]);
  assert.match(download.suggestedFilename(), /^tafel-mijn-bijdragen-\d{4}-\d{2}-\d{2}\.json$/);
  const ex = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  assert.equal(ex.participant, actor);
  assert.deepEqual(ex.contributions.map((c) => [c.id, c.text, c.author]), [[id, text, 'Mira']]);
  assert.deepEqual(ex.display_names, ['Mira']);
  assert.equal(ex.devices[0].session, data.sessie.id);
  assert.ok(!JSON.stringify(ex).includes('Fatima'), 'nothing of the others');

  // a second tab of the same phone: the same participant
  const tab = await phone.context().newPage();
  await tab.goto(`${srv.url}/join/${data.sessie.join_code}`);
  await tab.waitForSelector('#join-name:focus');
  await tab.fill('#join-name', 'Mira');
  await tab.click('.signin-join button[type=submit]');
  await tab.waitForSelector('.session-view h1.question');
  assert.equal(await actorOf(tab), actor);

  // erasing asks first, in plain words, by keyboard; Escape or "Nee" goes back
  await phone.focus('#mine-erase');
  await phone.keyboard.press('Enter');
  await phone.waitForSelector('#mine-confirm:not([hidden])');
  assert.equal(await phone.evaluate(() => document.activeElement.id), 'mine-confirm-title');
  assert.equal(await phone.getAttribute('#mine-erase', 'aria-expanded'), 'true');
  assert.match(await phone.textContent('#mine-confirm'), /Je kunt dit niet terugdraaien/);
  await axeCheck(phone, 'my contributions: confirm erasing');
  await shot(phone, '16-mine-confirm');
  await phone.keyboard.press('Escape');
  await phone.waitForSelector('#mine-confirm', { state: 'hidden' });
  assert.equal(await phone.evaluate(() => document.activeElement.id), 'mine-erase');
  await viewer.waitForSelector(card(text)); // nothing happened
  await phone.keyboard.press('Enter');
  await phone.waitForSelector('#mine-confirm:not([hidden])');
  await phone.keyboard.press('Tab');
  assert.equal(await phone.evaluate(() => document.activeElement.id), 'mine-erase-yes');
  await phone.keyboard.press('Enter');

  // done: the page says so and has left the session
  await phone.waitForSelector('.notice:has-text("gewist")', { timeout: T(5000) });
  assert.match(await phone.textContent('.notice'), /Alles wat je hebt bijgedragen is gewist/);
  assert.equal(await phone.evaluate(() => sessionStorage.getItem('tafel.cred')), null);
  assert.equal(await phone.evaluate((code) => localStorage.getItem(`tafel.device.${code}`), data.sessie.join_code), null);
  await axeCheck(phone, 'after erasing');
  // the other tab was closed by the server, and says why
  await tab.waitForSelector('.notice:has-text("gewist")', { timeout: T(5000) });
  // gone for another viewer, live, and on the server
  await viewer.waitForSelector(card(text), { state: 'detached', timeout: T(3000) });
  const r = await admin.req({ type: 'get', kind: 'reflectie', id });
  assert.equal(r.code, 'not_found');
  const audit = (await admin.ok({ type: 'audit.list', limit: 1000 })).entries.map((e) => e.action);
  assert.ok(audit.includes('device.export') && audit.includes('device.erase'), 'both audited');
});

test('the page goes offline when the server stops, and catches up after it restarts', { timeout: T(120000) }, async () => {
  const p = await signedIn(data.partnerKey, `#/opgave/${data.europaplein.id}`);
  await p.waitForSelector('#sec-reflections');
  await srv.stop();
  await p.waitForSelector('.conn-status[data-state="offline"]', { timeout: T(5000) });
  assert.match(await p.textContent('.conn-status'), /Offline/);
  await axeCheck(p, 'offline');
  await shot(p, '15-offline', false);
  const subsBefore = p.subs.length;
  const seqBefore = await p.evaluate(async () => (await import('/js/store.js')).lastSeq());
  assert.ok(seqBefore > 0);

  await srv.start();
  const other = await Api.open(browser, srv, { key: data.leaderKey });
  await other.create('reflectie', { opgave: data.europaplein.id, sort: 'geleerd', text: 'Na de herstart: alles is er nog.' });
  await other.close();
  await p.waitForSelector('.conn-status[data-state="online"]', { timeout: T(15000) });
  await p.waitForSelector(card('Na de herstart: alles is er nog.'), { timeout: T(5000) });
  // nothing was lost or doubled
  assert.equal(await p.locator(card('De schouw met de wijkagent werkte goed.')).count(), 1);
  // it caught up with `since` (what it had seen), not with a fresh snapshot
  const again = p.subs.slice(subsBefore);
  assert.ok(again.length >= 1, 'subscribed again after the restart');
  assert.equal(again[0].opgave, '*');
  assert.equal(again[0].since, seqBefore);
});

test('after a restore from an older backup the page holds what the server holds (a snapshot replaces)', { timeout: T(120000) }, async () => {
  const E = data.europaplein.id;
  const api = await Api.open(browser, srv, { key: srv.adminKey });
  const backup = path.join(srv.tmp, 'backup');
  execFileSync(tafeldPath(), ['backup', '--data', srv.data, '--out', backup], { timeout: T(30000), stdio: ['ignore', 'pipe', 'pipe'] });
  // written after the backup: gone once the backup is restored
  const later = 'Na de back-up geschreven: straks bestaat dit niet meer.';
  const r = await api.create('reflectie', { opgave: E, sort: 'idee', text: later });
  const werk = (await api.ok({ type: 'get', kind: 'opgave', id: data.werk.id })).doc;
  await api.ok({ type: 'patch', kind: 'opgave', id: werk.id, set: { traffic_light_note: 'Na de back-up gewijzigd.' } });
  await api.close();

  const p = await signedIn(srv.adminKey, `#/opgave/${E}`);
  await p.waitForSelector(card(later));
  const store = () => p.evaluate(async (id) => {
    const s = await import('/js/store.js');
    return { seq: s.lastSeq(), dataId: s.dataIdOfSeq(), werk: s.get('opgave', id) };
  }, werk.id);
  const old = await store();
  assert.match(old.dataId || '', /^[0-9a-f]{32}$/, 'the page knows the data identity from hello');
  assert.equal(old.werk.traffic_light_note, 'Na de back-up gewijzigd.');

  await srv.stop();
  await p.waitForSelector('.conn-status[data-state="offline"]', { timeout: T(5000) });
  fs.rmSync(srv.data, { recursive: true, force: true });
  fs.renameSync(backup, srv.data);
  const subsBefore = p.subs.length;
  await srv.start();
  await p.waitForSelector('.conn-status[data-state="online"]', { timeout: T(15000) });
  await p.waitForSelector(card(later), { state: 'detached', timeout: T(5000) });
  await until(p, (id) => import('/js/store.js').then((s) => s.get('opgave', id).traffic_light_note !== 'Na de back-up gewijzigd.'), werk.id);
  const now = await store();
  // an older revision replaced the newer one the page had
  assert.equal(now.werk.rev, werk.rev);
  assert.equal(now.werk.traffic_light_note, werk.traffic_light_note);
  assert.equal(await p.evaluate(async (id) => !!(await import('/js/store.js')).get('reflectie', id), r.id), false);
  // it asked for what it missed with the identity its seq counts in; the
  // server answered with a snapshot of the restored data (another identity)
  const again = p.subs.slice(subsBefore);
  assert.ok(again.length >= 1, 'subscribed again after the restart');
  assert.equal(again[0].since, old.seq);
  assert.equal(again[0].data_id, old.dataId);
  assert.match(now.dataId || '', /^[0-9a-f]{32}$/);
  assert.notEqual(now.dataId, old.dataId, 'a restored backup is another history');
  assert.ok(now.seq < old.seq, `the seq of the restored data (${now.seq} < ${old.seq})`);
  // the other documents are all still there
  assert.equal(await p.locator('#sec-reflections .reflection').count() > 0, true);
  await axeCheck(p, 'opgave after a restore');
});
