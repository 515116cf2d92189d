#!/usr/bin/python3
"""Live sessions: join codes, closing, presence, moderation, votes and the
gevoelsgrafiek, and the rate limit on guessing join codes."""
import asyncio
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (JOIN_ALPHABET, Client, TafelCase, async_test, main,  # noqa: E402
                           sample_doc, wrong_join_code)

CODE_RE = re.compile("^[%s]{8}$" % JOIN_ALPHABET)


class Table:
    """The presence list a client holds of one session: the full list it got
    first, with every delta since applied (docs/protocol.md, Presence)."""

    def __init__(self):
        self.members = {}
        self.messages = []

    def apply(self, m):
        self.messages.append(m)
        if "present" in m:
            self.members = {p["actor"]: p for p in m["present"]}
        for p in m.get("joined", []):
            self.members[p["actor"]] = p
        for actor in m.get("left", []):
            self.members.pop(actor, None)

    def names(self):
        return sorted(p.get("name") for p in self.members.values())


async def presence_until(c, table, pred, timeout=3.0):
    """Apply C's presence messages to TABLE until PRED(table) holds; returns
    the message that made it hold."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError("no matching presence; saw %s" % table.messages)
        m = await c.next_message(remaining, ("presence",))
        table.apply(m)
        if pred(table):
            return m


async def presences_for(c, seconds):
    """Every presence message C receives within SECONDS."""
    got = []
    while True:
        try:
            got.append(await c.next_message(seconds, ("presence",)))
        except AssertionError:  # the window passed with nothing more
            return got




class SessionTest(TafelCase):

    async def setup_session(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        _k, lkey = await adm.make_key("opgaveleider", [a], label="Leider")
        lead = await Client.auth(self.port, lkey)
        s = await lead.create("sessie", {"opgave": a, "question": "Wat maakt de buurt veilig?"})
        opened = await lead.ok({"type": "session.open", "id": s["id"]})
        return adm, a, lead, s["id"], opened

    @async_test()
    async def test_open_and_join(self):
        adm, a, lead, sid, opened = await self.setup_session()
        self.assertEqual(opened["id"], sid)
        self.assertEqual(opened["rev"], 2)
        self.assertEqual(opened["seq"], self.seq())
        code = opened["doc"]["join_code"]
        self.assertRegex(code, CODE_RE)
        self.assertEqual(opened["doc"]["state"], "open")
        inw = await Client.join(self.port, code, "Fatima")
        me = inw.me
        self.assertEqual(me["role"], "inwoner")
        self.assertEqual(me["name"], "Fatima")
        self.assertEqual(me["opgaven"], [a])
        self.assertEqual(me["session"], sid)
        self.assertIsInstance(me["actor"], str)
        self.assertEqual(me["seq"], self.seq())
        # Case-insensitive; every inwoner its own actor.
        inw2 = await Client.join(self.port, code.lower(), "Piet")
        self.assertNotEqual(inw2.me["actor"], me["actor"])
        # The inwoner reads the opgave, writes reflecties in its session.
        self.assertEqual((await inw.get("opgave", a))["id"], a)
        r = await inw.create("reflectie", {"opgave": a, "sort": "idee",
                                           "text": "Meer licht op het plein"})
        self.assertEqual(r.get("session"), sid)
        self.assertEqual(r["created_by"], me["actor"])
        self.assertEqual(r.get("author"), "Fatima")
        await inw.err({"type": "put", "kind": "moment",
                       "doc": sample_doc("moment", a)}, "forbidden")

    @async_test()
    async def test_close_session(self):
        adm, a, lead, sid, opened = await self.setup_session()
        code = opened["doc"]["join_code"]
        inw = await Client.join(self.port, code, "Fatima")
        _k, pkey = await adm.make_key("partner", [a])
        partner = await Client.auth(self.port, pkey)
        t0 = time.monotonic()
        closed = await lead.ok({"type": "session.close", "id": sid})
        self.assertEqual(closed["rev"], opened["rev"] + 1)
        self.assertEqual(closed["doc"]["state"], "gesloten")
        await inw.expect_close(4403, timeout=3)
        self.assertLess(time.monotonic() - t0, 1.5)
        # Key holders stay.
        await partner.ok({"type": "ping"})
        # The code stops working.
        c = await Client.open(self.port)
        await c.send({"type": "join", "req": 1, "code": code, "name": "Laat"})
        err = await c.next_message(types=("error",))
        self.assertEqual(err["code"], "unauthorized")
        await c.expect_close(4401)
        # Re-opening gives a fresh code.
        again = await lead.ok({"type": "session.open", "id": sid})
        code2 = again["doc"]["join_code"]
        self.assertRegex(code2, CODE_RE)
        self.assertNotEqual(code2, code)
        inw = await Client.join(self.port, code2, "Fatima")
        await lead.ok({"type": "session.close", "id": sid})
        await inw.expect_close(4403, timeout=3)
        # Neither code was logged.
        log = self.srv.log_text()
        for k in (code, code2):
            self.assertNotIn(k, log)
            self.assertNotIn(k.lower(), log)

    @async_test()
    async def test_presence(self):
        adm, a, lead, sid, opened = await self.setup_session()
        _k, wkey = await adm.make_key("waarnemer", [a])
        watcher = await Client.auth(self.port, wkey)
        await watcher.sub(a)  # a subscriber of the opgave, not at the table
        await lead.sub(a, session=sid)
        table = Table()
        p = await presence_until(lead, table, lambda t: "Leider" in t.names())
        self.assertEqual((p["session"], p["opgave"]), (sid, a))
        self.assertIn("present", p)  # sitting down: the full list first
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Fatima")
        mine = Table()
        await presence_until(inw, mine, lambda t: t.names() == ["Fatima", "Leider"])
        p = await presence_until(lead, table, lambda t: "Fatima" in t.names())
        self.assertEqual((p["session"], p["opgave"]), (sid, a))
        # then deltas only
        self.assertNotIn("present", p)
        self.assertDocSubset({"actor": inw.me["actor"], "name": "Fatima", "role": "inwoner"},
                             p["joined"][0])
        self.assertIn("Leider", table.names())
        self.assertNotIn("req", p)
        await inw.close()
        p = await presence_until(lead, table, lambda t: "Fatima" not in t.names())
        self.assertEqual(p["left"], [inw.me["actor"]])
        self.assertEqual(table.names(), ["Leider"])
        # Nobody outside the table hears of it.
        self.assertEqual(watcher.pending_messages(("presence",)), [])

    @async_test()
    async def test_presence_once_per_join_and_leave(self):
        # An inwoner that also subscribes naming its own session (as the web
        # page does) comes and goes once, not once per mechanism; news is
        # gathered, at most twice a second.
        adm, a, lead, sid, opened = await self.setup_session()
        await lead.sub(a, session=sid)
        table = Table()
        await presence_until(lead, table, lambda t: "Leider" in t.names())
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Fatima")
        await inw.sub(a, session=sid)
        got = await presences_for(lead, 1.0)
        self.assertEqual([[p["name"] for p in m["joined"]] for m in got], [["Fatima"]])
        await inw.close()
        got = await presences_for(lead, 1.0)
        self.assertEqual([(m["joined"], m["left"]) for m in got], [([], [inw.me["actor"]])])
        # closed by the server (the session ends): gone, and once
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Joost")
        await inw.sub(a, session=sid)
        await presences_for(lead, 1.0)
        await lead.ok({"type": "session.close", "id": sid})
        got = await presences_for(lead, 1.0)
        self.assertEqual([m["left"] for m in got], [[inw.me["actor"]]])
        await inw.close()

    @async_test()
    async def test_moderation(self):
        adm, a, lead, sid, opened = await self.setup_session()
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Joost")
        await inw.sub(a)
        await lead.sub(a)
        r = await inw.create("reflectie", {"opgave": a, "sort": "beter",
                                           "text": "De bus komt te laat"})
        ev = await lead.next_event(timeout=1)
        self.assertEqual(ev["doc"]["id"], r["id"])
        await inw.next_event(timeout=1)
        await inw.err({"type": "moderate", "id": r["id"], "action": "hide"}, "forbidden")
        await inw.err({"type": "moderate", "id": r["id"], "action": "pin"}, "forbidden")
        pin = await lead.ok({"type": "moderate", "id": r["id"], "action": "pin"})
        self.assertIs(pin["doc"]["pinned"], True)
        ev = await inw.next_event(timeout=1)
        self.assertEqual((ev["op"], ev["doc"]["pinned"]), ("put", True))
        hide = await lead.ok({"type": "moderate", "id": r["id"], "action": "hide"})
        ev = await inw.next_event(timeout=1)
        self.assertEqual((ev["op"], ev["seq"]), ("delete", hide["seq"]))
        await inw.err({"type": "get", "kind": "reflectie", "id": r["id"]}, "not_found")
        # The author cannot touch it any more.
        reply = await inw.request({"type": "patch", "kind": "reflectie", "id": r["id"],
                                   "set": {"text": "anders"}})
        self.assertIn(reply.get("code"), ("not_found", "forbidden"), reply)
        restore = await lead.ok({"type": "moderate", "id": r["id"], "action": "restore"})
        ev = await inw.next_event(timeout=1)
        self.assertEqual((ev["op"], ev["seq"], ev["doc"]["text"]),
                         ("put", restore["seq"], "De bus komt te laat"))
        # Moderation is audited.
        entries = (await adm.ok({"type": "audit.list", "limit": 1000}))["entries"]
        def names_(e, id_):  # `target` is the id, or "kind/id"
            t = e.get("target") or ""
            return t == id_ or t.endswith("/" + id_)
        self.assertTrue(any(names_(e, r["id"]) for e in entries), entries[-6:])
        self.assertTrue(any(names_(e, sid) for e in entries), entries[-6:])

    @async_test()
    async def test_premoderation(self):
        """Issue 12: in a pre-moderated session a contribution reaches the
        moderators first and everyone else only once approved."""
        adm = await self.admin()
        a = await adm.new_opgave()
        _k, lkey = await adm.make_key("opgaveleider", [a], label="Leider")
        lead = await Client.auth(self.port, lkey)
        s = await lead.create("sessie", {"opgave": a, "question": "Wat nu?", "premoderation": True})
        opened = await lead.ok({"type": "session.open", "id": s["id"]})
        _k, pkey = await adm.make_key("partner", [a], label="Partner")
        partner = await Client.auth(self.port, pkey)
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Sanne")
        for c in (lead, partner, inw):
            await c.sub(a)
        r = await inw.create("reflectie", {"opgave": a, "sort": "idee", "text": "Een bankje erbij"})
        self.assertEqual((r.get("pending"), r.get("hidden")), (True, True), r)
        ev = await lead.next_event(timeout=1)
        self.assertEqual((ev["op"], ev["doc"]["text"], ev["doc"]["pending"]),
                         ("put", "Een bankje erbij", True))
        for c in (partner, inw):  # nothing of its text reaches them
            ev = await c.next_event(timeout=1)
            self.assertEqual((ev["op"], ev["doc"]["id"]), ("delete", r["id"]))
            self.assertNotIn("text", ev["doc"])
            await c.err({"type": "get", "kind": "reflectie", "id": r["id"]}, "not_found")
            got = await c.ok({"type": "list", "opgave": a, "kind": "reflectie"})
            self.assertEqual(got["docs"], [])
        # Nobody sets pending or hidden by hand; a moderator approves.
        reply = await lead.request({"type": "patch", "kind": "reflectie", "id": r["id"],
                                    "set": {"hidden": False}})
        self.assertEqual(reply.get("code"), "bad_request", reply)
        ok = await lead.ok({"type": "moderate", "id": r["id"], "action": "approve",
                            "reason": "Netjes"})
        self.assertNotIn("pending", ok["doc"])
        self.assertIs(ok["doc"]["hidden"], False)
        for c in (partner, inw):
            ev = await c.next_event(timeout=1)
            self.assertEqual((ev["op"], ev["doc"]["text"], ev["seq"]),
                             ("put", "Een bankje erbij", ok["seq"]))
        # A moderator's own contribution does not wait; one that is
        # rejected (hidden) stays away and is no longer pending.
        own = await lead.create("reflectie", {"opgave": a, "session": s["id"], "sort": "goed",
                                              "text": "Fijn dat jullie er zijn"})
        self.assertNotIn("pending", own)
        r2 = await inw.create("reflectie", {"opgave": a, "sort": "idee", "text": "Spam spam"})
        rej = await lead.ok({"type": "moderate", "id": r2["id"], "action": "hide"})
        self.assertNotIn("pending", rej["doc"])
        self.assertIs(rej["doc"]["hidden"], True)
        entries = (await adm.ok({"type": "audit.list", "limit": 1000}))["entries"]
        mine = ("reflectie/" + r["id"], "reflectie/" + r2["id"])
        acts = [(e["detail"]["action"], e["detail"].get("reason")) for e in entries
                if e["action"] == "moderate" and e["target"] in mine]
        self.assertEqual(acts, [("approve", "Netjes"), ("hide", None)])
        # Without pre-moderation nothing waits.
        plain = await lead.create("sessie", {"opgave": a, "question": "En nu?"})
        self.assertNotIn("premoderation", plain)

    @async_test()
    async def test_premoderation_holds_edits_and_moves(self):
        """Red team: a partner's contribution that reaches a pre-moderated
        session by an edit (its text changed after approval, or its session
        set afterwards) waits for a moderator like a new one: nothing of the
        new text reaches the others first."""
        adm = await self.admin()
        a = await adm.new_opgave()
        _k, lkey = await adm.make_key("opgaveleider", [a], label="Leider")
        lead = await Client.auth(self.port, lkey)
        s = await lead.create("sessie", {"opgave": a, "question": "Wat nu?", "premoderation": True})
        opened = await lead.ok({"type": "session.open", "id": s["id"]})
        _k, pkey = await adm.make_key("partner", [a], label="Partner")
        partner = await Client.auth(self.port, pkey)
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Sanne")
        await inw.sub(a)
        # 1. Approved, then edited: the new text waits again.
        r = await partner.create("reflectie", {"opgave": a, "session": s["id"], "sort": "idee",
                                               "text": "Een bankje erbij"})
        self.assertIs(r.get("pending"), True)
        ok = await lead.ok({"type": "moderate", "id": r["id"], "action": "approve"})
        ev = await inw.next_event(timeout=2)  # its creation: a stub
        self.assertEqual((ev["op"], ev["doc"]["id"]), ("delete", r["id"]))
        ev = await inw.next_event(timeout=2)
        self.assertEqual(ev["doc"].get("text"), "Een bankje erbij")
        ed = await partner.ok({"type": "patch", "kind": "reflectie", "id": r["id"],
                               "rev": ok["rev"], "set": {"text": "ONGEMODEREERD scheldwoord"}})
        self.assertEqual((ed["doc"].get("pending"), ed["doc"].get("hidden")), (True, True), ed)
        ev = await inw.next_event(timeout=2)  # gone from the table until approved
        self.assertEqual((ev["op"], ev["doc"]["id"]), ("delete", r["id"]))
        self.assertNotIn("text", ev["doc"])
        # 2. Written outside any session, then moved into the pre-moderated one.
        r2 = await partner.create("reflectie", {"opgave": a, "sort": "idee",
                                                "text": "ONGEMODEREERD verhuisd"})
        ev = await inw.next_event(timeout=2)
        self.assertEqual(ev["doc"]["id"], r2["id"])
        mv = await partner.ok({"type": "patch", "kind": "reflectie", "id": r2["id"],
                               "set": {"session": s["id"]}})
        self.assertEqual((mv["doc"].get("pending"), mv["doc"].get("hidden")), (True, True), mv)
        # The inhabitant at the table got stubs only, and reads neither.
        got = await inw.collect(0.5)
        self.assertNotIn("ONGEMODEREERD", repr(got))
        for rid in (r["id"], r2["id"]):
            await inw.err({"type": "get", "kind": "reflectie", "id": rid}, "not_found")
        listed = await inw.ok({"type": "list", "opgave": a, "kind": "reflectie"})
        self.assertNotIn("ONGEMODEREERD", repr(listed))
        # A moderator's approval shows the edit.
        ok = await lead.ok({"type": "moderate", "id": r["id"], "action": "approve"})
        self.assertEqual(ok["doc"]["text"], "ONGEMODEREERD scheldwoord")
        self.assertIs(ok["doc"]["hidden"], False)

    @async_test()
    async def test_votes(self):
        adm, a, lead, sid, opened = await self.setup_session()
        code = opened["doc"]["join_code"]
        r = await adm.create("reflectie", {"opgave": a, "sort": "idee", "text": "Buurtfeest"})
        inw = await Client.join(self.port, code, "Anna")
        inw2 = await Client.join(self.port, code, "Bram")
        _k, pkey = await adm.make_key("partner", [a])
        partner = await Client.auth(self.port, pkey)
        _k, wkey = await adm.make_key("waarnemer", [a])
        watcher = await Client.auth(self.port, wkey)

        v = await inw.ok({"type": "vote", "id": r["id"], "value": True})
        self.assertEqual((v["doc"]["votes"], v["voted"]), (1, True))
        self.assertNotIn("voters", v["doc"])  # who voted is kept apart, not in the document
        v = await inw.ok({"type": "vote", "id": r["id"]})  # default true; once per actor
        self.assertEqual((v["doc"]["votes"], v["voted"]), (1, True))
        v = await inw2.ok({"type": "vote", "id": r["id"]})
        v = await partner.ok({"type": "vote", "id": r["id"], "value": True})
        self.assertEqual(v["doc"]["votes"], 3)
        v = await inw.ok({"type": "vote", "id": r["id"], "value": False})
        self.assertEqual((v["doc"]["votes"], v["voted"]), (2, False))
        v = await inw.ok({"type": "vote", "id": r["id"], "value": False})  # withdrawn once
        self.assertEqual(v["doc"]["votes"], 2)
        before = self.seq()
        await watcher.err({"type": "vote", "id": r["id"]}, "forbidden")
        self.assertEqual(self.seq(), before)
        self.assertEqual((await adm.get("reflectie", r["id"]))["votes"], 2)

    @async_test()
    async def test_feelings(self):
        adm, a, lead, sid, opened = await self.setup_session()
        m = await adm.create("moment", {"opgave": a, "date": "2024-06-01",
                                        "title": "Opening van het plein"})
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Anna")
        _k, wkey = await adm.make_key("waarnemer", [a])
        watcher = await Client.auth(self.port, wkey)
        f = await inw.ok({"type": "feel", "id": m["id"], "value": 2})
        self.assertEqual(f["doc"]["feelings"], {inw.me["actor"]: 2})
        f = await lead.ok({"type": "feel", "id": m["id"], "value": -2})
        self.assertEqual(f["doc"]["feelings"], {inw.me["actor"]: 2, lead.me["actor"]: -2})
        f = await inw.ok({"type": "feel", "id": m["id"], "value": 0})
        self.assertEqual(f["doc"]["feelings"][inw.me["actor"]], 0)
        before = self.seq()
        for v in (3, -3, 1.5, "1"):
            reply = await inw.err({"type": "feel", "id": m["id"], "value": v}, "bad_request")
            self.assertEqual(reply.get("field"), "value")
        await watcher.err({"type": "feel", "id": m["id"], "value": 1}, "forbidden")
        self.assertEqual(self.seq(), before)

    @async_test()
    async def test_only_moderators_open_sessions(self):
        adm, a, lead, sid, opened = await self.setup_session()
        s2 = await lead.create("sessie", {"opgave": a, "question": "Tweede"})
        for role in ("partner", "waarnemer"):
            _k, key = await adm.make_key(role, [a])
            c = await Client.auth(self.port, key)
            await c.err({"type": "session.open", "id": s2["id"]}, "forbidden")
            await c.err({"type": "session.close", "id": sid}, "forbidden")
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Kees")
        await inw.err({"type": "session.close", "id": sid}, "forbidden")
        await inw.ok({"type": "ping"})

    @async_test()
    async def test_inwoner_key_without_session(self):
        """An inwoner key (issued by an opgaveleider, no join code) writes
        reflecties outside any session; a joined inwoner's go to its session."""
        adm, a, lead, sid, opened = await self.setup_session()
        _k, key = await lead.make_key("inwoner", [a])
        c = await Client.auth(self.port, key)
        self.assertEqual(c.me["role"], "inwoner")
        r = await c.create("reflectie", {"opgave": a, "sort": "idee", "text": "Meer bankjes"})
        self.assertNotIn("session", r)
        r = await c.create("reflectie", {"opgave": a, "sort": "idee", "text": "In de sessie",
                                         "session": sid})
        self.assertEqual(r["session"], sid)
        joined = await Client.join(self.port, opened["doc"]["join_code"], "Ria")
        r = await joined.create("reflectie", {"opgave": a, "sort": "vraag", "text": "Wanneer?"})
        self.assertEqual(r["session"], sid)


