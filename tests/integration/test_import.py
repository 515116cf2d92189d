#!/usr/bin/python3
"""`tafel meting import FILE`: measurements from a CSV file as municipal
statistics exports look (`;`, decimal commas, Dutch dates, BOM, CRLF), all of
them or none. The real `tafel` against the real `tafeld` (test_cli's CliCase):
a realistic file, the BOM+CRLF variant, quoted fields, stdin, --dry-run,
--json, bad lines (each reported with its line number, nothing imported), an
unknown indicator, an import run twice, and a server that refuses a put
midway (the ones already stored are deleted again).
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tafel_harness import main  # noqa: E402
from test_cli import CliCase  # noqa: E402

REALISTIC = ("Datum;Waarde;Bron;Toelichting\n"
             "01-01-2025;44,0;CBS;nulmeting\n"
             "01-07-2025;41,5;GGD Monitor;\n")


class ImportCase(CliCase):
    def setUp(self):
        self.opgave = self.new_opgave()
        self.indicator = self.js("indicator", "create", "--opgave", self.opgave, "--title",
                                 "Eenzaamheid", "--type", "effect", "--unit", "%",
                                 "--baseline", "44", "--target", "38")["id"]

    def write(self, text, encoding="utf-8"):
        fd, path = tempfile.mkstemp(suffix=".csv", dir=self.tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode(encoding) if isinstance(text, str) else text)
        return path

    def metingen(self):
        return sorted(self.js("meting", "list", "--opgave", self.opgave),
                      key=lambda m: m["date"])

    def test_realistic_file(self):
        cp = self.ok("meting", "import", self.write(REALISTIC), "--indicator", self.indicator)
        self.assertIn("2 metingen geïmporteerd", cp.stdout)
        ms = self.metingen()
        self.assertEqual([(m["date"], m["value"], m.get("source"), m.get("note")) for m in ms],
                         [("2025-01-01", 44, "CBS", "nulmeting"),
                          ("2025-07-01", 41.5, "GGD Monitor", None)])
        self.assertTrue(all(m["indicator"] == self.indicator for m in ms))

    def test_bom_crlf_quotes_and_formats(self):
        text = ("\ufeffdatum;WAARDE;bron;Opmerking\r\n"
                "31-12-2024;1.234,5;\"CBS; StatLine\";\"een \"\"nul\"\"meting\r\nover twee regels\"\r\n"
                "\r\n"
                "2025-03-31;41,5 %;;\r\n"
                "1-7-2025;-3;;\r\n")
        out = self.js("meting", "import", self.write(text), "--indicator", self.indicator)
        self.assertEqual((out["checked"], out["imported"], out["dry_run"]), (3, 3, False))
        ms = self.metingen()
        self.assertEqual(sorted(out["ids"]), sorted(m["id"] for m in ms))
        self.assertEqual([(m["date"], m["value"]) for m in ms],
                         [("2024-12-31", 1234.5), ("2025-03-31", 41.5), ("2025-07-01", -3)])
        self.assertEqual(ms[0]["source"], "CBS; StatLine")
        self.assertEqual(ms[0]["note"], 'een "nul"meting\nover twee regels')

    def test_english_headers_and_indicator_column_from_stdin(self):
        text = "Indicator;Date;Value;Source;Note\n%s;2025-01-01;44;CBS;baseline\n" % self.indicator
        cp = self.ok("meting", "import", "-", stdin=text)
        self.assertIn("1 metingen geïmporteerd", cp.stdout)
        self.assertEqual([m["value"] for m in self.metingen()], [44])

    def test_bad_lines_each_reported_nothing_imported(self):
        text = ("Datum;Waarde;Bron;Toelichting\n"
                "01-01-2025;44,0;CBS;nulmeting\n"
                "31-02-2025;41,5;CBS;\n"
                "01-07-2025;41,5;GGD Monitor;\n"
                "\n"
                "01-10-2025;abc;GGD Monitor;\n"
                "01-12-25;41.5;CBS;\n")
        cp = self.tafel("meting", "import", self.write(text), "--indicator", self.indicator)
        self.assertEqual(cp.returncode, 2, cp.stderr)
        lines = cp.stderr.splitlines()
        self.assertEqual(lines[0], "tafel: regel 3: '31-02-2025' is geen bestaande datum "
                         "(kolom Datum): schrijf DD-MM-JJJJ of JJJJ-MM-DD")
        self.assertEqual(lines[1], "tafel: regel 6: 'abc' is geen getal (kolom Waarde)")
        self.assertTrue(lines[2].startswith("tafel: regel 7: '01-12-25' is geen datum"), lines[2])
        self.assertIn("jaar voluit", lines[2])
        self.assertTrue(lines[3].startswith("tafel: regel 7: '41.5' is geen getal"), lines[3])
        self.assertIn("41,5", lines[3])
        self.assertEqual(lines[4], "tafel: niets geïmporteerd: 4 regels met fouten: "
                         "verbeter het bestand en probeer het opnieuw")
        self.assertEqual(len(lines), 5)
        self.assertEqual(cp.stdout, "")
        self.assertEqual(self.metingen(), [])
        en = self.tafel("--lang", "en", "meting", "import", self.write(text), "--indicator",
                        self.indicator)
        self.assertEqual(en.returncode, 2)
        self.assertIn("tafel: line 6: 'abc' is not a number (column Waarde)", en.stderr)
        self.assertIn("nothing imported", en.stderr)

    def test_header_problems(self):
        cp = self.tafel("meting", "import", "-", "--indicator", self.indicator,
                        stdin="Datum;Regio;Waarde\n01-01-2025;Horst;44\n")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("regel 1: onbekende kolom 'Regio'", cp.stderr)
        cp = self.tafel("meting", "import", "-", stdin="Datum;Waarde\n01-01-2025;44\n")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("--indicator ID", cp.stderr)
        self.assertEqual(self.metingen(), [])

    def test_dry_run_imports_nothing(self):
        cp = self.ok("meting", "import", self.write(REALISTIC), "--indicator", self.indicator,
                     "--dry-run")
        self.assertIn("2 metingen gecontroleerd, niets geïmporteerd", cp.stdout)
        out = self.js("meting", "import", self.write(REALISTIC), "--indicator", self.indicator,
                      "--dry-run")
        self.assertEqual(out, {"checked": 2, "imported": 0, "dry_run": True, "ids": []})
        self.assertEqual(self.metingen(), [])

    def test_unknown_indicator(self):
        cp = self.fails(7, "meting", "import", self.write(REALISTIC), "--indicator", "nietbestaand")
        self.assertIn("niet gevonden", cp.stderr)
        text = "indicator;datum;waarde\n%s;01-01-2025;44\nnietbestaand;01-02-2025;43\n" \
            % self.indicator
        cp = self.tafel("meting", "import", "-", stdin=text)
        self.assertEqual(cp.returncode, 7, cp.stderr)
        self.assertIn("tafel: regel 3: indicator 'nietbestaand' niet gevonden", cp.stderr)
        self.assertEqual(self.metingen(), [])

    def test_twice_is_refused(self):
        path = self.write(REALISTIC)
        self.ok("meting", "import", path, "--indicator", self.indicator)
        cp = self.tafel("meting", "import", path, "--indicator", self.indicator)
        self.assertEqual(cp.returncode, 6, cp.stderr)
        self.assertIn("regel 2: er is al een meting van deze indicator op 01-01-2025", cp.stderr)
        self.assertIn("regel 3:", cp.stderr)
        self.assertEqual(len(self.metingen()), 2)
        dup = REALISTIC + "01-07-2025;40;CBS;\n"
        cp = self.tafel("meting", "import", self.write(dup), "--indicator", self.indicator,
                        "--dry-run")
        self.assertEqual(cp.returncode, 2)  # a file error first; the Tafel ones too
        self.assertIn("regel 2: er is al een meting", cp.stderr)
        self.assertIn("regel 4: dezelfde indicator en datum als een andere regel (zie regel 3)",
                      cp.stderr)

    def test_waarnemer_may_not(self):
        key = self.make_key("waarnemer", self.opgave)["key"]
        cp = self.fails(5, "meting", "import", self.write(REALISTIC), "--indicator",
                        self.indicator, key=key)
        self.assertIn("meting create", cp.stderr)
        self.assertEqual(self.metingen(), [])


class RefusedMidwayCase(CliCase):
    """A server whose write rate runs out midway: the puts after the burst are
    refused (tafel waits --timeout for them), and the ones stored are deleted."""

    SERVER_ARGS = ("--write-rate", "1")

    def test_rolled_back(self):
        opgave = self.new_opgave()
        ind = self.js("indicator", "create", "--opgave", opgave, "--title", "Eenzaamheid",
                      "--type", "effect")["id"]
        import time
        time.sleep(2.5)  # the two creates above took tokens; start with a full bucket
        text = "datum;waarde\n" + "".join("0%d-01-2025;%d\n" % (d, 40 + d) for d in range(1, 7))
        cp = self.tafel("--timeout", "0.5", "meting", "import", "-", "--indicator", ind,
                        stdin=text, timeout=120)
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("tafel: regel 4:", cp.stderr)
        self.assertIn("niets geïmporteerd: 2 al opgeslagen metingen weer verwijderd", cp.stderr)
        self.assertEqual(self.js("meting", "list", "--opgave", opgave), [])


if __name__ == "__main__":
    main()
