/*
 * schema.c - the kinds of document as one table, and the one validator that
 * reads it.
 *
 * Each kind is a row: labels, documentation, permission cells, audit and
 * moderation flags, and its fields (type, limits, enumeration with labels,
 * flags, labels, documentation). tafel_schema_validate() knows field types,
 * never kinds; server/perm.c reads the cells; schema_doc.c writes
 * /schema.json and docs/data-model.md and docs/permissions.md from the
 * rows: a new kind or field is a new row here (and a line in
 * TAFEL_KIND_LIST) and nothing else. Field names are
 * English identifiers; enumeration values are the Dutch words the users
 * speak (groen, oranje, rood...), each with a Dutch and an English label.
 */
#include "protocol_internal.h"
#include "tafel_limits.h"
#include "tafel_schema.h"
#include "tafel_time.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Shorthand for the rows below: designated initializers keep each row
 * readable and leave unused members zero. */
#define F(n, t, fl, ...)                                     \
    {                                                        \
        .name = (n), .type = (t), .flags = (fl), __VA_ARGS__ \
    }
#define L(nl, en)    .label_nl = (nl), .label_en = (en)
#define D(en, nl)    .doc = (en), .doc_nl = (nl)
#define REQ          TAFEL_FF_REQUIRED
#define SRV          TAFEL_FF_SERVER
#define NUMBER_LIMIT 1e15 /* measurements, baselines and targets: beyond any real figure */

/* Fields several kinds share, word for word. */
#define TITLE                                                                          \
    F("title", TAFEL_F_STRING, REQ, .min_len = 1, .max_len = 200, L("Titel", "Title"), \
      D("Short title, shown in lists", "Korte titel"))
#define DESCRIPTION(maxlen)                                                                    \
    F("description", TAFEL_F_STRING, 0, .max_len = (maxlen), L("Beschrijving", "Description"), \
      D("Longer description", "Beschrijving"))
#define SOURCE                                                          \
    F("source", TAFEL_F_STRING, 0, .max_len = 200, L("Bron", "Source"), \
      D("Where the figures come from", "Bron"))
#define NUMBER(n, fl, ...) \
    F(n, TAFEL_F_NUMBER, fl, .min = -NUMBER_LIMIT, .max = NUMBER_LIMIT, __VA_ARGS__)
#define NAME200(n, ...) F(n, TAFEL_F_STRING, 0, .max_len = 200, __VA_ARGS__)

#define FIELDS(a) .fields = (a), .nfields = sizeof(a) / sizeof((a)[0])

/* An enumeration value: the word, its Dutch and its English label. */
#define V(word, nl, en)                                     \
    {                                                       \
        .value = (word), .label_nl = (nl), .label_en = (en) \
    }
#define V_END            \
    {                    \
        NULL, NULL, NULL \
    }

/* The wire names come from TAFEL_KIND_LIST only: one string per kind, which
 * the rows and the `kind` field's values point at. */
#define KIND_NAME(e, wire) static const char kind_name_##e[] = wire;
TAFEL_KIND_LIST(KIND_NAME)
#undef KIND_NAME

/* The values of the common field `kind`: their labels are the kinds' own
 * (tafel_schema_value_label()), so a kind's labels are written once. */
static const struct tafel_enum_value kind_values[] = {
#define KIND_VALUE(e, wire) {kind_name_##e, NULL, NULL},
    TAFEL_KIND_LIST(KIND_VALUE)
#undef KIND_VALUE
        V_END};

static const struct tafel_enum_value traffic_lights[] = {
    V("groen", "groen", "green"), V("oranje", "oranje", "orange"), V("rood", "rood", "red"), V_END};
static const struct tafel_enum_value ways_of_working[] = {
    V("routine", "routine", "routine"),
    V("project", "project", "project"),
    V("programma", "programma", "programme"),
    V("bestuursproces", "bestuursproces", "administrative process"),
    V("improvisatie", "improvisatie", "improvisation"),
    V_END};
static const struct tafel_enum_value domains[] = {
    V("fysiek", "fysiek", "physical"), V("sociaal", "sociaal", "social"),
    V("bedrijfsvoering", "bedrijfsvoering", "operations"), V_END};
static const struct tafel_enum_value activity_states[] = {
    V("gepland", "gepland", "planned"), V("lopend", "lopend", "running"),
    V("afgerond", "afgerond", "finished"), V("gestopt", "gestopt", "stopped"), V_END};
static const struct tafel_enum_value indicator_types[] = {
    V("effect", "effect", "effect"), V("context", "context", "context"), V_END};
static const struct tafel_enum_value directions[] = {
    V("omhoog", "omhoog (hoger is beter)", "up (higher is better)"),
    V("omlaag", "omlaag (lager is beter)", "down (lower is better)"), V_END};
static const struct tafel_enum_value reflection_sorts[] = {
    V("goed", "goed", "went well"),
    V("beter", "beter", "could be better"),
    V("geleerd", "geleerd", "learned"),
    V("succesverhaal", "succesverhaal", "success story"),
    V("vraag", "vraag", "question"),
    V("idee", "idee", "idea"),
    V_END};
static const struct tafel_enum_value session_states[] = {
    V("gepland", "gepland", "planned"), V("open", "open", "open"),
    V("gesloten", "gesloten", "closed"), V_END};
static const struct tafel_enum_value moment_types[] = {V("mijlpaal", "mijlpaal", "milestone"),
                                                       V("moment", "moment", "moment"), V_END};
static const struct tafel_enum_value member_roles[] = {
    V("opgaveleider", "opgaveleider", "opgave lead"), V("partner", "partner", "partner"),
    V("waarnemer", "waarnemer", "observer"), V_END};
static const struct tafel_enum_value author_roles[] = {
    V("beheerder", "beheerder", "administrator"), V("opgaveleider", "opgaveleider", "opgave lead"),
    V("partner", "partner", "partner"),           V("inwoner", "inwoner", "inhabitant"),
    V("waarnemer", "waarnemer", "observer"),      V_END};

