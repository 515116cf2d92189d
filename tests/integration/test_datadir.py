#!/usr/bin/python3
"""The data directory as an operator sees it (README "Running tafeld"):
one tafeld at a time writes to it -- a second `serve`, `init`, `key create`
or `compact` stops with exit code 1 and the holder's PID, while `backup`
reads beside the server -- and `tafeld compact` purges what deleted
documents left in the free space of the live file, which a search of the
file's bytes for a marker shows."""
import os
import re
import secrets
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (KEY_RE, Client, Server, async_test, healthz, init_data_dir,  # noqa: E402
                           main, run_tafeld, sample_doc, to_thread)

SIZES_RE = re.compile(r"data\.mdb (\d+) bytes before, (\d+) bytes after")


def files_holding(top, needle):
    """The files under TOP whose bytes contain NEEDLE."""
    found = []
    for dirpath, _dirs, files in os.walk(top):
        for f in files:
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                if needle in fh.read():
                    found.append(full)
    return found


class DataDirCase(unittest.TestCase):
    """A fresh data directory and a running server per test."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tafel-datadir-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.data = os.path.join(self.tmp, "data")
        self.admin_key = init_data_dir(self.data)
        self.srv = Server(self.data)
        self.addCleanup(self.srv.kill9)
        self.srv.start()

    def refused(self, args):
        """Run `tafeld ARGS`: it must stop with exit code 1 and name the
        running server's PID, and print no key."""
        want = "data directory %s is in use by tafeld (pid %d)" % (self.data, self.srv.proc.pid)
        cp = run_tafeld(args, timeout=20)
        self.assertEqual(cp.returncode, 1, "%s: %s" % (args, cp.stderr))
        self.assertIn(want, cp.stderr, args)
        self.assertFalse(any(KEY_RE.match(ln.strip()) for ln in cp.stdout.splitlines()), args)


class OneWriterTest(DataDirCase):

    @async_test(timeout=120)
    async def test_one_writer_backup_beside_it(self):
        adm = await Client.auth(self.srv.port, self.admin_key)
        a = await adm.new_opgave()
        await adm.create("moment", sample_doc("moment", a))
        with open(os.path.join(self.data, "tafeld.lock")) as fh:
            self.assertEqual(fh.read().strip(), str(self.srv.proc.pid))

        # Whatever would write to it stops at once, saying who has it.
        for args in (["serve", "--data", self.data, "--listen", "127.0.0.1:0"],
                     ["init", "--data", self.data],
                     ["key", "create", "--data", self.data, "--role", "beheerder",
                      "--label", "Noodsleutel"],
                     ["compact", "--data", self.data]):
            with self.subTest(command=args[0]):
                await to_thread(self.refused, args)
        # ... and the server did not notice.
        await adm.ok({"type": "ping"})
        expected = sorted((d["kind"], d["id"], d["rev"]) for d in await adm.list())
        seq = healthz(self.srv.port)["seq"]

        # A backup only reads: it works beside the server.
        out = os.path.join(self.tmp, "backup")
        cp = await to_thread(run_tafeld, ["backup", "--data", self.data, "--out", out])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        await adm.close()
        bsrv = Server(out)
        self.addCleanup(bsrv.kill9)
        await to_thread(bsrv.start)
        b = await Client.auth(bsrv.port, self.admin_key)
        self.assertEqual(sorted((d["kind"], d["id"], d["rev"]) for d in await b.list()), expected)
        self.assertEqual((await b.ok({"type": "ping"}))["seq"], seq)
        await b.close()
        await to_thread(bsrv.stop_clean)

        # Stopped, the directory is free again; the lock file is emptied.
        await to_thread(self.srv.stop_clean)
        with open(os.path.join(self.data, "tafeld.lock")) as fh:
            self.assertEqual(fh.read(), "")
        await to_thread(self.srv.start)
        self.assertEqual(healthz(self.srv.port)["seq"], seq)
        # Killed, too: the kernel drops the lock with the process.
        await to_thread(self.srv.kill9)
        await to_thread(self.srv.start)
        adm = await Client.auth(self.srv.port, self.admin_key)
        self.assertEqual(sorted((d["kind"], d["id"], d["rev"]) for d in await adm.list()),
                         expected)
        await adm.close()
        await to_thread(self.srv.stop_clean)


class CompactTest(DataDirCase):

    @async_test(timeout=180)
    async def test_compact_purges_deleted_text(self):
        token = secrets.token_hex(8)
        marker = "WISMIJ-" + token
        adm = await Client.auth(self.srv.port, self.admin_key)
        data_id = adm.me["data_id"]
        a = await adm.new_opgave()
        keep = await adm.create("reflectie", {"opgave": a, "sort": "geleerd",
                                              "text": "Samen met de corporatie gaat het sneller"})
        for i in range(5):
            await adm.create("moment", sample_doc("moment", a, n=i))
        # The marker in documents of several pages each, stored twice (the
        # document and its change-log entry): freed, they are many pages,
        # more than the few the writes after them could take again.
        text = " ".join([marker] * (3900 // (len(marker) + 1)))
        gone = [await adm.create("reflectie", {"opgave": a, "sort": "idee", "text": text})
                for _ in range(8)]
        gone.append(await adm.create("reflectie", {"opgave": a, "sort": "vraag",
                                                   "text": "Kort: " + marker}))
        for d in gone:
            await adm.ok({"type": "delete", "kind": "reflectie", "id": d["id"], "rev": d["rev"]})
        expected = sorted((d["kind"], d["id"], d["rev"]) for d in await adm.list())
        seq = (await adm.ok({"type": "ping"}))["seq"]
        await adm.close()

        # Refused while the server runs; the directory keeps its file.
        await to_thread(self.refused, ["compact", "--data", self.data])
        await to_thread(self.srv.stop_clean)
        data_mdb = os.path.join(self.data, "data.mdb")
        with open(data_mdb, "rb") as fh:
            live = fh.read()
        # What compaction is for: the deleted text is still in the file.
        self.assertIn(marker.encode(), live)

        cp = await to_thread(run_tafeld, ["compact", "--data", self.data])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        m = SIZES_RE.search(cp.stdout)
        self.assertIsNotNone(m, cp.stdout)
        before, after = int(m.group(1)), int(m.group(2))
        self.assertEqual(before, len(live))
        self.assertEqual(after, os.path.getsize(data_mdb))
        self.assertLess(after, before)
        # Not one copy of it in any file of the directory, not even the
        # random part alone.
        self.assertEqual(files_holding(self.data, token.encode()), [])
        self.assertEqual(sorted(os.listdir(self.data)), ["data.mdb", "tafeld.lock"])

        # The same directory: its documents, seq, identity and keys.
        await to_thread(self.srv.start)
        adm = await Client.auth(self.srv.port, self.admin_key)
        self.assertEqual(adm.me["data_id"], data_id)
        self.assertEqual((await adm.ok({"type": "ping"}))["seq"], seq)
        self.assertEqual(sorted((d["kind"], d["id"], d["rev"]) for d in await adm.list()),
                         expected)
        self.assertEqual((await adm.get("reflectie", keep["id"]))["text"], keep["text"])
        for d in gone:
            await adm.err({"type": "get", "kind": "reflectie", "id": d["id"]}, "not_found")
        r = await adm.ok({"type": "put", "kind": "moment", "doc": sample_doc("moment", a)})
        self.assertEqual(r["seq"], seq + 1)
        await adm.close()
        await to_thread(self.srv.stop_clean)


if __name__ == "__main__":
    main()
