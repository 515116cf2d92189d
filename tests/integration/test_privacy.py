#!/usr/bin/python3
"""An inhabitant's right of access and erasure (issue 12): `device.export`
and `device.erase` for everything one device token contributed, over the
wire and with `tafel device export|erase`.

The export is complete (its contributions, votes, feelings, display name,
session and join time) and holds nothing of other participants; the erasure
takes all of it away in one commit (subscribers see the deletions and the
changed counts as events, the change log keeps none of its text, the token
joins as a new participant), closes the device's connections (4403), and
both are audited with counts only. Nobody but the inhabitant itself and a
beheerder may ask, and a token that names no device is answered like a
wrong join code: not_found after a second.
"""
import asyncio
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import websockets.exceptions  # noqa: E402
from tafel_harness import ConnectionLost, Client, TafelCase, async_test, main  # noqa: E402
from test_cli import CliCase  # noqa: E402


async def join(port, code, name, device=None):
    """Join CODE as NAME, with DEVICE when given; asserts ok."""
    c = await Client.open(port)
    msg = {"type": "join", "code": code, "name": name}
    if device:
        msg["device"] = device
    reply = await c.request(msg)
    if reply.get("type") != "ok":
        raise AssertionError("join refused: %r" % (reply,))
    c.me = reply
    return c


def unknown_token():
    """A well-formed device token nobody was given."""
    import base64
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class Table:
    """A session with contributions, votes and feelings of two inhabitants
    (Fatima and Joost) and of key holders."""

    @classmethod
    async def make(cls, case):
        t = cls()
        t.adm = await case.admin()
        t.opgave = await t.adm.new_opgave()
        _k, lkey = await t.adm.make_key("opgaveleider", [t.opgave], label="Leider")
        t.lead = await Client.auth(case.port, lkey)
        s = await t.lead.create("sessie", {"opgave": t.opgave, "question": "Wat maakt het plein fijn?"})
        t.sid = s["id"]
        opened = await t.lead.ok({"type": "session.open", "id": t.sid})
        t.code = opened["doc"]["join_code"]
        t.fatima = await join(case.port, t.code, "Fatima")
        t.joost = await join(case.port, t.code, "Joost")
        t.f_token, t.f_actor = t.fatima.me["device"], t.fatima.me["actor"]
        t.j_token, t.j_actor = t.joost.me["device"], t.joost.me["actor"]
        f = t.fatima
        t.f1 = await f.create("reflectie", {"opgave": t.opgave, "sort": "idee",
                                            "text": "Meer licht op het plein, zegt Fatima"})
        t.f2 = await f.create("reflectie", {"opgave": t.opgave, "sort": "vraag",
                                            "text": "Waarom sluit het buurthuis om vijf uur?"})
        t.j1 = await t.joost.create("reflectie", {"opgave": t.opgave, "sort": "beter",
                                                  "text": "Joost vindt de bankjes te hard"})
        t.lead_r = await t.lead.create("reflectie", {"opgave": t.opgave, "session": t.sid,
                                                     "sort": "goed", "text": "Fijne avond"})
        t.m1 = await t.adm.create("moment", {"opgave": t.opgave, "date": "2024-06-01",
                                             "title": "Opening van het plein"})
        t.m2 = await t.adm.create("moment", {"opgave": t.opgave, "date": "2024-09-01",
                                             "title": "Zomerfeest"})
        for r in (t.j1, t.lead_r):
            await f.ok({"type": "vote", "id": r["id"]})
        for r in (t.f1, t.lead_r):
            await t.joost.ok({"type": "vote", "id": r["id"]})
        await t.lead.ok({"type": "vote", "id": t.f1["id"]})
        await f.ok({"type": "feel", "id": t.m1["id"], "value": 2})
        await t.joost.ok({"type": "feel", "id": t.m1["id"], "value": -1})
        await t.lead.ok({"type": "feel", "id": t.m2["id"], "value": 1})
        # One of hers hidden by the moderator: still hers, in the export.
        await t.lead.ok({"type": "moderate", "id": t.f2["id"], "action": "hide"})
        return t


