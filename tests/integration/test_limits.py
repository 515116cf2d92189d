#!/usr/bin/python3
"""Transport limits: oversize (1009), invalid UTF-8 (1007), binary frames
(1003), fragmented messages reassembled, a slow reader closed with 4408
while others go on, Origin checks and connections per address."""
import asyncio
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (Client, ConnectionLost, RawWS, TafelCase, async_test,  # noqa: E402
                           main, metric_values, metrics, sample_doc, to_thread)


class MessageLimitsTest(TafelCase):
    SERVER_ARGS = ("--max-message", "4096")

    def tearDown(self):
        # Whatever a test sent, the server is still up.
        self.assertEqual(self.srv.proc.poll(), None, "server died")
        self.assertIsInstance(self.seq(), int)

    def raw_admin(self):
        ws = RawWS.connect(self.port)
        self.addCleanup(ws.close)
        ws.hello(self.admin_key)
        return ws

    def opgave(self):
        ws = self.raw_admin()
        r = ws.request({"type": "put", "kind": "opgave", "doc": {"title": "Grenzen"}})
        self.assertEqual(r["type"], "ok", r)
        ws.close()
        return r["id"]

    @async_test()
    async def test_oversize_message_closes_1009(self):
        adm = await self.admin()
        a = (await adm.create("opgave", {"title": "Groot"}))["id"]
        before = self.seq()
        msg = json.dumps({"type": "put", "req": 1, "kind": "actielijn",
                          "doc": {"opgave": a, "title": "x" * 5000}})
        self.assertGreater(len(msg), 4096)
        await adm.send_text(msg)
        await adm.expect_close(1009)
        self.assertEqual(self.seq(), before)
        adm = await self.admin()  # the server goes on
        self.assertEqual(await adm.list("actielijn", a), [])

    @async_test()
    async def test_just_under_limit_is_answered(self):
        adm = await self.admin()
        a = (await adm.create("opgave", {"title": "Net niet"}))["id"]
        msg = {"type": "put", "req": 5, "kind": "actielijn",
               "doc": {"opgave": a, "title": ""}}
        pad = 4000 - len(json.dumps(msg))
        msg["doc"]["title"] = "y" * pad
        self.assertLessEqual(len(json.dumps(msg)), 4096)
        await adm.send(msg)
        reply = await adm.next_message(types=("ok", "error"))
        self.assertEqual(reply["req"], 5)
        await adm.ok({"type": "ping"})

    def test_oversize_before_hello(self):
        ws = RawWS.connect(self.port)
        self.addCleanup(ws.close)
        ws.send_text(json.dumps({"type": "hello", "key": "k" * 5000}))
        self.assertEqual(ws.expect_close(), 1009)

    def test_fragmented_oversize_closes_1009(self):
        ws = self.raw_admin()
        a = self.opgave()
        before = self.seq()
        body = json.dumps({"type": "put", "req": 2, "kind": "actielijn",
                           "doc": {"opgave": a, "title": "z" * 5500}}).encode()
        chunks = [body[i:i + 2000] for i in range(0, len(body), 2000)]
        ws.send_frame(RawWS.OP_TEXT, chunks[0], fin=False)
        try:
            for c in chunks[1:-1]:
                ws.send_frame(RawWS.OP_CONT, c, fin=False)
            ws.send_frame(RawWS.OP_CONT, chunks[-1], fin=True)
        except OSError:
            pass  # the server may close before the last fragment
        self.assertEqual(ws.expect_close(), 1009)
        self.assertEqual(self.seq(), before)

    def test_fragmented_message_is_reassembled(self):
        ws = self.raw_admin()
        a = self.opgave()
        title = "Gefragmenteerd bericht, één geheel"
        body = json.dumps({"type": "put", "req": "frag", "kind": "actielijn",
                           "doc": {"opgave": a, "title": title}},
                          ensure_ascii=False).encode("utf-8")
        cut = body.index("é".encode()) + 1  # in the middle of a character
        parts = [body[:10], body[10:cut], body[cut:cut + 7], body[cut + 7:]]
        ws.send_frame(RawWS.OP_TEXT, parts[0], fin=False)
        ws.send_frame(RawWS.OP_CONT, parts[1], fin=False)
        ws.send_frame(RawWS.OP_PING, b"tussendoor")  # control frames may interleave
        ws.send_frame(RawWS.OP_CONT, parts[2], fin=False)
        ws.send_frame(RawWS.OP_CONT, parts[3], fin=True)
        got_pong, reply = False, None
        deadline = time.monotonic() + 5
        while reply is None and time.monotonic() < deadline:
            fin, op, payload = ws.recv_frame(deadline - time.monotonic())
            if op == RawWS.OP_PONG:
                self.assertEqual(payload, b"tussendoor")
                got_pong = True
            elif op == RawWS.OP_TEXT:
                self.assertTrue(fin)
                msg = json.loads(payload)
                if msg.get("req") == "frag":
                    reply = msg
        self.assertTrue(got_pong, "no pong to a ping between fragments")
        self.assertIsNotNone(reply)
        self.assertEqual(reply["type"], "ok", reply)
        r = ws.request({"type": "get", "kind": "actielijn", "id": reply["id"]})
        self.assertEqual(r["doc"]["title"], title)

    def test_many_small_fragments(self):
        ws = self.raw_admin()
        body = json.dumps({"type": "ping", "req": 77}).encode()
        ws.send_frame(RawWS.OP_TEXT, body[:1], fin=False)
        for b in body[1:-1]:
            ws.send_frame(RawWS.OP_CONT, bytes([b]), fin=False)
        ws.send_frame(RawWS.OP_CONT, body[-1:], fin=True)
        r = ws.recv_json()
        self.assertEqual((r["type"], r["req"]), ("ok", 77))

    def test_invalid_utf8_closes_1007(self):
        a = self.opgave()
        before = self.seq()
        bad_bytes = {"ff": b"\xff", "overlong": b"\xc0\xaf", "surrogate": b"\xed\xa0\x80",
                     "beyond": b"\xf4\x90\x80\x80", "truncated": b"\xe2\x82"}
        for name, bad in bad_bytes.items():
            with self.subTest(bytes=name):
                ws = self.raw_admin()
                prefix = ('{"type":"put","req":3,"kind":"actielijn","doc":{"opgave":"%s",'
                          '"title":"ab' % a).encode()
                ws.send_frame(RawWS.OP_TEXT, prefix + bad + b'cd"}}')
                self.assertEqual(ws.expect_close(), 1007)
                ws.close()
        self.assertEqual(self.seq(), before)

    def test_invalid_utf8_in_fragments_closes_1007(self):
        ws = self.raw_admin()
        ws.send_frame(RawWS.OP_TEXT, b'{"type":"ping","req":"', fin=False)
        ws.send_frame(RawWS.OP_CONT, b"\xc3", fin=False)
        ws.send_frame(RawWS.OP_CONT, b'("}', fin=True)  # \xc3 ( is not a character
        self.assertEqual(ws.expect_close(), 1007)

    def test_invalid_utf8_before_hello(self):
        ws = RawWS.connect(self.port)
        self.addCleanup(ws.close)
        ws.send_frame(RawWS.OP_TEXT, b'{"type":"hello","key":"\xff\xfe"}')
        self.assertEqual(ws.expect_close(), 1007)

    def test_binary_frame_closes_1003(self):
        before = self.seq()
        ws = self.raw_admin()
        ws.send_frame(RawWS.OP_BINARY, json.dumps({"type": "ping", "req": 1}).encode())
        self.assertEqual(ws.expect_close(), 1003)
        ws = RawWS.connect(self.port)
        self.addCleanup(ws.close)
        ws.send_frame(RawWS.OP_BINARY, b"\x00\x01\x02")
        self.assertEqual(ws.expect_close(), 1003)
        self.assertEqual(self.seq(), before)


