#!/usr/bin/python3
"""Durability: an `ok` means on disk (kill -9 right after it loses nothing),
and SIGTERM finishes and acknowledges what is in flight, closes with 1001 and
exits 0 (docs/protocol.md "Durability and conflicts", PROTOCOL.md "Writes")."""
import asyncio
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (Client, ConnectionLost, TafelCase, async_test, main,  # noqa: E402
                           sample_doc, to_thread)


class DurabilityTest(TafelCase):

    def setUp(self):
        if not self.srv.running():  # a previous test stopped or killed it
            self.srv.start()

    @async_test(timeout=60)
    async def test_kill9_right_after_ok(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        al = await adm.create("actielijn", sample_doc("actielijn", a))
        gone = await adm.create("moment", sample_doc("moment", a))
        futs = [await adm.submit({"type": "put", "kind": "moment",
                                  "doc": sample_doc("moment", a, n=i)}) for i in range(20)]
        futs.append(await adm.submit({"type": "patch", "kind": "actielijn", "id": al["id"],
                                      "rev": 1, "set": {"title": "Laatste versie"}}))
        futs.append(await adm.submit({"type": "delete", "kind": "moment", "id": gone["id"],
                                      "rev": 1}))
        replies = await asyncio.wait_for(asyncio.gather(*futs), 15)
        self.srv.kill9()  # at once, in the same loop turn as the last ok
        self.assertTrue(all(r["type"] == "ok" for r in replies), replies)
        last_seq = max(r["seq"] for r in replies)

        await to_thread(self.srv.start)
        self.assertEqual(self.seq(), last_seq)
        adm = await self.admin()
        for r in replies[:20]:
            doc = await adm.get("moment", r["id"])
            self.assertEqual(doc["rev"], 1)
        doc = await adm.get("actielijn", al["id"])
        self.assertEqual((doc["rev"], doc["title"]), (2, "Laatste versie"))
        await adm.err({"type": "get", "kind": "moment", "id": gone["id"]}, "not_found")
        # The counter goes on without a gap or a repeat.
        r = await adm.ok({"type": "put", "kind": "moment", "doc": sample_doc("moment", a)})
        self.assertEqual(r["seq"], last_seq + 1)

    @async_test(timeout=60)
    async def test_kill9_single_write(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        r = await adm.ok({"type": "put", "kind": "reflectie",
                          "doc": {"opgave": a, "sort": "geleerd", "text": "Meteen op schijf"}})
        self.srv.kill9()
        await to_thread(self.srv.start)
        adm = await self.admin()
        doc = await adm.get("reflectie", r["id"])
        self.assertEqual(doc["text"], "Meteen op schijf")

    @async_test(timeout=60)
    async def test_since_survives_restart(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        _k, key = await adm.make_key("waarnemer", [a])
        w = await Client.auth(self.port, key)
        _s, ok = await w.sub(a)
        since = ok["seq"]
        acked = [(await adm.ok({"type": "put", "kind": "moment",
                                "doc": sample_doc("moment", a, n=i)}))["seq"] for i in range(5)]
        self.srv.kill9()
        await to_thread(self.srv.start)
        w = await Client.auth(self.port, key)
        before, _ok = await w.sub(a, since=since)
        self.assertEqual([m["seq"] for m in before], acked)

    @async_test(timeout=60)
    async def test_sigterm_with_writes_in_flight(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        _k, key = await adm.make_key("waarnemer", [a])
        watcher = await Client.auth(self.port, key)
        await watcher.sub(a)
        futs = []
        for i in range(200):
            futs.append(await adm.submit({"type": "put", "kind": "moment",
                                          "doc": sample_doc("moment", a, n=i)}))
        self.srv.signal(signal.SIGTERM)
        results = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 15)
        for res in results:
            if isinstance(res, BaseException):
                self.assertIsInstance(res, ConnectionLost)
        acked = [r for r in results if isinstance(r, dict) and r["type"] == "ok"]
        self.assertGreater(len(acked), 0, "no write in flight was finished and acknowledged")
        refused = [r for r in results if isinstance(r, dict) and r["type"] == "error"]
        for r in refused:
            self.assertIn(r["code"], ("unavailable",), r)
        await adm.expect_close(1001, timeout=10)
        await watcher.expect_close(1001, timeout=10)
        rc = await to_thread(self.srv.wait, 10)
        self.assertEqual(rc, 0, "exit code after SIGTERM")

        await to_thread(self.srv.start)
        adm = await self.admin()
        for r in acked:
            doc = await adm.get("moment", r["id"])
            self.assertEqual(doc["rev"], 1)
        if acked:
            self.assertGreaterEqual(self.seq(), max(r["seq"] for r in acked))
        # Nothing half-written: every stored moment of A is a whole document.
        for d in await adm.list("moment", a):
            self.assertIn("title", d)
            self.assertIn("date", d)

    @async_test(timeout=60)
    async def test_sigterm_idle_exits_zero(self):
        adm = await self.admin()
        await adm.ok({"type": "ping"})
        self.srv.signal(signal.SIGINT)
        await adm.expect_close(1001, timeout=10)
        rc = await to_thread(self.srv.wait, 10)
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    main()
