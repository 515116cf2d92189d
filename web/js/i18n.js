// i18n.js - the page speaks Dutch first, English with a switch. Dates are
// always written the Dutch way (dd-mm-jjjj), in both languages.
//
// Here is the page's own prose. The names of kinds, fields, enumeration
// values and roles are not: they come from the schema the server serves
// (/schema.json, see schema.js), in both languages, through kindLabel(),
// kindPlural(), fieldLabel(), valueLabel() and roleLabel() below.

import { kindDef, fieldDef, valuesOf, roleDef } from './schema.js';

const NL = {
  'app.tagline': 'De opgave aan tafel',
  'lang.switch': 'English',
  'lang.switch.label': 'Switch to English',
  'conn.online': 'Verbonden',
  'conn.connecting': 'Verbinden…',
  'conn.offline': 'Offline — opnieuw verbinden…',
  'nav.main': 'Hoofdmenu',
  'nav.portfolio': 'Portfolio',
  'nav.admin': 'Beheer',
  'nav.skip': 'Naar de inhoud',
  'signout': 'Afmelden',
  'signedin.as': 'Aangemeld als {name} ({role})',
  'signin.title': 'Welkom bij Tafel',
  'signin.intro': 'Meld je aan met je toegangssleutel, of doe mee aan een sessie met de code die je ziet.',
  'signin.key.title': 'Aanmelden met toegangssleutel',
  'signin.key.label': 'Toegangssleutel',
  'signin.key.help': 'Begint met tafel_. De sleutel blijft alleen in dit tabblad bewaard.',
  'signin.key.submit': 'Aanmelden',
  'signin.join.title': 'Meedoen aan een sessie',
  'signin.join.code': 'Deelnamecode',
  'signin.join.code.help': '8 tekens, bijvoorbeeld K7MW3QXP',
  'signin.join.name': 'Je naam',
  'signin.join.name.help': 'Alleen je voornaam of een bijnaam is genoeg. We vragen en bewaren verder niets.',
  'signin.join.submit': 'Meedoen',
  'signin.join.invited': 'Je bent uitgenodigd voor een sessie. Vul je naam in om mee te doen.',
  'signin.busy': 'Bezig met verbinden…',
  'signin.error.key': 'Deze sleutel wordt niet (meer) geaccepteerd.',
  'signin.error.join': 'Deze code is onbekend of de sessie is niet open.',
  'signin.error.rate': 'Te veel pogingen. Wacht een minuut en probeer het opnieuw.',
  'signin.error.network': 'Geen verbinding met de server.',
  'signin.error.name': 'Vul een naam in van 1 tot 40 tekens.',
  'signin.error.name.bad': 'Deze naam kan niet. Gebruik gewone letters, cijfers en leestekens. Niet meer dan 40 tekens.',
  'signin.error.keyformat': 'Vul een toegangssleutel in.',
  'signout.revoked': 'Je toegang is ingetrokken of verlopen. Je bent afgemeld.',
  'signout.closed': 'De sessie is gesloten. Bedankt voor je bijdrage!',
  'signout.unauthorized': 'Je bent afgemeld: de server accepteert de aanmelding niet meer.',
  'signout.done': 'Je bent afgemeld.',
  'loading': 'Laden…',
  'schema.error.title': 'Tafel kan niet starten',
  'schema.error.text': 'De pagina kon bij de server niet ophalen hoe de gegevens eruitzien (/schema.json). Zonder die beschrijving kunnen we geen formulieren en knoppen tonen. Controleer je verbinding en probeer het opnieuw.',
  'schema.error.reason': 'Reden: {reason}',
  'schema.retry': 'Opnieuw proberen',
  'portfolio.title': 'Portfolio',
  'portfolio.intro': 'Alle opgaven die je mag zien, met hun stoplicht.',
  'portfolio.none': 'Er zijn nog geen opgaven.',
  'portfolio.chart.title': 'Complexiteit en tijdshorizon',
  'portfolio.chart.desc': 'Opgaven geplaatst op complexiteit (verticaal, 1 tot 5) en tijdshorizon in jaren (horizontaal); vorm en kleur volgen het stoplicht.',
  'portfolio.unplaced': 'Niet geplaatst (complexiteit of tijdshorizon ontbreekt): {list}',
  'card.lead': 'Opgaveleider',
  'card.milestone': 'Volgende mijlpaal',
  'card.nomilestone': 'geen',
  'card.open': 'Open {title}',
  'tl.light.none': 'geen stoplicht',
  'axis.complexity': 'Complexiteit', 'axis.horizon': 'Tijdshorizon (jaren)',
  'opgave.goal': 'Wat is er anders dan nu',
  'opgave.triangle': 'Sturingsdriehoek',
  'opgave.facts': 'Kenmerken',
  'opgave.notfound': 'Deze opgave bestaat niet of je mag haar niet zien.',
  'opgave.sections': 'Onderdelen van de opgave',
  'sec.timeline': 'Tijdlijn',
  'actions.none': 'Nog geen actielijnen.',
  'activities.none': 'Nog geen activiteiten.',
  'activity.owner': 'Eigenaar',
  'activity.period': 'Periode',
  'ind.effect': 'Effectindicatoren', 'ind.context': 'Contextindicatoren',
  'ind.none': 'Nog geen indicatoren.',
  'ind.chart.desc': '{title}: nulmeting {baseline}, streefwaarde {target}, {n} metingen.',
  'ind.nomeasurements': 'Nog geen metingen.',
  // progress.js's words: the course judged from the trend against the
  // direction, and the share of the way from baseline to target
  'ind.course.op_koers': 'Op koers', 'ind.course.niet_op_koers': 'Niet op koers', 'ind.course.onbekend': 'Koers onbekend',
  'ind.trend.up': 'stijgend', 'ind.trend.down': 'dalend', 'ind.trend.flat': 'gelijk',
  'ind.why.direction': 'geen gewenste richting', 'ind.why.few': 'te weinig metingen',
  'ind.progress': '{pct} % van nulmeting naar streefwaarde',
  'ind.derived': 'afgeleid uit de streefwaarde',
  'tl.moments': 'Momenten en mijlpalen',
  'tl.none': 'Nog geen momenten op de tijdlijn.',
  'tl.feel': 'Hoe voelde dit moment?',
  'tl.feel.legend': 'Jouw gevoel bij {title}',
  'tl.feel.-2': 'heel laag', 'tl.feel.-1': 'laag', 'tl.feel.0': 'neutraal', 'tl.feel.1': 'hoog', 'tl.feel.2': 'heel hoog',
  'tl.curve': 'Gevoelsgrafiek',
  'tl.curve.desc': 'Het gemiddelde gevoel per moment (lijn) met de spreiding van laagste tot hoogste (band), op een schaal van -2 tot +2.',
  'tl.curve.none': 'Nog geen gevoelens gegeven.',
  'tl.avg': 'gemiddeld', 'tl.spread': 'spreiding', 'tl.count': 'aantal',
  'refl.filter': 'Toon soort',
  'refl.all': 'alle',
  'refl.none': 'Nog geen reflecties.',
  'refl.by': 'door {name}',
  'author.inwoner': '(inwoner)',
  'refl.hidden': 'Verborgen',
  'refl.pinned': 'Vastgepind',
  'refl.votes': '{n} stemmen',
  'refl.vote1': '1 stem',
  'refl.vote': 'Stem',
  'refl.unvote': 'Stem intrekken',
  'refl.vote.label': 'Stem op: {text}',
  'mod.hide': 'Verbergen', 'mod.restore': 'Herstellen', 'mod.pin': 'Vastpinnen', 'mod.unpin': 'Losmaken',
  'mod.approve': 'Goedkeuren', 'mod.reject': 'Afwijzen', 'mod.done.approve': 'Bijdrage goedgekeurd.', 'refl.pending': 'Wacht op goedkeuring',
  'mod.done.hide': 'Bijdrage verborgen.', 'mod.done.restore': 'Bijdrage hersteld.',
  'mod.done.pin': 'Bijdrage vastgepind.', 'mod.done.unpin': 'Bijdrage losgemaakt.',
  'sessions.none': 'Nog geen sessies.',
  'generic.none': 'Nog geen {kinds}.',
  'session.open': 'Sessie openen', 'session.close': 'Sessie sluiten',
  'session.go': 'Naar de sessie',
  'session.projector': 'Projectieweergave',
  'session.back': 'Terug naar de sessie',
  'session.join.at': 'Doe mee op {url}',
  'session.qr': 'QR-code om mee te doen: {url}',
  'session.present': 'Aan tafel',
  'session.present.n': '{n} aan tafel',
  'session.present.none': 'Nog niemand aan tafel.',
  'session.contribute': 'Jouw bijdrage',
  'session.contribute.submit': 'Plaatsen',
  'session.contributions': 'Bijdragen',
  'session.none': 'Nog geen bijdragen. Wees de eerste!',
  'session.notfound': 'Deze sessie bestaat niet of je mag haar niet zien.',
  'session.closed': 'Deze sessie is gesloten.',
  'session.planned': 'Deze sessie is nog niet geopend.',
  'session.added': 'Bijdrage geplaatst.',
  'session.added.pending': 'Bijdrage ontvangen. De gespreksleider bekijkt hem eerst; daarna ziet iedereen hem.',
  'session.new': 'Nieuwe sessie',
  'members.none': 'Nog geen leden.',
  'edit': 'Bewerken', 'delete': 'Verwijderen', 'add': 'Toevoegen', 'save': 'Opslaan', 'cancel': 'Annuleren',
  'close': 'Sluiten',
  'confirm.delete': 'Weet je zeker dat je "{title}" wilt verwijderen?',
  'editing.title': '{Kind} bewerken', 'creating.title': '{Kind} toevoegen', 'add.kind': '{Kind} toevoegen',
  'form.required': 'verplicht',
  'form.saved': 'Opgeslagen.',
  'form.deleted': 'Verwijderd.',
  'form.none': '— geen —',
  'form.errors': 'Niet opgeslagen. Bekijk de gemarkeerde velden.',
  'form.invalid.int': 'Vul een geheel getal in.',
  'form.invalid.number': 'Vul een getal in.',
  'conflict.title': 'Iemand anders heeft dit intussen gewijzigd',
  'conflict.intro': 'Er is een nieuwere versie (versie {rev}). Kies per veld welke waarde je wilt houden en sla opnieuw op.',
  'conflict.field': 'Veld', 'conflict.mine': 'Jouw waarde', 'conflict.theirs': 'Nieuwere versie',
  'conflict.keep.mine': 'Houd mijn waarde voor {field}', 'conflict.keep.theirs': 'Neem nieuwere waarde voor {field}',
  'conflict.merge': 'Samenvoegen en opslaan',
  'conflict.empty': '(leeg)',
  'err.bad_request': 'Ongeldige invoer', 'err.unauthorized': 'Niet aangemeld', 'err.forbidden': 'Dat mag je niet',
  'err.not_found': 'Niet gevonden', 'err.conflict': 'Conflict', 'err.too_large': 'Te lang of te groot',
  'err.rate_limited': 'Te veel tegelijk, probeer het zo opnieuw', 'err.unavailable': 'Server niet beschikbaar',
  'err.internal': 'Fout in de server', 'err.offline': 'Geen verbinding: niet opgeslagen', 'err.timeout': 'Geen antwoord van de server',
  'admin.title': 'Beheer',
  'admin.keys': 'Toegangssleutels',
  'admin.keys.create': 'Sleutel aanmaken',
  'admin.keys.role': 'Rol',
  'admin.keys.label': 'Omschrijving',
  'admin.keys.label.help': 'Bijvoorbeeld de naam van de organisatie of persoon.',
  'admin.keys.scope': 'Opgaven',
  'admin.keys.scope.all': 'Alle opgaven',
  'admin.keys.expires': 'Verloopt na (dagen)',
  'admin.keys.expires.help': 'Leeg laten: verloopt niet.',
  'admin.keys.created': 'Nieuwe sleutel voor "{label}"',
  'admin.keys.once': 'Deze sleutel wordt maar één keer getoond. Kopieer hem nu en geef hem veilig door.',
  'admin.keys.copy': 'Kopiëren',
  'admin.keys.copied': 'Gekopieerd naar het klembord.',
  'admin.keys.copy.failed': 'Kopiëren lukte niet: selecteer de sleutel en kopieer hem zelf.',
  'admin.keys.new.value': 'De nieuwe sleutel',
  'admin.keys.list': 'Uitgegeven sleutels',
  'admin.keys.none': 'Nog geen sleutels.',
  'admin.keys.revoke': 'Intrekken',
  'admin.keys.revoke.label': 'Sleutel "{label}" intrekken',
  'admin.keys.revoke.confirm': 'Sleutel "{label}" intrekken? Wie hem gebruikt wordt direct afgemeld.',
  'admin.keys.revoked': 'Ingetrokken',
  'admin.keys.revoked.done': 'Sleutel ingetrokken.',
  'admin.keys.active': 'Actief',
  'admin.keys.expired': 'Verlopen',
  'admin.col.label': 'Omschrijving', 'admin.col.role': 'Rol', 'admin.col.scope': 'Opgaven', 'admin.col.created': 'Aangemaakt',
  'admin.col.expires': 'Verloopt', 'admin.col.status': 'Status', 'admin.col.action': 'Actie',
  'admin.audit': 'Auditlog',
  'admin.audit.none': 'Het auditlog is leeg.',
  'admin.audit.more': 'Meer laden',
  'admin.audit.refresh': 'Vernieuwen',
  'admin.col.n': 'Nr.', 'admin.col.at': 'Tijdstip', 'admin.col.actor': 'Door', 'admin.col.actionname': 'Handeling',
  'admin.col.target': 'Betreft', 'admin.col.detail': 'Details',
  'admin.forbidden': 'Alleen beheerders en opgaveleiders beheren sleutels.',
  'never': 'nooit',
  'yes': 'ja', 'no': 'nee',
  'notfound': 'Deze pagina bestaat niet.',
  'mine.title': 'Mijn bijdragen',
  'mine.intro': 'Wat je hier schrijft, je stemmen en je gevoel bij de tijdlijn zijn van jou. Je kunt het downloaden. Je kunt het ook wissen.',
  'mine.download': 'Download wat ik heb bijgedragen',
  'mine.downloaded': 'Klaar. Het bestand met je bijdragen staat bij je downloads.',
  'mine.erase': 'Wis wat ik heb bijgedragen',
  'mine.confirm.title': 'Weet je het zeker?',
  'mine.confirm.text': 'We wissen alles wat je in deze sessie hebt gedaan: wat je schreef, je stemmen en je gevoel bij de tijdlijn. Ook de anderen zien het daarna niet meer. Je kunt dit niet terugdraaien. Daarna ben je uit de sessie.',
  'mine.confirm.keep': 'Wil je het bewaren? Download het dan eerst.',
  'mine.confirm.yes': 'Ja, wis alles',
  'mine.confirm.no': 'Nee, niet wissen',
  'mine.erased': 'Klaar. Alles wat je hebt bijgedragen is gewist. Je bent uit de sessie.',
  'mine.desk.title': 'Liever via de gemeente?',
  'mine.desk.text': 'Laat deze code zien aan de balie van de gemeente. Zij kunnen je bijdragen dan voor je downloaden of wissen. Geef de code aan niemand anders.',
};

