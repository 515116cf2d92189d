#!/usr/bin/python3
"""The command-line client: the real `tafel` binary against the real `tafeld`
on 127.0.0.1 (README "The command-line client").

Every command, the `--json` shapes, the exit codes of each failure (2 usage,
3 connection, 4 authentication, 5 permission, 6 conflict, 7 not found),
`tafel login`'s config file, wss:// with --ca, `watch` surviving a server
restart without missing or repeating a change, and `report` on a seeded
opgave. `tafel` runs in a subprocess with TAFEL_URL / TAFEL_KEY and a
temporary XDG_CONFIG_HOME; the binary is $TAFEL (else build/client-cli/tafel).
`tafel login` takes its key from TAFEL_KEY, stdin or a prompt without echo (on
a pseudo-terminal here), and refuses `tafel login URL KEY`.
"""
import asyncio
import datetime
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (JOIN_ALPHABET, KEY_RE, KINDS, Client, Server, TafelCase,  # noqa: E402
                           init_data_dir, main, random_key, tafel_path, tafeld_path)


def cli_env(url, key, xdg, lang="nl_NL.UTF-8", extra=None):
    """The environment tafel runs in: nothing of ours leaks in but the
    sanitizer settings."""
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": xdg, "XDG_CONFIG_HOME": xdg,
         "LANG": lang, "TAFEL_URL": url, "TAFEL_KEY": key}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    e.update(extra or {})
    return {k: v for k, v in e.items() if v is not None}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CliCase(TafelCase):
    """A TafelCase that runs `tafel` with the class's server and admin key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.xdg = os.path.join(cls.tmp, "xdg")
        os.makedirs(cls.xdg)

    def url(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    def tafel(self, *args, key=None, url=None, env=None, stdin=None, timeout=20, lang="nl_NL.UTF-8"):
        """Run tafel ARGS; returns CompletedProcess with text stdout/stderr."""
        e = cli_env(url if url is not None else self.url(),
                    key if key is not None else self.admin_key, self.xdg, lang, env)
        cp = subprocess.run([tafel_path()] + [str(a) for a in args], env=e, input=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                            text=True)
        return cp

    def ok(self, *args, **kw):
        cp = self.tafel(*args, **kw)
        self.assertEqual(cp.returncode, 0, "tafel %s: %s" % (" ".join(map(str, args)), cp.stderr))
        self.assertEqual(cp.stderr, "", "nothing on stderr when it works")
        return cp

    def js(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw).stdout)

    def fails(self, code, *args, **kw):
        """Run and expect exit CODE with exactly one line on stderr."""
        cp = self.tafel(*args, **kw)
        self.assertEqual(cp.returncode, code, "tafel %s -> %d: %s%s"
                         % (" ".join(map(str, args)), cp.returncode, cp.stdout, cp.stderr))
        lines = cp.stderr.splitlines()
        self.assertEqual(len(lines), 1, "one error line: %r" % cp.stderr)
        self.assertTrue(lines[0].startswith("tafel: "), lines[0])
        return cp

    def new_opgave(self, title="Vitale kernen"):
        return self.js("opgave", "create", "--title", title)["id"]

    def make_key(self, role, *opgaven, expires=None):
        args = ["key", "create", "--role", role, "--label", "test " + role]
        for o in opgaven:
            args += ["--opgave", o]
        if expires:
            args += ["--expires", expires]
        return self.js(*args)


def run_ws(port, key, msgs):
    """Send MSGS with a Python client signed in with KEY; the ok replies."""
    async def go():
        c = await Client.auth(port, key)
        try:
            return [await c.ok(m) for m in msgs]
        finally:
            await c.close()
    return asyncio.run(go())


# Sample option values per kind: the fields a create needs.
def create_args(kind, opgave, refs):
    if kind == "opgave":
        return ["--title", "Opgave via de CLI"]
    base = ["--opgave", opgave]
    return base + {
        "actielijn": ["--title", "Ontmoeten", "--position", "1"],
        "activiteit": ["--actielijn", refs.get("actielijn", ""), "--title", "Buurthuis open",
                       "--owner", "Woonstichting", "--status", "lopend"],
        "indicator": ["--title", "Inwoners actief", "--type", "effect", "--baseline", "20"],
        "meting": ["--indicator", refs.get("indicator", ""), "--date", "2025-03-01",
                   "--value", "21.5"],
        "reflectie": ["--sort", "idee", "--text", "Een bankje bij de kerk"],
        "sessie": ["--question", "Wat maakt uw dorp vitaal?"],
        "moment": ["--date", "2025-04-01", "--title", "Dorpsavond", "--type", "mijlpaal"],
        "lid": ["--actor", "kabcdef12345", "--name", "Woonstichting", "--role", "partner"],
        "besluit": ["--text", "Het buurthuis blijft open", "--date", "2025-05-01",
                    "--decided-by", "raad", "--answers", refs.get("reflectie", ""),
                    "--starts", refs.get("activiteit", "")],
    }[kind]


SET_FIELD = {"opgave": ("title", "Nieuwe titel"), "actielijn": ("title", "Verbinden"),
             "activiteit": ("status", "afgerond"), "indicator": ("target", "35"),
             "meting": ("value", "22"), "reflectie": ("text", "Twee bankjes"),
             "sessie": ("question", "Wat kan beter?"), "moment": ("title", "Dorpsfeest"),
             "lid": ("name", "De Key"), "besluit": ("status", "genomen")}


class CliBasicsTest(CliCase):

    def test_version_and_help(self):
        cp = self.ok("--version")
        self.assertIn("tafel.v1", cp.stdout)
        cp = self.ok("--help")
        for code in range(8):
            self.assertRegex(cp.stdout, r"(?m)^\s+%d\s+\S" % code, "exit code %d documented" % code)
        self.assertIn("Exitcodes", cp.stdout)
        self.assertIn("tafel watch", cp.stdout)
        en = self.ok("--help", lang="en_GB.UTF-8")
        self.assertIn("Exit codes", en.stdout)
        cp = self.ok("opgave", "--help")
        self.assertIn("--target-date", cp.stdout)
        self.assertIn("Streefdatum", cp.stdout, "field labels from the schema's label_nl")
        self.assertIn("groen, oranje, rood", cp.stdout)
        for cmd in ("watch", "report", "key", "session", "measure", "reflect", "login", "audit"):
            cp = self.ok(cmd, "--help")
            self.assertIn("tafel " + cmd, cp.stdout)
        cp = self.ok("moment", "--help")
        self.assertIn("tafel moment OPGAVE", cp.stdout)
        self.assertIn("tafel moment list", cp.stdout)

    def test_every_kind_create_list_show_set_delete(self):
        o = self.new_opgave()
        refs = {}
        for kind in KINDS:
            doc = self.js(kind, "create", *create_args(kind, o, refs))
            self.assertEqual(doc["kind"], kind)
            self.assertEqual(doc["rev"], 1)
            refs[kind] = doc["id"]
            listed = self.js(kind, "list") if kind == "opgave" else \
                self.js(kind, "list", "--opgave", o)
            self.assertIsInstance(listed, list)
            self.assertIn(doc["id"], [d["id"] for d in listed])
            self.assertTrue(all(d["kind"] == kind for d in listed))
            shown = self.js(kind, "show", doc["id"])
            self.assertEqual(shown, doc)
            field, value = SET_FIELD[kind]
            changed = self.js(kind, "set", doc["id"], "%s=%s" % (field, value))
            self.assertEqual(changed["rev"], 2)
            self.assertEqual(str(changed[field]), value)
            # human output: a table naming the field
            table = self.ok(kind, "show", doc["id"]).stdout
            self.assertIn(field, table)
            human_list = self.ok(kind, "list", *([] if kind == "opgave" else ["--opgave", o]))
            self.assertIn(doc["id"], human_list.stdout)
        # delete in reverse order of dependency, the opgave last
        for kind in reversed(KINDS):
            out = self.js(kind, "delete", refs[kind])
            self.assertEqual(out["id"], refs[kind])
            self.assertIn("seq", out)
            self.fails(7, kind, "show", refs[kind])

    def test_field_types_are_converted(self):
        doc = self.js("opgave", "create", "--title", "Veilige buurten", "--goal", "Minder overlast",
                      "--target-date", "2027-12-31", "--traffic-light", "oranje",
                      "--traffic-light-note", "Vertraging", "--domains", "sociaal, fysiek",
                      "--complexity", "4", "--horizon-years", "10",
                      "--way-of-working", "programma")
        self.assertEqual(doc["target_date"], "2027-12-31")
        self.assertEqual(doc["domains"], ["sociaal", "fysiek"])
        self.assertIs(type(doc["complexity"]), int)
        self.assertEqual(doc["horizon_years"], 10)
        # field= removes an optional field; names may use - or _
        doc = self.js("opgave", "set", doc["id"], "goal=", "traffic-light=groen")
        self.assertNotIn("goal", doc)
        self.assertEqual(doc["traffic_light"], "groen")
        ind = self.js("indicator", "create", "--opgave", doc["id"], "--title", "Overlast",
                      "--type", "context", "--baseline", "3,5", "--target", "-2")
        self.assertEqual(ind["baseline"], 3.5)
        self.assertEqual(ind["target"], -2)
        refl = self.js("reflect", doc["id"], "Goed gesprek", "--sort", "goed")
        # ja/nee become booleans; pinned itself changes only with `moderate`
        # (the server says so, naming the field: the value arrived as a bool).
        cp = self.fails(2, "reflectie", "set", refl["id"], "pinned=ja")
        self.assertIn("set.pinned changes only with moderate", cp.stderr)
        self.assertIs(self.js("reflectie", "pin", refl["id"])["doc"]["pinned"], True)

    def test_usage_errors_exit_2(self):
        o = self.new_opgave()
        self.fails(2)
        self.fails(2, "frobnicate")
        self.fails(2, "opgave", "frob")
        self.fails(2, "opgave", "create", "--title", "X", "--colour", "blauw")
        self.fails(2, "opgave", "create", "--goal", "zonder titel")
        self.fails(2, "opgave", "create", "--title", "X", "--complexity", "veel")
        self.fails(2, "opgave", "create", "--title", "X", "--complexity", "9")
        cp = self.fails(2, "opgave", "create", "--title", "X", "--traffic-light", "paars")
        self.assertIn("groen", cp.stderr, "the choices are named")
        self.fails(2, "opgave", "create", "--title", "X", "--target-date", "2026-02-30")
        self.fails(2, "opgave", "create", "--title", "X", "--opgave", o)
        self.fails(2, "actielijn", "create", "--title", "zonder opgave")
        self.fails(2, "reflectie", "create", "--opgave", o, "--sort", "idee", "--text", "x",
                   "--votes", "3")
        self.fails(2, "opgave", "set", o, "title")
        self.fails(2, "opgave", "set", o)
        self.fails(2, "opgave", "set", o, "title=")  # a required field cannot be removed
        self.fails(2, "opgave", "show")
        self.fails(2, "watch", "--since", "3")
        self.fails(2, "report", o, "--format", "pdf")
        self.fails(2, "key", "create", "--role", "partner", "--label", "x", "--expires", "soon")
        self.fails(2, "--timeout", "nul", "opgave", "list")
        self.fails(2, "--lang", "fr", "opgave", "list")
        # nothing to connect to: usage, with what to do
        cp = self.fails(2, "opgave", "list", url="", key="")
        self.assertIn("tafel login", cp.stderr)
        # a usage error needs no server at all
        self.fails(2, "opgave", "create", "--complexity", "9", "--title", "x",
                   url="ws://127.0.0.1:%d/ws" % free_port())

    def test_connection_and_auth_exit_codes(self):
        self.fails(3, "opgave", "list", url="ws://127.0.0.1:%d/ws" % free_port())
        self.fails(2, "opgave", "list", url="http://127.0.0.1:%d/ws" % self.port)
        cp = self.fails(4, "opgave", "list", key=random_key())
        self.assertIn("sleutel onbekend", cp.stderr)
        cp = self.fails(4, "opgave", "list", key=random_key(), lang="en_US.UTF-8")
        self.assertIn("unknown key", cp.stderr)
        # a peer that accepts the connection and never answers: --timeout bounds the wait
        with socket.socket() as mute:
            mute.bind(("127.0.0.1", 0))
            mute.listen(1)
            t0 = time.monotonic()
            cp = self.fails(3, "--timeout", "0.5", "whoami",
                            url="ws://127.0.0.1:%d/ws" % mute.getsockname()[1])
            self.assertLess(time.monotonic() - t0, 5)

    def test_permission_not_found_conflict(self):
        o = self.new_opgave()
        w = self.make_key("waarnemer", o)
        self.assertEqual(self.js("opgave", "show", o, key=w["key"])["id"], o)
        cp = self.fails(5, "actielijn", "create", "--opgave", o, "--title", "x", key=w["key"])
        self.assertIn("toestemming", cp.stderr)
        self.fails(5, "audit", key=w["key"])
        self.fails(7, "opgave", "show", "bestaatniet")
        self.fails(7, "opgave", "set", "bestaatniet", "title=x")
        self.fails(7, "opgave", "delete", "bestaatniet")
        self.fails(7, "measure", "bestaatniet", "3")
        # conflict: a stale rev; the current values are shown
        self.js("opgave", "set", o, "title=Eerste wijziging")
        cp = self.fails(6, "--json", "opgave", "set", o, "title=Te laat", "--rev", "1")
        current = json.loads(cp.stdout)
        self.assertEqual(current["rev"], 2)
        self.assertEqual(current["title"], "Eerste wijziging")
        cp = self.fails(6, "opgave", "set", o, "title=Te laat", "--rev", "1")
        self.assertIn("Eerste wijziging", cp.stdout)
        self.assertIn("conflict", cp.stderr)
        self.fails(6, "opgave", "delete", o, "--rev", "1")
        self.assertEqual(self.js("opgave", "show", o)["title"], "Eerste wijziging")

    def test_set_conflicts_with_a_concurrent_change(self):
        """set reads the rev, then patches with it: a change in between is a
        conflict. Provoked by changing the opgave from another client in a
        loop while `set` runs; bounded, and only checks what happens."""
        o = self.new_opgave()
        stop = threading.Event()

        def hammer():
            n = 0
            async def go():
                nonlocal n
                c = await Client.auth(self.port, self.admin_key)
                while not stop.is_set() and n < 3000:
                    n += 1
                    await c.ok({"type": "patch", "kind": "opgave", "id": o,
                                "set": {"goal": "ronde %d" % n}})
                await c.close()
            asyncio.run(go())

        t = threading.Thread(target=hammer)
        t.start()
        try:
            codes = set()
            for _ in range(15):
                cp = self.tafel("--json", "opgave", "set", o, "title=Van de CLI")
                codes.add(cp.returncode)
                if cp.returncode == 6:
                    self.assertEqual(json.loads(cp.stdout)["id"], o)
                    break
        finally:
            stop.set()
            t.join(30)
        self.assertTrue(codes <= {0, 6}, codes)

    def test_shortcuts_reflect_measure_moment(self):
        o = self.new_opgave()
        r = self.js("reflect", o, "Samen met de woningcorporatie gaat het sneller", "--sort",
                    "geleerd")
        self.assertEqual((r["kind"], r["opgave"], r["sort"]), ("reflectie", o, "geleerd"))
        self.assertEqual(self.js("reflect", o, "Een idee")["sort"], "idee")
        ind = self.js("indicator", "create", "--opgave", o, "--title", "Actief", "--type",
                      "effect")
        m = self.js("measure", ind["id"], "42", "--source", "CBS")
        self.assertEqual((m["kind"], m["opgave"], m["indicator"]), ("meting", o, ind["id"]))
        self.assertEqual(m["value"], 42)
        self.assertEqual(m["source"], "CBS")
        self.assertEqual(m["date"], datetime.date.today().isoformat())
        m = self.js("measure", ind["id"], "-1.25", "--date", "2025-01-31")
        self.assertEqual((m["value"], m["date"]), (-1.25, "2025-01-31"))
        mo = self.js("moment", o, "--date", "2025-06-01", "--title", "Dorpsavond")
        self.assertEqual((mo["kind"], mo["date"], mo["title"]), ("moment", "2025-06-01",
                                                                 "Dorpsavond"))
        self.fails(2, "moment", o, "--title", "zonder datum")
        self.fails(2, "measure", ind["id"])
        out = self.ok("reflect", o, "Mensen kennen elkaar weer").stdout
        self.assertIn("aangemaakt", out)

    def test_session_open_and_close(self):
        o = self.new_opgave()
        s = self.js("session", "open", o, "--question", "Wat maakt uw dorp vitaal?")
        self.assertEqual(s["state"], "open")
        self.assertEqual(s["opgave"], o)
        code = s["join_code"]
        self.assertRegex(code, "^[%s]{8}$" % JOIN_ALPHABET)
        self.assertEqual(s["join_url"], "http://127.0.0.1:%d/join/%s" % (self.port, code))
        closed = self.js("session", "close", s["id"])
        self.assertEqual(closed["state"], "gesloten")
        again = self.ok("session", "open", "--id", s["id"]).stdout
        self.assertIn("/join/", again)
        self.assertIn("deelnamecode", again)
        self.assertEqual(self.js("sessie", "show", s["id"])["state"], "open")
        self.ok("session", "close", s["id"])
        self.fails(7, "session", "close", "bestaatniet")
        self.fails(2, "session", "open", o)  # no question
        self.fails(2, "session", "frob")

    def test_keys_and_audit(self):
        o = self.new_opgave()
        k = self.make_key("partner", o, expires="30d")
        self.assertRegex(k["key"], KEY_RE)
        exp = datetime.datetime.strptime(k["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")
        days = (exp - datetime.datetime.utcnow()).total_seconds() / 86400
        self.assertAlmostEqual(days, 30, delta=0.1)
        for d, secs in (("12h", 12 * 3600), ("90m", 5400), ("3600s", 3600)):
            kk = self.make_key("waarnemer", o, expires=d)
            exp = datetime.datetime.strptime(kk["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")
            self.assertAlmostEqual((exp - datetime.datetime.utcnow()).total_seconds(), secs,
                                   delta=60)
        human = self.ok("key", "create", "--role", "waarnemer", "--label", "Raad").stdout
        self.assertRegex(human, r"tafel_[A-Za-z0-9_-]{43}")
        self.assertIn("niet nog eens getoond", human)
        me = self.js("whoami", key=k["key"])
        self.assertEqual((me["role"], me["actor"], me["opgaven"]), ("partner", k["key_id"], [o]))
        keys = self.js("key", "list")
        self.assertIsInstance(keys, list)
        self.assertIn(k["key_id"], [x["key_id"] for x in keys])
        self.assertIn(k["key_id"], self.ok("key", "list").stdout)
        out = self.js("key", "revoke", k["key_id"])
        self.assertEqual(out["key_id"], k["key_id"])
        cp = self.fails(4, "whoami", key=k["key"])
        self.assertIn("sleutel ingetrokken: vraag de beheerder om een nieuwe sleutel", cp.stderr)
        self.fails(7, "key", "revoke", "kbestaatniet")
        entries = self.js("audit")
        self.assertIsInstance(entries, list)
        actions = [(e["action"], e["target"]) for e in entries]
        self.assertIn(("key.create", k["key_id"]), actions)
        self.assertIn(("key.revoke", k["key_id"]), actions)
        last = entries[-1]["n"]
        self.assertEqual(self.js("audit", "--after", last), [])
        self.assertEqual(len(self.js("audit", "--limit", "1")), 1)
        self.assertIn("key.revoke", self.ok("audit").stdout)

    def test_login_saves_config_0600(self):
        xdg = tempfile.mkdtemp(dir=self.tmp)
        env = {"XDG_CONFIG_HOME": xdg}
        # the key comes from TAFEL_KEY (never from the command line)
        self.fails(4, "login", self.url(), url="", key=random_key(), env=env, stdin="")
        self.assertFalse(os.path.exists(os.path.join(xdg, "tafel", "config")),
                         "a refused key is not saved")
        cp = self.ok("login", self.url(), url="", key=self.admin_key, env=env, stdin="")
        self.assertIn("aangemeld", cp.stdout)
        path = os.path.join(xdg, "tafel", "config")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            self.assertIn(self.url(), f.read())
        # every command now works without the environment
        self.assertEqual(self.js("whoami", url="", key="", env=env)["role"], "beheerder")
        # the environment beats the file, the options beat both
        w = self.make_key("waarnemer")
        self.assertEqual(self.js("whoami", url="", key=w["key"], env=env)["role"], "waarnemer")
        self.assertEqual(self.js("--key", self.admin_key, "whoami", url="", key=w["key"],
                                 env=env)["role"], "beheerder")
        self.fails(3, "--url", "ws://127.0.0.1:%d/ws" % free_port(), "whoami", url="", key="",
                   env=env)

    def test_login_reads_the_key_from_stdin(self):
        # stdin that is not a terminal (a pipe, a file): one line, trimmed
        xdg = tempfile.mkdtemp(dir=self.tmp)
        env = {"XDG_CONFIG_HOME": xdg}
        cp = self.ok("login", self.url(), url="", key="", env=env,
                     stdin="  %s \r\nde rest wordt niet gelezen\n" % self.admin_key)
        self.assertIn("aangemeld", cp.stdout)
        self.assertNotIn(self.admin_key, cp.stdout)
        path = os.path.join(xdg, "tafel", "config")
        with open(path) as f:
            self.assertIn("\nkey=%s\n" % self.admin_key, f.read())
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(self.js("whoami", url="", key="", env=env)["role"], "beheerder")
        # TAFEL_KEY comes first; stdin is then not read
        w = self.make_key("waarnemer")
        self.ok("login", self.url(), url="", key=w["key"], env=env, stdin=self.admin_key + "\n")
        self.assertEqual(self.js("whoami", url="", key="", env=env)["role"], "waarnemer")
        # '-' where the key was (the old spelling of "stdin") still reads stdin
        self.ok("login", self.url(), "-", url="", key="", env=env, stdin=self.admin_key + "\n")
        self.assertEqual(self.js("whoami", url="", key="", env=env)["role"], "beheerder")
        # nothing (or only spaces) on stdin is a usage error; the file is kept
        for empty in ("", "  \n"):
            cp = self.fails(2, "login", self.url(), url="", key="", env=env, stdin=empty)
            self.assertIn("geen sleutel", cp.stderr)
            self.fails(2, "login", self.url(), "-", url="", key="", env=env, stdin=empty)
        self.assertEqual(self.js("whoami", url="", key="", env=env)["role"], "beheerder")
        # a wrong key from stdin is refused and not saved
        xdg2 = tempfile.mkdtemp(dir=self.tmp)
        self.fails(4, "login", self.url(), url="", key="", env={"XDG_CONFIG_HOME": xdg2},
                   stdin=random_key() + "\n")
        self.assertFalse(os.path.exists(os.path.join(xdg2, "tafel", "config")))

    def test_login_refuses_the_key_as_an_argument(self):
        """`tafel login URL KEY` would leave the key in the process list and
        the shell history: exit 2, a line saying why and how, nothing saved."""
        xdg = tempfile.mkdtemp(dir=self.tmp)
        env = {"XDG_CONFIG_HOME": xdg}
        cp = self.fails(2, "login", self.url(), self.admin_key, url="", key="", env=env,
                        stdin="")
        for word in ("proceslijst", "shellgeschiedenis", "TAFEL_KEY", "stdin",
                     "tafel login URL"):
            self.assertIn(word, cp.stderr)
        self.assertNotIn(self.admin_key[6:], cp.stdout + cp.stderr, "the key is not repeated")
        en = self.fails(2, "--lang", "en", "login", self.url(), self.admin_key, url="", key="",
                        env=env, stdin="")
        for word in ("process list", "shell history", "TAFEL_KEY", "stdin"):
            self.assertIn(word, en.stderr)
        # refused even when TAFEL_KEY holds a good key too, and --key is the same thing
        self.fails(2, "login", self.url(), self.admin_key, url="", key=self.admin_key, env=env)
        self.fails(2, "--key", self.admin_key, "login", self.url(), url="", key="", env=env)
        self.fails(2, "login", self.url(), "--key", self.admin_key, url="", key="", env=env)
        self.assertFalse(os.path.exists(os.path.join(xdg, "tafel", "config")),
                         "a key from the command line is never saved")
        # --help says where the key comes from
        h = self.ok("login", "--help").stdout
        self.assertTrue(h.startswith("tafel login URL\n"), h)
        for word in ("TAFEL_KEY", "stdin", "proceslijst"):
            self.assertIn(word, h)
        self.assertIn("process list", self.ok("--lang", "en", "login", "--help").stdout)
        self.assertNotIn("tafel login URL KEY", self.ok("--help").stdout)

    def _login_on_a_terminal(self, xdg):
        """`tafel login URL` with a pseudo-terminal as stdin and stderr (and
        without TAFEL_KEY): returns (process, master fd, slave fd, what the
        terminal showed up to the prompt)."""
        import pty
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        e = cli_env(None, None, xdg)
        proc = subprocess.Popen([tafel_path(), "login", self.url()], env=e, stdin=slave,
                                stdout=subprocess.PIPE, stderr=slave, start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        shown = self._read_tty(master, lambda b: b"niet getoond" in b)
        self.assertIn(b"Toegangssleutel", shown, "a prompt on the terminal")
        return proc, master, slave, shown

    @staticmethod
    def _read_tty(master, done, timeout=10):
        import select
        out = b""
        deadline = time.monotonic() + timeout
        while not done(out) and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
        return out

    def test_login_prompts_on_a_terminal_without_echo(self):
        import termios
        xdg = tempfile.mkdtemp(dir=self.tmp)
        proc, master, slave, _ = self._login_on_a_terminal(xdg)
        self.assertFalse(termios.tcgetattr(slave)[3] & termios.ECHO, "no echo while asking")
        os.write(master, (self.admin_key + "\n").encode())
        out, _ = proc.communicate(timeout=20)
        shown = self._read_tty(master, lambda b: False, timeout=0.5)
        self.assertEqual(proc.returncode, 0, shown)
        self.assertNotIn(self.admin_key[6:].encode(), shown, "the key typed is not shown")
        self.assertIn("aangemeld", out.decode())
        self.assertTrue(termios.tcgetattr(slave)[3] & termios.ECHO, "echo is back")
        with open(os.path.join(xdg, "tafel", "config")) as f:
            self.assertIn("\nkey=%s\n" % self.admin_key, f.read())

    def test_login_prompt_interrupted_restores_the_terminal(self):
        import termios
        for sig in (signal.SIGINT, signal.SIGTERM):
            xdg = tempfile.mkdtemp(dir=self.tmp)
            proc, master, slave, _ = self._login_on_a_terminal(xdg)
            os.write(master, b"tafel_halverwege")
            time.sleep(0.2)
            self.assertFalse(termios.tcgetattr(slave)[3] & termios.ECHO)
            proc.send_signal(sig)
            proc.communicate(timeout=10)
            self.assertEqual(proc.returncode, -sig, "ended by the signal")
            self.assertTrue(termios.tcgetattr(slave)[3] & termios.ECHO,
                            "echo is back after %s" % signal.Signals(sig).name)
            self.assertFalse(os.path.exists(os.path.join(xdg, "tafel", "config")))
        # Ctrl-D (end of input) at the prompt: nothing read, usage error
        xdg = tempfile.mkdtemp(dir=self.tmp)
        proc, master, slave, _ = self._login_on_a_terminal(xdg)
        os.write(master, b"\x04")
        proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 2)
        self.assertTrue(termios.tcgetattr(slave)[3] & termios.ECHO)

    def test_language(self):
        o = self.new_opgave()
        # labels from the schema row (label_nl / label_en), as on the page
        nl = self.ok("opgave", "show", o).stdout
        self.assertRegex(nl, r"title\s+Titel\s+Vitale kernen")
        en = self.ok("--lang", "en", "opgave", "show", o).stdout
        self.assertRegex(en, r"title\s+Title\s+Vitale kernen")
        en = self.ok("opgave", "show", o, lang="en_US.UTF-8").stdout
        self.assertRegex(en, r"title\s+Title\s+Vitale kernen")
        cp = self.fails(7, "--lang", "en", "opgave", "show", "bestaatniet")
        self.assertIn("not found", cp.stderr)


class CliModerationTest(CliCase):

    def test_hide_restore_pin_unpin_with_a_reason(self):
        o = self.new_opgave()
        r = self.js("reflect", o, "Bel me op 06-12345678", "--sort", "idee")
        out = self.ok("reflectie", "hide", r["id"], "--reden", "Telefoonnummer in de tekst").stdout
        self.assertIn("gemodereerd (hide)", out)
        self.assertTrue(self.js("reflectie", "show", r["id"])["hidden"])
        self.assertFalse(self.js("reflectie", "restore", r["id"])["doc"].get("hidden", False))
        self.assertTrue(self.js("reflectie", "pin", r["id"], "--reden", "Goed punt")["doc"]["pinned"])
        self.ok("reflectie", "unpin", r["id"])
        audit = self.js("audit", "--limit", "1000")
        entries = audit["entries"] if isinstance(audit, dict) else audit
        mods = [(e["detail"]["action"], e["detail"].get("reason")) for e in entries
                if e["action"] == "moderate" and e["target"] == "reflectie/" + r["id"]]
        self.assertEqual(mods, [("hide", "Telefoonnummer in de tekst"), ("restore", None),
                                ("pin", "Goed punt"), ("unpin", None)])
        # Only moderated kinds have the verbs; the reason is optional text.
        self.fails(2, "opgave", "hide", o)
        self.fails(2, "reflectie", "hide")
        self.assertIn("hide|restore|pin|unpin|approve", self.ok("reflectie", "--help").stdout)


class CliReportTest(CliCase):
    """`report` on a seeded opgave."""

    def seed(self):
        o = self.js("opgave", "create", "--title", "Veilige en leefbare buurt <Europaplein>",
                    "--goal", "Minder overlast & meer ontmoeting",
                    "--target-date", "2027-12-31", "--political-sponsor", "Wethouder De Vries",
                    "--executive-sponsor", "Directeur Sociaal Domein", "--lead", "Fatima Yilmaz",
                    "--traffic-light", "oranje", "--traffic-light-note",
                    "Vertraging bij de aanbesteding")["id"]
        a1 = self.js("actielijn", "create", "--opgave", o, "--title", "Ontmoeten",
                     "--position", "1")["id"]
        a2 = self.js("actielijn", "create", "--opgave", o, "--title", "Veiligheid",
                     "--position", "2")["id"]
        self.js("activiteit", "create", "--opgave", o, "--actielijn", a1, "--title",
                "Buurthuis open", "--owner", "Woonstichting De Key", "--status", "lopend")
        self.js("activiteit", "create", "--opgave", o, "--actielijn", a2, "--title",
                "Extra surveillance", "--owner", "Politie", "--status", "afgerond")
        eff = self.js("indicator", "create", "--opgave", o, "--title", "Meldingen overlast",
                      "--type", "effect", "--unit", "per maand", "--baseline", "40",
                      "--target", "20", "--direction", "omlaag")["id"]
        ctx = self.js("indicator", "create", "--opgave", o, "--title", "Inwoners 65+",
                      "--type", "context", "--unit", "%")["id"]
        self.js("measure", eff, "38", "--date", "2025-01-31")
        self.js("measure", eff, "31", "--date", "2025-03-31")
        self.js("measure", eff, "35", "--date", "2025-02-28")
        self.js("measure", ctx, "21", "--date", "2025-01-01")
        self.js("measure", ctx, "21", "--date", "2025-06-01")
        m1 = self.js("moment", o, "--date", "2025-01-15", "--title", "Start", "--type",
                     "mijlpaal")["id"]
        m2 = self.js("moment", o, "--date", "2025-05-01", "--title", "Incident bij de kiosk")["id"]
        m3 = self.js("moment", o, "--date", "2025-09-01", "--title", "Buurtfeest")["id"]
        self.js("reflect", o, "De kiosk is weer een ontmoetingsplek", "--sort", "succesverhaal")
        self.js("reflect", o, "<script>alert(1)</script> Samen met de corporatie gaat het sneller",
                "--sort", "geleerd")
        hidden = self.js("reflect", o, "Verborgen bijdrage", "--sort", "geleerd")["id"]
        self.js("reflect", o, "Een idee dat niet in het verslag hoort", "--sort", "idee")
        p = self.make_key("partner", o)
        feel = [{"type": "feel", "id": m1, "value": 1}, {"type": "feel", "id": m2, "value": -2},
                {"type": "feel", "id": m3, "value": 2}]
        run_ws(self.port, self.admin_key,
               feel + [{"type": "moderate", "id": hidden, "action": "hide"}])
        run_ws(self.port, p["key"], [{"type": "feel", "id": m1, "value": 2},
                                     {"type": "feel", "id": m2, "value": -1}])
        return o

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.opgave = None

    def opg(self):
        if CliReportTest.opgave is None:
            CliReportTest.opgave = self.seed()
        return CliReportTest.opgave

    def test_report_json(self):
        r = self.js("report", self.opg(), "--format", "json")
        self.assertEqual(r["opgave"]["goal"], "Minder overlast & meer ontmoeting")
        self.assertEqual(r["sturingsdriehoek"], {"political_sponsor": "Wethouder De Vries",
                                                 "executive_sponsor": "Directeur Sociaal Domein",
                                                 "lead": "Fatima Yilmaz"})
        self.assertEqual(r["traffic_light"], {"value": "oranje",
                                              "note": "Vertraging bij de aanbesteding"})
        self.assertEqual([a["title"] for a in r["actielijnen"]], ["Ontmoeten", "Veiligheid"])
        self.assertEqual(r["actielijnen"][0]["activiteiten"][0]["owner"], "Woonstichting De Key")
        (eff,) = r["indicators"]["effect"]
        (ctx,) = r["indicators"]["context"]
        self.assertEqual(eff["latest"]["value"], 31)
        self.assertEqual(eff["latest"]["date"], "2025-03-31")
        self.assertEqual(eff["trend"], "down", "31 after 35, by date not by entry")
        self.assertEqual((eff["baseline"], eff["target"]), (40, 20))
        self.assertEqual(ctx["trend"], "flat")
        self.assertEqual([m["title"] for m in r["timeline"]],
                         ["Start", "Incident bij de kiosk", "Buurtfeest"])
        self.assertEqual([m["feeling"] for m in r["timeline"]], [1.5, -1.5, 2])
        self.assertEqual([m["point"] for m in r["timeline"]], ["high", "low", "high"])
        self.assertEqual(r["high_point"]["title"], "Buurtfeest")
        self.assertEqual(r["low_point"]["title"], "Incident bij de kiosk")
        self.assertEqual([s["text"] for s in r["success_stories"]],
                         ["De kiosk is weer een ontmoetingsplek"])
        self.assertEqual(len(r["lessons"]), 1, "the hidden reflection is left out")
        self.assertNotIn("Verborgen", json.dumps(r))
        self.assertNotIn("Een idee", json.dumps(r))

    def test_report_progress_is_direction_aware(self):
        """Issue 13's example: loneliness fell from 44 % to 41.5 % towards 38 %
        with "lower is better": on course, 42 % of the way (protocol/progress.c)."""
        o = self.new_opgave("Vitale kernen")
        ind = self.js("indicator", "create", "--opgave", o, "--title", "Eenzaamheid",
                      "--type", "effect", "--unit", "%", "--baseline", "44",
                      "--baseline-date", "2022-10-01", "--target", "38",
                      "--direction", "omlaag")["id"]
        rising = self.js("indicator", "create", "--opgave", o, "--title", "Vrijwilligers",
                         "--type", "effect", "--baseline", "100", "--target", "150")["id"]
        self.js("measure", ind, "41.5", "--date", "2024-10-01")
        self.js("measure", ind, "44", "--date", "2022-10-01")
        self.js("measure", rising, "110", "--date", "2023-01-01")
        self.js("measure", rising, "105", "--date", "2024-01-01")
        r = self.js("report", o, "--format", "json")
        by_title = {i["title"]: i for i in r["indicators"]["effect"]}
        lonely, vol = by_title["Eenzaamheid"], by_title["Vrijwilligers"]
        self.assertEqual(lonely["course"], "op_koers")
        self.assertAlmostEqual(lonely["progress"], (44 - 41.5) / (44 - 38))
        self.assertEqual((lonely["trend"], lonely["direction"], lonely["direction_derived"]),
                         ("down", "omlaag", False))
        self.assertEqual(lonely["baseline_date"], "2022-10-01")
        self.assertEqual(lonely["latest"]["value"], 41.5)
        # no direction set: derived from the target above the baseline; falling is off course
        self.assertEqual((vol["direction"], vol["direction_derived"], vol["course"]),
                         ("omhoog", True, "niet_op_koers"))
        self.assertAlmostEqual(vol["progress"], 0.1)
        md = self.ok("report", o).stdout
        row = next(line for line in md.splitlines() if line.startswith("| Eenzaamheid"))
        for text in ("44 % (2022-10-01)", "omlaag (lager is beter)", "42 %", "op koers (dalend)"):
            self.assertIn(text, row)
        self.assertIn("Voortgang (nulmeting → streefwaarde)", md)
        self.assertIn("niet op koers (dalend)", md)
        self.assertIn("afgeleid uit de streefwaarde", md)
        self.assertNotIn("stijgend", row)
        en = self.ok("--lang", "en", "report", o, "--format", "html").stdout
        self.assertIn("<td>on course (falling)</td>", en)
        self.assertIn("<td>not on course (falling)</td>", en)
        self.assertIn("<td>42%</td>", en)
        self.assertIn("derived from the target", en)
        html = self.ok("report", o, "--format", "html").stdout
        self.assertIn("<td>op koers (dalend)</td>", html)

    def test_report_markdown_dutch_and_english(self):
        md = self.ok("report", self.opg()).stdout
        for heading in ("# Veilige en leefbare buurt", "## Doel: wat is er anders dan nu",
                        "## Sturingsdriehoek", "## Stoplicht", "## Actielijnen",
                        "### Effectindicatoren", "### Contextindicatoren", "## Tijdlijn",
                        "## Succesverhalen", "## Geleerde lessen"):
            self.assertIn(heading, md)
        for text in ("Wethouder De Vries", "Vertraging bij de aanbesteding", "Buurthuis open",
                     "Politie", "Meldingen overlast", "dalend", "Buurtfeest", "hoogtepunt",
                     "dieptepunt", "De kiosk is weer een ontmoetingsplek"):
            self.assertIn(text, md)
        self.assertNotIn("Verborgen bijdrage", md)
        self.assertNotIn("<script>", md)
        en = self.ok("--lang", "en", "report", self.opg(), "--format", "md").stdout
        for heading in ("## Steering triangle", "## Traffic light", "## Timeline",
                        "## Success stories", "## Lessons learned", "### Effect indicators"):
            self.assertIn(heading, en)
        self.assertIn("orange", en)

    def test_report_html_is_a_safe_standalone_page(self):
        html = self.ok("report", self.opg(), "--format", "html").stdout
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertIn('<html lang="nl">', html)
        self.assertIn('<meta charset="utf-8">', html)
        self.assertTrue(html.rstrip().endswith("</html>"))
        self.assertIn("<title>Veilige en leefbare buurt &lt;Europaplein&gt;</title>", html)
        self.assertNotIn("<script>", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)
        self.assertIn("Minder overlast &amp; meer ontmoeting", html)
        self.assertNotIn("<Europaplein>", html)
        self.assertNotIn("Verborgen bijdrage", html)
        self.assertEqual(html.count("<table>"), html.count("</table>"))
        self.assertEqual(html.count("<ul>"), html.count("</ul>"))
        en = self.ok("--lang", "en", "report", self.opg(), "--format", "html").stdout
        self.assertIn('<html lang="en">', en)
        self.assertIn("Lessons learned", en)

    def test_report_errors(self):
        self.fails(7, "report", "bestaatniet")
        self.fails(2, "report")

    def test_report_refuses_a_story_cut_off(self):
        # `list` answers at most 1000 documents: a report of more would
        # silently leave part of the story out, so it must fail instead.
        o = self.js("opgave", "create", "--title", "Veel reflecties")["id"]
        run_ws(self.port, self.admin_key,
               [{"type": "put", "kind": "reflectie",
                 "doc": {"opgave": o, "text": "Reflectie %d" % i, "sort": "geleerd"}}
                for i in range(1001)])
        cp = self.fails(1, "report", o)
        self.assertIn("onvolledig", cp.stderr)
        self.assertIn("reflectie", cp.stderr)


class CliWatchTest(CliCase):
    """`watch` on a fixed port, so the server can restart under it."""

    @classmethod
    def setUpClass(cls):
        cls.SERVER_ARGS = ("--listen", "127.0.0.1:%d" % free_port())
        super().setUpClass()

    def start_watch(self, *args):
        e = cli_env(self.url(), self.admin_key, self.xdg)
        proc = subprocess.Popen([tafel_path(), "watch"] + list(args), env=e,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        lines = []
        errs = []

        def read(stream, out):
            for line in iter(stream.readline, ""):
                out.append(line.rstrip("\n"))
            stream.close()
        threads = [threading.Thread(target=read, args=(proc.stdout, lines), daemon=True),
                   threading.Thread(target=read, args=(proc.stderr, errs), daemon=True)]
        for t in threads:
            t.start()
        return proc, lines, errs, threads

    def wait_for(self, pred, timeout=10, what=""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.02)
        self.fail("timed out waiting for %s" % what)

    def stop_watch(self, proc, threads):
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(10)
        for t in threads:
            t.join(5)
        return rc

    def ready_count(self, lines):
        return sum(1 for ln in list(lines) if '"type":"ready"' in ln)

    def test_watch_json_survives_a_restart(self):
        o = self.new_opgave("Watch")
        proc, lines, errs, threads = self.start_watch("--json", o)
        self.wait_for(lambda: self.ready_count(lines) == 1, what="the watch to be live")
        a = self.js("reflect", o, "voor de herstart")
        self.wait_for(lambda: any(a["id"] in ln for ln in lines), what="event A")
        self.assertEqual(self.srv.stop(), 0)
        self.srv.start()
        # made at once, before the watcher's backoff lets it reconnect
        b = self.js("reflect", o, "tijdens het herverbinden")
        c = self.js("moment", o, "--date", "2025-01-01", "--title", "na de herstart")
        self.wait_for(lambda: any(c["id"] in ln for ln in lines), 15, "event C")
        d = self.js("reflectie", "set", a["id"], "text=gewijzigd")
        self.wait_for(lambda: any('"rev":2' in ln and a["id"] in ln for ln in lines), 10,
                      "event D")
        self.assertEqual(self.stop_watch(proc, threads), 0)
        msgs = [json.loads(ln) for ln in lines]
        ready = [m for m in msgs if m["type"] == "ready"]
        self.assertEqual(len(ready), 2, "ready once live, and again after the reconnect")
        self.assertEqual(ready[0]["opgave"], o)
        events = [m for m in msgs if m["type"] != "ready"]
        for ev in events:
            self.assertEqual(ev["type"], "event")
            self.assertIn(ev["op"], ("put", "delete"))
        seqs = [ev["seq"] for ev in events]
        self.assertEqual(seqs, sorted(set(seqs)), "in order, nothing twice")
        ids = [(ev["doc"]["id"], ev["doc"]["rev"]) for ev in events]
        self.assertEqual(ids, [(a["id"], 1), (b["id"], 1), (c["id"], 1), (a["id"], 2)])
        self.assertEqual(d["rev"], 2)

    def test_watch_all_human_and_interrupt(self):
        o = self.new_opgave("Alles")
        proc, lines, errs, threads = self.start_watch()
        self.wait_for(lambda: any("Ctrl-C" in e for e in list(errs)), what="the watch to be live")
        r = self.js("reflect", o, "Iedereen ziet dit")
        self.wait_for(lambda: any(r["id"] in ln for ln in lines), what="the change")
        self.js("reflectie", "delete", r["id"])
        self.wait_for(lambda: any("verwijderd" in ln for ln in lines), what="the delete")
        self.assertEqual(self.stop_watch(proc, threads), 0)
        self.assertIn("aangemaakt", lines[0])
        self.assertIn("Iedereen ziet dit", lines[0])
        self.assertTrue(any("Ctrl-C" in e for e in errs))

    def test_watch_ends_when_the_key_is_revoked(self):
        o = self.new_opgave("Intrekken")
        k = self.make_key("waarnemer", o)
        e = cli_env(self.url(), k["key"], self.xdg)
        proc = subprocess.Popen([tafel_path(), "watch", "--json", o], env=e,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        live, _, _ = select.select([proc.stdout], [], [], 10)
        self.assertTrue(live, "the watch never said it was live")
        self.assertEqual(json.loads(proc.stdout.readline())["type"], "ready")
        self.js("key", "revoke", k["key_id"])
        out, err = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 4, err)
        self.assertIn("sleutel ingetrokken", err)

    def test_watch_unknown_opgave_and_no_server(self):
        self.fails(7, "watch", "bestaatniet", timeout=15)
        self.fails(3, "watch", url="ws://127.0.0.1:%d/ws" % free_port(), timeout=15)


class CliTlsTest(unittest.TestCase):
    """wss:// with a private CA (--ca)."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl not installed")
        cls.tmp = tempfile.mkdtemp(prefix="tafel-cli-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cert, key = os.path.join(cls.tmp, "cert.pem"), os.path.join(cls.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True,
                       timeout=60)
        cls.cert = cert
        data = os.path.join(cls.tmp, "data")
        cls.admin_key = init_data_dir(data)
        cls.srv = Server(data, ("--tls-cert", cert, "--tls-key", key))
        cls.addClassCleanup(cls.srv.kill9)
        cls.addClassCleanup(cls.srv.stop_clean)
        cls.srv.start()
        cls.port = cls.srv.port

    def run_tafel(self, *args):
        e = cli_env("wss://127.0.0.1:%d/ws" % self.port, self.admin_key, self.tmp, "C")
        return subprocess.run([tafel_path()] + list(args), env=e, capture_output=True,
                              text=True, timeout=20)

    def test_wss_with_private_ca(self):
        cp = self.run_tafel("--ca", self.cert, "--json", "whoami")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(json.loads(cp.stdout)["role"], "beheerder")
        s = self.run_tafel("--ca", self.cert, "--json", "session", "open", json.loads(
            self.run_tafel("--ca", self.cert, "--json", "opgave", "create", "--title",
                           "TLS").stdout)["id"], "--question", "Veilig?")
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertTrue(json.loads(s.stdout)["join_url"].startswith(
            "https://127.0.0.1:%d/join/" % self.port))

    def test_wss_without_the_ca_is_refused(self):
        cp = self.run_tafel("whoami")
        self.assertEqual(cp.returncode, 3, cp.stderr)
        self.assertEqual(len(cp.stderr.splitlines()), 1)


if __name__ == "__main__":
    main()