static const struct tafel_field opgave_fields[] = {
    TITLE,
    F("goal", TAFEL_F_STRING, 0, .max_len = 4000,
      L("Doel: wat is er anders dan nu", "Goal: what is different from now"),
      D("What is different from now when the opgave succeeds, stated SMART",
        "Doel: wat is er anders dan nu")),
    F("target_date", TAFEL_F_DATE, 0, L("Streefdatum", "Target date"),
      D("When the goal should be reached", "Streefdatum")),
    NAME200("political_sponsor",
            L("Bestuurlijk opdrachtgever (wethouder)", "Political sponsor (alderman)"),
            D("The alderman who owns the opgave politically (the wethouder)",
              "Bestuurlijk opdrachtgever (wethouder)")),
    NAME200("executive_sponsor", L("Ambtelijk opdrachtgever", "Executive sponsor"),
            D("The senior civil servant who commissions it", "Ambtelijk opdrachtgever")),
    NAME200("lead", L("Opdrachtnemer (opgaveleider)", "Opgave lead"),
            D("Who carries it out (the opgaveleider)", "Opdrachtnemer (opgaveleider)")),
    F("traffic_light", TAFEL_F_ENUM, 0, .values = traffic_lights, L("Stoplicht", "Traffic light"),
      D("Progress status for the portfolio meeting", "Stoplicht")),
    F("traffic_light_note", TAFEL_F_STRING, 0, .max_len = 1000,
      L("Toelichting stoplicht", "Traffic light explanation"),
      D("Short explanation of the traffic light", "Toelichting bij het stoplicht")),
    F("way_of_working", TAFEL_F_ENUM, 0, .values = ways_of_working,
      L("Werkwijze", "Way of working"), D("How the opgave is realised", "Werkwijze")),
    F("domains", TAFEL_F_ENUM_SET, 0, .max_len = 3, .values = domains, L("Domeinen", "Domains"),
      D("The domains it touches", "Domeinen")),
    F("complexity", TAFEL_F_INT, 0, .min = 1, .max = 5, L("Complexiteit (1–5)", "Complexity (1–5)"),
      D("1 (simple) to 5 (very complex): one axis of the portfolio view", "Complexiteit")),
    F("horizon_years", TAFEL_F_INT, 0, .min = 0, .max = 30,
      L("Tijdshorizon (jaren)", "Time horizon (years)"),
      D("Time horizon in years: the other axis of the portfolio view", "Tijdshorizon (jaren)")),
    DESCRIPTION(4000),
};

static const struct tafel_field actielijn_fields[] = {
    TITLE,
    DESCRIPTION(4000),
    F("position", TAFEL_F_INT, 0, .min = 0, .max = 10000, L("Volgorde", "Order"),
      D("Order among the opgave's action lines", "Volgorde")),
};

static const struct tafel_field activiteit_fields[] = {
    F("actielijn", TAFEL_F_REF, REQ, .ref = TAFEL_KIND_ACTIELIJN, L("Actielijn", "Action line"),
      D("The action line it belongs to", "Actielijn")),
    TITLE,
    DESCRIPTION(4000),
    NAME200("owner", L("Eigenaar (partner)", "Owner (partner)"),
            D("The partner organisation that delivers it", "Eigenaar (partnerorganisatie)")),
    F("owner_actor", TAFEL_F_STRING, SRV, .max_len = 64,
      L("Aangemaakt door (actor)", "Created by (actor)"),
      D("Actor id of the key that created it", "Actor-id van de aanmaker")),
    F("status", TAFEL_F_ENUM, 0, .values = activity_states, L("Status", "Status"),
      D("Where the activity stands", "Status")),
    F("start_date", TAFEL_F_DATE, 0, L("Startdatum", "Start date"), D("First day", "Startdatum")),
    F("end_date", TAFEL_F_DATE, 0, L("Einddatum", "End date"), D("Last day", "Einddatum")),
};

static const struct tafel_field indicator_fields[] = {
    TITLE,
    F("type", TAFEL_F_ENUM, REQ, .values = indicator_types, L("Soort", "Type"),
      D("Effect of the opgave, or context kept apart from it", "Soort indicator")),
    F("unit", TAFEL_F_STRING, 0, .max_len = 50, L("Eenheid", "Unit"),
      D("Unit of the values, e.g. %", "Eenheid")),
    NUMBER("baseline", 0, L("Nulmeting", "Baseline"), D("Value at the start", "Nulmeting")),
    F("baseline_date", TAFEL_F_DATE, 0, L("Datum nulmeting", "Baseline date"),
      D("When the baseline was measured", "Peildatum van de nulmeting")),
    NUMBER("target", 0, L("Streefwaarde", "Target"), D("Value to reach", "Streefwaarde")),
    F("direction", TAFEL_F_ENUM, 0, .values = directions,
      L("Gewenste richting", "Desired direction"),
      D("Which way is better: up or down", "Gewenste richting")),
    DESCRIPTION(4000),
    SOURCE,
};

static const struct tafel_field meting_fields[] = {
    F("indicator", TAFEL_F_REF, REQ, .ref = TAFEL_KIND_INDICATOR, L("Indicator", "Indicator"),
      D("The indicator measured", "Indicator")),
    F("date", TAFEL_F_DATE, REQ, L("Datum", "Date"), D("Date of the measurement", "Peildatum")),
    NUMBER("value", REQ, L("Waarde", "Value"), D("The measured value", "Waarde")),
    SOURCE,
    F("note", TAFEL_F_STRING, 0, .max_len = 1000, L("Opmerking", "Note"), D("Remark", "Opmerking")),
};