const EN = {
  'app.tagline': 'The opgave at the table',
  'lang.switch': 'Nederlands',
  'lang.switch.label': 'Schakel naar Nederlands',
  'conn.online': 'Connected', 'conn.connecting': 'Connecting…', 'conn.offline': 'Offline — reconnecting…',
  'nav.main': 'Main menu', 'nav.portfolio': 'Portfolio', 'nav.admin': 'Administration',
  'nav.skip': 'Skip to content',
  'signout': 'Sign out', 'signedin.as': 'Signed in as {name} ({role})',
  'signin.title': 'Welcome to Tafel',
  'signin.intro': 'Sign in with your access key, or join a session with the code you see.',
  'signin.key.title': 'Sign in with an access key', 'signin.key.label': 'Access key',
  'signin.key.help': 'Starts with tafel_. The key is kept in this tab only.', 'signin.key.submit': 'Sign in',
  'signin.join.title': 'Join a session', 'signin.join.code': 'Join code', 'signin.join.code.help': '8 characters, e.g. K7MW3QXP',
  'signin.join.name': 'Your name', 'signin.join.name.help': 'A first name or nickname is enough. Nothing else is asked or kept.',
  'signin.join.submit': 'Join', 'signin.join.invited': 'You are invited to a session. Enter your name to join.',
  'signin.busy': 'Connecting…', 'signin.error.key': 'This key is not (or no longer) accepted.',
  'signin.error.join': 'This code is unknown or the session is not open.',
  'signin.error.rate': 'Too many attempts. Wait a minute and try again.', 'signin.error.network': 'Cannot reach the server.',
  'signin.error.name': 'Enter a name of 1 to 40 characters.',
  'signin.error.name.bad': 'This name cannot be used. Use ordinary letters, numbers and punctuation. No more than 40 characters.',
  'signin.error.keyformat': 'Enter an access key.',
  'signout.revoked': 'Your access was revoked or has expired. You have been signed out.',
  'signout.closed': 'The session has been closed. Thank you for taking part!',
  'signout.unauthorized': 'You have been signed out: the server no longer accepts the sign-in.',
  'signout.done': 'You have been signed out.',
  'loading': 'Loading…',
  'schema.error.title': 'Tafel cannot start',
  'schema.error.text': 'The page could not fetch from the server what the data looks like (/schema.json). Without that description it cannot show forms and buttons. Check your connection and try again.',
  'schema.error.reason': 'Reason: {reason}',
  'schema.retry': 'Try again',
  'portfolio.title': 'Portfolio', 'portfolio.intro': 'Every opgave you may see, with its traffic light.',
  'portfolio.none': 'There are no opgaven yet.', 'portfolio.chart.title': 'Complexity and time horizon',
  'portfolio.chart.desc': 'Opgaven placed by complexity (vertical, 1 to 5) and time horizon in years (horizontal); shape and colour follow the traffic light.',
  'portfolio.unplaced': 'Not placed (complexity or time horizon missing): {list}',
  'card.lead': 'Opgave lead', 'card.milestone': 'Next milestone', 'card.nomilestone': 'none', 'card.open': 'Open {title}',
  'tl.light.none': 'no traffic light',
  'axis.complexity': 'Complexity', 'axis.horizon': 'Time horizon (years)',
  'opgave.goal': 'What is different from now', 'opgave.triangle': 'Steering triangle', 'opgave.facts': 'Characteristics',
  'opgave.notfound': 'This opgave does not exist or you may not see it.',
  'opgave.sections': 'Parts of the opgave',
  'sec.timeline': 'Timeline',
  'actions.none': 'No action lines yet.', 'activities.none': 'No activities yet.', 'activity.owner': 'Owner', 'activity.period': 'Period',
  'ind.effect': 'Effect indicators', 'ind.context': 'Context indicators', 'ind.none': 'No indicators yet.',
  'ind.chart.desc': '{title}: baseline {baseline}, target {target}, {n} measurements.', 'ind.nomeasurements': 'No measurements yet.',
  'ind.course.op_koers': 'On course', 'ind.course.niet_op_koers': 'Not on course', 'ind.course.onbekend': 'Course unknown',
  'ind.trend.up': 'rising', 'ind.trend.down': 'falling', 'ind.trend.flat': 'flat',
  'ind.why.direction': 'no desired direction', 'ind.why.few': 'too few measurements',
  'ind.progress': '{pct}% of the way from baseline to target',
  'ind.derived': 'derived from the target',
  'tl.moments': 'Moments and milestones', 'tl.none': 'No moments on the timeline yet.', 'tl.feel': 'How did this moment feel?',
  'tl.feel.legend': 'Your feeling about {title}', 'tl.feel.-2': 'very low', 'tl.feel.-1': 'low', 'tl.feel.0': 'neutral',
  'tl.feel.1': 'high', 'tl.feel.2': 'very high', 'tl.curve': 'Emotion curve',
  'tl.curve.desc': 'The average feeling per moment (line) with the spread from lowest to highest (band), on a scale from -2 to +2.',
  'tl.curve.none': 'No feelings given yet.', 'tl.avg': 'average', 'tl.spread': 'spread', 'tl.count': 'count',
  'refl.filter': 'Show sort', 'refl.all': 'all', 'refl.none': 'No reflections yet.',
  'refl.by': 'by {name}', 'author.inwoner': '(resident)', 'refl.hidden': 'Hidden', 'refl.pinned': 'Pinned', 'refl.votes': '{n} votes', 'refl.vote1': '1 vote',
  'refl.vote': 'Vote', 'refl.unvote': 'Withdraw vote', 'refl.vote.label': 'Vote for: {text}',
  'mod.hide': 'Hide', 'mod.restore': 'Restore', 'mod.pin': 'Pin', 'mod.unpin': 'Unpin',
  'mod.approve': 'Approve', 'mod.reject': 'Reject', 'mod.done.approve': 'Contribution approved.', 'refl.pending': 'Awaiting approval',
  'mod.done.hide': 'Contribution hidden.', 'mod.done.restore': 'Contribution restored.', 'mod.done.pin': 'Contribution pinned.',
  'mod.done.unpin': 'Contribution unpinned.',
  'sessions.none': 'No sessions yet.',
  'generic.none': 'No {kinds} yet.',
  'session.open': 'Open session', 'session.close': 'Close session', 'session.go': 'Go to the session',
  'session.projector': 'Projector view', 'session.back': 'Back to the session',
  'session.join.at': 'Join at {url}', 'session.qr': 'QR code to join: {url}',
  'session.present': 'At the table', 'session.present.n': '{n} at the table', 'session.present.none': 'Nobody at the table yet.',
  'session.contribute': 'Your contribution',
  'session.contribute.submit': 'Post', 'session.contributions': 'Contributions', 'session.none': 'No contributions yet. Be the first!',
  'session.notfound': 'This session does not exist or you may not see it.', 'session.closed': 'This session is closed.',
  'session.planned': 'This session has not been opened yet.', 'session.added': 'Contribution posted.', 'session.added.pending': 'Contribution received. The moderator looks at it first; then everyone sees it.', 'session.new': 'New session',
  'members.none': 'No members yet.',
  'edit': 'Edit', 'delete': 'Delete', 'add': 'Add', 'save': 'Save', 'cancel': 'Cancel', 'close': 'Close',
  'confirm.delete': 'Are you sure you want to delete "{title}"?',
  'editing.title': 'Edit {kind}', 'creating.title': 'Add {kind}', 'add.kind': 'Add {kind}',
  'form.required': 'required', 'form.saved': 'Saved.', 'form.deleted': 'Deleted.', 'form.none': '— none —',
  'form.errors': 'Not saved. Check the marked fields.', 'form.invalid.int': 'Enter a whole number.', 'form.invalid.number': 'Enter a number.',
  'conflict.title': 'Someone else changed this in the meantime',
  'conflict.intro': 'There is a newer version (version {rev}). Choose per field which value to keep and save again.',
  'conflict.field': 'Field', 'conflict.mine': 'Your value', 'conflict.theirs': 'Newer version',
  'conflict.keep.mine': 'Keep my value for {field}', 'conflict.keep.theirs': 'Take the newer value for {field}',
  'conflict.merge': 'Merge and save', 'conflict.empty': '(empty)',
  'err.bad_request': 'Invalid input', 'err.unauthorized': 'Not signed in', 'err.forbidden': 'Not allowed', 'err.not_found': 'Not found',
  'err.conflict': 'Conflict', 'err.too_large': 'Too long or too large', 'err.rate_limited': 'Too many at once, try again shortly',
  'err.unavailable': 'Server unavailable', 'err.internal': 'Server error', 'err.offline': 'No connection: not saved',
  'err.timeout': 'No answer from the server',
  'admin.title': 'Administration', 'admin.keys': 'Access keys', 'admin.keys.create': 'Create key', 'admin.keys.role': 'Role',
  'admin.keys.label': 'Description', 'admin.keys.label.help': 'For example the name of the organisation or person.',
  'admin.keys.scope': 'Opgaven', 'admin.keys.scope.all': 'All opgaven', 'admin.keys.expires': 'Expires after (days)',
  'admin.keys.expires.help': 'Leave empty: never expires.', 'admin.keys.created': 'New key for "{label}"',
  'admin.keys.once': 'This key is shown only once. Copy it now and pass it on safely.', 'admin.keys.copy': 'Copy',
  'admin.keys.copied': 'Copied to the clipboard.', 'admin.keys.copy.failed': 'Copying failed: select the key and copy it yourself.',
  'admin.keys.new.value': 'The new key', 'admin.keys.list': 'Issued keys', 'admin.keys.none': 'No keys yet.',
  'admin.keys.revoke': 'Revoke', 'admin.keys.revoke.label': 'Revoke key "{label}"',
  'admin.keys.revoke.confirm': 'Revoke key "{label}"? Whoever uses it is signed out at once.',
  'admin.keys.revoked': 'Revoked', 'admin.keys.revoked.done': 'Key revoked.', 'admin.keys.active': 'Active', 'admin.keys.expired': 'Expired',
  'admin.col.label': 'Description', 'admin.col.role': 'Role', 'admin.col.scope': 'Opgaven', 'admin.col.created': 'Created',
  'admin.col.expires': 'Expires', 'admin.col.status': 'Status', 'admin.col.action': 'Action',
  'admin.audit': 'Audit log', 'admin.audit.none': 'The audit log is empty.', 'admin.audit.more': 'Load more', 'admin.audit.refresh': 'Refresh',
  'admin.col.n': 'No.', 'admin.col.at': 'Time', 'admin.col.actor': 'By', 'admin.col.actionname': 'Action', 'admin.col.target': 'Target',
  'admin.col.detail': 'Details', 'admin.forbidden': 'Only administrators and opgave leads manage keys.',
  'never': 'never', 'yes': 'yes', 'no': 'no',
  'notfound': 'This page does not exist.',
  'mine.title': 'My contributions',
  'mine.intro': 'What you write here, your votes and your feelings about the timeline are yours. You can download them. You can also erase them.',
  'mine.download': 'Download what I contributed',
  'mine.downloaded': 'Done. The file with your contributions is in your downloads.',
  'mine.erase': 'Erase what I contributed',
  'mine.confirm.title': 'Are you sure?',
  'mine.confirm.text': 'We erase everything you did in this session: what you wrote, your votes and your feelings about the timeline. The others will no longer see it either. You cannot undo this. Afterwards you leave the session.',
  'mine.confirm.keep': 'Do you want to keep it? Download it first.',
  'mine.confirm.yes': 'Yes, erase everything',
  'mine.confirm.no': 'No, do not erase',
  'mine.erased': 'Done. Everything you contributed has been erased. You have left the session.',
  'mine.desk.title': 'Rather through the municipality?',
  'mine.desk.text': 'Show this code at the municipality\'s desk. They can then download or erase your contributions for you. Do not give the code to anyone else.',
};

