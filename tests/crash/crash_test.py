#!/usr/bin/python3
"""crash_test.py - durability against power loss, not only kill -9 (issue 12,
docs/durability.md).

`kill -9` keeps the page cache: a test that only kills the server would pass
with syncing turned off. Here tafeld runs with tests/crash/shim.c preloaded,
which journals, for every write to data.mdb not yet made durable (by
fsync/fdatasync, or by returning from a write through an O_DSYNC
descriptor), the bytes it overwrote. One trial:

  1. `tafeld init` a fresh data directory; `tafeld serve` it with the shim;
  2. 100 WebSocket connections write reflecties in a closed loop (put, patch
     and delete of their own documents), each recording every `ok` (id, rev,
     seq, text) and the one request still unanswered;
  3. `kill -9` after a random 0.3-1.5 s;
  4. the power cut: the journal is applied to data.mdb, undoing either every
     write that was not durable ("all"), or a random subset of their 4 KiB
     pages ("subset", a disk that wrote some of them, in any order);
  5. `tafeld serve` again, without the shim and without any recovery step,
     and check: /healthz is ok; every acknowledged write is there with its
     rev and text (snapshot and get), or gone if it was an acknowledged
     delete; the change log replayed from seq 0 is exactly 1..seq with each
     acknowledged seq naming its id and rev; only the unanswered requests
     may or may not have happened; a new write gets the next seq.

Before the trials a self-test runs the shim and the power cut on a scratch
file with known writes, so that a shim which silently tracks nothing cannot
pass.

Usage (Debian's /usr/bin/python3, for its websockets 10.4):
  TAFELD=build/server/tafeld TAFEL_CRASH_SHIM=build/tests/libtafel_crash_shim.so \\
    /usr/bin/python3 tests/crash/crash_test.py [--trials 10] [--seed N] [--keep]

Exits 0 when every trial passes, 1 when one fails (each failure says what
was lost), 2 on a usage or set-up error. Everything runs on 127.0.0.1; every
process started here is ended here by its PID; every wait is bounded.
"""

import argparse
import asyncio
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from tafel_harness import Client, Server, healthz, init_data_dir, tafeld_path  # noqa: E402

PAGE = 4096           # LMDB's page size here: the unit a disk may write or not
WRITERS = 100
KILL_AFTER = (0.3, 1.5)
TRIAL_LIMIT = 90.0    # seconds one trial may take at most
MAX_OPS = 100000      # per writer and trial: bounds the loop, never reached
SAMPLE_GETS = 20
MAX_SHOWN = 6         # problem lines printed per failed trial

# The journal's records (tests/crash/shim.c has the full description).
REC = struct.Struct("<4sIQQQQQ")
MAGIC = b"TCJ1"
REC_WRITE, REC_DURABLE, REC_SYNC, REC_BASE, REC_OPEN = 1, 2, 3, 4, 5


# ------------------------------------------------------------- set-up

def shim_path():
    """The shim: $TAFEL_CRASH_SHIM, else next to the tafeld under test."""
    p = os.environ.get("TAFEL_CRASH_SHIM")
    if not p:
        p = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(tafeld_path()))),
                         "tests", "libtafel_crash_shim.so")
    if not os.path.isfile(p):
        raise RuntimeError("crash shim not found at %s: build the target tafel_crash_shim "
                           "or set TAFEL_CRASH_SHIM" % p)
    return os.path.abspath(p)


def shim_env(shim, data_file, journal):
    env = dict(os.environ, LD_PRELOAD=shim, TAFEL_CRASH_FILE=data_file,
               TAFEL_CRASH_JOURNAL=journal)
    # An ASan build wants its runtime first among the loaded libraries; the
    # shim goes first on purpose, so let ASan accept that.
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "verify_asan_link_order=0"
    return env


# ------------------------------------------------------- the power cut