static const struct tafel_field reflectie_fields[] = {
    F("sort", TAFEL_F_ENUM, REQ, .values = reflection_sorts,
      L("Soort reflectie", "Sort of reflection"),
      D("What went well, what could be better, what was learned, a success story, a question, "
        "an idea",
        "Soort reflectie")),
    F("text", TAFEL_F_STRING, REQ, .min_len = 1, .max_len = 4000, L("Tekst", "Text"),
      D("The contribution", "Tekst")),
    F("session", TAFEL_F_REF, 0, .ref = TAFEL_KIND_SESSIE, L("Sessie", "Session"),
      D("The session it was added in", "Sessie")),
    F("hidden", TAFEL_F_BOOL, TAFEL_FF_MODERATE, L("Verborgen", "Hidden"),
      D("Hidden by a moderator; set through the moderate message", "Verborgen")),
    F("hidden_at", TAFEL_F_DATETIME, SRV, L("Verborgen om", "Hidden at"),
      D("When a moderator hid it; a hidden contribution is deleted a set time after "
        "(tafeld --delete-hidden-after)",
        "Verborgen om")),
    F("pinned", TAFEL_F_BOOL, TAFEL_FF_MODERATE, L("Vastgepind", "Pinned"),
      D("Pinned by a moderator; set through the moderate message", "Vastgepind")),
    F("pending", TAFEL_F_BOOL, SRV, L("Wacht op goedkeuring", "Awaiting approval"),
      D("A contribution to a pre-moderated session that no moderator approved yet: hidden from "
        "everyone but the moderators until `moderate` approve",
        "Wacht op goedkeuring")),
    F("author", TAFEL_F_STRING, SRV, .max_len = TAFEL_LABEL_MAX_CHARS, L("Auteur", "Author"),
      D("Display name of the contributor", "Auteur")),
    F("author_role", TAFEL_F_ENUM, SRV, .values = author_roles,
      L("Rol van de auteur", "Author's role"),
      D("The contributor's role: inwoner for a participant who joined by code, so a display "
        "name never passes for a key holder's label",
        "Rol van de auteur")),
    F("votes", TAFEL_F_INT, SRV, .min = 0, .max = (double)TAFEL_INT_MAX, L("Stemmen", "Votes"),
      D("Number of votes, kept by the vote message: one per participant, each kept as a record "
        "of its own beside the document",
        "Stemmen")),
    /* Written before votes became one mark per voter; a vote removes it. */
    F("voters", TAFEL_F_STRING_SET, SRV, .max_len = 100000, L("Stemmers (oud)", "Voters (old)"),
      D("No longer written (data from before votes were kept apart: the actor ids that voted); "
        "the next vote removes it",
        "Stemmers (oud)")),
};

static const struct tafel_field sessie_fields[] = {
    F("question", TAFEL_F_STRING, REQ, .min_len = 1, .max_len = 1000, L("Vraag", "Question"),
      D("The question the session works on", "Vraag")),
    F("state", TAFEL_F_ENUM, SRV, .values = session_states, L("Toestand", "State"),
      D("Planned, open or closed; changed by session.open and session.close", "Toestand")),
    F("join_code", TAFEL_F_STRING, SRV | TAFEL_FF_SECRET, .max_len = 16,
      L("Deelnamecode", "Join code"),
      D("The short code participants join with, given when the session opens", "Deelnamecode")),
    F("starts_at", TAFEL_F_DATETIME, 0, L("Begint om", "Starts at"),
      D("Planned start", "Begint om")),
    F("premoderation", TAFEL_F_BOOL, 0, L("Eerst goedkeuren", "Pre-moderation"),
      D("Contributions reach the moderators first, and everyone else (the projector included) "
        "only once a moderator approved them",
        "Bijdragen eerst goedkeuren")),
    F("opened_at", TAFEL_F_DATETIME, SRV, L("Geopend om", "Opened at"),
      D("When it was opened", "Geopend om")),
    F("closed_at", TAFEL_F_DATETIME, SRV, L("Gesloten om", "Closed at"),
      D("When it was closed", "Gesloten om")),
};

static const struct tafel_field moment_fields[] = {
    F("date", TAFEL_F_DATE, REQ, L("Datum", "Date"), D("Date on the timeline", "Datum")),
    TITLE,
    F("type", TAFEL_F_ENUM, 0, .values = moment_types, L("Soort", "Type"),
      D("A milestone or a moment; absent means moment", "Mijlpaal of moment")),
    DESCRIPTION(2000),
    F("feelings", TAFEL_F_FEELINGS, SRV, .max_len = 100000, .min = -2, .max = 2,
      L("Gevoelens", "Feelings"),
      D("Actor id -> feeling from -2 (low point) to +2 (high point), set with the feel message",
        "Gevoelsgrafiek")),
};

static const struct tafel_field lid_fields[] = {
    F("actor", TAFEL_F_STRING, REQ | TAFEL_FF_IMMUTABLE, .min_len = 1, .max_len = 64,
      L("Sleutel-id (actor)", "Key id (actor)"),
      D("The member's key id", "Actor-id van de sleutel")),
    F("name", TAFEL_F_STRING, REQ, .min_len = 1, .max_len = 200, L("Naam", "Name"),
      D("Name of the member", "Naam")),
    F("role", TAFEL_F_ENUM, REQ, .values = member_roles, L("Rol", "Role"),
      D("Role in this opgave: mission lead, partner, observer", "Rol")),
    NAME200("organisation", L("Organisatie", "Organisation"),
            D("The organisation the member is from", "Organisatie")),
};

static const struct tafel_enum_value decision_makers[] = {
    V("college", "college van B en W", "municipal executive"),
    V("raad", "gemeenteraad", "municipal council"), V("stuurgroep", "stuurgroep", "steering group"),
    V("opgaveleider", "opgaveleider", "opgave lead"), V_END};
static const struct tafel_enum_value decision_states[] = {
    V("voorgenomen", "voorgenomen", "proposed"), V("genomen", "genomen", "taken"),
    V("uitgevoerd", "uitgevoerd", "carried out"), V("ingetrokken", "ingetrokken", "withdrawn"),
    V_END};

static const struct tafel_field besluit_fields[] = {
    F("text", TAFEL_F_STRING, REQ, .min_len = 1, .max_len = 4000, L("Besluit", "Decision"),
      D("What was decided", "Wat er besloten is")),
    F("date", TAFEL_F_DATE, REQ, L("Datum", "Date"),
      D("When it was decided", "Datum van het besluit")),
    F("decided_by", TAFEL_F_ENUM, REQ, .values = decision_makers, L("Genomen door", "Decided by"),
      D("Who decided: the municipal executive, the council, the steering group or the opgave "
        "lead",
        "Wie besloot")),
    F("answers", TAFEL_F_REF_SET, 0, .ref = TAFEL_KIND_REFLECTIE, .max_len = 200,
      L("Antwoord op", "Answers"),
      D("The reflecties and session contributions this decision answers",
        "Reflecties en inbreng waarop het besluit antwoordt")),
    F("starts", TAFEL_F_REF_SET, 0, .ref = TAFEL_KIND_ACTIVITEIT, .max_len = 200,
      L("Zet in gang", "Starts"),
      D("The activiteiten this decision starts", "Activiteiten die het besluit in gang zet")),
    F("status", TAFEL_F_ENUM, 0, .values = decision_states, L("Status", "Status"),
      D("Proposed, taken, carried out or withdrawn", "Voorgenomen, genomen, uitgevoerd of "
                                                     "ingetrokken")),
};

