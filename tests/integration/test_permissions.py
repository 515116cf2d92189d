#!/usr/bin/python3
"""The permission matrix of docs/permissions.md, cell by cell, plus scope
(opgaven outside a key's scope do not exist for it) and hidden reflections.

MATRIX below mirrors the table in docs/permissions.md; when the table
changes, change MATRIX and nothing else.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import (KINDS, ROLES, Client, TafelCase, async_test, http_get,  # noqa: E402
                           metric_values, metrics,
                           main, sample_doc, update_set)

# R read, C create, U update (put replace, patch), D delete, M moderate
# (reflectie: hide restore pin unpin; sessie: session.open session.close);
# lowercase u / d: only documents the actor created.
MATRIX = {
    #              beheerder  opgaveleider  partner  inwoner  waarnemer
    "opgave":     ("RCUD",    "RU",         "R",     "R",     "R"),
    "actielijn":  ("RCUD",    "RCUD",       "R",     "R",     "R"),
    "activiteit": ("RCUD",    "RCUD",       "RCud",  "R",     "R"),
    "indicator":  ("RCUD",    "RCUD",       "R",     "R",     "R"),
    "meting":     ("RCUD",    "RCUD",       "RCud",  "R",     "R"),
    "reflectie":  ("RCUDM",   "RCUDM",      "RCud",  "RC",    "R"),
    "sessie":     ("RCUDM",   "RCUDM",      "R",     "R",     "R"),
    "moment":     ("RCUD",    "RCUD",       "RCud",  "R",     "R"),
    "lid":        ("RCUD",    "RCUD",       "R",     "",      "R"),
    "besluit":    ("RCUD",    "RCUD",       "R",     "R",     "R"),
}
MATRIX = {kind: dict(zip(ROLES, cells)) for kind, cells in MATRIX.items()}

# vote (reflectie) and feel (moment): every role that can read, but waarnemer.
INTERACT = {"beheerder": True, "opgaveleider": True, "partner": True, "inwoner": True,
            "waarnemer": False}

# Administration: action -> roles allowed (opgaveleider within its opgaven).
ADMIN = {
    "key.create": {"beheerder", "opgaveleider"},
    "key.list": {"beheerder", "opgaveleider"},
    "key.revoke": {"beheerder", "opgaveleider"},
    "audit.list": {"beheerder"},
}

# Kinds in the order they are exercised; opgave last (its delete ends a run).
ORDER = ("actielijn", "activiteit", "indicator", "meting", "reflectie", "sessie", "moment",
         "lid", "besluit", "opgave")
assert sorted(ORDER) == sorted(KINDS) and set(MATRIX) == set(KINDS)


class PermissionMatrixTest(TafelCase):

    async def connect_as(self, adm, role, a):
        """A connection of ROLE scoped to opgave A (inwoner: joined to an open
        session of A). Returns (client, joined session id or None)."""
        if role == "inwoner":
            s = await adm.open_session(a)
            return await Client.join(self.port, s["join_code"], "Inwoner Test"), s["id"]
        _kid, key = await adm.make_key(role, [a])
        return await Client.auth(self.port, key), None

    def expect(self, reply, allowed, what):
        if allowed:
            self.assertEqual(reply.get("type"), "ok", "%s should be allowed: %s" % (what, reply))
        else:
            self.assertEqual(reply.get("type"), "error", "%s should be forbidden: %s"
                             % (what, reply))
            self.assertEqual(reply.get("code"), "forbidden", "%s: %s" % (what, reply))

    async def write(self, c, msg, allowed, what):
        """A write whose refusal must change nothing (seq unchanged)."""
        before = self.seq()
        reply = await c.request(msg)
        self.expect(reply, allowed, what)
        if not allowed:
            self.assertEqual(self.seq(), before, "%s: refused write changed seq" % what)
        return reply

    async def run_role(self, role):
        adm = await self.admin()
        a = await adm.new_opgave("Matrix %s" % role)
        refs = {"actielijn": (await adm.create("actielijn", sample_doc("actielijn", a)))["id"],
                "indicator": (await adm.create("indicator", sample_doc("indicator", a)))["id"]}
        target, victim = {"opgave": await adm.get("opgave", a)}, {}
        for kind in ORDER[:-1]:
            target[kind] = await adm.create(kind, sample_doc(kind, a, refs, 1))
            victim[kind] = await adm.create(kind, sample_doc(kind, a, refs, 2))
        s_mod = await adm.create("sessie", sample_doc("sessie", a))
        c, joined = await self.connect_as(adm, role, a)
        me = c.me["actor"]
        self.assertEqual(c.me["role"], role)

        for kind in ORDER:
            cell = MATRIX[kind][role]
            tdoc = target[kind]
            label = "%s %s" % (role, kind)

            with self.subTest(role=role, kind=kind, action="read"):
                reply = await c.request({"type": "get", "kind": kind, "id": tdoc["id"]})
                self.expect(reply, "R" in cell, label + " get")
                if "R" in cell:
                    self.assertEqual(reply["doc"]["id"], tdoc["id"])
                    self.assertEqual(reply["doc"]["opgave"], a)
                reply = await c.request({"type": "list", "kind": kind, "opgave": a})
                ids = [d["id"] for d in reply.get("docs", [])]
                if "R" in cell:
                    self.assertEqual(reply["type"], "ok", reply)
                    self.assertIn(tdoc["id"], ids)
                else:
                    self.assertNotIn(tdoc["id"], ids, label + " list shows unreadable docs")
                    if reply["type"] == "error":
                        self.assertEqual(reply["code"], "forbidden", reply)

            own = None
            with self.subTest(role=role, kind=kind, action="create"):
                if kind == "opgave":
                    # A beheerder creates opgaven with a "*" key (see
                    # test_create_opgave); whether a beheerder key scoped to
                    # A may is not specified, so that cell is not tried here.
                    if role != "beheerder":
                        await self.write(c, {"type": "put", "kind": "opgave",
                                             "doc": sample_doc("opgave", None)},
                                         False, label + " create")
                else:
                    reply = await self.write(c, {"type": "put", "kind": kind,
                                                 "doc": sample_doc(kind, a, refs, 3)},
                                             "C" in cell, label + " create")
                    if "C" in cell:
                        own = reply.get("doc") or await c.get(kind, reply["id"])
                        self.assertEqual(own["created_by"], me)
                        self.assertEqual(own["by"], me)
                        self.assertEqual(own["rev"], 1)
                        self.assertEqual(own["opgave"], a)
                        if role == "inwoner" and kind == "reflectie":
                            self.assertEqual(own.get("session"), joined,
                                             "an inwoner's reflectie belongs to its session")

            with self.subTest(role=role, kind=kind, action="update"):
                await self.write(c, {"type": "patch", "kind": kind, "id": tdoc["id"],
                                     "set": update_set(kind)}, "U" in cell,
                                 label + " patch (another's)")
                if own is not None:
                    reply = await self.write(c, {"type": "patch", "kind": kind, "id": own["id"],
                                                 "rev": 1, "set": update_set(kind, 2)},
                                             "U" in cell or "u" in cell, label + " patch (own)")
                    if reply["type"] == "ok":
                        own["rev"] = reply["rev"]
                        self.assertEqual(reply["rev"], 2)

            if kind != "opgave":
                with self.subTest(role=role, kind=kind, action="delete"):
                    vdoc = victim[kind]
                    await self.write(c, {"type": "delete", "kind": kind, "id": vdoc["id"],
                                         "rev": vdoc["rev"]}, "D" in cell,
                                     label + " delete (another's)")
                    if own is not None:
                        await self.write(c, {"type": "delete", "kind": kind, "id": own["id"],
                                             "rev": own["rev"]}, "D" in cell or "d" in cell,
                                         label + " delete (own)")

            if kind == "reflectie":
                with self.subTest(role=role, kind=kind, action="moderate"):
                    for action in ("hide", "restore", "pin", "unpin"):
                        reply = await self.write(c, {"type": "moderate", "id": tdoc["id"],
                                                     "action": action}, "M" in cell,
                                                 "%s moderate %s" % (label, action))
                        if reply["type"] == "ok":
                            flag = "hidden" if action in ("hide", "restore") else "pinned"
                            self.assertEqual(bool(reply["doc"].get(flag)),
                                             action in ("hide", "pin"), reply)
                with self.subTest(role=role, kind=kind, action="vote"):
                    await self.write(c, {"type": "vote", "id": tdoc["id"], "value": True},
                                     INTERACT[role], label + " vote")
            if kind == "sessie":
                with self.subTest(role=role, kind=kind, action="moderate"):
                    for t in ("session.open", "session.close"):
                        await self.write(c, {"type": t, "id": s_mod["id"]}, "M" in cell,
                                         "%s %s" % (label, t))
            if kind == "moment":
                with self.subTest(role=role, kind=kind, action="feel"):
                    await self.write(c, {"type": "feel", "id": tdoc["id"], "value": -1},
                                     INTERACT[role], label + " feel")

        with self.subTest(role=role, action="administration"):
            reply = await c.request({"type": "key.create", "role": "partner", "opgaven": [a],
                                     "label": "door %s" % role})
            self.expect(reply, role in ADMIN["key.create"], role + " key.create")
            made = reply.get("key_id")
            self.expect(await c.request({"type": "key.list"}), role in ADMIN["key.list"],
                        role + " key.list")
            self.expect(await c.request({"type": "audit.list"}), role in ADMIN["audit.list"],
                        role + " audit.list")
            if made is None:
                made, _k = await adm.make_key("partner", [a])
            self.expect(await c.request({"type": "key.revoke", "key_id": made}),
                        role in ADMIN["key.revoke"], role + " key.revoke")

        with self.subTest(role=role, kind="opgave", action="delete"):
            opg = await adm.get("opgave", a)
            await self.write(c, {"type": "delete", "kind": "opgave", "id": a, "rev": opg["rev"]},
                             "D" in MATRIX["opgave"][role], role + " opgave delete")

    @async_test(timeout=90)
    async def test_beheerder(self):
        await self.run_role("beheerder")

    @async_test(timeout=90)
    async def test_opgaveleider(self):
        await self.run_role("opgaveleider")

    @async_test(timeout=90)
    async def test_partner(self):
        await self.run_role("partner")

    @async_test(timeout=90)
    async def test_inwoner(self):
        await self.run_role("inwoner")

    @async_test(timeout=90)
    async def test_waarnemer(self):
        await self.run_role("waarnemer")

    @async_test()
    async def test_waarnemer_write_never_reaches_the_writer(self):
        # The request table refuses a waarnemer's writes in the loop: the
        # writer never sees them (its rejected count stays), and the answer
        # is the same for an existing and a made-up id.
        adm = await self.admin()
        o = await adm.new_opgave("Waarnemen")
        r = await adm.create("reflectie", sample_doc("reflectie", o))
        _kid, key = await adm.make_key("waarnemer", [o])
        w = await Client.auth(self.port, key)
        rejected = metric_values(metrics(self.port)[1], r"rejected_ops_total$")
        seq = self.seq()
        for target in (r["id"], "no-such-id"):
            for msg in ({"type": "patch", "kind": "reflectie", "id": target, "set": {"text": "x"}},
                        {"type": "delete", "kind": "reflectie", "id": target, "rev": 1},
                        {"type": "vote", "id": target},
                        {"type": "moderate", "id": target, "action": "hide"}):
                reply = await w.request(msg)
                self.assertEqual((reply.get("code"), reply.get("message")),
                                 ("forbidden", "a waarnemer only reads"), reply)
        reply = await w.request({"type": "put", "kind": "reflectie",
                                 "doc": sample_doc("reflectie", o)})
        self.assertEqual(reply.get("code"), "forbidden", reply)
        self.assertEqual(metric_values(metrics(self.port)[1], r"rejected_ops_total$"), rejected)
        self.assertEqual(self.seq(), seq)

    @async_test()
    async def test_create_opgave(self):
        adm = await self.admin()
        self.assertEqual(adm.me["opgaven"], "*")
        doc = await adm.create("opgave", {"title": "Vitale kernen"})
        self.assertEqual(doc["opgave"], doc["id"], "an opgave's opgave is its own id")
        self.assertEqual(doc["kind"], "opgave")
        self.assertEqual(doc["rev"], 1)
        for f in ("created_at", "updated_at", "by", "created_by"):
            self.assertIn(f, doc)
        for role in ("opgaveleider", "partner", "waarnemer"):
            with self.subTest(role=role):
                _kid, key = await adm.make_key(role, [doc["id"]])
                c = await Client.auth(self.port, key)
                await self.write(c, {"type": "put", "kind": "opgave",
                                     "doc": {"title": "Eigen opgave"}}, False,
                                 role + " create opgave")

    @async_test()
    async def test_opgaveleider_key_limits(self):
        adm = await self.admin()
        a, b = await adm.new_opgave(), await adm.new_opgave()
        _kid, key = await adm.make_key("opgaveleider", [a])
        lead = await Client.auth(self.port, key)
        for role in ("partner", "inwoner", "waarnemer"):
            with self.subTest(role=role):
                await lead.ok({"type": "key.create", "role": role, "opgaven": [a], "label": role})
        for role, opgaven in (("beheerder", [a]), ("opgaveleider", [a]), ("partner", "*"),
                              ("partner", [b]), ("partner", [a, b]), ("partner", [])):
            with self.subTest(role=role, opgaven=opgaven):
                reply = await lead.request({"type": "key.create", "role": role,
                                            "opgaven": opgaven, "label": "nee"})
                self.assertEqual(reply["type"], "error", reply)
                self.assertIn(reply["code"], ("forbidden", "bad_request", "not_found"), reply)
        # key.list: only the keys it created; key.revoke: not another's key.
        other_id, _k = await adm.make_key("partner", [a], label="van beheerder")
        listed = (await lead.ok({"type": "key.list"}))["keys"]
        self.assertNotIn(other_id, [k["key_id"] for k in listed])
        self.assertEqual(len(listed), 3)
        reply = await lead.request({"type": "key.revoke", "key_id": other_id})
        self.assertEqual(reply["type"], "error", reply)
        self.assertIn(reply["code"], ("forbidden", "not_found"))


class ScopeTest(TafelCase):
    """A key scoped to A: B's documents do not exist for it."""

    @async_test(timeout=60)
    async def test_out_of_scope_is_not_found(self):
        adm = await self.admin()
        a, b = await adm.new_opgave("A"), await adm.new_opgave("B")
        docs_b = {}
        refs = {"actielijn": (await adm.create("actielijn", sample_doc("actielijn", b)))["id"],
                "indicator": (await adm.create("indicator", sample_doc("indicator", b)))["id"]}
        for kind in ORDER[:-1]:
            docs_b[kind] = await adm.create(kind, sample_doc(kind, b, refs))
        docs_b["opgave"] = await adm.get("opgave", b)
        s_b = await adm.open_session(b)
        for role in ("opgaveleider", "partner", "waarnemer", "beheerder"):
            _kid, key = await adm.make_key(role, [a])
            c = await Client.auth(self.port, key)
            before = self.seq()
            for kind, d in docs_b.items():
                with self.subTest(role=role, kind=kind):
                    for msg in (
                        {"type": "get", "kind": kind, "id": d["id"]},
                        {"type": "patch", "kind": kind, "id": d["id"], "set": update_set(kind)},
                        {"type": "patch", "kind": kind, "id": d["id"], "rev": 99,
                         "set": update_set(kind)},
                        {"type": "delete", "kind": kind, "id": d["id"], "rev": d["rev"]},
                        {"type": "delete", "kind": kind, "id": d["id"], "rev": 99},
                    ):
                        reply = await c.request(msg)
                        # A waarnemer's write is refused by the request
                        # table before any document is read: the same
                        # answer for every id, so it tells nothing either.
                        want = ("forbidden" if role == "waarnemer" and msg["type"] != "get"
                                else "not_found")
                        self.assertEqual(reply.get("code"), want,
                                         "%s %s: %s" % (msg["type"], kind, reply))
                        self.assertNotIn("current", reply)
            with self.subTest(role=role, what="interaction"):
                for msg in ({"type": "moderate", "id": docs_b["reflectie"]["id"],
                             "action": "hide"},
                            {"type": "vote", "id": docs_b["reflectie"]["id"]},
                            {"type": "feel", "id": docs_b["moment"]["id"], "value": 1},
                            {"type": "session.close", "id": s_b["id"]}):
                    reply = await c.request(msg)
                    self.assertEqual(reply.get("code"),
                                     "forbidden" if role == "waarnemer" else "not_found", reply)
            with self.subTest(role=role, what="create in B"):
                reply = await c.request({"type": "put", "kind": "reflectie",
                                         "doc": sample_doc("reflectie", b)})
                self.assertIn(reply.get("code"), ("not_found", "forbidden"), reply)
            self.assertEqual(self.seq(), before)
            with self.subTest(role=role, what="list"):
                for msg in ({"type": "list"}, {"type": "list", "kind": "reflectie"},
                            {"type": "list", "opgave": b}):
                    reply = await c.request(msg)
                    if reply["type"] == "ok":
                        self.assertEqual([d for d in reply["docs"] if d["opgave"] == b], [])
                    else:
                        self.assertIn(reply["code"], ("not_found", "forbidden"), reply)
            with self.subTest(role=role, what="sub"):
                reply = await c.request({"type": "sub", "opgave": b})
                if reply["type"] == "error":
                    self.assertIn(reply["code"], ("not_found", "forbidden"), reply)
                snaps, _ok = await c.sub("*")
                for m in snaps:
                    for d in m.get("docs", []) + ([m["doc"]] if "doc" in m else []):
                        self.assertEqual(d["opgave"], a, "B's document in A's sub: %s" % d)
                # B's changes are never sent; A's are.
                await adm.ok({"type": "patch", "kind": "actielijn", "id": refs["actielijn"],
                              "set": {"title": "B veranderd"}})
                new_opgave = await adm.new_opgave("C, nog van niemand")
                mark = await adm.create("moment", sample_doc("moment", a))
                ev = await c.next_event(timeout=3)
                self.assertEqual(ev["doc"]["id"], mark["id"], ev)
                self.assertEqual(ev["doc"]["opgave"], a)
                self.assertNotEqual(ev["doc"]["id"], new_opgave)
                await c.close()


