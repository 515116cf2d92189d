#!/usr/bin/python3
"""Retention (issue 12, docs/privacy.md): tafeld applies its retention rules
by itself, on a timer, through the writer like any write, and audits each
run that changed something.

Run with terms of seconds (`--anonymise-after 3s`, `--retention-interval
1s`): an inwoner's name on its contributions becomes "Inwoner" once its
session has been closed for the term, in `get`, in the live event and in a
replay of the change log from 0; a hidden contribution is deleted once it
has been hidden for the term; earlier versions in the change log become
stubs while the current ones, and besluiten and opgaven (own terms), keep
their content; old audit entries go by their own term. And with long terms
nothing happens at all."""
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (Client, TafelCase, async_test, main, run_tafeld,  # noqa: E402
                           sample_doc)

TERM = 3.0  # seconds: the short terms of RetentionApplied
NEUTRAL = "Inwoner"
SLOW = float(os.environ.get("TAFEL_TEST_SLOW", "1"))


async def replay(port, key, opgave):
    """A fresh connection's `sub` with since 0: the events it replays."""
    c = await Client.auth(port, key)
    before, _ok = await c.sub(opgave, since=0, timeout=10)
    await c.close()
    return [m for m in before if m.get("type") == "event"]


def events_of(events, kind, id_):
    return [e for e in events if e["doc"].get("kind") == kind and e["doc"].get("id") == id_]


def is_stub(e):
    return e["op"] == "delete" and set(e["doc"]) <= {"id", "kind", "opgave", "rev"}


async def audit_entries(c, action=None):
    out, after = [], 0
    while True:
        reply = await c.ok({"type": "audit.list", "after": after, "limit": 1000})
        out += reply["entries"]
        if not reply.get("more"):
            break
        after = reply["next"]
    return [e for e in out if action is None or e["action"] == action]