/* Permission cells: one line per role, the actions in the order read,
 * create, update, delete, moderate. Y yes, N no, O own (created_by is the
 * actor). A role left out is UNSET, which tests/unit/test_schema.c refuses. */
#define Y TAFEL_PERM_YES
#define N TAFEL_PERM_NO
#define O TAFEL_PERM_OWN
#define CAN(role, r, c, u, d, m)                     \
    [TAFEL_ROLE_##role] = {[TAFEL_ACT_READ] = (r),   \
                           [TAFEL_ACT_CREATE] = (c), \
                           [TAFEL_ACT_UPDATE] = (u), \
                           [TAFEL_ACT_DELETE] = (d), \
                           [TAFEL_ACT_MODERATE] = (m)}
#define KIND(e) .kind = TAFEL_KIND_##e, .name = kind_name_##e

static const struct tafel_kind_def kinds[TAFEL_KIND__COUNT] = {
    [TAFEL_KIND_OPGAVE] =
        {
            KIND(OPGAVE),
            L("Opgave", "Opgave"),
            .plural_nl = "Opgaven",
            .plural_en = "Opgaven",
            D("A shared societal mission", "Maatschappelijke opgave"),
            .about = "The mission that a municipality, its inhabitants and its partners work on "
                     "together for years, e.g. \"vitale kernen\" or \"veilige en leefbare "
                     "buurten\". It records what should be different, who steers it (the "
                     "*sturingsdriehoek*), how it is going (the *stoplicht*) and where it sits "
                     "in the portfolio.",
            .audited = true,
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, N), CAN(OPGAVELEIDER, Y, N, Y, N, N),
                     CAN(PARTNER, Y, N, N, N, N), CAN(INWONER, Y, N, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(opgave_fields),
        },
    [TAFEL_KIND_ACTIELIJN] =
        {
            KIND(ACTIELIJN),
            L("Actielijn", "Action line"),
            .plural_nl = "Actielijnen",
            .plural_en = "Action lines",
            D("A line of action towards the goal", "Actielijn"),
            .about = "How the opgave will be realised, decided up front: a few action lines, "
                     "each with its activities.",
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, N), CAN(OPGAVELEIDER, Y, Y, Y, Y, N),
                     CAN(PARTNER, Y, N, N, N, N), CAN(INWONER, Y, N, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(actielijn_fields),
        },
    [TAFEL_KIND_ACTIVITEIT] =
        {
            KIND(ACTIVITEIT),
            L("Activiteit", "Activity"),
            .plural_nl = "Activiteiten",
            .plural_en = "Activities",
            D("An activity within an action line", "Activiteit"),
            .about = "Something concrete that is done, often by a partner (\"succes kent vele "
                     "vaders\": the owner shows who brought what).",
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, N), CAN(OPGAVELEIDER, Y, Y, Y, Y, N),
                     CAN(PARTNER, Y, Y, O, O, N), CAN(INWONER, Y, N, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(activiteit_fields),
        },
    [TAFEL_KIND_INDICATOR] =
        {
            KIND(INDICATOR),
            L("Indicator", "Indicator"),
            .plural_nl = "Indicatoren",
            .plural_en = "Indicators",
            D("Something measured to steer by", "Indicator"),
            .about = "Data to steer with: effect indicators measure the opgave's own goal; "
                     "context indicators (demography, other organisations' activity) are kept "
                     "apart from them.",
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, N), CAN(OPGAVELEIDER, Y, Y, Y, Y, N),
                     CAN(PARTNER, Y, N, N, N, N), CAN(INWONER, Y, N, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(indicator_fields),
        },
    [TAFEL_KIND_METING] =
        {
            KIND(METING),
            L("Meting", "Measurement"),
            .plural_nl = "Metingen",
            .plural_en = "Measurements",
            D("A dated measurement of an indicator", "Meting"),
            .about = "One figure of an indicator on a date: the indicator's chart draws them "
                     "against its baseline and target.",
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, N), CAN(OPGAVELEIDER, Y, Y, Y, Y, N),
                     CAN(PARTNER, Y, Y, O, O, N), CAN(INWONER, Y, N, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(meting_fields),
        },
    [TAFEL_KIND_REFLECTIE] =
        {
            KIND(REFLECTIE),
            L("Reflectie", "Reflection"),
            .plural_nl = "Reflecties",
            .plural_en = "Reflections",
            D("A reflection, idea or success story", "Reflectie"),
            .about = "The learning organisation at work: what went well, what could be better, "
                     "what was learned, small success stories (*microverhaaltjes*), questions "
                     "and ideas. Added by members and, during a live session, by inhabitants; "
                     "others vote on them; a moderator hides or pins them.",
            .moderated = true,
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, Y), CAN(OPGAVELEIDER, Y, Y, Y, Y, Y),
                     CAN(PARTNER, Y, Y, O, O, N), CAN(INWONER, Y, Y, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(reflectie_fields),
        },
    [TAFEL_KIND_SESSIE] =
        {
            KIND(SESSIE),
            L("Sessie", "Session"),
            .plural_nl = "Sessies",
            .plural_en = "Sessions",
            D("A live session with participants", "Sessie"),
            .about = "A co-creation meeting around one question: participants join with a "
                     "short code, add ideas and reflections, vote and mark the timeline; the "
                     "opgaveleider opens, moderates and closes it.",
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, Y), CAN(OPGAVELEIDER, Y, Y, Y, Y, Y),
                     CAN(PARTNER, Y, N, N, N, N), CAN(INWONER, Y, N, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(sessie_fields),
        },
    [TAFEL_KIND_MOMENT] =
        {
            KIND(MOMENT),
            L("Moment", "Moment"),
            .plural_nl = "Momenten",
            .plural_en = "Moments",
            D("A dated moment or milestone on the timeline", "Moment of mijlpaal op de tijdlijn"),
            .about = "Where we come from, where we are, where we go. Participants place their "
                     "feeling on each moment, which draws the emotion curve (*gevoelsgrafiek*).",
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, N), CAN(OPGAVELEIDER, Y, Y, Y, Y, N),
                     CAN(PARTNER, Y, Y, O, O, N), CAN(INWONER, Y, N, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(moment_fields),
        },
    [TAFEL_KIND_LID] =
        {
            KIND(LID),
            L("Lid", "Member"),
            .plural_nl = "Leden",
            .plural_en = "Members",
            D("A member of the opgave", "Lid"),
            .about = "A key holder who takes part in the opgave: partners are members, with "
                     "their own access.",
            .audited = true,
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, N), CAN(OPGAVELEIDER, Y, Y, Y, Y, N),
                     CAN(PARTNER, Y, N, N, N, N), CAN(INWONER, N, N, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(lid_fields),
        },
    [TAFEL_KIND_BESLUIT] =
        {
            KIND(BESLUIT),
            L("Besluit", "Decision"),
            .plural_nl = "Besluiten",
            .plural_en = "Decisions",
            D("A decision, and what it answers and starts", "Besluit"),
            .about = "What the college, the council, the steering group or the opgave lead "
                     "decided, the reflecties and session contributions it answers (so "
                     "inhabitants see what became of what they said) and the activiteiten it "
                     "starts. Kept for the record: every change is audited.",
            .audited = true,
            .perm = {CAN(BEHEERDER, Y, Y, Y, Y, N), CAN(OPGAVELEIDER, Y, Y, Y, Y, N),
                     CAN(PARTNER, Y, N, N, N, N), CAN(INWONER, Y, N, N, N, N),
                     CAN(WAARNEMER, Y, N, N, N, N)},
            FIELDS(besluit_fields),
        },
};