class Journal:
    """The parsed undo journal: the writes since the durable base, in order."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.writes = []          # [id, off, len, size, old bytes]
        self.durable = set()      # ids written through O_DSYNC that returned
        self.synced_upto = 0      # ids up to this were covered by a sync
        self.opens = 0
        self.syncs = 0            # before the journal was last emptied
        self.torn = False
        pos = 0
        # Bounded: every round consumes at least one record header.
        while pos < len(data):
            if pos + REC.size > len(data):
                self.torn = True  # the kill cut the last record short
                break
            magic, typ, rid, off, ln, size, old_len = REC.unpack_from(data, pos)
            if magic != MAGIC:
                raise RuntimeError("journal %s: no record at byte %d" % (path, pos))
            end = pos + REC.size + old_len
            if end > len(data):
                self.torn = True  # its write never began: nothing to undo
                break
            if typ == REC_WRITE:
                self.writes.append([rid, off, ln, size, data[pos + REC.size:end]])
            elif typ == REC_DURABLE:
                self.durable.add(rid)
            elif typ == REC_SYNC:
                self.synced_upto = max(self.synced_upto, rid)
            elif typ == REC_BASE:
                self.syncs = ln
            elif typ == REC_OPEN:
                self.opens += 1
            else:
                raise RuntimeError("journal %s: unknown record %d" % (path, typ))
            pos = end

    def is_durable(self, wid):
        return wid <= self.synced_upto or wid in self.durable


def pieces(off, length):
    """[off, off+length) cut at page boundaries: what a disk writes or not."""
    out = []
    a = off
    end = off + length
    while a < end:
        b = min(end, (a // PAGE + 1) * PAGE)
        out.append((a, b))
        a = b
    return out


def power_cut(data_file, journal, keep):
    """Put DATA_FILE back as a power cut would have left it.

    Undo every write in JOURNAL, newest first, which leaves the durable base
    and tells each write's new bytes; then replay, oldest first, every
    durable write and of the others each page for which KEEP(write id, start,
    end) is true. Returns statistics."""
    with open(data_file, "rb") as f:
        cur = bytearray(f.read())
    before = bytes(cur)
    news = []
    for wid, off, ln, size, old in reversed(journal.writes):
        end = min(off + ln, len(cur))
        news.append(bytes(cur[off:end]) if off < end else b"")
        cur[off:off + len(old)] = old
        if len(cur) > size:
            del cur[size:]
    news.reverse()

    base = bytes(cur)
    st = {"unsynced": 0, "undone": 0, "undone_bytes": 0, "pages": 0, "dropped": 0,
          "grew": len(before) > len(base)}
    for (wid, off, _ln, _size, _old), new in zip(journal.writes, news):
        durable = journal.is_durable(wid)
        if not durable:
            st["unsynced"] += 1
        dropped_any = False
        for a, b in pieces(off, len(new)):
            if not durable:
                st["pages"] += 1
                if not keep(wid, a, b):
                    st["dropped"] += 1
                    st["undone_bytes"] += b - a
                    dropped_any = True
                    continue
            if len(cur) < a:
                cur.extend(bytes(a - len(cur)))  # a hole, as a file system leaves it
            cur[a:b] = new[a - off:b - off]
        if dropped_any:
            st["undone"] += 1

    # Replaying everything must give back exactly the file the kill left: a
    # check of the undo itself.
    if len(journal.writes) and len(before) < (256 << 20):
        full = bytearray(base)
        for (_wid, off, _ln, _size, _old), new in zip(journal.writes, news):
            if len(full) < off:
                full.extend(bytes(off - len(full)))
            full[off:off + len(new)] = new
        if bytes(full) != before:
            raise RuntimeError("the undo journal does not replay to the file the kill left")

    with open(data_file, "r+b") as f:
        f.write(cur)
        f.truncate(len(cur))
        f.flush()
        os.fsync(f.fileno())
    return st


# ----------------------------------------------------------- self-test

SELF_TEST_CHILD = r"""
import os, sys, time
f = sys.argv[1]
fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o600)
os.pwrite(fd, b"A" * 8192, 0)
os.fdatasync(fd)                            # the durable base: A*8192
os.pwrite(fd, b"B" * 4096, 4096)            # unsynced
m = os.open(f, os.O_WRONLY | os.O_DSYNC)
os.pwrite(m, b"M" * 16, 0)                  # durable when it returns
os.lseek(fd, 8192, os.SEEK_SET)
os.writev(fd, [b"C" * 4096, b"D" * 4096])   # unsynced, grows the file
other = os.open(f + ".other", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(other, b"not tracked")
print("ready", flush=True)
time.sleep(30)
"""


def self_test(shim, tmp):
    """The shim and the power cut on known writes; raises on a mismatch."""
    f = os.path.join(tmp, "data.mdb")
    j = os.path.join(tmp, "undo.journal")
    proc = subprocess.Popen([sys.executable, "-c", SELF_TEST_CHILD, f], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=shim_env(shim, f, j))
    try:
        out, err = proc.stdout.readline(), b""
        if out.strip() != b"ready":
            proc.kill()
            _o, err = proc.communicate(timeout=10)
            raise RuntimeError("self-test child failed: %s" % err.decode(errors="replace"))
        proc.kill()  # kill -9
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    with open(f, "rb") as fh:
        killed = fh.read()
    want_killed = b"M" * 16 + b"A" * 4080 + b"B" * 4096 + b"C" * 4096 + b"D" * 4096
    if killed != want_killed:
        raise RuntimeError("self-test: unexpected file after kill -9")
    jr = Journal(j)
    # Since the sync emptied the journal: the O_DSYNC open, B, M, C+D.
    if (jr.opens != 1 or jr.syncs != 1 or len(jr.writes) != 3
            or jr.durable != {jr.writes[1][0]}):
        raise RuntimeError("self-test: the shim journalled %d opens, %d syncs, %d writes, "
                           "durable %r (want 1, 1, 3, the O_DSYNC one)"
                           % (jr.opens, jr.syncs, len(jr.writes), jr.durable))
    cases = [
        ("all", lambda w, a, b: False, b"M" * 16 + b"A" * 8176),
        ("none", lambda w, a, b: True, want_killed),
        ("subset", lambda w, a, b: a == 12288,
         b"M" * 16 + b"A" * 8176 + bytes(4096) + b"D" * 4096),
    ]
    for name, keep, want in cases:
        with open(f, "wb") as fh:
            fh.write(killed)
        power_cut(f, Journal(j), keep)
        with open(f, "rb") as fh:
            got = fh.read()
        if got != want:
            raise RuntimeError("self-test: power cut %r left %d bytes, not the %d expected"
                               % (name, len(got), len(want)))


# ------------------------------------------------------------- the load

class Writer:
    """One connection writing its own reflecties in a closed loop."""

    def __init__(self, n, client, opgave, rng):
        self.n = n
        self.c = client
        self.opgave = opgave
        self.rng = rng
        self.acked = []     # dicts: op, id, rev, seq, text
        self.inflight = None
        self.errors = []
        self.docs = {}      # id -> rev, of documents not deleted

    async def run(self, stop):
        for i in range(MAX_OPS):
            if stop.is_set():
                return
            text = "w%d-%d %08x" % (self.n, i, self.rng.getrandbits(32))
            r = self.rng.random()
            if not self.docs or r < 0.6:
                op = {"op": "put", "id": None, "rev": 1, "text": text}
                msg = {"type": "put", "kind": "reflectie",
                       "doc": {"opgave": self.opgave, "sort": "idee", "text": text}}
            else:
                did = self.rng.choice(sorted(self.docs))
                rev = self.docs[did]
                if r < 0.9:
                    op = {"op": "patch", "id": did, "rev": rev + 1, "text": text}
                    msg = {"type": "patch", "kind": "reflectie", "id": did, "rev": rev,
                           "set": {"text": text}}
                else:
                    op = {"op": "delete", "id": did, "rev": rev, "text": None}
                    msg = {"type": "delete", "kind": "reflectie", "id": did, "rev": rev}
            self.inflight = op
            try:
                reply = await self.c.request(msg, timeout=15)
            except Exception:  # noqa: BLE001 - the kill: the outcome is unknown
                return
            self.inflight = None
            if reply.get("type") != "ok":
                self.errors.append(reply)
                return
            op = dict(op, id=reply["id"], seq=reply["seq"])
            if reply.get("rev") != op["rev"]:
                self.errors.append({"unexpected rev": reply, "sent": msg})
                return
            self.acked.append(op)
            if op["op"] == "delete":
                self.docs.pop(op["id"], None)
            else:
                self.docs[op["id"]] = op["rev"]


def expected_states(writers):
    """id -> (state after its last acknowledged op, the set of allowed states).
    A state is ("present", rev, text) or ("deleted",)."""
    out = {}
    for w in writers:
        for a in w.acked:
            st = ("deleted",) if a["op"] == "delete" else ("present", a["rev"], a["text"])
            out[a["id"]] = (st, {st})
        f = w.inflight
        if f and f["id"] is not None:  # a patch or delete that may have happened
            st, allowed = out[f["id"]]
            alt = ("deleted",) if f["op"] == "delete" else ("present", f["rev"], f["text"])
            out[f["id"]] = (st, allowed | {alt})
    return out


def state_of(doc):
    return ("deleted",) if doc is None else ("present", doc.get("rev"), doc.get("text"))


def show(st):
    return "absent" if st[0] == "deleted" else "rev %s %r" % (st[1], st[2])


# ----------------------------------------------------------- the checks

async def verify(port, key, writers, opgave_ack):
    """Everything acknowledged is there; returns (problems, lost acks)."""
    problems = []
    lost = {}  # seq -> ack, for the summary
    acked = [opgave_ack] + [a for w in writers for a in w.acked]
    max_seq = max(a["seq"] for a in acked)

    h = healthz(port)
    if h.get("status") != "ok":
        problems.append("/healthz: %r" % (h,))
    seq = h.get("seq", 0)
    for a in acked:
        if a["seq"] > seq:
            lost[a["seq"]] = a

    c = await Client.auth(port, key)
    # The change log from 0: every seq once, in order, each ack where it was.
    reply = await c.ok({"type": "sub", "opgave": "*", "since": 0,
                        "data_id": c.me["data_id"]}, timeout=60)
    msgs = c.pending_messages(("event", "snapshot"))
    if any(m["type"] == "snapshot" for m in msgs):
        problems.append("the change log from 0 came as a snapshot")
    seqs = [m.get("seq") for m in msgs if m["type"] == "event"]
    if seqs != list(range(1, reply["seq"] + 1)):
        missing = sorted(set(range(1, reply["seq"] + 1)) - set(seqs))
        problems.append("seq not gap-free: %d events for seq 1..%d (missing %s)"
                        % (len(seqs), reply["seq"], missing[:5]))
    if reply["seq"] != seq:
        problems.append("sub says seq %d, /healthz %d" % (reply["seq"], seq))
    by_seq = {m["seq"]: m for m in msgs if m["type"] == "event"}
    for a in acked:
        e = by_seq.get(a["seq"])
        if e is None:
            lost[a["seq"]] = a
        elif e["doc"].get("id") != a["id"] or e["doc"].get("rev") != a["rev"]:
            problems.append("seq %d is %s/%s rev %s in the log, but was acknowledged as %s rev %s"
                            % (a["seq"], e["doc"].get("kind"), e["doc"].get("id"),
                               e["doc"].get("rev"), a["id"], a["rev"]))
    await c.close()

    # The documents now: a snapshot of everything.
    c = await Client.auth(port, key)
    before, _ok = await c.sub("*", timeout=60)
    docs = {}
    for m in before:
        for d in m.get("docs", []):
            docs[d["id"]] = d
    exp = expected_states(writers)
    if opgave_ack["id"] not in docs:
        lost[opgave_ack["seq"]] = opgave_ack
    last_ack = {}
    for a in acked[1:]:
        last_ack[a["id"]] = a
    for did, (st, allowed) in exp.items():
        got = state_of(docs.get(did))
        if got not in allowed:
            a = last_ack[did]
            lost.setdefault(a["seq"], a)
            problems.append("reflectie %s: %s after restart, acknowledged %s (seq %d)"
                            % (did, show(got), show(st), a["seq"]))
    # A document nobody was told about may only be an unanswered put.
    pending_puts = {w.inflight["text"] for w in writers
                    if w.inflight and w.inflight["op"] == "put"}
    for did, d in docs.items():
        if did not in exp and did != opgave_ack["id"]:
            if d.get("text") in pending_puts:
                pending_puts.discard(d.get("text"))
            else:
                problems.append("document %s/%s was never written" % (d.get("kind"), did))

    # get agrees with the snapshot.
    present = sorted(did for did, (st, allowed) in exp.items() if len(allowed) == 1
                     and st[0] == "present" and did in docs)
    for did in random.Random(seq).sample(present, min(SAMPLE_GETS, len(present))):
        r = await c.request({"type": "get", "kind": "reflectie", "id": did})
        if r.get("type") != "ok" or state_of(r["doc"]) != exp[did][0]:
            problems.append("get reflectie %s: %s" % (did, str(r)[:200]))

    # The counter goes on where it stopped.
    if opgave_ack["id"] in docs:
        r = await c.request({"type": "put", "kind": "reflectie",
                             "doc": {"opgave": opgave_ack["id"], "sort": "idee",
                                     "text": "na de stroomstoring"}})
        if r.get("type") != "ok" or r.get("seq") != seq + 1:
            problems.append("the next write after restart: %s (want seq %d)"
                            % (str(r)[:200], seq + 1))
    await c.close()

    if lost:
        first = [lost[s] for s in sorted(lost)[:3]]
        problems.insert(0, "lost acknowledged writes: %d of %d (acknowledged up to seq %d, "
                        "seq %d after restart); e.g. %s"
                        % (len(lost), len(acked), max_seq, seq,
                           "; ".join("%s %s rev %d seq %d" % (a["op"], a["id"], a["rev"],
                                                              a["seq"]) for a in first)))
    return problems, len(lost)


# ------------------------------------------------------------- a trial

async def trial(n, args, rng, shim, tmp):
    """One trial; returns (problems, statistics)."""
    data = os.path.join(tmp, "data")
    journal = os.path.join(tmp, "undo.journal")
    key = init_data_dir(data)  # before the shim: the durable base of the trial
    data_file = os.path.join(data, "data.mdb")
    stats = {"acked": 0}
    srv = Server(data, env=shim_env(shim, data_file, journal))
    clients = []
    try:
        srv.start()
        admin = await Client.auth(srv.port, key)
        clients.append(admin)
        r = await admin.ok({"type": "put", "kind": "opgave", "doc": {"title": "Stroomstoring"}})
        opgave_ack = {"op": "put", "id": r["id"], "rev": r["rev"], "seq": r["seq"],
                      "text": None}
        opened = await asyncio.gather(*[Client.auth(srv.port, key) for _ in range(args.writers)])
        clients.extend(opened)
        writers = [Writer(i, c, opgave_ack["id"], random.Random(rng.getrandbits(64)))
                   for i, c in enumerate(opened)]
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(w.run(stop)) for w in writers]
        kill_after = rng.uniform(*KILL_AFTER)
        await asyncio.sleep(kill_after)
        srv.proc.kill()  # kill -9, mid-load
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        srv.kill9()      # reap it
        await asyncio.gather(*[c.close() for c in clients])
        clients = []
        errors = [e for w in writers for e in w.errors]
        if errors:
            return ["a write was refused under load: %s" % str(errors[0])[:300]], stats
        stats["acked"] = 1 + sum(len(w.acked) for w in writers)
        stats["kill_after"] = kill_after

        # The power cut.
        mode = "all" if n % 2 == 0 else "subset"
        p = 1.0 if mode == "all" else rng.uniform(0.25, 0.75)
        # The shim creates the journal when it starts; it may be empty (the
        # kill came right after a sync).
        if not os.path.exists(journal):
            return ["the shim started no journal: was it loaded?"], stats
        jr = Journal(journal)
        cut = power_cut(data_file, jr, lambda w, a, b: rng.random() >= p)
        stats.update(cut, mode=mode, p=p, syncs=jr.syncs)

        # Back up, as an operator would after the power returns: no recovery step.
        srv = Server(data)
        t0 = time.monotonic()
        try:
            srv.start()
        except Exception as e:  # noqa: BLE001 - a broken environment is the finding
            stats["lost"] = stats["acked"]
            lines = [ln for ln in str(e).strip().splitlines() if ln.strip()] or ["?"]
            why = lines[0] if len(lines) == 1 else "%s ... %s" % (lines[0], lines[-1])
            return ["the environment does not open after the power cut, so all %d "
                    "acknowledged writes are unreachable: %s" % (stats["acked"], why[:400])], stats
        stats["restart"] = time.monotonic() - t0
        try:
            problems, stats["lost"] = await verify(srv.port, key, writers, opgave_ack)
        except Exception as e:  # noqa: BLE001 - e.g. the server died reading a broken page
            problems = ["checking after the power cut failed: %s%s"
                        % (str(e)[:300], "" if srv.running() else " (tafeld died)")]
        if srv.running():
            rc = srv.stop()
            if rc != 0 and not problems:
                problems.append("tafeld exited %r after SIGTERM" % rc)
        return problems, stats
    finally:
        for c in clients:
            await c.close()
        srv.kill9()


def describe(stats):
    if "mode" not in stats:
        return "%d acknowledged" % stats.get("acked", 0)
    cut = stats["mode"] if stats["mode"] == "all" else "subset p=%.2f" % stats["p"]
    return ("kill after %.2f s, %d acknowledged; power cut (%s): undid %d of %d unsynced "
            "writes (%d of %d pages, %.1f KiB%s)"
            % (stats["kill_after"], stats["acked"], cut, stats["undone"], stats["unsynced"],
               stats["dropped"], stats["pages"], stats["undone_bytes"] / 1024.0,
               ", file shrank" if stats["grew"] and stats["dropped"] else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--writers", type=int, default=WRITERS)
    ap.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    ap.add_argument("--keep", action="store_true", help="keep failed trials' directories")
    args = ap.parse_args()
    if not 1 <= args.trials <= 10000 or not 1 <= args.writers <= 900:
        ap.error("--trials 1..10000, --writers 1..900")
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    try:
        tafeld = tafeld_path()
        shim = shim_path()
    except RuntimeError as e:
        print("crash_test: %s" % e, file=sys.stderr)
        return 2
    print("crash_test: %s, shim %s, %d trials, %d writers, seed %d"
          % (tafeld, shim, args.trials, args.writers, seed), flush=True)

    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="tafel-crash-selftest-")
    try:
        self_test(shim, tmp)
    except Exception as e:  # noqa: BLE001
        print("crash_test: self-test FAILED: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("self-test: the shim journals unsynced writes and the power cut undoes them: ok",
          flush=True)

    failed = 0
    acked = lost = undone = cut_trials = 0
    # A kill often lands where nothing is unsynced (the meta page's O_DSYNC
    # write, or between commits). Should no trial have had anything to undo,
    # a few more run (at most as many again), so that a short run cannot pass
    # without a power cut that took something away.
    total = args.trials
    n = 0
    while n < total:
        rng = random.Random(seed * 100003 + n)
        tmp = tempfile.mkdtemp(prefix="tafel-crash-")
        t0 = time.monotonic()
        try:
            problems, stats = asyncio.run(asyncio.wait_for(trial(n, args, rng, shim, tmp),
                                                           TRIAL_LIMIT))
        except asyncio.TimeoutError:
            problems, stats = ["the trial exceeded %d s" % TRIAL_LIMIT], {}
        except Exception as e:  # noqa: BLE001 - a harness failure fails the trial
            problems, stats = ["%s: %s" % (type(e).__name__, str(e)[:500])], {}
        took = time.monotonic() - t0
        acked += stats.get("acked", 0)
        lost += stats.get("lost", 0)
        undone += stats.get("undone", 0)
        cut_trials += 1 if stats.get("undone") else 0
        line = "trial %d/%d: %s; %.1f s" % (n + 1, total, describe(stats), took)
        n += 1
        if n == total and total == args.trials and cut_trials == 0:
            total = 2 * args.trials
        if problems:
            failed += 1
            shown = problems[:MAX_SHOWN]
            if len(problems) > MAX_SHOWN:
                shown.append("... and %d more" % (len(problems) - MAX_SHOWN))
            print("%s: FAILED\n    %s" % (line, "\n    ".join(shown)), flush=True)
            if args.keep:
                print("    kept %s" % tmp)
                continue
        else:
            print("%s: ok" % line, flush=True)
        shutil.rmtree(tmp, ignore_errors=True)

    took = time.monotonic() - t_start
    print("crash_test: %d of %d trials passed; %d acknowledged writes checked, %d lost; "
          "unsynced writes undone in %d trials (%d in all); seed %d; %.1f s"
          % (total - failed, total, acked, lost, cut_trials, undone, seed, took))
    if not failed and cut_trials == 0:
        print("crash_test: FAILED: no trial had an unsynced write to undo, so none proved "
              "anything; run more trials")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