class SlowConsumerTest(TafelCase):
    SERVER_ARGS = ("--max-lag", "50")

    @async_test(timeout=120)
    async def test_slow_reader_closed_4408_others_go_on(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        size = None
        for n in (4000, 3000, 2000, 1000):
            r = await adm.request({"type": "put", "kind": "reflectie",
                                   "doc": {"opgave": a, "sort": "idee", "text": "p" * n}})
            if r["type"] == "ok":
                size = n
                break
        self.assertIsNotNone(size, "no reflectie text size accepted")

        good = await Client.auth(self.port, self.admin_key)
        await good.sub(a)
        # The slow reader: a tiny receive buffer, and it never reads after sub.
        slow = await to_thread(RawWS.connect, self.port, ("tafel.v1",), None, 4096)
        try:
            await to_thread(slow.hello, self.admin_key)
            r = await to_thread(slow.request, {"type": "sub", "opgave": a})
            self.assertEqual(r["type"], "ok", r)

            def slow_count():
                return metric_values(metrics(self.port)[1], "slow") or 0.0
            base = await to_thread(slow_count)
            acked, dropped = [], False
            # At most 3000 writes, 10 in flight at a time (a reader that keeps
            # up is never 50 behind), checking /metrics every 50.
            for batch in range(300):
                futs = [await adm.submit({"type": "put", "kind": "reflectie",
                                          "doc": {"opgave": a, "sort": "idee",
                                                  "text": ("%05d" % (batch * 10 + i)) +
                                                  "q" * (size - 5)}})
                        for i in range(10)]
                replies = await asyncio.wait_for(asyncio.gather(*futs), 30)
                self.assertTrue(all(x["type"] == "ok" for x in replies),
                                [x for x in replies if x["type"] != "ok"][:1])
                acked += [x["seq"] for x in replies]
                if batch % 5 == 4 and await to_thread(slow_count) > base:
                    dropped = True
                    break
                self.assertFalse(good.closed.is_set(),
                                 "the reading subscriber was closed (%s)" % good.close_code)
            # Writing goes on after the drop.
            for i in range(5):
                acked.append((await adm.ok({"type": "put", "kind": "moment",
                                            "doc": sample_doc("moment", a, n=i)}))["seq"])
            code = await to_thread(slow.expect_close, 30)
            self.assertEqual(code, 4408, "slow reader closed with %s after %d writes"
                             % (code, len(acked)))
            # The reading subscriber received every change exactly once, in order.
            events = []
            for _ in range(len(acked)):
                events.append((await good.next_event(timeout=10))["seq"])
            self.assertEqual(events, sorted(acked))
            self.assertEqual(await good.collect(0.3, ("event",)), [])
            # (`dropped` only shortened the loop; the close code is what counts.)
            del dropped
        finally:
            slow.close()
        # The slow client reconnects with since and catches up.
        c = await Client.auth(self.port, self.admin_key)
        before, ok = await c.sub(a, since=acked[-10] - 1)
        self.assertEqual([m["seq"] for m in before], acked[-10:])


class OriginTest(TafelCase):
    SERVER_ARGS = ("--origin", "http://tafel.example", "--origin", "https://ook.example")

    def handshake(self, origin):
        ws = RawWS(self.port)
        try:
            return ws.handshake(origin=origin)[0]
        finally:
            ws.close()

    def test_origin(self):
        self.assertEqual(self.handshake("http://tafel.example"), 101)
        self.assertEqual(self.handshake("https://ook.example"), 101)
        self.assertNotEqual(self.handshake("http://kwaad.example"), 101)
        self.assertNotEqual(self.handshake("http://tafel.example.kwaad.example"), 101)
        self.assertEqual(self.handshake(None), 101)  # not a browser


class PerAddressTest(TafelCase):
    SERVER_ARGS = ("--max-per-address", "3")

    def usable(self):
        """Try a connection; True if it was accepted and answered hello."""
        ws = RawWS(self.port)
        try:
            status, _h = ws.handshake()
            if status != 101:
                return False, ws
            r = ws.request({"type": "hello", "key": self.admin_key})
            return r.get("type") == "ok", ws
        except (ConnectionLost, EOFError, OSError, socket.timeout):
            return False, ws

    def test_max_per_address(self):
        conns = []
        try:
            for _ in range(3):
                ok, ws = self.usable()
                conns.append(ws)
                self.assertTrue(ok)
            ok, ws = self.usable()
            conns.append(ws)
            self.assertFalse(ok, "a fourth connection from one address was served")
            conns[0].close()
            time.sleep(0.3)
            ok, ws = self.usable()
            conns.append(ws)
            self.assertTrue(ok, "a slot freed by a close is usable again")
        finally:
            for ws in conns:
                ws.close()


if __name__ == "__main__":
    main()
