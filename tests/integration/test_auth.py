#!/usr/bin/python3
"""Authentication: hello and its failures, each closing with 4401.

docs/protocol.md "Authentication": any other first message, a wrong, expired
or revoked key, a wrong join code, or no hello within 10 s gives `error
unauthorized` and then close 4401.
"""
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (KEY_RE, Client, TafelCase, async_test, main,  # noqa: E402
                           random_key, wrong_join_code)


class AuthTest(TafelCase):

    async def refused(self, first_message, req=None):
        """Send FIRST_MESSAGE as the first message; expect error unauthorized
        (echoing req) and close 4401."""
        c = await Client.open(self.port)
        msg = dict(first_message)
        if req is not None:
            msg["req"] = req
        await c.send(msg)
        err = await c.next_message(types=("error",))
        self.assertEqual(err.get("code"), "unauthorized", err)
        if req is not None:
            self.assertEqual(err.get("req"), req, err)
        self.assertIsInstance(err.get("message"), str)
        await c.expect_close(4401)
        return err

    @async_test()
    async def test_hello_ok_shape(self):
        before = self.seq()
        c = await Client.auth(self.port, self.admin_key)
        me = c.me
        self.assertEqual(me["type"], "ok")
        self.assertEqual(me["role"], "beheerder")
        self.assertIsInstance(me["actor"], str)
        self.assertTrue(me["actor"])
        self.assertTrue(me["opgaven"] == "*" or isinstance(me["opgaven"], list), me)
        self.assertIsInstance(me["seq"], int)
        self.assertEqual(me["seq"], before)
        self.assertNotIn(self.admin_key, str(me))

    @async_test()
    async def test_hello_scoped_key_shape(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        key_id, key = await adm.make_key("partner", [a], label="Woonstichting Test")
        self.assertRegex(key, KEY_RE)
        c = await Client.auth(self.port, key)
        self.assertEqual(c.me["role"], "partner")
        self.assertEqual(c.me["opgaven"], [a])
        self.assertEqual(c.me["name"], "Woonstichting Test")
        self.assertEqual(c.me["seq"], self.seq())
        self.assertIsInstance(c.me["actor"], str)
        # The connection works.
        pong = await c.ok({"type": "ping"})
        self.assertEqual(pong["seq"], self.seq())

    @async_test()
    async def test_req_echoed_unchanged(self):
        c = await Client.open(self.port)
        await c.send({"type": "hello", "req": "abc-\u00e9", "key": self.admin_key})
        ok = await c.next_message(types=("ok",))
        self.assertEqual(ok["req"], "abc-\u00e9")
        for req in (7.5, True, None, -3, "x" * 128):
            await c.send({"type": "ping", "req": req})
            reply = await c.next_message(types=("ok",))
            self.assertEqual(reply.get("req", "missing"), req)
            self.assertIs(type(reply.get("req")), type(req))

    @async_test()
    async def test_non_hello_first_message(self):
        await self.refused({"type": "ping"}, req=1)

    @async_test()
    async def test_document_request_first(self):
        await self.refused({"type": "list", "kind": "opgave"}, req="r1")

    @async_test()
    async def test_wrong_key(self):
        await self.refused({"type": "hello", "key": random_key()}, req=1)

    @async_test()
    async def test_admin_key_altered(self):
        k = self.admin_key
        last = "A" if k[-1] != "A" else "B"
        await self.refused({"type": "hello", "key": k[:-1] + last}, req=1)

    @async_test()
    async def test_malformed_keys(self):
        for bad in ("tafel_short", "not-a-key", "", "tafel_" + "!" * 43,
                    self.admin_key + "x", self.admin_key.upper()):
            with self.subTest(key=bad[:20]):
                await self.refused({"type": "hello", "key": bad}, req=2)

    @async_test()
    async def test_revoked_key(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        key_id, key = await adm.make_key("waarnemer", [a])
        c = await Client.auth(self.port, key)  # works before
        await c.close()
        await adm.ok({"type": "key.revoke", "key_id": key_id})
        await self.refused({"type": "hello", "key": key}, req=3)

    @async_test(timeout=30)
    async def test_expired_key(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        _id, key = await adm.make_key("partner", [a], expires_in=1)
        await asyncio.sleep(2.2)
        await self.refused({"type": "hello", "key": key}, req=4)

    @async_test(timeout=30)
    async def test_expiry_closes_open_connection(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        _id, key = await adm.make_key("partner", [a], expires_in=2)
        t0 = time.monotonic()
        c = await Client.auth(self.port, key)
        await c.expect_close(4403, timeout=5)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 2 + 1.5, "closed %.2f s after key creation" % elapsed)
        await self.refused({"type": "hello", "key": key}, req=5)

    @async_test(timeout=30)
    async def test_no_hello_within_10s(self):
        c = await Client.open(self.port)
        t0 = time.monotonic()
        err = await c.next_message(timeout=14, types=("error",))
        self.assertEqual(err.get("code"), "unauthorized", err)
        await c.expect_close(4401, timeout=3)
        elapsed = time.monotonic() - t0
        self.assertGreater(elapsed, 8.5, "closed after only %.1f s" % elapsed)
        self.assertLess(elapsed, 13.0)

    @async_test()
    async def test_wrong_join_code(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        s = await adm.open_session(a)
        code = wrong_join_code(avoid=[s["join_code"]])
        await self.refused({"type": "join", "code": code, "name": "Fatima"}, req=6)

    @async_test()
    async def test_join_code_of_nothing(self):
        await self.refused({"type": "join", "code": "ZZZZZZZZ", "name": "Piet"}, req=7)

    @async_test()
    async def test_failures_change_nothing(self):
        before = self.seq()
        await self.refused({"type": "hello", "key": random_key()})
        await self.refused({"type": "put", "kind": "opgave", "doc": {"title": "x"}})
        self.assertEqual(self.seq(), before)

    @async_test()
    async def test_raw_key_not_in_replies(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        key_id, key = await adm.make_key("partner", [a])
        listing = await adm.ok({"type": "key.list"})
        self.assertNotIn(key, str(listing))
        self.assertNotIn(key[6:], str(listing))
        self.assertIn(key_id, str(listing))
        c = await Client.auth(self.port, key)
        self.assertNotIn(key, str(c.me))


if __name__ == "__main__":
    main()
