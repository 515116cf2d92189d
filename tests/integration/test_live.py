#!/usr/bin/python3
"""Live updates: two clients seeing each other's writes, reconnecting with
`since`, the snapshot fallback, unsub (docs/protocol.md "Subscriptions and
live updates")."""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import Client, TafelCase, async_test, main, sample_doc  # noqa: E402


def snapshot_docs(msgs, test):
    """The documents of a snapshot sequence, checking its framing: only
    snapshot messages, every one but the last with more:true, one seq."""
    test.assertTrue(msgs, "no snapshot")
    for m in msgs:
        test.assertEqual(m["type"], "snapshot", m)
    for m in msgs[:-1]:
        test.assertIs(m.get("more"), True, "all but the last snapshot message say more:true")
    test.assertFalse(msgs[-1].get("more", False))
    seqs = {m["seq"] for m in msgs}
    test.assertEqual(len(seqs), 1, "one snapshot, one seq")
    return [d for m in msgs for d in m["docs"]], msgs[0]["seq"]


class LiveTest(TafelCase):

    @async_test(timeout=60)
    async def test_two_clients_see_each_others_writes(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        al = await adm.create("actielijn", sample_doc("actielijn", a))
        _k, lkey = await adm.make_key("opgaveleider", [a])
        _k, pkey = await adm.make_key("partner", [a])
        lead = await Client.auth(self.port, lkey)
        partner = await Client.auth(self.port, pkey)
        _s, ok_l = await lead.sub(a)
        _s, ok_p = await partner.sub(a)
        self.assertEqual(ok_l["seq"], ok_p["seq"])
        self.assertEqual(ok_l["opgave"], a)

        acked = []
        for i in range(10):
            writer, other = (lead, partner) if i % 2 == 0 else (partner, lead)
            kind = "actielijn" if writer is lead else "activiteit"
            doc = sample_doc(kind, a, {"actielijn": al["id"]}, i)
            t0 = time.monotonic()
            reply = await writer.ok({"type": "put", "kind": kind, "doc": doc})
            ev = await other.next_event(timeout=1.0)
            self.assertLess(time.monotonic() - t0, 1.5)
            self.assertEqual(ev["seq"], reply["seq"])
            self.assertEqual(ev["op"], "put")
            self.assertEqual(ev["doc"]["id"], reply["id"])
            self.assertEqual(ev["doc"]["title"], doc["title"])
            self.assertEqual(ev["doc"]["by"], writer.me["actor"])
            own = await writer.next_event(timeout=1.0)
            self.assertEqual(own["seq"], reply["seq"])
            acked.append(reply["seq"])
        self.assertEqual(acked, sorted(acked))
        # Exactly once: nothing more arrives.
        for c in (lead, partner):
            extra = await c.collect(0.4, ("event",))
            self.assertEqual(extra, [])

    @async_test(timeout=60)
    async def test_event_stream_is_ordered_and_complete(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        _k, key = await adm.make_key("waarnemer", [a])
        watchers = [await Client.auth(self.port, key) for _ in range(2)]
        for w in watchers:
            await w.sub(a)
        # 40 writes in flight at once (group commit), plus a delete.
        futs = [await adm.submit({"type": "put", "kind": "moment",
                                  "doc": sample_doc("moment", a, n=i)}) for i in range(40)]
        replies = await asyncio.wait_for(asyncio.gather(*futs), 15)
        self.assertTrue(all(r["type"] == "ok" for r in replies), replies)
        gone = replies[0]
        d = await adm.ok({"type": "delete", "kind": "moment", "id": gone["id"], "rev": 1})
        want = sorted(r["seq"] for r in replies) + [d["seq"]]
        self.assertEqual(len(set(want)), 41)
        for w in watchers:
            got = []
            for _ in range(41):
                got.append(await w.next_event(timeout=2))
            self.assertEqual([e["seq"] for e in got], want)
            last = got[-1]
            self.assertEqual((last["op"], last["doc"]["id"]), ("delete", gone["id"]))
            self.assertEqual(await w.collect(0.3, ("event",)), [])

    @async_test(timeout=60)
    async def test_reconnect_with_since(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        al = await adm.create("actielijn", sample_doc("actielijn", a))
        other = await adm.new_opgave()  # changes there are not A's
        _k, key = await adm.make_key("partner", [a])
        c = await Client.auth(self.port, key)
        snap, ok = await c.sub(a)
        docs, _seq = snapshot_docs(snap, self)
        self.assertIn(al["id"], [d["id"] for d in docs])
        last_seen = ok["seq"]
        await c.close()

        acked = []
        for i in range(20):
            if i % 5 == 4:
                await adm.create("actielijn", sample_doc("actielijn", other, n=i))
            if i % 3 == 0:
                r = await adm.ok({"type": "patch", "kind": "actielijn", "id": al["id"],
                                  "set": {"title": "Versie %d" % i}})
            else:
                r = await adm.ok({"type": "put", "kind": "indicator",
                                  "doc": sample_doc("indicator", a, n=i)})
            acked.append((r["seq"], r["id"]))

        c = await Client.auth(self.port, key)
        before, ok = await c.sub(a, since=last_seen)
        self.assertEqual([m["type"] for m in before], ["event"] * 20, before[:3])
        self.assertEqual([(m["seq"], m["doc"]["id"]) for m in before], acked)
        self.assertGreaterEqual(ok["seq"], acked[-1][0])
        # Then live.
        r = await adm.create("moment", sample_doc("moment", a))
        ev = await c.next_event(timeout=1.0)
        self.assertEqual(ev["doc"]["id"], r["id"])
        self.assertGreater(ev["seq"], ok["seq"])
        self.assertEqual(await c.collect(0.3, ("event",)), [])

        # Reconnecting with since = the last seq seen gives nothing again.
        await c.close()
        c = await Client.auth(self.port, key)
        before, ok = await c.sub(a, since=ev["seq"])
        self.assertEqual(before, [])
        self.assertEqual(ok["seq"], self.seq())

    @async_test(timeout=60)
    async def test_reconnect_with_since_all_opgaven(self):
        adm = await self.admin()
        a, b, outside = (await adm.new_opgave(), await adm.new_opgave(),
                         await adm.new_opgave())
        _k, key = await adm.make_key("waarnemer", [a, b])
        c = await Client.auth(self.port, key)
        _s, ok = await c.sub("*")
        since = ok["seq"]
        await c.close()
        want = []
        for i in range(12):
            opg = (a, b, outside)[i % 3]
            r = await adm.ok({"type": "put", "kind": "moment",
                              "doc": sample_doc("moment", opg, n=i)})
            if opg != outside:
                want.append(r["seq"])
        c = await Client.auth(self.port, key)
        before, _ok = await c.sub("*", since=since)
        self.assertEqual([m["seq"] for m in before], want)
        self.assertTrue(all(m["doc"]["opgave"] in (a, b) for m in before))

    @async_test()
    async def test_sub_without_since_is_snapshot(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        made = [await adm.create("moment", sample_doc("moment", a, n=i)) for i in range(3)]
        gone = await adm.create("moment", sample_doc("moment", a, n=9))
        await adm.ok({"type": "delete", "kind": "moment", "id": gone["id"], "rev": 1})
        _k, key = await adm.make_key("waarnemer", [a])
        c = await Client.auth(self.port, key)
        snap, ok = await c.sub(a)
        docs, seq = snapshot_docs(snap, self)
        self.assertEqual(seq, self.seq())
        self.assertLessEqual(seq, ok["seq"])
        ids = {d["id"] for d in docs}
        self.assertEqual(ids, {a} | {m["id"] for m in made})
        listed = {d["id"] for d in await c.list(None, a)}
        self.assertEqual(ids, listed)

    @async_test()
    async def test_unsub_stops_events(self):
        adm = await self.admin()
        a, b = await adm.new_opgave(), await adm.new_opgave()
        _k, key = await adm.make_key("waarnemer", [a, b])
        c = await Client.auth(self.port, key)
        await c.sub(a)
        await c.sub(b)
        await c.ok({"type": "unsub", "opgave": a})
        await adm.create("moment", sample_doc("moment", a))
        mb = await adm.create("moment", sample_doc("moment", b))
        ev = await c.next_event(timeout=1.0)
        self.assertEqual(ev["doc"]["id"], mb["id"])
        self.assertEqual(await c.collect(0.3, ("event",)), [])

    @async_test()
    async def test_ping_and_healthz_agree(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        r = await adm.ok({"type": "put", "kind": "moment", "doc": sample_doc("moment", a)})
        self.assertEqual((await adm.ok({"type": "ping"}))["seq"], r["seq"])
        self.assertEqual(self.seq(), r["seq"])


class SnapshotFallbackTest(TafelCase):
    SERVER_ARGS = ("--retain", "5")

    @async_test(timeout=60)
    async def test_old_since_gets_snapshot(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        al = [await adm.create("actielijn", sample_doc("actielijn", a, n=i)) for i in range(10)]
        for d in al:
            await adm.ok({"type": "patch", "kind": "actielijn", "id": d["id"],
                          "set": {"title": d["title"] + " (bijgewerkt)"}})
        for d in al[:5]:
            await adm.ok({"type": "delete", "kind": "actielijn", "id": d["id"], "rev": 2})
        for i in range(5):
            await adm.create("moment", sample_doc("moment", a, n=i))
        _k, key = await adm.make_key("partner", [a])
        current = {d["id"]: d["rev"] for d in await adm.list(None, a)}
        self.assertEqual(len(current), 1 + 5 + 5)
        now = self.seq()

        for since in (1, None):
            with self.subTest(since=since):
                c = await Client.auth(self.port, key)
                snap, ok = await c.sub(a, since=since)
                docs, seq = snapshot_docs(snap, self)
                self.assertEqual({d["id"]: d["rev"] for d in docs}, current)
                self.assertEqual(seq, now)
                self.assertGreaterEqual(ok["seq"], seq)
                r = await adm.ok({"type": "put", "kind": "moment",
                                  "doc": sample_doc("moment", a)})
                ev = await c.next_event(timeout=1.0)
                self.assertEqual((ev["doc"]["id"], ev["seq"]), (r["id"], r["seq"]))
                self.assertGreater(ev["seq"], seq)
                current[r["id"]] = 1
                now = r["seq"]
                await c.close()

        # A since within the retained log (at least 5 entries) gets events.
        last3 = [await adm.create("moment", sample_doc("moment", a)) for _ in range(3)]
        c = await Client.auth(self.port, key)
        first = await adm.ok({"type": "patch", "kind": "moment", "id": last3[0]["id"],
                              "set": {"title": "Een"}})
        rest = [await adm.ok({"type": "patch", "kind": "moment", "id": d["id"],
                              "set": {"title": "Twee"}}) for d in last3[1:]]
        before, _ok = await c.sub(a, since=first["seq"] - 1)
        self.assertEqual([(m["type"], m["seq"]) for m in before],
                         [("event", r["seq"]) for r in [first] + rest])


if __name__ == "__main__":
    main()