const DICTS = { nl: NL, en: EN };
let lang = 'nl';
try {
  const saved = localStorage.getItem('tafel.lang');
  if (saved === 'en' || saved === 'nl') lang = saved;
} catch { /* storage unavailable: Dutch */ }

export function getLang() { return lang; }

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'nl';
  try { localStorage.setItem('tafel.lang', lang); } catch { /* ignore */ }
  document.documentElement.lang = lang;
}

/** t('key', {name: 'x'}): the text in the current language, English and
 * Dutch falling back to each other, then to the key itself. */
export function t(key, params) {
  return tIn(lang, key, params);
}

/** t() in language L ('nl' or 'en'), whatever the page's language is. */
export function tIn(l, key, params) {
  let s = (DICTS[l] || NL)[key] ?? NL[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? String(params[k]) : m));
  return s;
}

/** A {nl, en} label of the schema in the current language; the other
 * language if it lacks this one; FALLBACK if there is no label at all. */
export function pick(label, fallback) {
  if (!label || typeof label !== 'object') return fallback;
  return label[lang] || label.nl || label.en || fallback;
}

/** A kind's name (Actielijn / Action line). */
export function kindLabel(kind) { const k = kindDef(kind); return pick(k && k.label, kind); }

/** A kind's plural (Actielijnen / Action lines). */
export function kindPlural(kind) { const k = kindDef(kind); return pick(k && k.plural, kind); }