class JoinRateLimitTest(TafelCase):

    @async_test(timeout=60)
    async def test_guessing_join_codes_is_rate_limited(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        s = await adm.open_session(a)
        code = s["join_code"]
        # 100 failures a minute per address (a town hall's Wi-Fi is one
        # address), each answered a second late; they run side by side.

        async def guess(i):
            c = await Client.open(self.port)
            t0 = time.monotonic()
            await c.send({"type": "join", "req": i, "code": wrong_join_code([code]),
                          "name": "Gok"})
            err = await c.next_message(timeout=10, types=("error",))
            self.assertEqual(err["code"], "unauthorized", "attempt %d: %s" % (i + 1, err))
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)  # the per-connection back-off
            await c.expect_close(4401, timeout=10)
        await asyncio.gather(*(guess(i) for i in range(100)))
        for attempt in (wrong_join_code([code]), code):
            c = await Client.open(self.port)
            await c.send({"type": "join", "req": 99, "code": attempt, "name": "Gok"})
            err = await c.next_message(types=("error",))
            self.assertEqual(err["code"], "rate_limited", err)
            self.assertEqual(err.get("req"), 99)
            await c.expect_close(4429)
        # Keys still work from the same address.
        c = await Client.auth(self.port, self.admin_key)
        await c.ok({"type": "ping"})


if __name__ == "__main__":
    main()