class HiddenReflectionTest(TafelCase):

    @async_test(timeout=60)
    async def test_hidden_reflection_visibility(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        refl = await adm.create("reflectie", {"opgave": a, "sort": "vraag",
                                              "text": "Waarom duurt het zo lang?"})
        s = await adm.open_session(a)
        _k, lkey = await adm.make_key("opgaveleider", [a])
        lead = await Client.auth(self.port, lkey)
        readers = {}
        for role in ("partner", "waarnemer"):
            _k, key = await adm.make_key(role, [a])
            readers[role] = await Client.auth(self.port, key)
        readers["inwoner"] = await Client.join(self.port, s["join_code"], "Joke")
        for c in [lead] + list(readers.values()):
            await c.sub(a)

        hidden = await lead.ok({"type": "moderate", "id": refl["id"], "action": "hide"})
        self.assertTrue(hidden["doc"]["hidden"])
        rev = hidden["rev"]
        ev = await lead.next_event(timeout=1.5)
        self.assertEqual((ev["op"], ev["doc"]["id"], ev["doc"].get("hidden")),
                         ("put", refl["id"], True))
        self.assertEqual(ev["seq"], hidden["seq"])
        for role, c in readers.items():
            with self.subTest(role=role, step="hide event"):
                ev = await c.next_event(timeout=1.5)
                self.assertEqual(ev["op"], "delete", ev)
                self.assertEqual(ev["seq"], hidden["seq"])
                self.assertEqual((ev["doc"]["id"], ev["doc"]["kind"], ev["doc"]["opgave"],
                                  ev["doc"]["rev"]), (refl["id"], "reflectie", a, rev))
                self.assertNotIn("text", ev["doc"], "hidden text leaked")
            with self.subTest(role=role, step="hidden reads"):
                await c.err({"type": "get", "kind": "reflectie", "id": refl["id"]}, "not_found")
                ids = [d["id"] for d in await c.list("reflectie", a)]
                self.assertNotIn(refl["id"], ids)
                ids = [d["id"] for d in await c.list(None, a)]
                self.assertNotIn(refl["id"], ids)
        # Moderators still see it, flagged.
        self.assertTrue((await lead.get("reflectie", refl["id"]))["hidden"])
        self.assertTrue((await adm.get("reflectie", refl["id"]))["hidden"])
        self.assertIn(refl["id"], [d["id"] for d in await lead.list("reflectie", a)])
        # A fresh snapshot omits it for readers, shows it to moderators.
        _k, pkey = await adm.make_key("partner", [a])
        late = await Client.auth(self.port, pkey)
        snaps, _ok = await late.sub(a)
        self.assertTrue(snaps and all(m["type"] == "snapshot" for m in snaps), snaps)
        self.assertNotIn(refl["id"], [d["id"] for m in snaps for d in m["docs"]])
        late_lead = await Client.auth(self.port, lkey)
        snaps, _ok = await late_lead.sub(a)
        self.assertIn(refl["id"], [d["id"] for m in snaps for d in m["docs"]])

        restored = await lead.ok({"type": "moderate", "id": refl["id"], "action": "restore"})
        self.assertFalse(restored["doc"].get("hidden", False))
        for role, c in readers.items():
            with self.subTest(role=role, step="restore event"):
                ev = await c.next_event(timeout=1.5)
                self.assertEqual((ev["op"], ev["seq"], ev["doc"]["id"]),
                                 ("put", restored["seq"], refl["id"]))
                self.assertEqual(ev["doc"]["text"], "Waarom duurt het zo lang?")
                got = await c.get("reflectie", refl["id"])
                self.assertFalse(got.get("hidden", False))
        ev = await late.next_event(timeout=1.5)
        self.assertEqual((ev["op"], ev["doc"]["id"]), ("put", refl["id"]))

    @async_test()
    async def test_reconnect_since_across_hide(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        refl = await adm.create("reflectie", {"opgave": a, "sort": "goed", "text": "Mooi"})
        _k, key = await adm.make_key("partner", [a])
        p = await Client.auth(self.port, key)
        _s, ok = await p.sub(a)
        since = ok["seq"]
        await p.close()
        hid = await adm.ok({"type": "moderate", "id": refl["id"], "action": "hide"})
        p = await Client.auth(self.port, key)
        before, ok = await p.sub(a, since=since)
        self.assertEqual([(m["type"], m.get("op"), m.get("seq")) for m in before],
                         [("event", "delete", hid["seq"])])
        self.assertNotIn("text", before[0]["doc"])


class ModerationTraceTest(TafelCase):
    """Issue 12: hiding and pinning go only through `moderate`, which leaves
    an audit entry saying what was done and why."""

    @async_test(timeout=60)
    async def test_patch_of_moderated_fields_is_refused(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        refl = await adm.create("reflectie", {"opgave": a, "sort": "idee", "text": "Meer bankjes"})
        _k, lkey = await adm.make_key("opgaveleider", [a])
        lead = await Client.auth(self.port, lkey)
        seq = self.seq()
        for who in (adm, lead):
            for field in ("hidden", "pinned"):
                with self.subTest(field=field):
                    reply = await who.request({"type": "patch", "kind": "reflectie",
                                               "id": refl["id"], "set": {field: True}})
                    self.assertEqual((reply.get("code"), reply.get("field")),
                                     ("bad_request", field), reply)
                    self.assertIn("moderate", reply["message"])
                    doc = dict(refl, **{field: True})
                    reply = await who.request({"type": "put", "kind": "reflectie", "doc": doc})
                    self.assertEqual(reply.get("code"), "bad_request", reply)
        self.assertEqual(self.seq(), seq, "nothing was written")
        # A put that keeps the stored value is an ordinary edit.
        doc = {"id": refl["id"], "rev": refl["rev"], "sort": "idee",
               "text": "Meer bankjes in het park", "hidden": False}
        await lead.ok({"type": "put", "kind": "reflectie", "doc": doc})

    @async_test(timeout=60)
    async def test_every_moderation_is_audited_with_action_and_reason(self):
        adm = await self.admin()
        a = await adm.new_opgave()
        refl = await adm.create("reflectie", {"opgave": a, "sort": "vraag", "text": "Wie betaalt?"})
        _k, lkey = await adm.make_key("opgaveleider", [a])
        lead = await Client.auth(self.port, lkey)
        steps = [("hide", "Persoonsgegevens in de tekst"), ("restore", None),
                 ("pin", "Belangrijke vraag"), ("unpin", None)]
        for action, reason in steps:
            msg = {"type": "moderate", "id": refl["id"], "action": action}
            if reason:
                msg["reason"] = reason
            await lead.ok(msg)
        bad = await lead.request({"type": "moderate", "id": refl["id"], "action": "hide",
                                  "reason": "x" * 501})
        self.assertEqual((bad.get("code"), bad.get("field")), ("too_large", "reason"), bad)
        entries = (await adm.ok({"type": "audit.list", "limit": 1000}))["entries"]
        mods = [e for e in entries if e["action"] == "moderate"
                and e["target"] == "reflectie/" + refl["id"]]
        self.assertEqual([(e["detail"]["action"], e["detail"].get("reason")) for e in mods], steps)
        self.assertTrue(all(e["actor"] == lead.me["actor"] for e in mods), mods)


class ReplaceTest(TafelCase):

    @async_test()
    async def test_a_replace_cannot_move_a_document(self):
        # Found by the dispatch fuzzer: a put naming another opgave used to
        # keep the stored one without a word.
        adm = await self.admin()
        a, b = await adm.new_opgave("A"), await adm.new_opgave("B")
        m = await adm.create("moment", {"opgave": a, "date": "2026-01-01", "title": "Start"})
        reply = await adm.request({"type": "put", "kind": "moment",
                                   "doc": {"id": m["id"], "rev": m["rev"], "opgave": b,
                                           "date": "2026-01-01", "title": "Start"}})
        self.assertEqual((reply.get("code"), reply.get("field")), ("bad_request", "doc.opgave"),
                         reply)
        same = await adm.ok({"type": "put", "kind": "moment",
                             "doc": {"id": m["id"], "rev": m["rev"], "opgave": a,
                                     "date": "2026-01-02", "title": "Start"}})
        self.assertEqual(same["doc"]["opgave"], a)


class BesluitTest(TafelCase):
    """A decision answers reflecties and starts activiteiten of its own
    opgave; it is audited; the page learns of it from /schema.json."""

    @async_test()
    async def test_decision_references_and_audit(self):
        adm = await self.admin()
        a, b = await adm.new_opgave(), await adm.new_opgave()
        al = await adm.create("actielijn", sample_doc("actielijn", a))
        act = await adm.create("activiteit", sample_doc("activiteit", a, {"actielijn": al["id"]}))
        r1 = await adm.create("reflectie", sample_doc("reflectie", a))
        r2 = await adm.create("reflectie", sample_doc("reflectie", a, n=1))
        elsewhere = await adm.create("reflectie", sample_doc("reflectie", b))
        doc = {"opgave": a, "text": "Het buurthuis blijft open", "date": "2025-06-01",
               "decided_by": "college", "answers": [r1["id"], r2["id"]], "starts": [act["id"]],
               "status": "genomen"}
        d = await adm.create("besluit", doc)
        self.assertEqual((d["answers"], d["starts"]), ([r1["id"], r2["id"]], [act["id"]]))
        # Only documents of the right kind, in the same opgave, once each.
        for field, ids in (("answers", [elsewhere["id"]]), ("answers", [act["id"]]),
                           ("starts", [r1["id"]]), ("answers", [r1["id"], r1["id"]])):
            bad = dict(doc, **{field: ids})
            err = await adm.err({"type": "put", "kind": "besluit", "doc": bad}, "bad_request")
            self.assertEqual(err.get("field"), "doc." + field, err)
        await adm.err({"type": "patch", "kind": "besluit", "id": d["id"],
                       "set": {"answers": [elsewhere["id"]]}}, "bad_request")
        await adm.err({"type": "put", "kind": "besluit", "doc": dict(doc, decided_by="wethouder")},
                      "bad_request")
        # Decisions are kept for the record: every change is audited.
        await adm.ok({"type": "patch", "kind": "besluit", "id": d["id"],
                      "set": {"status": "uitgevoerd"}})
        entries = (await adm.ok({"type": "audit.list", "limit": 1000}))["entries"]
        about = [e["action"] for e in entries if e["target"] == "besluit/" + d["id"]]
        self.assertEqual(about, ["put", "patch"])
        # A partner reads decisions and makes none.
        _k, pkey = await adm.make_key("partner", [a])
        partner = await Client.auth(self.port, pkey)
        self.assertEqual((await partner.get("besluit", d["id"]))["text"], doc["text"])
        await partner.err({"type": "put", "kind": "besluit", "doc": doc}, "forbidden")
        # The page builds its form from the schema it is served.
        status, _h, body = http_get(self.port, "/schema.json")
        self.assertEqual(status, 200)
        kinds = {k["name"]: k for k in json.loads(body)["kinds"]}
        self.assertEqual(kinds["besluit"]["label"], {"nl": "Besluit", "en": "Decision"})
        fields = {f["name"]: f for f in kinds["besluit"]["fields"]}
        self.assertEqual((fields["answers"]["type"], fields["answers"]["ref"]),
                         ("ref_set", "reflectie"))
        self.assertEqual([v["value"] for v in fields["decided_by"]["values"]],
                         ["college", "raad", "stuurgroep", "opgaveleider"])


if __name__ == "__main__":
    main()