#undef Y
#undef N
#undef O

static const struct tafel_field common_fields[] = {
    F("id", TAFEL_F_STRING, TAFEL_FF_ID, .min_len = 1, .max_len = 64, L("Document", "Document"),
      D("Assigned by the server, unique within the kind", "Id")),
    F("kind", TAFEL_F_ENUM, 0, .values = kind_values, L("Soort document", "Kind of document"),
      D("The kind of document", "Soort document")),
    F("rev", TAFEL_F_INT, 0, .min = 1, .max = (double)TAFEL_INT_MAX, L("Versie", "Version"),
      D("Revision: 1 on create, +1 on each change", "Revisie")),
    F("opgave", TAFEL_F_STRING, TAFEL_FF_ID, .min_len = 1, .max_len = 64, L("Opgave", "Opgave"),
      D("The opgave the document belongs to; an opgave's is its own id", "Opgave")),
    F("created_at", TAFEL_F_DATETIME, SRV, L("Aangemaakt", "Created"),
      D("When it was created", "Aangemaakt")),
    F("updated_at", TAFEL_F_DATETIME, SRV, L("Gewijzigd", "Changed"),
      D("When it last changed", "Gewijzigd")),
    F("by", TAFEL_F_STRING, SRV, .min_len = 1, .max_len = 64,
      L("Laatst gewijzigd door", "Last changed by"),
      D("Actor id of the last writer", "Laatst gewijzigd door")),
    F("created_by", TAFEL_F_STRING, SRV, .min_len = 1, .max_len = 64,
      L("Aangemaakt door", "Created by"),
      D("Actor id of the creator; partners may change and delete only the documents they "
        "created. Not required in a stored document: older documents may lack it",
        "Aangemaakt door")),
};

#define MODE(m)   (1u << (m))
#define FULL_DOCS (MODE(TAFEL_V_CREATE) | MODE(TAFEL_V_REPLACE) | MODE(TAFEL_V_STORED))
#define SAVED     (MODE(TAFEL_V_REPLACE) | MODE(TAFEL_V_STORED))

/* Where a client may send each common field (parallel to common_fields). */
static const struct {
    unsigned allowed;        /* modes in which it may be present */
    unsigned required;       /* modes in which it must be present */
    unsigned required_child; /* ... additionally, for every kind but opgave */
    bool is_kind;            /* must name the kind being validated */
} common_policy[] = {
    {SAVED, SAVED, 0, false},                                       /* id */
    {FULL_DOCS, MODE(TAFEL_V_STORED), 0, true},                     /* kind */
    {SAVED, SAVED, 0, false},                                       /* rev */
    {FULL_DOCS, MODE(TAFEL_V_STORED), MODE(TAFEL_V_CREATE), false}, /* opgave */
    {MODE(TAFEL_V_STORED), MODE(TAFEL_V_STORED), 0, false},         /* created_at */
    {MODE(TAFEL_V_STORED), MODE(TAFEL_V_STORED), 0, false},         /* updated_at */
    {MODE(TAFEL_V_STORED), MODE(TAFEL_V_STORED), 0, false},         /* by */
    {MODE(TAFEL_V_STORED), 0, 0, false},                            /* created_by */
};
_Static_assert(sizeof(common_policy) / sizeof(common_policy[0]) ==
                   sizeof(common_fields) / sizeof(common_fields[0]),
               "one policy per common field");

static const char *const mode_verbs[] = {"creating", "replacing", "patching", "storing"};

/* ------------------------------------------------------------ look-ups */

const struct tafel_kind_def *tafel_schema_kind(enum tafel_kind kind)
{
    return (int)kind >= 0 && kind < TAFEL_KIND__COUNT ? &kinds[kind] : NULL;
}