class PrivacyTest(TafelCase):

    @async_test(timeout=90)
    async def test_export_is_complete_and_holds_nothing_of_others(self):
        t = await Table.make(self)
        for asker in (t.fatima, t.adm):
            reply = await asker.ok({"type": "device.export", "device": t.f_token})
            ex = reply["export"]
            self.assertEqual(ex["participant"], t.f_actor)
            self.assertEqual([(d["session"], d["opgave"], d["session_question"])
                              for d in ex["devices"]],
                             [(t.sid, t.opgave, "Wat maakt het plein fijn?")])
            self.assertRegex(ex["devices"][0]["joined_at"], r"^\d{4}-\d\d-\d\dT")
            self.assertEqual(ex["display_names"], ["Fatima"])
            got = {c["id"]: c for c in ex["contributions"]}
            self.assertEqual(set(got), {t.f1["id"], t.f2["id"]})
            self.assertEqual(got[t.f1["id"]]["text"], "Meer licht op het plein, zegt Fatima")
            self.assertEqual(got[t.f1["id"]]["votes"], 2)
            self.assertEqual(got[t.f1["id"]]["author"], "Fatima")
            self.assertIs(got[t.f2["id"]]["hidden"], True)
            self.assertEqual({v["reflectie"] for v in ex["votes"]}, {t.j1["id"], t.lead_r["id"]})
            self.assertEqual([(x["moment"], x["feeling"], x["title"], x["date"])
                              for x in ex["feelings"]],
                             [(t.m1["id"], 2, "Opening van het plein", "2024-06-01")])
            self.assertEqual(ex["counts"], {"contributions": 2, "votes": 2, "feelings": 1})
            self.assertIn("nl", ex["about"])
            text = json.dumps(ex, ensure_ascii=False)
            # Nothing of the others: their names, texts, actor ids, feelings.
            for other in ("Joost", "bankjes", "Fijne avond", t.j_actor, t.lead.me["actor"],
                          "Leider", "Zomerfeest", t.f_token):
                self.assertNotIn(other, text)
        # Joost's export is his, not hers.
        ex = (await t.joost.ok({"type": "device.export", "device": t.j_token}))["export"]
        self.assertEqual([c["id"] for c in ex["contributions"]], [t.j1["id"]])
        self.assertNotIn("Fatima", json.dumps(ex, ensure_ascii=False))
        # Audited: who asked, whose, counts; no name, no text, no token.
        entries = (await t.adm.ok({"type": "audit.list", "limit": 1000}))["entries"]
        mine = [e for e in entries if e["action"] == "device.export"]
        self.assertEqual([(e["actor"], e["target"]) for e in mine],
                         [(t.f_actor, "device/" + t.f_actor), (t.adm.me["actor"], "device/" + t.f_actor),
                          (t.j_actor, "device/" + t.j_actor)])
        self.assertEqual(mine[0]["detail"], {"participant": t.f_actor, "session": t.sid,
                                             "opgave": t.opgave, "contributions": 2, "votes": 2,
                                             "feelings": 1})
        for e in mine:
            for secret in ("Fatima", "Joost", t.f_token, t.j_token, "licht"):
                self.assertNotIn(secret, json.dumps(e, ensure_ascii=False))
        # Nothing was written by an export but the audit entries.
        before = self.seq()
        await t.adm.ok({"type": "device.export", "device": t.f_token})
        self.assertEqual(self.seq(), before)

    @async_test(timeout=90)
    async def test_erase_takes_everything_away(self):
        t = await Table.make(self)
        _k, wkey = await t.adm.make_key("waarnemer", [t.opgave])
        watcher = await Client.auth(self.port, wkey)
        await watcher.sub(t.opgave)
        await t.lead.sub(t.opgave)
        seq0 = self.seq()
        # A second connection of the same device (another tab).
        tab = await join(self.port, t.code, "Fatima", device=t.f_token)
        self.assertEqual(tab.me["actor"], t.f_actor)

        ok = await t.fatima.ok({"type": "device.erase", "device": t.f_token})
        self.assertEqual(ok["erased"], {"contributions": 2, "votes": 2, "feelings": 1,
                                        "devices": 1})
        self.assertEqual(ok["participant"], t.f_actor)
        self.assertEqual(ok["seq"], seq0 + 5)
        self.assertEqual(self.seq(), seq0 + 5)
        # Its connections are closed once the ok is out.
        await t.fatima.expect_close(4403)
        await tab.expect_close(4403)
        self.assertEqual(tab.close_reason, "erased")

        # Subscribers see it as any change: deletions, and the counts and
        # feelings that went down. A moderator sees the hidden one go too.
        def summary(events):
            out = {}
            for ev in events:
                d = ev["doc"]
                out[d["id"]] = (ev["op"], d.get("votes"), d.get("feelings"))
            return out
        lead_ev = [await t.lead.next_event() for _ in range(5)]
        self.assertEqual([e["seq"] for e in lead_ev], list(range(seq0 + 1, seq0 + 6)))
        got = summary(lead_ev)
        self.assertEqual(got[t.f1["id"]][0], "delete")
        self.assertEqual(got[t.f2["id"]][0], "delete")
        self.assertEqual(got[t.j1["id"]], ("put", 0, None))
        self.assertEqual(got[t.lead_r["id"]], ("put", 1, None))
        self.assertEqual(got[t.m1["id"]], ("put", None, {t.j_actor: -1}))
        for e in lead_ev:
            if e["op"] == "delete":
                self.assertEqual(set(e["doc"]), {"id", "kind", "opgave", "rev"})
        # The waarnemer never saw the hidden one: it hears of the rest.
        w_ev = [await watcher.next_event() for _ in range(4)]
        self.assertNotIn(t.f2["id"], summary(w_ev))
        self.assertEqual(summary(w_ev)[t.f1["id"]][0], "delete")
        await asyncio.sleep(0.3)
        self.assertEqual(watcher.pending_messages(("event",)), [])

        # Gone from the store: documents, votes, feelings.
        for r in (t.f1, t.f2):
            await t.adm.err({"type": "get", "kind": "reflectie", "id": r["id"]}, "not_found")
        self.assertEqual((await t.adm.get("reflectie", t.j1["id"]))["votes"], 0)
        self.assertEqual((await t.adm.get("reflectie", t.lead_r["id"]))["votes"], 1)
        self.assertEqual((await t.adm.get("moment", t.m1["id"]))["feelings"], {t.j_actor: -1})
        self.assertEqual((await t.adm.get("moment", t.m2["id"]))["feelings"],
                         {t.lead.me["actor"]: 1})
        # ... and from the change log: a replay from the start holds none of
        # her text, her name or her feeling.
        c = await Client.auth(self.port, self.admin_key)
        await c.ok({"type": "sub", "opgave": t.opgave, "since": 0}, timeout=10)
        replay = json.dumps(c.pending_messages(("event", "snapshot")), ensure_ascii=False)
        for gone in ("Meer licht", "buurthuis", "Fatima"):
            self.assertNotIn(gone, replay)
        self.assertNotIn('"%s":2' % t.f_actor, replay)
        self.assertNotIn('"%s": 2' % t.f_actor, replay)

        # The token joins as a new participant, with one vote again.
        again = await join(self.port, t.code, "Fatima", device=t.f_token)
        self.assertNotEqual(again.me["actor"], t.f_actor)
        self.assertNotEqual(again.me["device"], t.f_token)
        v = await again.ok({"type": "vote", "id": t.j1["id"]})
        self.assertEqual((v["doc"]["votes"], v["voted"]), (1, True))
        # The old token names nothing any more.
        await t.adm.err({"type": "device.export", "device": t.f_token}, "not_found")

        # Audited with counts, by who asked.
        entries = (await t.adm.ok({"type": "audit.list", "limit": 1000}))["entries"]
        erased = [e for e in entries if e["action"] == "device.erase"]
        self.assertEqual(len(erased), 1)
        self.assertEqual((erased[0]["actor"], erased[0]["target"]),
                         (t.f_actor, "device/" + t.f_actor))
        self.assertEqual(erased[0]["detail"], {"participant": t.f_actor, "session": t.sid,
                                               "opgave": t.opgave, "contributions": 2,
                                               "votes": 2, "feelings": 1, "devices": 1})
        self.assertNotIn("Fatima", json.dumps(erased, ensure_ascii=False))

        # A beheerder erases for Joost at the desk, with the token he shows.
        ok = await t.adm.ok({"type": "device.erase", "device": t.j_token})
        # (his vote on her deleted contribution went with it)
        self.assertEqual(ok["erased"], {"contributions": 1, "votes": 1, "feelings": 1,
                                        "devices": 1})
        await t.joost.expect_close(4403)
        await t.adm.err({"type": "get", "kind": "reflectie", "id": t.j1["id"]}, "not_found")
        self.assertEqual((await t.adm.get("reflectie", t.lead_r["id"]))["votes"], 0)
        self.assertNotIn("feelings", await t.adm.get("moment", t.m1["id"]))
        entries = (await t.adm.ok({"type": "audit.list", "limit": 1000}))["entries"]
        self.assertEqual([(e["actor"], e["target"]) for e in entries
                          if e["action"] == "device.erase"],
                         [(t.f_actor, "device/" + t.f_actor),
                          (t.adm.me["actor"], "device/" + t.j_actor)])
        # An erasure of a device that contributed nothing still ends it.
        quiet = await join(self.port, t.code, "Sam")
        ok = await t.adm.ok({"type": "device.erase", "device": quiet.me["device"]})
        self.assertEqual(ok["erased"], {"contributions": 0, "votes": 0, "feelings": 0,
                                        "devices": 1})
        await quiet.expect_close(4403)

    @async_test(timeout=90)
    async def test_nothing_of_the_device_commits_after_its_erasure(self):
        # Another tab of the same device keeps writing while it is erased:
        # what was sent before is erased with the rest, nothing after it.
        t = await Table.make(self)
        tab = await join(self.port, t.code, "Fatima", device=t.f_token)
        erase = await t.fatima.submit({"type": "device.erase", "device": t.f_token})
        puts = []
        for i in range(20):
            try:
                puts.append(await tab.submit({"type": "put", "kind": "reflectie",
                                              "doc": {"opgave": t.opgave, "sort": "idee",
                                                      "text": "Nog eentje %d" % i}}))
            except (ConnectionLost, websockets.exceptions.ConnectionClosed):
                break  # closed by the erasure meanwhile
        ok = await asyncio.wait_for(erase, 5)
        self.assertEqual(ok["type"], "ok", ok)
        # The tab is closed with 4403. A tab still sending while the server
        # closes it can have that close frame wiped by the TCP reset its own
        # late data causes (the peer then sees 1006): what this test is
        # about is that it is closed and nothing of it commits after.
        self.assertIn(await tab.expect_close(), (4403, 1006))
        for f in puts:
            try:
                self.assertIn((await f)["type"], ("ok", "error"))
            except ConnectionLost:
                pass  # never answered: its connection was closed first
        left = [r for r in await t.adm.list("reflectie", t.opgave)
                if r.get("created_by") == t.f_actor]
        self.assertEqual(left, [])

    @async_test(timeout=90)
    async def test_only_the_inhabitant_and_a_beheerder(self):
        t = await Table.make(self)
        other = await t.adm.new_opgave()
        before = self.seq()
        # Roles the request table refuses, whatever the token.
        _k, pkey = await t.adm.make_key("partner", [t.opgave])
        _k, wkey = await t.adm.make_key("waarnemer", [t.opgave])
        for c in (t.lead, await Client.auth(self.port, pkey), await Client.auth(self.port, wkey)):
            for typ in ("device.export", "device.erase"):
                reply = await c.err({"type": typ, "device": t.f_token}, "forbidden")
                self.assertEqual(reply.get("field"), "type")
        # Another inhabitant with her token: no device of his (after the delay).
        for typ in ("device.export", "device.erase"):
            t0 = time.monotonic()
            reply = await t.joost.err({"type": typ, "device": t.f_token}, "not_found")
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)
            self.assertEqual(reply.get("field"), "device")
        # A beheerder scoped to another opgave does not find it either.
        _k, skey = await t.adm.make_key("beheerder", [other])
        scoped = await Client.auth(self.port, skey)
        await scoped.err({"type": "device.erase", "device": t.f_token}, "not_found", timeout=5)
        # ... one scoped to hers does.
        _k, okey = await t.adm.make_key("beheerder", [t.opgave])
        mine = await Client.auth(self.port, okey)
        ex = (await mine.ok({"type": "device.export", "device": t.f_token}))["export"]
        self.assertEqual(ex["participant"], t.f_actor)
        # Nothing was erased by the refusals.
        self.assertEqual(self.seq(), before)
        self.assertEqual((await t.adm.get("reflectie", t.f1["id"]))["text"],
                         "Meer licht op het plein, zegt Fatima")
        await t.fatima.ok({"type": "ping"})
        # The field is required and checked like any.
        await t.adm.err({"type": "device.erase"}, "bad_request")
        await t.adm.err({"type": "device.export", "device": 7}, "bad_request")

    @async_test(timeout=60)
    async def test_unknown_token_is_not_found_after_the_delay(self):
        adm = await self.admin()
        for token in (unknown_token(), "niet-een-token"):
            for typ in ("device.export", "device.erase"):
                t0 = time.monotonic()
                reply = await adm.err({"type": typ, "device": token}, "not_found")
                elapsed = time.monotonic() - t0
                self.assertGreaterEqual(elapsed, 0.9, typ)
                self.assertLess(elapsed, 3.0, typ)
                self.assertEqual(reply.get("field"), "device")
        # The connection stays; a request sent meanwhile waits its turn.
        fut = await adm.submit({"type": "device.export", "device": unknown_token()})
        t0 = time.monotonic()
        pong = await adm.ok({"type": "ping"})
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertEqual((await fut)["code"], "not_found")
        self.assertEqual(pong["type"], "ok")
        # The token is in no log.
        self.assertNotIn("niet-een-token", self.srv.log_text())