/** A field's label in KIND's row (Stoplicht / Traffic light). */
export function fieldLabel(kind, field) { const f = fieldDef(kind, field); return pick(f && f.label, field); }

/** An enumeration value of KIND's FIELD in words (groen / green). */
export function valueLabel(kind, field, value) {
  const v = valuesOf(kind, field).find((x) => x.value === value);
  return pick(v && v.label, String(value));
}

/** A role in words (Beheerder / Administrator). */
export function roleLabel(role) { const r = roleDef(role); return pick(r && r.label, role); }

const pad = (n) => String(n).padStart(2, '0');

/** '2026-11-23' -> '23-11-2026' (Dutch format, both languages). */
export function fmtDate(s) {
  if (!s) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
  if (m && s.length === 10) return `${m[3]}-${m[2]}-${m[1]}`;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return `${pad(d.getDate())}-${pad(d.getMonth() + 1)}-${d.getFullYear()}`;
}

/** RFC 3339 -> '23-11-2026 10:15' in local time (Dutch format). */
export function fmtDateTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return `${fmtDate(s)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Numbers with a Dutch decimal comma (also in English, like the dates). */
export function fmtNum(n) {
  if (n === undefined || n === null || n === '') return '–';
  return new Intl.NumberFormat('nl-NL', { maximumFractionDigits: 2 }).format(n);
}

document.documentElement.lang = lang;