const struct tafel_kind_def *tafel_schema_kind_by_name(const char *name)
{
    /* A kind listed in TAFEL_KIND_LIST without its row has no name: the
     * unit tests say so; here it is simply not found. */
    for (size_t i = 0; name && i < TAFEL_KIND__COUNT; i++)
        if (kinds[i].name && strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

static const struct tafel_field *find_field(const struct tafel_field *fields, size_t n,
                                            const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

const struct tafel_field *tafel_schema_field(const struct tafel_kind_def *def, const char *name)
{
    return def && name ? find_field(def->fields, def->nfields, name) : NULL;
}

const struct tafel_field *tafel_schema_common_fields(size_t *n)
{
    if (n)
        *n = sizeof(common_fields) / sizeof(common_fields[0]);
    return common_fields;
}

enum tafel_perm tafel_schema_perm(enum tafel_kind kind, enum tafel_role role,
                                  enum tafel_action action)
{
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    if (!def || (int)role < 0 || role >= TAFEL_ROLE__COUNT || (int)action < 0 ||
        action >= TAFEL_ACT__COUNT)
        return TAFEL_PERM_UNSET;
    return def->perm[role][action];
}

const char *tafel_schema_value_label(const struct tafel_enum_value *v, bool english)
{
    const char *own = english ? v->label_en : v->label_nl;
    if (own)
        return own;
    const struct tafel_kind_def *def = tafel_schema_kind_by_name(v->value);
    return def ? (english ? def->label_en : def->label_nl) : NULL;
}

size_t tafel_schema_nvalues(const struct tafel_field *f)
{
    size_t n = 0;
    if (f->type == TAFEL_F_ENUM || f->type == TAFEL_F_ENUM_SET)
        while (f->values && f->values[n].value)
            n++;
    return n;
}

static const char *const action_names[] = {
#define ACTION_NAME(e, name) name,
    TAFEL_ACTION_LIST(ACTION_NAME)
#undef ACTION_NAME
};

const char *tafel_action_name(enum tafel_action action)
{
    return (int)action >= 0 && action < TAFEL_ACT__COUNT ? action_names[action] : NULL;
}

const char *tafel_perm_name(enum tafel_perm perm)
{
    switch (perm) {
    case TAFEL_PERM_NO:
        return "no";
    case TAFEL_PERM_YES:
        return "yes";
    case TAFEL_PERM_OWN:
        return "own";
    default:
        return "unset";
    }
}

const char *tafel_ftype_name(enum tafel_ftype type)
{
    static const char *const names[] = {
        [TAFEL_F_STRING] = "string",
        [TAFEL_F_ENUM] = "enum",
        [TAFEL_F_ENUM_SET] = "enum_set",
        [TAFEL_F_INT] = "int",
        [TAFEL_F_NUMBER] = "number",
        [TAFEL_F_BOOL] = "bool",
        [TAFEL_F_DATE] = "date",
        [TAFEL_F_DATETIME] = "datetime",
        [TAFEL_F_REF] = "ref",
        [TAFEL_F_FEELINGS] = "feelings",
        [TAFEL_F_STRING_SET] = "string_set",
        [TAFEL_F_REF_SET] = "ref_set",
    };
    return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : NULL;
}

/* ---------------------------------------------------- text and ids */

bool tafel__id_valid(const char *s, size_t len)
{
    if (len < 1 || len > TAFEL_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool tafel__text_ok(const char *s, size_t len, bool multiline, size_t *cps)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if ((c & 0xc0) != 0x80)
            n++;
        if (c < 0x20 && !(multiline && (c == '\n' || c == '\t')))
            return false;
        /* DEL, and C1 controls U+0080..U+009F (encoded C2 80..C2 9F). */
        if (c == 0x7f || (c == 0xc2 && i + 1 < len && p[i + 1] <= 0x9f))
            return false;
    }
    *cps = n;
    return true;
}

/* The next code point of valid UTF-8 at @p p (the parser checked it). */
static uint32_t next_cp(const unsigned char *p, size_t len, size_t *i)
{
    uint32_t c = p[*i];
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (*i + n > len)
        n = len - *i;
    if (n > 1)
        c &= 0xff >> (n + 1);
    for (size_t k = 1; k < n; k++)
        c = c << 6 | (p[*i + k] & 0x3f);
    *i += n;
    return c;
}

/* Characters that reorder text or break it into lines: a name with one can
 * show as another, or as two. */
static bool is_bidi_control(uint32_t c)
{
    return c == 0x061c || c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029;
}

/* Characters that show nothing on their own: spaces, zero-width and other
 * format characters, fillers and blanks, variation selectors, tags, format
 * controls of other scripts, and combining marks (which need a letter to sit
 * on). A name needs at least one character outside this set. */
static bool is_invisible(uint32_t c)
{
    static const uint32_t ranges[][2] = {
        {0x0020, 0x0020},   {0x00a0, 0x00a0},   {0x00ad, 0x00ad},   {0x0300, 0x036f},
        {0x034f, 0x034f},   {0x115f, 0x1160},   {0x1680, 0x1680},   {0x17b4, 0x17b5},
        {0x180b, 0x180f},   {0x1ab0, 0x1aff},   {0x1dc0, 0x1dff},   {0x2000, 0x200f},
        {0x2028, 0x202f},   {0x205f, 0x206f},   {0x20d0, 0x20ff},   {0x2800, 0x2800},
        {0x3000, 0x3000},   {0x3164, 0x3164},   {0xfe00, 0xfe0f},   {0xfe20, 0xfe2f},
        {0xfeff, 0xfeff},   {0xffa0, 0xffa0},   {0xfff9, 0xfffc},   {0x13430, 0x1343f},
        {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0000, 0xe0fff},
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (c >= ranges[i][0] && c <= ranges[i][1])
            return true;
    return false;
}

bool tafel__name_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    bool visible = false;
    for (size_t i = 0; i < len;) {
        uint32_t c = next_cp(p, len, &i);
        if (is_bidi_control(c))
            return false;
        visible |= !is_invisible(c);
    }
    return visible;
}

/* ------------------------------------------------------- validation */

struct vctx {
    const struct tafel_kind_def *def;
    enum tafel_validate_mode mode;
    const char *prefix; /* "doc" or "set": the errinfo path */
    struct tafel_errinfo *info;
};

/* Set the error for @p field (NULL: the document itself) as "prefix.field". */
__attribute__((format(printf, 4, 5))) static enum tafel_err
fail(const struct vctx *v, enum tafel_err code, const char *field, const char *fmt, ...)
{
    char path[64], msg[200];
    va_list ap;
    if (field)
        snprintf(path, sizeof(path), "%s.%s", v->prefix, field);
    else
        snprintf(path, sizeof(path), "%s", v->prefix);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return tafel_errinfo_set(v->info, code, path, "%s: %s", path, msg);
}

/* The value of a JSON string without an embedded NUL, or NULL. */
static const char *plain_string(const json_t *val)
{
    const char *s = json_string_value(val);
    return s && strlen(s) == json_string_length(val) ? s : NULL;
}

int tafel__word_index(const char *const *words, const char *s)
{
    for (int i = 0; s && words[i]; i++)
        if (strcmp(words[i], s) == 0)
            return i;
    return -1;
}

const char *tafel__join_words(const char *const *words, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (; *words && used < size; words++) {
        int n = snprintf(buf + used, size - used, "%s%s", used ? "|" : "", *words);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

static bool in_values(const struct tafel_enum_value *values, const char *s)
{
    for (size_t i = 0; s && values && values[i].value; i++)
        if (strcmp(values[i].value, s) == 0)
            return true;
    return false;
}

/* The values as "a|b|c" into @p buf (truncated to @p size), for messages. */
static const char *join_values(const struct tafel_enum_value *values, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; values && values[i].value && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", used ? "|" : "", values[i].value);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

/* Integers must be exact: compare as integers against 2^53 first, then as
 * doubles (exact below 2^53) against the field's limits. */
static bool int_in_range(json_int_t x, double min, double max)
{
    if (x > TAFEL_INT_MAX || x < -TAFEL_INT_MAX)
        return false;
    return (double)x >= min && (double)x <= max;
}

static enum tafel_err check_string(const struct vctx *v, const struct tafel_field *f,
                                   const json_t *val)
{
    const char *s = plain_string(val);
    size_t cps;
    if (!s)
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "must be a string");
    if (!tafel__text_ok(s, json_string_length(val), true, &cps))
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "control characters are not allowed");
    if ((int64_t)cps > f->max_len)
        return fail(v, TAFEL_E_TOO_LARGE, f->name, "longer than %lld characters",
                    (long long)f->max_len);
    if ((int64_t)cps < f->min_len)
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "shorter than %lld characters",
                    (long long)f->min_len);
    if ((f->flags & TAFEL_FF_ID) && !tafel__id_valid(s, json_string_length(val)))
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "not a valid id");
    return TAFEL_E_OK;
}

/* One item of an ENUM_SET, STRING_SET or REF_SET. */
static bool set_item_ok(const struct tafel_field *f, const json_t *item)
{
    const char *s = plain_string(item);
    size_t cps;
    if (f->type == TAFEL_F_ENUM_SET)
        return in_values(f->values, s);
    if (f->type == TAFEL_F_REF_SET)
        return s && tafel__id_valid(s, json_string_length(item));
    return s && json_string_length(item) >= 1 && json_string_length(item) <= TAFEL_ID_MAX &&
           tafel__text_ok(s, json_string_length(item), false, &cps);
}

/* Arrays of distinct strings: a jansson object serves as the hash set, so
 * that 100,000 voters cost linear time. */
static enum tafel_err check_set(const struct vctx *v, const struct tafel_field *f,
                                const json_t *val)
{
    enum tafel_err e = TAFEL_E_OK;
    json_t *seen = NULL;
    size_t i;
    const json_t *item;
    if (!json_is_array(val))
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "must be an array");
    if ((int64_t)json_array_size(val) > f->max_len)
        return fail(v, TAFEL_E_TOO_LARGE, f->name, "more than %lld items", (long long)f->max_len);
    seen = json_object();
    if (!seen)
        return fail(v, TAFEL_E_NOMEM, f->name, "out of memory");
    json_array_foreach(val, i, item)
    {
        if (!set_item_ok(f, item)) {
            e = fail(v, TAFEL_E_BAD_REQUEST, f->name, "item %zu is not %s", i,
                     f->type == TAFEL_F_REF_SET ? "a valid id" : "allowed");
            goto cleanup;
        }
        const char *s = json_string_value(item);
        if (json_object_get(seen, s)) {
            e = fail(v, TAFEL_E_BAD_REQUEST, f->name, "\"%s\" appears twice", s);
            goto cleanup;
        }
        if (json_object_set_new_nocheck(seen, s, json_null()) != 0) {
            e = fail(v, TAFEL_E_NOMEM, f->name, "out of memory");
            goto cleanup;
        }
    }
cleanup:
    json_decref(seen);
    return e;
}

static enum tafel_err check_feelings(const struct vctx *v, const struct tafel_field *f,
                                     const json_t *val)
{
    const char *actor;
    size_t n, cps;
    json_t *x;
    if (!json_is_object(val))
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "must be an object");
    if ((int64_t)json_object_size(val) > f->max_len)
        return fail(v, TAFEL_E_TOO_LARGE, f->name, "more than %lld members", (long long)f->max_len);
    /* json_object_foreach wants a mutable object; iteration changes nothing. */
    json_object_keylen_foreach((json_t *)val, actor, n, x)
    {
        if (n < 1 || n > TAFEL_ID_MAX || strlen(actor) != n ||
            !tafel__text_ok(actor, n, false, &cps))
            return fail(v, TAFEL_E_BAD_REQUEST, f->name, "a key is not an actor id");
        if (!json_is_integer(x) || !int_in_range(json_integer_value(x), f->min, f->max))
            return fail(v, TAFEL_E_BAD_REQUEST, f->name, "values must be integers %g..%g", f->min,
                        f->max);
    }
    return TAFEL_E_OK;
}

