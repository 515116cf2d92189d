#!/usr/bin/python3
"""Every error code a client can provoke, and that an error leaves the
connection open and changes nothing stored (docs/protocol.md "Envelope",
"Durability and conflicts", "Rate limits")."""
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (ERROR_CODES, Client, TafelCase, async_test, main,  # noqa: E402
                           sample_doc)


class ErrorsTest(TafelCase):

    async def setup_docs(self, adm):
        a = await adm.new_opgave()
        al = await adm.create("actielijn", sample_doc("actielijn", a))
        ind = await adm.create("indicator", sample_doc("indicator", a))
        return a, al, ind

    def check_error(self, reply, code, field=None, req=None):
        self.assertEqual(reply.get("type"), "error", reply)
        self.assertEqual(reply.get("code"), code, reply)
        self.assertIn(reply["code"], ERROR_CODES)
        self.assertIsInstance(reply.get("message"), str, reply)
        if field is not None:
            self.assertEqual(reply.get("field"), field, reply)
        if req is not None:
            self.assertEqual(reply.get("req"), req, reply)

    @async_test()
    async def test_bad_request_names_the_field(self):
        adm = await self.admin()
        a, al, ind = await self.setup_docs(adm)
        lid = await adm.create("lid", sample_doc("lid", a))
        cases = [
            ({"type": "banaan"}, "type"),
            ({"type": 5}, "type"),
            ({"type": "ping", "bogus": 1}, "bogus"),
            ({"type": "get", "kind": "opgave"}, "id"),
            ({"type": "get", "kind": "opgave", "id": 5}, "id"),
            ({"type": "get", "kind": "banaan", "id": a}, "kind"),
            ({"type": "get", "kind": 3, "id": a}, "kind"),
            ({"type": "list", "kind": "banaan"}, "kind"),
            ({"type": "list", "kind": "opgave", "limit": 0}, "limit"),
            ({"type": "list", "kind": "opgave", "limit": 1001}, "limit"),
            ({"type": "put", "kind": "opgave"}, "doc"),
            ({"type": "put", "kind": "opgave", "doc": "titel"}, "doc"),
            ({"type": "put", "kind": "opgave", "doc": {}}, "doc.title"),
            ({"type": "put", "kind": "actielijn", "doc": {"title": "x"}}, "doc.opgave"),
            ({"type": "put", "kind": "actielijn", "doc": {"opgave": a, "title": 5}},
             "doc.title"),
            ({"type": "put", "kind": "actielijn",
              "doc": {"opgave": a, "title": "x", "bogus": 1}}, "doc.bogus"),
            ({"type": "put", "kind": "actielijn",
              "doc": {"opgave": a, "title": "x", "created_at": "2025-01-01T00:00:00Z"}},
             "doc.created_at"),
            ({"type": "put", "kind": "indicator",
              "doc": {"opgave": a, "title": "x", "type": "banaan"}}, "doc.type"),
            ({"type": "put", "kind": "meting",
              "doc": {"opgave": a, "indicator": ind["id"], "date": "2025-02-30", "value": 1}},
             "doc.date"),
            ({"type": "put", "kind": "meting",
              "doc": {"opgave": a, "indicator": ind["id"], "date": "2025-02-03",
                      "value": "1"}}, "doc.value"),
            ({"type": "put", "kind": "reflectie",
              "doc": {"opgave": a, "sort": "slecht", "text": "x"}}, "doc.sort"),
            ({"type": "put", "kind": "lid",
              "doc": {"opgave": a, "actor": "abc", "name": "x", "role": "koning"}},
             "doc.role"),
            ({"type": "patch", "kind": "actielijn", "id": al["id"], "set": {"bogus": 1}},
             "set.bogus"),
            ({"type": "patch", "kind": "actielijn", "id": al["id"], "set": {"title": 5}},
             "set.title"),
            ({"type": "patch", "kind": "actielijn", "id": al["id"]}, "set"),
            ({"type": "patch", "kind": "actielijn", "id": al["id"], "set": {}}, "set"),
            ({"type": "patch", "kind": "actielijn", "id": al["id"], "set": {"title": None}},
             "set.title"),
            ({"type": "patch", "kind": "actielijn", "id": al["id"],
              "set": {"created_by": "x"}}, "set.created_by"),
            ({"type": "patch", "kind": "lid", "id": lid["id"], "set": {"actor": "anders"}},
             "set.actor"),
            ({"type": "put", "kind": "opgave", "doc": {"title": "x", "complexity": 2.0}},
             "doc.complexity"),
            ({"type": "put", "kind": "opgave", "doc": {"title": "x", "complexity": 6}},
             "doc.complexity"),
            ({"type": "put", "kind": "opgave", "doc": {"title": "a\u0001b"}}, "doc.title"),
            ({"type": "put", "kind": "opgave", "doc": {"title": ""}}, "doc.title"),
            ({"type": "put", "kind": "opgave", "doc": {"title": "x", "traffic_light": "blauw"}},
             "doc.traffic_light"),
            ({"type": "put", "kind": "moment",
              "doc": {"opgave": a, "date": "1899-12-31", "title": "x"}}, "doc.date"),
            ({"type": "put", "kind": "moment",
              "doc": {"opgave": a, "date": "2025-1-5", "title": "x"}}, "doc.date"),
            ({"type": "put", "kind": "reflectie",
              "doc": {"opgave": a, "sort": "idee", "text": "x", "votes": 5}}, "doc.votes"),
            ({"type": "put", "kind": "actielijn",
              "doc": {"opgave": a, "title": "x", "kind": "indicator"}}, "doc.kind"),
            ({"type": "put", "kind": "actielijn",
              "doc": {"opgave": a, "title": "x", "rev": 1}}, "doc.rev"),
            ({"type": "delete", "kind": "actielijn", "id": al["id"]}, "rev"),
            ({"type": "delete", "kind": "actielijn", "id": al["id"], "rev": "1"}, "rev"),
            ({"type": "sub"}, "opgave"),
            ({"type": "sub", "opgave": a, "since": "1"}, "since"),
            ({"type": "moderate", "id": al["id"], "action": "burn"}, "action"),
            ({"type": "feel", "id": al["id"], "value": 3}, "value"),
            ({"type": "key.create", "role": "koning", "opgaven": [a], "label": "x"}, "role"),
            ({"type": "key.revoke"}, "key_id"),
        ]
        before = self.seq()
        for msg, field in cases:
            with self.subTest(msg=json.dumps(msg)[:90]):
                reply = await adm.request(msg)
                self.check_error(reply, "bad_request", field)
        # Still open, nothing stored.
        await adm.ok({"type": "ping"})
        self.assertEqual(self.seq(), before)
        self.assertEqual((await adm.get("actielijn", al["id"]))["rev"], 1)

    @async_test()
    async def test_unparsable_messages(self):
        adm = await self.admin()
        before = self.seq()
        for text in ("not json", "[1,2,3]", "\"hallo\"", "{\"type\":\"ping\",", "{}",
                     json.dumps({"type": "ping", "req": {"a": 1}}),
                     json.dumps({"type": "ping", "req": [1]}),
                     json.dumps({"type": "ping", "req": "x" * 129})):
            with self.subTest(text=text[:40]):
                await adm.send_text(text)
                err = await adm.next_message(types=("error",))
                self.assertEqual(err.get("code"), "bad_request", err)
        await adm.ok({"type": "ping"})
        self.assertEqual(self.seq(), before)

    @async_test()
    async def test_structure_limits_keep_connection(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        before = self.seq()
        deep = "x"
        for _ in range(10):
            deep = {"a": deep}
        cases = [
            {"type": "put", "kind": "actielijn",
             "doc": {"opgave": a, "title": "diep", "extra": deep}},
            {"type": "put", "kind": "actielijn",
             "doc": {"opgave": a, "title": "lang", "extra": list(range(1001))}},
            {"type": "put", "kind": "actielijn",
             "doc": dict({"opgave": a, "title": "breed"},
                         **{"f%d" % i: i for i in range(300)})},
        ]
        for msg in cases:
            with self.subTest(msg=msg["doc"]["title"]):
                reply = await adm.request(msg)
                self.assertEqual(reply.get("type"), "error", str(reply)[:300])
                self.assertIn(reply.get("code"), ("bad_request", "too_large"), reply)
        await adm.ok({"type": "ping"})
        self.assertEqual(self.seq(), before)

    @async_test()
    async def test_second_hello_is_bad_request(self):
        adm = await self.admin()
        reply = await adm.request({"type": "hello", "key": self.admin_key})
        self.check_error(reply, "bad_request")
        reply = await adm.request({"type": "join", "code": "ABCDEFGH", "name": "x"})
        self.check_error(reply, "bad_request")
        await adm.ok({"type": "ping"})

    @async_test()
    async def test_unauthorized(self):
        c = await Client.open(self.port)
        await c.send({"type": "put", "req": 9, "kind": "opgave", "doc": {"title": "x"}})
        err = await c.next_message(types=("error",))
        self.check_error(err, "unauthorized", req=9)
        await c.expect_close(4401)

    @async_test()
    async def test_forbidden(self):
        adm = await self.admin()
        a, al, _ind = await self.setup_docs(adm)
        _kid, key = await adm.make_key("waarnemer", [a])
        w = await Client.auth(self.port, key)
        before = self.seq()
        for msg in (
            {"type": "put", "kind": "actielijn", "doc": sample_doc("actielijn", a)},
            {"type": "patch", "kind": "actielijn", "id": al["id"], "set": {"title": "nee"}},
            {"type": "delete", "kind": "actielijn", "id": al["id"], "rev": 1},
            {"type": "key.list"},
            {"type": "audit.list"},
        ):
            with self.subTest(type=msg["type"]):
                self.check_error(await w.request(msg), "forbidden")
        await w.ok({"type": "ping"})
        self.assertEqual(self.seq(), before)
        self.assertEqual((await adm.get("actielijn", al["id"]))["rev"], 1)

    @async_test()
    async def test_not_found(self):
        adm = await self.admin()
        a, al, ind = await self.setup_docs(adm)
        before = self.seq()
        for msg in (
            {"type": "get", "kind": "actielijn", "id": "nietbestaand1"},
            {"type": "get", "kind": "indicator", "id": al["id"]},  # wrong kind
            {"type": "patch", "kind": "actielijn", "id": "nietbestaand1", "set": {"title": "x"}},
            {"type": "delete", "kind": "actielijn", "id": "nietbestaand1", "rev": 1},
            {"type": "put", "kind": "actielijn",
             "doc": dict(sample_doc("actielijn", a), id="nietbestaand1", rev=1)},
            {"type": "moderate", "id": "nietbestaand1", "action": "hide"},
            {"type": "session.open", "id": "nietbestaand1"},
            {"type": "key.revoke", "key_id": "nietbestaand1"},
        ):
            with self.subTest(type=msg["type"], kind=msg.get("kind")):
                self.check_error(await adm.request(msg), "not_found")
        await adm.ok({"type": "ping"})
        self.assertEqual(self.seq(), before)

    @async_test()
    async def test_conflict_on_stale_rev(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        doc = await adm.create("actielijn", sample_doc("actielijn", a))
        self.assertEqual(doc["rev"], 1)
        p = await adm.ok({"type": "patch", "kind": "actielijn", "id": doc["id"], "rev": 1,
                          "set": {"title": "Tweede versie"}})
        self.assertEqual(p["rev"], 2)
        before = self.seq()
        self.assertEqual(p["seq"], before)

        stale_put = dict(doc, title="Verouderd")
        for k in ("created_at", "updated_at", "by", "created_by", "kind"):
            stale_put.pop(k, None)
        cases = {
            "put": {"type": "put", "kind": "actielijn", "doc": stale_put},
            "patch": {"type": "patch", "kind": "actielijn", "id": doc["id"], "rev": 1,
                      "set": {"title": "Verouderd"}},
            "delete": {"type": "delete", "kind": "actielijn", "id": doc["id"], "rev": 1},
        }
        for name, msg in cases.items():
            with self.subTest(op=name):
                reply = await adm.request(msg)
                self.check_error(reply, "conflict")
                self.assertEqual(reply.get("field"), "rev", reply)
                cur = reply.get("current")
                self.assertIsInstance(cur, dict, reply)
                self.assertEqual(cur["id"], doc["id"])
                self.assertEqual(cur["rev"], 2)
                self.assertEqual(cur["title"], "Tweede versie")
        self.assertEqual(self.seq(), before)
        stored = await adm.get("actielijn", doc["id"])
        self.assertEqual(stored["rev"], 2)
        self.assertEqual(stored["title"], "Tweede versie")

        # With the current rev each of them succeeds.
        fresh = dict(stale_put, rev=2, title="Derde versie")
        r = await adm.ok({"type": "put", "kind": "actielijn", "doc": fresh})
        self.assertEqual((r["rev"], r["seq"]), (3, before + 1))
        r = await adm.ok({"type": "patch", "kind": "actielijn", "id": doc["id"], "rev": 3,
                          "set": {"title": "Vierde versie"}})
        self.assertEqual(r["rev"], 4)
        r = await adm.ok({"type": "delete", "kind": "actielijn", "id": doc["id"], "rev": 4})
        self.assertEqual(r["seq"], before + 3)
        await adm.err({"type": "get", "kind": "actielijn", "id": doc["id"]}, "not_found")

    @async_test()
    async def test_too_large_string(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        al = await adm.create("actielijn", sample_doc("actielijn", a))
        before = self.seq()
        big = "x" * 17000
        reply = await adm.request({"type": "put", "kind": "actielijn",
                                   "doc": {"opgave": a, "title": big}})
        self.check_error(reply, "too_large")
        if "field" in reply:
            self.assertEqual(reply["field"], "doc.title")
        reply = await adm.request({"type": "patch", "kind": "actielijn", "id": al["id"],
                                   "set": {"title": big}})
        self.check_error(reply, "too_large")
        await adm.ok({"type": "ping"})
        self.assertEqual(self.seq(), before)
        self.assertEqual((await adm.get("actielijn", al["id"]))["rev"], 1)


class RateLimitTest(TafelCase):
    SERVER_ARGS = ("--write-rate", "5")

    @async_test(timeout=60)
    async def test_writes_past_rate_are_rate_limited(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        # A second key, made before the burst: its budget is its own.
        _kid, key2 = await adm.make_key("beheerder", [a])
        other = await Client.auth(self.port, key2)
        await asyncio.sleep(2.5)  # let the first key's bucket refill
        before = self.seq()
        titles = ["Snel %02d" % i for i in range(30)]
        t0 = time.monotonic()
        futs = [await adm.submit({"type": "put", "kind": "actielijn",
                                  "doc": {"opgave": a, "title": t}}) for t in titles]
        replies = await asyncio.wait_for(asyncio.gather(*futs), 15)
        elapsed = time.monotonic() - t0
        oks = [t for t, r in zip(titles, replies) if r["type"] == "ok"]
        limited = [r for r in replies if r.get("code") == "rate_limited"]
        self.assertEqual(len(oks) + len(limited), 30, [r for r in replies if
                                                       r["type"] != "ok" and
                                                       r.get("code") != "rate_limited"])
        self.assertGreaterEqual(len(oks), 1)
        self.assertGreaterEqual(len(limited), 1)
        self.assertLessEqual(len(oks), 10 + 5 * elapsed + 1, "burst is 2 x rate")
        # None of the refused writes is stored.
        self.assertEqual(self.seq(), before + len(oks))
        stored = {d["title"] for d in await adm.list("actielijn", a)}
        self.assertEqual(stored, set(oks))
        # Reads are not writes.
        for _ in range(15):
            await adm.ok({"type": "get", "kind": "opgave", "id": a})
        # Another key is not affected.
        await other.ok({"type": "put", "kind": "actielijn", "doc": {"opgave": a,
                                                                   "title": "Ander"}})
        # And the bucket refills.
        await asyncio.sleep(1.2)
        await adm.ok({"type": "put", "kind": "actielijn", "doc": {"opgave": a,
                                                                 "title": "Later"}})


if __name__ == "__main__":
    main()
