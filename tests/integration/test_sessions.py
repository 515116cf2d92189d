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


async def presence_until(c, pred, timeout=3.0):
    """Presence messages until one satisfies PRED; returns it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = []
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError("no matching presence; saw %s" % seen)
        m = await c.next_message(remaining, ("presence",))
        seen.append(m)
        if pred(m):
            return m


async def presences_for(c, seconds):
    """Every presence message C receives within SECONDS."""
    got = []
    while True:
        try:
            got.append(await c.next_message(seconds, ("presence",)))
        except AssertionError:  # the window passed with nothing more
            return got


def names(presence):
    return sorted(p.get("name") for p in presence["present"])


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
        await watcher.sub(a)  # a subscriber of the opgave, not present itself
        await lead.sub(a, session=sid)
        p = await presence_until(lead, lambda m: "Leider" in names(m))
        self.assertEqual((p["session"], p["opgave"]), (sid, a))
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Fatima")
        for c in (lead, watcher):
            p = await presence_until(c, lambda m: "Fatima" in names(m))
            self.assertEqual((p["session"], p["opgave"]), (sid, a))
            entry = [e for e in p["present"] if e.get("name") == "Fatima"][0]
            self.assertDocSubset({"actor": inw.me["actor"], "name": "Fatima",
                                  "role": "inwoner"}, entry)
            self.assertIn("Leider", names(p))
            self.assertNotIn("req", p)
        await inw.close()
        for c in (lead, watcher):
            p = await presence_until(c, lambda m: "Fatima" not in names(m))
            self.assertIn("Leider", names(p))

    @async_test()
    async def test_presence_once_per_join_and_leave(self):
        # An inwoner that also subscribes naming its own session (as the web
        # page does) comes and goes once, not once per mechanism.
        adm, a, lead, sid, opened = await self.setup_session()
        await lead.sub(a, session=sid)
        await presence_until(lead, lambda m: "Leider" in names(m))
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Fatima")
        await inw.sub(a, session=sid)
        got = await presences_for(lead, 0.5)
        self.assertEqual([names(m) for m in got], [["Fatima", "Leider"]])
        await inw.close()
        got = await presences_for(lead, 0.5)
        self.assertEqual([names(m) for m in got], [["Leider"]])
        # closed by the server (the session ends): gone at once, and once
        inw = await Client.join(self.port, opened["doc"]["join_code"], "Joost")
        await inw.sub(a, session=sid)
        await presences_for(lead, 0.5)
        await lead.ok({"type": "session.close", "id": sid})
        got = await presences_for(lead, 0.5)
        self.assertEqual([names(m) for m in got], [["Leider"]])
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
        self.assertEqual(v["doc"]["votes"], 1)
        self.assertEqual(v["doc"]["voters"], [inw.me["actor"]])
        v = await inw.ok({"type": "vote", "id": r["id"]})  # default true; once per actor
        self.assertEqual(v["doc"]["votes"], 1)
        v = await inw2.ok({"type": "vote", "id": r["id"]})
        v = await partner.ok({"type": "vote", "id": r["id"], "value": True})
        self.assertEqual(v["doc"]["votes"], 3)
        self.assertEqual(sorted(v["doc"]["voters"]),
                         sorted([inw.me["actor"], inw2.me["actor"], partner.me["actor"]]))
        v = await inw.ok({"type": "vote", "id": r["id"], "value": False})
        self.assertEqual(v["doc"]["votes"], 2)
        self.assertNotIn(inw.me["actor"], v["doc"]["voters"])
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
        for i in range(10):
            c = await Client.open(self.port)
            await c.send({"type": "join", "req": i, "code": wrong_join_code([code]),
                          "name": "Gok"})
            err = await c.next_message(types=("error",))
            self.assertEqual(err["code"], "unauthorized", "attempt %d: %s" % (i + 1, err))
            await c.expect_close(4401)
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