/* True when the scalar @p val has the simple type @p t and lies within the
 * field's limits; the types with more to say have their own functions. */
static bool scalar_ok(const struct tafel_field *f, const json_t *val)
{
    const char *s = plain_string(val);
    int64_t ms;
    switch (f->type) {
    case TAFEL_F_ENUM:
        return in_values(f->values, s);
    case TAFEL_F_INT:
        return json_is_integer(val) && int_in_range(json_integer_value(val), f->min, f->max);
    case TAFEL_F_NUMBER:
        return json_is_number(val) && isfinite(json_number_value(val)) &&
               json_number_value(val) >= f->min && json_number_value(val) <= f->max;
    case TAFEL_F_BOOL:
        return json_is_boolean(val);
    case TAFEL_F_DATE:
        return tafel_date_valid(s);
    case TAFEL_F_DATETIME:
        return s && tafel_time_parse(s, &ms);
    case TAFEL_F_REF:
        return s && tafel__id_valid(s, strlen(s));
    default:
        return false;
    }
}

/* What scalar_ok() expected, for the error message. */
static const char *expected(const struct tafel_field *f, char *buf, size_t size)
{
    switch (f->type) {
    case TAFEL_F_ENUM:
        return join_values(f->values, buf, size);
    case TAFEL_F_INT:
        snprintf(buf, size, "an integer %.0f..%.0f", f->min, f->max);
        return buf;
    case TAFEL_F_NUMBER:
        snprintf(buf, size, "a number %g..%g", f->min, f->max);
        return buf;
    case TAFEL_F_BOOL:
        return "true or false";
    case TAFEL_F_DATE:
        return "a date YYYY-MM-DD";
    case TAFEL_F_DATETIME:
        return "an RFC 3339 timestamp";
    default:
        return "an id";
    }
}

