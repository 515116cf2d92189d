// seed.mjs - realistic demo data for the browser tests (and the README's
// screenshots): three opgaven, one of them full, after the articles'
// examples (Heemskerk/Beverwijk's Europaplein, Horst aan de Maas' vitale
// kernen, Utrecht's werk).

const addDays = (d) => {
  const x = new Date(Date.now() + d * 86400000);
  return x.toISOString().slice(0, 10);
};

/** Seeds through `admin` (an Api signed in as beheerder); returns ids and keys. */
export async function seed(admin, browserOpen) {
  const europaplein = await admin.create('opgave', {
    title: 'Veilige en leefbare buurten: Europaplein',
    goal: 'In 2028 voelt 75% van de bewoners rond het Europaplein zich veilig in de eigen buurt (nu 52%), en doen jongeren mee aan activiteiten die zij zelf hebben bedacht.',
    target_date: '2028-12-31',
    political_sponsor: 'Wethouder A. de Vries',
    executive_sponsor: 'M. Jansen, directeur Samenleving',
    lead: 'Sanne Bakker',
    traffic_light: 'oranje',
    traffic_light_note: 'Vertraging bij de aanbesteding van de nieuwe verlichting; jongerenwerk loopt goed.',
    way_of_working: 'programma',
    domains: ['fysiek', 'sociaal'],
    complexity: 4,
    horizon_years: 4,
    description: 'Samen met Beverwijk, de politie, jongerenwerk en de woningcorporatie.',
  });
  const kernen = await admin.create('opgave', {
    title: 'Vitale kernen', goal: 'Elke kern heeft een plek waar inwoners elkaar ontmoeten en zelf initiatieven starten.',
    lead: 'Joris Peeters', traffic_light: 'groen', traffic_light_note: 'Drie dorpsraden hebben een eigen agenda opgesteld.',
    way_of_working: 'improvisatie', domains: ['sociaal'], complexity: 2, horizon_years: 8, political_sponsor: 'Wethouder K. Hendriks',
  });
  const werk = await admin.create('opgave', {
    title: 'Bijstandsgerechtigden naar werk', goal: '500 inwoners met een bijstandsuitkering vinden duurzaam werk.',
    lead: 'Fatma Yilmaz', traffic_light: 'rood', traffic_light_note: 'Minder vacatures bij partners dan verwacht; herijking nodig.',
    way_of_working: 'project', domains: ['sociaal', 'bedrijfsvoering'], complexity: 3, horizon_years: 2,
  });
  const E = europaplein.id;
  const l1 = await admin.create('actielijn', { opgave: E, title: 'Een veilige openbare ruimte', position: 1, description: 'Licht, zicht en beheer van het plein en de routes.' });
  const l2 = await admin.create('actielijn', { opgave: E, title: 'Jongeren doen mee', position: 2 });
  await admin.create('activiteit', { opgave: E, actielijn: l1.id, title: 'Nieuwe verlichting rond het plein', owner: 'Gemeente Heemskerk', status: 'gepland', start_date: '2026-03-01', end_date: '2026-09-30' });
  await admin.create('activiteit', { opgave: E, actielijn: l1.id, title: 'Buurtschouw met bewoners', owner: 'Woonstichting De Key', status: 'lopend', start_date: '2025-10-01' });
  await admin.create('activiteit', { opgave: E, actielijn: l2.id, title: 'Jongerenpanel op vrijdagavond', owner: 'Jongerenwerk Welzijn Kennemerland', status: 'lopend', start_date: '2025-09-01' });
  await admin.create('activiteit', { opgave: E, actielijn: l2.id, title: 'Wijkagent op het schoolplein', owner: 'Politie Noord-Holland', status: 'afgerond', start_date: '2025-04-01', end_date: '2025-12-20' });
  const i1 = await admin.create('indicator', { opgave: E, title: 'Bewoners die zich veilig voelen', type: 'effect', unit: '%', baseline: 52, target: 75, direction: 'omhoog', source: 'Veiligheidsmonitor' });
  const i2 = await admin.create('indicator', { opgave: E, title: 'Meldingen van overlast', type: 'effect', unit: 'per maand', baseline: 40, target: 20, direction: 'omlaag', source: 'Politie' });
  const i3 = await admin.create('indicator', { opgave: E, title: 'Jongeren 12–23 jaar in de wijk', type: 'context', unit: 'inwoners', baseline: 1180, source: 'CBS' });
  for (const [ind, rows] of [[i1, [['2025-03-01', 53], ['2025-09-01', 58], ['2026-03-01', 61]]],
    [i2, [['2025-02-01', 41], ['2025-06-01', 35], ['2025-10-01', 31], ['2026-02-01', 33]]],
    [i3, [['2025-01-01', 1180], ['2026-01-01', 1215]]]]) {
    for (const [date, value] of rows) await admin.create('meting', { opgave: E, indicator: ind.id, date, value });
  }
  const m1 = await admin.create('moment', { opgave: E, date: '2025-01-15', title: 'Start met bewoners', type: 'mijlpaal' });
  const m2 = await admin.create('moment', { opgave: E, date: '2025-06-20', title: 'Onrust na de zomer', type: 'moment' });
  const m3 = await admin.create('moment', { opgave: E, date: '2025-11-05', title: 'Jongerenpanel van start', type: 'moment' });
  const m4 = await admin.create('moment', { opgave: E, date: addDays(45), title: 'Verlichting aanbesteed', type: 'mijlpaal' });
  await admin.create('moment', { opgave: kernen.id, date: addDays(20), title: 'Dorpsraden presenteren hun agenda', type: 'mijlpaal' });
  await admin.create('moment', { opgave: werk.id, date: addDays(90), title: 'Herijking met werkgevers', type: 'mijlpaal' });
  for (const [text, sort] of [
    ['Samen met de woningcorporatie gaat het sneller dan alleen.', 'geleerd'],
    ['De buurtschouw bracht bewoners en beheerders echt bij elkaar.', 'goed'],
    ['Mevrouw Koster durft weer ’s avonds naar de bushalte te lopen.', 'succesverhaal'],
    ['De terugkoppeling op meldingen duurt te lang.', 'beter'],
    ['Hoe houden we jongeren betrokken als het panel stopt?', 'vraag'],
  ]) await admin.create('reflectie', { opgave: E, text, sort });

  // Feelings on the timeline from several people: the gevoelsgrafiek.
  const feelers = [];
  for (const label of ['Partner A', 'Partner B', 'Partner C']) {
    const k = await admin.ok({ type: 'key.create', role: 'partner', opgaven: [E], label });
    feelers.push(k.key);
  }
  const feelings = [[2, 1, 1], [-1, -2, 0], [1, 2, 1], [0, 1, -1]];
  const moments = [m1, m2, m3, m4];
  for (let p = 0; p < feelers.length; p++) {
    const api = await browserOpen({ key: feelers[p] });
    for (let i = 0; i < moments.length; i++) await api.ok({ type: 'feel', id: moments[i].id, value: feelings[i][p] });
    await api.close();
  }

  const leaderKey = (await admin.ok({ type: 'key.create', role: 'opgaveleider', opgaven: [E], label: 'Sanne Bakker' })).key;
  const partnerKey = (await admin.ok({ type: 'key.create', role: 'partner', opgaven: [E], label: 'Woonstichting De Key' })).key;
  const partnerId = (await admin.ok({ type: 'key.list' })).keys.find((k) => k.label === 'Woonstichting De Key').key_id;
  await admin.create('lid', { opgave: E, actor: partnerId, name: 'Woonstichting De Key', role: 'partner', organisation: 'Woonstichting De Key' });
  const sessie = await admin.create('sessie', { opgave: E, question: 'Wat maakt het Europaplein voor jou een fijne plek om te zijn?' });
  const opened = (await admin.ok({ type: 'session.open', id: sessie.id })).doc;
  return { europaplein, kernen, werk, sessie: opened, leaderKey, partnerKey, lines: [l1, l2], indicators: [i1, i2, i3], moments };
}