class PrivacyCliTest(CliCase):
    """`tafel device export|erase TOKEN` as a beheerder at the desk."""

    async def inhabitant(self):
        adm = await Client.auth(self.port, self.admin_key)
        a = await adm.new_opgave()
        opened = await adm.open_session(a, "Wat wilt u op het plein?")
        inw = await join(self.port, opened["join_code"], "Anouk")
        r = await inw.create("reflectie", {"opgave": a, "sort": "idee",
                                           "text": "Een waterspeelplek voor de kinderen"})
        m = await adm.create("moment", {"opgave": a, "date": "2025-05-01", "title": "Schouw"})
        await inw.ok({"type": "feel", "id": m["id"], "value": -2})
        me = dict(inw.me)
        await inw.close()
        await adm.close()
        return me, r

    def test_export_and_erase(self):
        me, r = asyncio.run(self.inhabitant())
        token = me["device"]
        # For people, Dutch first.
        cp = self.ok("device", "export", token)
        self.assertIn("Anouk", cp.stdout)
        self.assertIn("Een waterspeelplek voor de kinderen", cp.stdout)
        self.assertIn("bijdragen: 1", cp.stdout.lower())
        cp = self.ok("--lang", "en", "device", "export", token)
        self.assertIn("contributions: 1", cp.stdout.lower())
        # "-": the token from standard input, out of ps and shell history.
        ex = self.js("device", "export", "-", stdin=token + "\n")
        self.assertEqual(ex["participant"], me["actor"])
        # For scripts: the document itself.
        ex = self.js("device", "export", token)
        self.assertEqual(ex["participant"], me["actor"])
        self.assertEqual([c["id"] for c in ex["contributions"]], [r["id"]])
        self.assertEqual(ex["feelings"][0]["feeling"], -2)
        # To a file (mode 0600: personal data).
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "export.json")
            cp = self.ok("device", "export", token, "--out", out)
            with open(out, encoding="utf-8") as f:
                self.assertEqual(json.load(f)["participant"], me["actor"])
            self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
            self.assertIn(out, cp.stdout)
        # Erasing asks first; without a terminal it refuses unless --yes.
        cp = self.fails(2, "device", "erase", token, stdin="ja\n")
        self.assertIn("--yes", cp.stderr)
        self.ok("device", "export", token)  # still there
        cp = self.ok("device", "erase", token, "--yes")
        self.assertIn("gewist", cp.stdout)
        self.fails(7, "device", "erase", token, "--yes")
        self.fails(7, "device", "export", token)
        got = self.js("reflectie", "list")
        self.assertNotIn(r["id"], [d["id"] for d in got])
        # --json: the server's answer.
        me2, _r = asyncio.run(self.inhabitant())
        res = self.js("device", "erase", me2["device"], "--yes")
        self.assertEqual(res["erased"]["contributions"], 1)
        # Usage: the token is needed; a partner may not.
        self.fails(2, "device", "export")
        self.fails(2, "device", "wis", token)
        partner = self.make_key("partner", self.new_opgave())["key"]
        self.fails(5, "device", "export", token, key=partner)

    def test_help(self):
        cp = self.ok("--help")
        self.assertIn("tafel device export TOKEN", cp.stdout)
        self.assertIn("tafel device erase TOKEN", cp.stdout)
        cp = self.ok("device", "--help")
        self.assertIn("--yes", cp.stdout)
        self.assertIn("bijgedragen", cp.stdout)
        cp = self.ok("--lang", "en", "device", "--help")
        self.assertIn("contributed", cp.stdout)


if __name__ == "__main__":
    main()