static enum tafel_err check_value(const struct vctx *v, const struct tafel_field *f,
                                  const json_t *val)
{
    char buf[160];
    switch (f->type) {
    case TAFEL_F_STRING:
        return check_string(v, f, val);
    case TAFEL_F_ENUM_SET:
    case TAFEL_F_STRING_SET:
    case TAFEL_F_REF_SET:
        return check_set(v, f, val);
    case TAFEL_F_FEELINGS:
        return check_feelings(v, f, val);
    default:
        if (!scalar_ok(f, val))
            return fail(v, TAFEL_E_BAD_REQUEST, f->name, "must be %s",
                        expected(f, buf, sizeof(buf)));
        return TAFEL_E_OK;
    }
}

enum tafel_err tafel__schema_check_field(const struct tafel_field *f, const json_t *val,
                                         const char *prefix, struct tafel_errinfo *info)
{
    struct vctx v = {NULL, TAFEL_V_STORED, prefix ? prefix : "doc", info};
    return check_value(&v, f, val);
}

static enum tafel_err check_member(const struct vctx *v, const char *key, const json_t *val)
{
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    const struct tafel_field *f = tafel_schema_field(v->def, key);
    const struct tafel_field *c = f ? NULL : find_field(common, ncommon, key);
    if (c) {
        size_t i = (size_t)(c - common);
        if (!(common_policy[i].allowed & MODE(v->mode)))
            return fail(v, TAFEL_E_BAD_REQUEST, key, "may not be sent when %s",
                        mode_verbs[v->mode]);
        enum tafel_err e = check_value(v, c, val);
        if (e == TAFEL_E_OK && common_policy[i].is_kind &&
            strcmp(json_string_value(val), v->def->name) != 0)
            e = fail(v, TAFEL_E_BAD_REQUEST, key, "must be \"%s\"", v->def->name);
        return e;
    }
    if (!f)
        return fail(v, TAFEL_E_BAD_REQUEST, key, "unknown field");
    if ((f->flags & TAFEL_FF_SERVER) && v->mode != TAFEL_V_STORED)
        return fail(v, TAFEL_E_BAD_REQUEST, key, "is set by the server");
    if (json_is_null(val)) {
        if (v->mode != TAFEL_V_PATCH)
            return fail(v, TAFEL_E_BAD_REQUEST, key, "null only removes a field in a patch");
        if (f->flags & TAFEL_FF_REQUIRED)
            return fail(v, TAFEL_E_BAD_REQUEST, key, "required, cannot be removed");
        return TAFEL_E_OK;
    }
    if (v->mode == TAFEL_V_PATCH && (f->flags & TAFEL_FF_IMMUTABLE))
        return fail(v, TAFEL_E_BAD_REQUEST, key, "cannot be changed");
    return check_value(v, f, val);
}

static enum tafel_err check_required(const struct vctx *v, const json_t *doc)
{
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    bool child = v->def->kind != TAFEL_KIND_OPGAVE;
    for (size_t i = 0; i < ncommon; i++) {
        unsigned req = common_policy[i].required | (child ? common_policy[i].required_child : 0);
        if ((req & MODE(v->mode)) && !json_object_get(doc, common[i].name))
            return fail(v, TAFEL_E_BAD_REQUEST, common[i].name, "required");
    }
    if (v->mode == TAFEL_V_PATCH)
        return TAFEL_E_OK;
    for (size_t i = 0; i < v->def->nfields; i++) {
        const struct tafel_field *f = &v->def->fields[i];
        bool client_sends = !(f->flags & TAFEL_FF_SERVER) || v->mode == TAFEL_V_STORED;
        if ((f->flags & TAFEL_FF_REQUIRED) && client_sends && !json_object_get(doc, f->name))
            return fail(v, TAFEL_E_BAD_REQUEST, f->name, "required");
    }
    return TAFEL_E_OK;
}

enum tafel_err tafel_schema_validate(enum tafel_kind kind, const json_t *doc,
                                     enum tafel_validate_mode mode, struct tafel_errinfo *info)
{
    const char *key;
    json_t *val;
    struct vctx v = {tafel_schema_kind(kind), mode, mode == TAFEL_V_PATCH ? "set" : "doc", info};
    if (!v.def || (int)mode < 0 || mode > TAFEL_V_STORED)
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "no such kind or mode");
    if (!json_is_object(doc))
        return fail(&v, TAFEL_E_BAD_REQUEST, NULL, "must be an object");
    /* json_object_foreach wants a mutable object; iteration changes nothing. */
    json_object_foreach((json_t *)doc, key, val)
    {
        enum tafel_err e = check_member(&v, key, val);
        if (e != TAFEL_E_OK)
            return e;
    }
    return check_required(&v, doc);
}

/* --------------------------------------------------------- flags */

/* Equal as stored values: JSON null and absence are the same. */
static bool same_value(const json_t *a, const json_t *b)
{
    /* null and absent are the same, and so are false and absent: a flag
     * such as `hidden` that was never set is not set. */
    a = json_is_null(a) || json_is_false(a) ? NULL : a;
    b = json_is_null(b) || json_is_false(b) ? NULL : b;
    if (!a || !b)
        return a == b;
    return json_equal(a, b);
}

bool tafel_schema_touches_flag(enum tafel_kind kind, const json_t *current, const json_t *set,
                               unsigned flag, const char **field)
{
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    if (!def || !json_is_object(set))
        return false;
    bool full = current == NULL || json_object_get(set, "id") != NULL;
    for (size_t i = 0; i < def->nfields; i++) {
        const struct tafel_field *f = &def->fields[i];
        const json_t *now = json_object_get(set, f->name);
        if (!(f->flags & flag) || (!now && !full))
            continue;
        if (!same_value(current ? json_object_get(current, f->name) : NULL, now)) {
            if (field)
                *field = f->name;
            return true;
        }
    }
    return false;
}

bool tafel_schema_has_secrets(enum tafel_kind kind)
{
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    for (size_t i = 0; def && i < def->nfields; i++)
        if (def->fields[i].flags & TAFEL_FF_SECRET)
            return true;
    return false;
}

bool tafel_schema_holds_secrets(enum tafel_kind kind, const json_t *doc)
{
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    for (size_t i = 0; def && i < def->nfields; i++)
        if ((def->fields[i].flags & TAFEL_FF_SECRET) && json_object_get(doc, def->fields[i].name))
            return true;
    return false;
}

void tafel_schema_strip_secrets(enum tafel_kind kind, json_t *doc)
{
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    for (size_t i = 0; def && i < def->nfields; i++)
        if (def->fields[i].flags & TAFEL_FF_SECRET)
            json_object_del(doc, def->fields[i].name);
}