async def until(pred, timeout, what):
    """Await PRED() (a coroutine function) until it returns a true value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout * SLOW
    while True:
        got = await pred()
        if got:
            return got
        if loop.time() > deadline:
            raise AssertionError("not within %.1f s: %s" % (timeout * SLOW, what))
        await asyncio.sleep(0.2)


class Scenario:
    """An opgave with a history: the opgave and a besluit and a partner's
    reflectie each edited once (two versions in the log), a session in which
    two inwoners wrote, one of them hidden by a moderator, then closed, and a
    second session that stays open."""

    async def build(self, case):
        adm = self.adm = await case.admin()
        a = self.opgave = await adm.new_opgave("Opgave veilige buurt")
        self.opgave_title = "Opgave veilige buurt"
        await adm.ok({"type": "patch", "kind": "opgave", "id": a,
                      "set": {"title": "Opgave veilige buurt en groen"}})
        b = await adm.create("besluit", dict(sample_doc("besluit", a), text="Besluit eerste tekst"))
        self.besluit = b["id"]
        await adm.ok({"type": "patch", "kind": "besluit", "id": b["id"],
                      "set": {"text": "Besluit tweede tekst"}})
        r = await adm.create("reflectie", {"opgave": a, "sort": "geleerd",
                                           "text": "Reflectie eerste versie"})
        self.partner = r["id"]
        await adm.ok({"type": "patch", "kind": "reflectie", "id": r["id"],
                      "set": {"text": "Reflectie tweede versie"}})
        # Subscribed before anything happens to the contributions: sees the
        # rules' changes live.
        self.watcher = await case.admin()
        await self.watcher.sub(a)
        s = await adm.open_session(a)
        self.session = s["id"]
        s2 = await adm.open_session(a, "Blijft open")
        inw = await Client.join(case.port, s["join_code"], "Marieke de Vries")
        self.mine = (await inw.create("reflectie", {"opgave": a, "sort": "idee",
                                                    "text": "Meer bankjes op het plein"}))["id"]
        rude = await Client.join(case.port, s["join_code"], "Kees Jansen")
        self.hidden = (await rude.create("reflectie", {"opgave": a, "sort": "idee",
                                                       "text": "Iets onaardigs"}))["id"]
        await adm.ok({"type": "moderate", "id": self.hidden, "action": "hide",
                      "reason": "kwetsend"})
        still = await Client.join(case.port, s2["join_code"], "Fatima El Amrani")
        self.open_one = (await still.create("reflectie", {"opgave": a, "sort": "vraag",
                                                          "text": "Wanneer begint het?"}))["id"]
        await adm.ok({"type": "session.close", "id": s["id"]})
        self.closed_at = time.monotonic()
        return self


class RetentionApplied(TafelCase):
    SERVER_ARGS = ("--anonymise-after", "3s", "--delete-hidden-after", "3s",
                   "--strip-log-after", "3s", "--retention-interval", "1s")

    @async_test(timeout=120)
    async def test_rules_applied_after_their_terms(self):
        sc = await Scenario().build(self)
        adm, a = sc.adm, sc.opgave

        # Before the term: nothing has changed.
        got = await adm.get("reflectie", sc.mine)
        self.assertEqual(got["author"], "Marieke de Vries")
        self.assertEqual(got["author_role"], "inwoner")
        h = await adm.get("reflectie", sc.hidden)
        self.assertTrue(h["hidden"])
        self.assertIn("hidden_at", h)  # the moment the term counts from

        # The name becomes the neutral label, not before the term.
        async def anonymised():
            return (await adm.get("reflectie", sc.mine))["author"] == NEUTRAL
        await until(anonymised, TERM + 8, "the inwoner's name anonymised")
        self.assertGreaterEqual(time.monotonic() - sc.closed_at, TERM - 0.5)
        got = await adm.get("reflectie", sc.mine)
        self.assertEqual(got["author_role"], "inwoner")
        self.assertEqual(got["text"], "Meer bankjes op het plein")
        self.assertEqual(got["by"], "tafeld")

        # The hidden contribution is deleted.
        async def deleted():
            r = await adm.request({"type": "get", "kind": "reflectie", "id": sc.hidden})
            return r.get("code") == "not_found"
        await until(deleted, TERM + 8, "the hidden contribution deleted")

        # Outside the closed session nothing changes.
        self.assertEqual((await adm.get("reflectie", sc.open_one))["author"], "Fatima El Amrani")

        # Subscribers saw both as events, like any write's.
        seen = await sc.watcher.collect(1.0, ("event",))
        seen = sc.watcher.skipped + seen
        puts = [e for e in seen if e.get("type") == "event" and e["op"] == "put"
                and e["doc"].get("id") == sc.mine]
        self.assertTrue(puts and puts[-1]["doc"]["author"] == NEUTRAL, seen)
        dels = [e for e in seen if e.get("type") == "event" and e["op"] == "delete"
                and e["doc"].get("id") == sc.hidden]
        self.assertTrue(dels and is_stub(dels[-1]), seen)

        # A replay from 0 keeps no name and no removed text; earlier
        # versions are stubs, the current ones and besluit/opgave are whole.
        async def stubbed():
            ev = await replay(self.port, self.admin_key, a)
            first = [e for e in events_of(ev, "reflectie", sc.partner) if e["doc"]["rev"] == 1]
            return ev if first and is_stub(first[0]) else None
        ev = await until(stubbed, TERM + 8, "the partner's first version stubbed")
        text = json.dumps(ev)
        for gone in ("Marieke de Vries", "Kees Jansen", "Iets onaardigs",
                     "Reflectie eerste versie"):
            self.assertNotIn(gone, text)
        self.assertIn("Fatima El Amrani", text)
        partner = events_of(ev, "reflectie", sc.partner)
        self.assertEqual(partner[-1]["op"], "put")
        self.assertEqual(partner[-1]["doc"]["text"], "Reflectie tweede versie")
        mine = events_of(ev, "reflectie", sc.mine)
        self.assertEqual(mine[-1]["doc"]["author"], NEUTRAL)
        self.assertTrue(all(is_stub(e) for e in mine[:-1]), mine)
        self.assertTrue(all(is_stub(e) for e in events_of(ev, "reflectie", sc.hidden)))
        besluit = events_of(ev, "besluit", sc.besluit)
        self.assertEqual([e["op"] for e in besluit], ["put", "put"])
        self.assertEqual(besluit[0]["doc"]["text"], "Besluit eerste tekst")
        opgave = events_of(ev, "opgave", a)
        self.assertEqual([e["op"] for e in opgave], ["put", "put"])
        self.assertEqual(opgave[0]["doc"]["title"], sc.opgave_title)

        # Each run left an audit entry with its counts.
        async def counted():
            runs = await audit_entries(adm, "retention")
            total = {k: sum(r["detail"][k] for r in runs)
                     for k in ("names_anonymised", "hidden_deleted", "log_entries_stripped",
                               "audit_entries_removed")}
            return (runs, total) if total["log_entries_stripped"] else None
        runs, total = await until(counted, 5, "a retention entry counting stripped entries")
        self.assertEqual(total["names_anonymised"], 1)
        self.assertEqual(total["hidden_deleted"], 1)
        self.assertEqual(total["audit_entries_removed"], 0)
        for r in runs:
            self.assertEqual(r["actor"], "tafeld")
            self.assertEqual(r["detail"]["terms"]["anonymise_after"], "3s")
            self.assertEqual(r["detail"]["terms"]["retain_besluit"], "keep")
        self.assertIn("retention run:", self.srv.log_text())


class RetentionNotYet(TafelCase):
    """Terms of an hour, runs every second: several runs, no change."""
    SERVER_ARGS = ("--anonymise-after", "1h", "--delete-hidden-after", "1h",
                   "--strip-log-after", "1h", "--retain-besluit", "1h", "--retain-opgave", "1h",
                   "--retain-audit", "1h", "--retention-interval", "1s")

    @async_test(timeout=60)
    async def test_nothing_before_the_terms(self):
        sc = await Scenario().build(self)
        adm = sc.adm
        await asyncio.sleep(3.5)
        self.assertGreaterEqual(self.srv.log_text().count("retention run:"), 3)  # one a second
        self.assertEqual((await adm.get("reflectie", sc.mine))["author"], "Marieke de Vries")
        self.assertTrue((await adm.get("reflectie", sc.hidden))["hidden"])
        ev = await replay(self.port, self.admin_key, sc.opgave)
        partner = events_of(ev, "reflectie", sc.partner)
        self.assertEqual([e["op"] for e in partner], ["put", "put"])
        self.assertEqual(partner[0]["doc"]["text"], "Reflectie eerste versie")
        self.assertIn("Marieke de Vries", json.dumps(ev))
        # Every run is audited, also one that changed nothing.
        runs = await audit_entries(adm, "retention")
        self.assertGreaterEqual(len(runs), 3)
        for r in runs:
            self.assertEqual((r["detail"]["names_anonymised"], r["detail"]["hidden_deleted"],
                              r["detail"]["log_entries_stripped"],
                              r["detail"]["audit_entries_removed"]), (0, 0, 0, 0))
        self.assertTrue(await audit_entries(adm, "key.create"))


class RetentionArchive(TafelCase):
    """Besluiten, opgaven and the audit trail by their own terms, while the
    other kinds' versions are kept (--strip-log-after 0)."""
    SERVER_ARGS = ("--anonymise-after", "0", "--delete-hidden-after", "0",
                   "--strip-log-after", "0", "--retain-besluit", "2s", "--retain-opgave", "2s",
                   "--retain-audit", "3s", "--retention-interval", "1s")

    @async_test(timeout=90)
    async def test_own_terms(self):
        adm = await self.admin()
        a = await adm.new_opgave("Opgave eerste titel")
        await adm.ok({"type": "patch", "kind": "opgave", "id": a, "set": {"title": "Tweede"}})
        b = await adm.create("besluit", dict(sample_doc("besluit", a), text="Besluit een"))
        await adm.ok({"type": "patch", "kind": "besluit", "id": b["id"],
                      "set": {"text": "Besluit twee"}})
        r = await adm.create("reflectie", {"opgave": a, "sort": "goed", "text": "Versie een"})
        await adm.ok({"type": "patch", "kind": "reflectie", "id": r["id"],
                      "set": {"text": "Versie twee"}})
        first = await audit_entries(adm)
        self.assertTrue(first)
        newest_before = max(e["n"] for e in first)

        async def stubbed():
            ev = await replay(self.port, self.admin_key, a)
            bs, os_ = events_of(ev, "besluit", b["id"]), events_of(ev, "opgave", a)
            return ev if is_stub(bs[0]) and is_stub(os_[0]) else None
        ev = await until(stubbed, 10, "besluit and opgave first versions stubbed")
        self.assertEqual(events_of(ev, "besluit", b["id"])[-1]["doc"]["text"], "Besluit twee")
        self.assertEqual(events_of(ev, "opgave", a)[-1]["doc"]["title"], "Tweede")
        refl = events_of(ev, "reflectie", r["id"])
        self.assertEqual([e["doc"].get("text") for e in refl], ["Versie een", "Versie twee"])

        # The audit entries of the set-up go after their term; the numbers
        # of new entries go on from the old ones.
        old = {e["n"] for e in first}

        async def expired():
            now = await audit_entries(adm)
            removed = sum(e["detail"]["audit_entries_removed"]
                          for e in now if e["action"] == "retention")
            return now if removed and not old & {e["n"] for e in now} else None
        now = await until(expired, 12, "the old audit entries removed, and that audited")
        for e in now:
            self.assertEqual(e["action"], "retention")  # all that is left is young
        await adm.make_key("waarnemer", [a])
        latest = await audit_entries(adm)
        self.assertGreater(max(e["n"] for e in latest), newest_before)


class RetentionOptions(TafelCase):

    def test_help_and_bad_durations(self):
        text = run_tafeld(["--help"]).stdout
        for opt in ("--anonymise-after", "--delete-hidden-after", "--strip-log-after",
                    "--retain-besluit", "--retain-opgave", "--retain-audit",
                    "--retention-interval"):
            self.assertIn(opt, text)
        for bad in ("30", "-1d", "3x", "d", "inf d", "1e9y", "0.5"):
            cp = run_tafeld(["serve", "--data", self.data, "--anonymise-after", bad])
            self.assertEqual(cp.returncode, 2, (bad, cp.stderr))
            self.assertIn("--anonymise-after", cp.stderr)
        cp = run_tafeld(["serve", "--data", self.data, "--retention-interval", "100ms"])
        self.assertEqual(cp.returncode, 2)


if __name__ == "__main__":
    main()
