#!/usr/bin/python3
"""Administration: keys, revocation, audit, /healthz and /metrics, backup,
init refusing an existing directory, offline key creation, the CLI's
--help/--version, handshake rules, and that no secret reaches the log."""
import asyncio
import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (KEY_RE, Client, RawWS, Server, TafelCase, async_test,  # noqa: E402
                           http_get, init_data_dir, main, metrics, metric_values, random_key,
                           run_tafeld, sample_doc, to_thread, tree_fingerprint,
                           wrong_join_code)

SAMPLE_RE = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*(\{[^}]*\})?\s+(\S+)(\s+-?\d+)?$")


def targets(entry, id_):
    """Does audit ENTRY name document ID_? (`target` is the id, or "kind/id".)"""
    t = entry.get("target")
    return isinstance(t, str) and (t == id_ or t.endswith("/" + id_))


class KeysTest(TafelCase):

    @async_test()
    async def test_key_create_list_and_use(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        reply = await adm.ok({"type": "key.create", "role": "partner", "opgaven": [a],
                              "label": "Woonstichting", "expires_in": 3600})
        self.assertRegex(reply["key"], KEY_RE)
        self.assertIsInstance(reply["key_id"], str)
        self.assertIsInstance(reply["expires_at"], str)
        self.assertRegex(reply["expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        other = await adm.make_key("partner", [a])
        self.assertNotEqual(other[1], reply["key"])
        c = await Client.auth(self.port, reply["key"])
        self.assertEqual((c.me["role"], c.me["opgaven"], c.me["name"]),
                         ("partner", [a], "Woonstichting"))
        keys = (await adm.ok({"type": "key.list"}))["keys"]
        entry = [k for k in keys if k["key_id"] == reply["key_id"]]
        self.assertEqual(len(entry), 1, keys)
        entry = entry[0]
        for f in ("key_id", "role", "opgaven", "label", "created_at", "expires_at",
                  "revoked_at", "created_by"):
            self.assertIn(f, entry)
        self.assertEqual((entry["role"], entry["opgaven"], entry["label"]),
                         ("partner", [a], "Woonstichting"))
        self.assertIsNone(entry["revoked_at"])
        self.assertEqual(entry["created_by"], adm.me["actor"])
        self.assertNotIn(reply["key"][6:], json.dumps(keys))

    @async_test()
    async def test_revocation_closes_live_connections(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        key_id, key = await adm.make_key("partner", [a])
        idle = await Client.auth(self.port, key)
        busy = await Client.auth(self.port, key)
        await busy.sub(a)
        t0 = time.monotonic()
        r = await adm.ok({"type": "key.revoke", "key_id": key_id})
        self.assertEqual(r["key_id"], key_id)
        for c in (idle, busy):
            await c.expect_close(4403, timeout=3)
        elapsed = time.monotonic() - t0
        self.assertLessEqual(elapsed, 1.5, "revocation took %.2f s" % elapsed)
        c = await Client.open(self.port)
        await c.send({"type": "hello", "req": 1, "key": key})
        self.assertEqual((await c.next_message(types=("error",)))["code"], "unauthorized")
        await c.expect_close(4401)
        entry = [k for k in (await adm.ok({"type": "key.list"}))["keys"]
                 if k["key_id"] == key_id][0]
        self.assertIsInstance(entry["revoked_at"], str)
        # Other keys' connections are untouched.
        await adm.ok({"type": "ping"})

    @async_test()
    async def test_opgaveleider_revokes_its_own_keys(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        _k, lkey = await adm.make_key("opgaveleider", [a])
        lead = await Client.auth(self.port, lkey)
        made = await lead.ok({"type": "key.create", "role": "waarnemer", "opgaven": [a],
                              "label": "Raadslid"})
        w = await Client.auth(self.port, made["key"])
        t0 = time.monotonic()
        await lead.ok({"type": "key.revoke", "key_id": made["key_id"]})
        await w.expect_close(4403, timeout=3)
        self.assertLessEqual(time.monotonic() - t0, 1.5)

    @async_test()
    async def test_audit(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        key_id, _key = await adm.make_key("partner", [a])
        await adm.ok({"type": "key.revoke", "key_id": key_id})
        s = await adm.create("sessie", {"opgave": a, "question": "Q"})
        await adm.ok({"type": "session.open", "id": s["id"]})
        await adm.ok({"type": "session.close", "id": s["id"]})
        entries, after = [], 0
        for _ in range(50):
            r = await adm.ok({"type": "audit.list", "after": after, "limit": 100})
            entries += r["entries"]
            if not r.get("more"):
                break
            after = r["entries"][-1]["n"]
        ns = [e["n"] for e in entries]
        self.assertEqual(ns, sorted(ns))
        self.assertEqual(len(ns), len(set(ns)))
        for e in entries:
            for f in ("n", "at", "actor", "action", "target"):
                self.assertIn(f, e)
        mine = [(e["action"], e["actor"]) for e in entries if e["target"] == key_id]
        self.assertIn(("key.create", adm.me["actor"]), mine)
        self.assertIn(("key.revoke", adm.me["actor"]), mine)
        actions = [e["action"] for e in entries if targets(e, s["id"])]
        self.assertEqual(actions[-2:], ["session.open", "session.close"], entries[-5:])
        self.assertTrue(any(targets(e, a) for e in entries), "opgave creation is audited")
        # Paging.
        first = ns[0]
        page = await adm.ok({"type": "audit.list", "after": first, "limit": 1})
        self.assertEqual([e["n"] for e in page["entries"]], [ns[1]])
        self.assertIs(page["more"], True)
        # The audit trail shows no secret.
        self.assertNotIn(_key[6:], json.dumps(entries))

    @async_test()
    async def test_healthz(self):
        status, headers, body = await to_thread(http_get, self.port, "/healthz")
        self.assertEqual(status, 200)
        h = json.loads(body)
        self.assertEqual(h["status"], "ok")
        self.assertIsInstance(h["seq"], int)
        adm = await self.admin()
        a = await adm.new_opgave()
        r = await adm.ok({"type": "put", "kind": "moment", "doc": sample_doc("moment", a)})
        self.assertEqual(self.seq(), r["seq"])
        r2 = await adm.ok({"type": "patch", "kind": "moment", "id": r["id"],
                           "set": {"title": "x"}})
        self.assertEqual(r2["seq"], r["seq"] + 1)
        self.assertEqual(self.seq(), r2["seq"])

    @async_test()
    async def test_metrics(self):
        _h, before = await to_thread(metrics, self.port)
        adm = await self.admin()
        a = await adm.new_opgave()
        for i in range(3):
            await adm.ok({"type": "put", "kind": "moment", "doc": sample_doc("moment", a, n=i)})
        headers, text = await to_thread(metrics, self.port)
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
        samples = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) [A-Za-z_:][A-Za-z0-9_:]* ")
                continue
            m = SAMPLE_RE.match(line)
            self.assertIsNotNone(m, "not a Prometheus sample: %r" % line)
            float(m.group(2))  # a number, +Inf, -Inf or NaN
            samples += 1
        self.assertGreaterEqual(samples, 5)
        for what in ("connection", "commit", "subscri", "slow"):
            self.assertIsNotNone(metric_values(text, what), "no %s metric" % what)
        self.assertGreater(metric_values(text, "commit"), metric_values(before, "commit"))
        self.assertGreaterEqual(metric_values(text, "connection"), 1)

    def test_unknown_path_404(self):
        status, _h, _b = http_get(self.port, "/bestaat-niet")
        self.assertEqual(status, 404)

    def test_handshake_needs_subprotocol(self):
        for protocols in ((), ("tafel.v2",), ("chat",)):
            with self.subTest(protocols=protocols):
                ws = RawWS(self.port)
                try:
                    status, _h = ws.handshake(protocols=protocols)
                    self.assertNotEqual(status, 101)
                finally:
                    ws.close()
        ws = RawWS(self.port)
        try:
            status, headers = ws.handshake(protocols=("chat", "tafel.v1"))
            self.assertEqual(status, 101)
            self.assertEqual(headers["sec-websocket-protocol"], "tafel.v1")
        finally:
            ws.close()
        ws = RawWS(self.port)
        try:
            status, _h = ws.handshake(path="/nietws")
            self.assertNotEqual(status, 101)
        finally:
            ws.close()

    def test_init_refuses_existing_dir(self):
        # The running server's directory.
        cp = run_tafeld(["init", "--data", self.data])
        self.assertNotEqual(cp.returncode, 0)
        self.assertIsNone(KEY_RE.match(cp.stdout.strip().split("\n")[-1] or "x"))
        # A stopped one: byte for byte unchanged.
        d = os.path.join(self.tmp, "init-twice")
        key = init_data_dir(d)
        fp = tree_fingerprint(d)
        cp = run_tafeld(["init", "--data", d])
        self.assertNotEqual(cp.returncode, 0)
        self.assertNotIn("tafel_", cp.stdout)
        self.assertEqual(tree_fingerprint(d), fp)
        srv = Server(d)
        try:
            srv.start()

            async def check():
                c = await Client.auth(srv.port, key)
                await c.close()
            asyncio.run(asyncio.wait_for(check(), 10))
        finally:
            srv.stop()
        shutil.rmtree(d, ignore_errors=True)

    def test_help_and_version(self):
        cp = run_tafeld(["--help"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = cp.stdout + cp.stderr
        for word in ("serve", "init", "backup", "key"):
            self.assertIn(word, out)
        cp = run_tafeld(["--version"])
        self.assertEqual(cp.returncode, 0)
        self.assertIn("tafeld", cp.stdout)
        cp = run_tafeld(["--bestaat-niet"])
        self.assertNotEqual(cp.returncode, 0)

    @async_test(timeout=60)
    async def test_backup_while_running(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        for i in range(5):
            await adm.create("moment", sample_doc("moment", a, n=i))
        _k, pkey = await adm.make_key("partner", [a])
        out = os.path.join(self.tmp, "backup-%d" % int(time.time() * 1000))
        cp = await to_thread(run_tafeld, ["backup", "--data", self.data, "--out", out])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        # The server went on serving meanwhile; a later write is not in it.
        await adm.ok({"type": "ping"})
        expected = sorted((d["kind"], d["id"], d["rev"]) for d in await adm.list())
        seq = self.seq()
        await adm.create("moment", sample_doc("moment", a, n=99))
        bsrv = Server(out)
        try:
            await to_thread(bsrv.start)
            b = await Client.auth(bsrv.port, self.admin_key)
            got = sorted((d["kind"], d["id"], d["rev"]) for d in await b.list())
            self.assertEqual(got, expected)
            self.assertEqual((await b.ok({"type": "ping"}))["seq"], seq)
            p = await Client.auth(bsrv.port, pkey)  # keys are in the backup
            self.assertEqual(p.me["opgaven"], [a])
            await b.close()
            await p.close()
        finally:
            await to_thread(bsrv.stop)
        shutil.rmtree(out, ignore_errors=True)


class OfflineKeyTest(TafelCase):

    @async_test(timeout=60)
    async def test_key_create_offline(self):
        rc = await to_thread(self.srv.stop)
        self.assertEqual(rc, 0)
        cp = await to_thread(run_tafeld, ["key", "create", "--data", self.data, "--role",
                                          "beheerder", "--label", "Noodsleutel"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        key = cp.stdout.strip().splitlines()[-1].strip()
        self.assertRegex(key, KEY_RE)
        self.assertNotIn(key, cp.stderr)
        await to_thread(self.srv.start)
        c = await Client.auth(self.port, key)
        self.assertEqual(c.me["role"], "beheerder")
        self.assertEqual(c.me["name"], "Noodsleutel")
        await c.ok({"type": "audit.list"})
        # The first key still works too.
        await (await self.admin()).ok({"type": "ping"})


class LogSecretsTest(TafelCase):
    SERVER_ARGS = ("--log-level", "debug")

    @async_test(timeout=60)
    async def test_log_never_contains_keys_or_join_codes(self):
        secrets_ = [self.admin_key]
        adm = await self.admin()
        a = await adm.new_opgave()
        for role in ("opgaveleider", "partner", "waarnemer", "beheerder"):
            kid, key = await adm.make_key(role, [a])
            secrets_.append(key)
            c = await Client.auth(self.port, key)
            await c.ok({"type": "list", "opgave": a})
            if role == "partner":
                await adm.ok({"type": "key.revoke", "key_id": kid})
                await c.expect_close(4403)
        bad = random_key()
        secrets_.append(bad)
        c = await Client.open(self.port)
        await c.send({"type": "hello", "key": bad})
        await c.expect_close(4401)
        s = await adm.open_session(a)
        secrets_.append(s["join_code"])
        inw = await Client.join(self.port, s["join_code"], "Fatima")
        await inw.create("reflectie", {"opgave": a, "sort": "idee", "text": "x"})
        wrong = wrong_join_code([s["join_code"]])
        secrets_.append(wrong)
        c = await Client.open(self.port)
        await c.send({"type": "join", "code": wrong, "name": "Gok"})
        await c.expect_close(4401)
        await adm.ok({"type": "session.close", "id": s["id"]})
        await inw.expect_close(4403)
        await (await self.admin()).close()
        await to_thread(self.srv.stop)
        log = self.srv.log_text()
        self.assertIn("listening on", log)
        for secret in secrets_:
            self.assertNotIn(secret, log)
            if secret.startswith("tafel_"):
                self.assertNotIn(secret[6:], log)
                self.assertNotIn(secret[6:26], log)
            else:
                self.assertNotIn(secret.lower(), log)
        await to_thread(self.srv.start)


if __name__ == "__main__":
    main()
