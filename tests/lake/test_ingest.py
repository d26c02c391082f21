"""Ingest into Delta: idempotence, re-released months, outcomes, zips, bad files, crashes."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import vru
from vru.lake.loaders import ingest_police_uk
from vru.lake.store import Store


def month_file(tmp_path: Path, text: str, name="2018-11-thames-valley-street.csv") -> Path:
    p = tmp_path / "in" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_identical_file_twice_changes_nothing(home, tmp_path, street_month_text):
    p = month_file(tmp_path, street_month_text)
    first = ingest_police_uk(home, [p]).summary()
    n = street_month_text.count("\n") - 1
    assert first["rows_in"] == first["accepted"] == first["added"] == n
    v = Store(home).version("incidents")
    second = ingest_police_uk(home, [p]).summary()
    assert second["duplicates"] == n and second["accepted"] == 0
    assert second["rows_in"] == second["accepted"] + second["quarantined"] + second["duplicates"]
    assert Store(home).version("incidents") == v, "no table version written"
    assert second["tables"] == first["tables"]
    log = vru.open(home).sql("SELECT count(*) AS n, sum(rows_in) AS r FROM ingest_log")
    assert log.to_pylist() == [{"n": 2, "r": 2 * n}]


def test_rereleased_month_replaces_force_month(home, tmp_path, street_month_text):
    lines = street_month_text.splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    ingest_police_uk(home, [month_file(tmp_path, street_month_text)])
    # the re-release drops 10 crimes, changes the outcome of 5 and adds 3 new ones
    rows = list(csv.reader(io.StringIO("".join(body))))
    with_id = [i for i, r in enumerate(rows) if r[0]]
    dropped = set(with_id[:10])
    changed = with_id[10:15]
    for i in changed:
        rows[i][10] = "Offender given a caution"
    new = [list(rows[with_id[20]]) for _ in range(3)]
    for k, r in enumerate(new):
        r[0] = f"{k:064x}"
    keep = [r for i, r in enumerate(rows) if i not in dropped] + new
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(keep)
    p2 = month_file(tmp_path / "v2", header + buf.getvalue())
    s = ingest_police_uk(home, [p2]).summary()
    assert (s["added"], s["updated"], s["removed"]) == (3, 5, 10)
    assert s["duplicates"] == len(keep) - 8
    lake = vru.open(home)
    assert lake.sql("SELECT count(*) FROM incidents").column(0)[0].as_py() == len(keep)
    outcome = lake.sql(f"SELECT outcome FROM incidents WHERE source_ref = '{rows[changed[0]][0]}'")
    assert outcome.column(0)[0].as_py() == "Offender given a caution"


def test_months_ingested_one_after_another_all_stay(home):
    from vru.data import police_uk_months

    months = police_uk_months()
    sizes = []
    for m in months:  # each ingest adds its force-month and leaves the others alone
        s = ingest_police_uk(home, [m]).summary()
        assert s["removed"] == 0 and s["added"] == s["rows_in"] - s["quarantined"]
        sizes.append(s["added"])
    per_month = vru.open(home).sql(
        "SELECT month, count(*) AS n FROM incidents GROUP BY month ORDER BY month").to_pylist()
    assert [r["n"] for r in per_month] == sizes


def test_reformatted_release_is_duplicates_not_updates(home, tmp_path, street_month_text):
    # same crimes, coordinates written with fewer digits: the row hash differs, the content
    # the lake holds does not, so nothing is rewritten (rows without a Crime ID are left as
    # they are: their identity is their text)
    rows = list(csv.reader(io.StringIO(street_month_text)))
    for r in rows[1:]:
        if r[0] and r[4]:
            r[4], r[5] = repr(float(r[4])), repr(float(r[5]))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    assert buf.getvalue() != street_month_text
    ingest_police_uk(home, [month_file(tmp_path, street_month_text)])
    v = Store(home).version("incidents")
    s = ingest_police_uk(home, [month_file(tmp_path / "v2", buf.getvalue())]).summary()
    assert (s["added"], s["updated"], s["removed"]) == (0, 0, 0)
    assert s["duplicates"] == len(rows) - 1
    assert Store(home).version("incidents") == v


def test_outcomes_file_updates_crimes_held(home, tmp_path, street_month_text):
    ingest_police_uk(home, [month_file(tmp_path, street_month_text)])
    rows = [r for r in csv.reader(io.StringIO(street_month_text.split("\n", 1)[1])) if r and r[0]]
    crime = rows[0]
    out = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
           "LSOA name,Outcome type\n"
           f"{crime[0]},2019-02,Thames Valley Police,Thames Valley Police,{crime[4]},{crime[5]},"
           f"\"{crime[6]}\",{crime[7]},{crime[8]},Suspect charged\n"
           f"{crime[0]},2019-01,Thames Valley Police,Thames Valley Police,{crime[4]},{crime[5]},"
           f"\"{crime[6]}\",{crime[7]},{crime[8]},Awaiting court outcome\n")
    p = month_file(tmp_path, out, name="2019-02-thames-valley-outcomes.csv")
    s = ingest_police_uk(home, [p]).summary()
    assert s["added"] == 2
    got = vru.open(home).sql(
        f"SELECT outcome, outcome_date FROM incidents WHERE source_ref = '{crime[0]}'").to_pylist()
    assert got[0]["outcome"] == "Suspect charged" and str(got[0]["outcome_date"]) == "2019-02-01"
    again = ingest_police_uk(home, [p]).summary()
    assert again["duplicates"] == 2 and again["accepted"] == 0


def test_zip_download_with_all_three_kinds(home, tmp_path, street_month_text):
    stop = ("Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
            "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,"
            "Object of search,Outcome,Outcome linked to object of search,"
            "Removal of more than just outer clothing\n"
            "Person search,2018-11-02T21:15:00+00:00,False,,51.456,-0.971,Male,18-24,"
            "White - English/Welsh/Scottish/Northern Irish/British,White,"
            "Misuse of Drugs Act 1971 (section 23),Controlled drugs,A no further action disposal,"
            "False,False\n"
            "Person search,2018-11-31T21:15:00+00:00,False,,51.456,-0.971,Male,18-24,,,,,,,\n")
    z = tmp_path / "download.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("2018-11/2018-11-thames-valley-street.csv", street_month_text)
        zf.writestr("2018-11/2018-11-thames-valley-stop-and-search.csv", stop)
    s = ingest_police_uk(home, [z]).summary()
    assert s["quarantined"] == 1  # 31 November
    assert s["rows_in"] == street_month_text.count("\n") - 1 + 2
    q = vru.open(home).sql("SELECT source_file, line, field FROM quarantine").to_pylist()
    assert q == [{"source_file": f"{z}!2018-11/2018-11-thames-valley-stop-and-search.csv",
                  "line": 3, "field": "Date"}]


def test_bad_files_are_rejected_and_the_rest_ingested(home, tmp_path, street_month_text):
    good = month_file(tmp_path, street_month_text)
    empty = month_file(tmp_path, "", name="2018-12-thames-valley-street.csv")
    z = tmp_path / "photos.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("holiday.jpg", b"\xff\xd8\xff")
    s = ingest_police_uk(home, [good, empty, z]).summary()
    reasons = [r["reason"] for r in s["rejected_files"]]
    assert any("empty" in r and "2018-12" in r for r in reasons)
    assert s["added"] == street_month_text.count("\n") - 1
    s2 = ingest_police_uk(home, [z]).summary()
    assert "holds no" in s2["rejected_files"][0]["reason"]


def test_cli_json_contract_and_sql_csv(home, tmp_path, street_month_text):
    p = month_file(tmp_path, street_month_text)
    run = subprocess.run([sys.executable, "-m", "vru", "--home", str(home), "ingest",
                          "police-uk", str(p), "--json"], capture_output=True, text=True,
                         check=True)
    summary = json.loads(run.stdout)
    assert {"rows_in", "accepted", "quarantined", "duplicates", "tables"} <= set(summary)
    assert summary["tables"]["incidents"] == 0
    run = subprocess.run([sys.executable, "-m", "vru", "--home", str(home), "sql",
                          "SELECT source, source_ref, month, category, lsoa11cd, easting, "
                          "northing, lon, lat FROM incidents WHERE lon IS NOT NULL LIMIT 5",
                          "--format", "csv"], capture_output=True, text=True, check=True)
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert len(rows) == 5 and rows[0]["source"] == "police_uk"
    assert 300_000 < float(rows[0]["easting"]) < 600_000
    bad = subprocess.run([sys.executable, "-m", "vru", "--home", str(home), "sql",
                          "DELETE FROM incidents"], capture_output=True, text=True)
    assert bad.returncode == 2 and "read-only" in bad.stderr


_KILLER = """
import sys
from vru.lake.loaders import ingest_police_uk
ingest_police_uk(sys.argv[1], sys.argv[2:])
"""


@pytest.mark.parametrize("delay", [0.4, 0.9, 1.4])
def test_sigkill_mid_ingest_then_rerun_ingests_exactly_once(home, tmp_path, delay):
    from vru.data import police_uk_months

    months = police_uk_months()
    env = {**os.environ, "PYTHONPATH": str(Path(vru.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _KILLER, str(home), *map(str, months)],
                            env=env)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = Store(home)
    if store.exists("incidents"):  # whatever was committed is a complete version
        store.table("incidents").to_pyarrow_table()
    s = ingest_police_uk(home, months).summary()
    total = vru.open(home).sql("SELECT count(*), count(DISTINCT source_ref) FROM incidents")
    assert total.to_pylist()[0] == {"count_star()": 64866, "count(DISTINCT source_ref)": 64866}
    assert s["rows_in"] == s["accepted"] + s["duplicates"] + s["quarantined"] == 64866


def test_a_failed_background_write_fails_the_ingest(home, tmp_path, street_month_text,
                                                    monkeypatch):
    # parts are written in the background: their failure must reach the caller, and the
    # table must stay as it was
    ingest_police_uk(home, [month_file(tmp_path, street_month_text)])
    v = Store(home).version("incidents")

    def full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr("vru.lake.files.write_files", full)
    monkeypatch.setattr("vru.lake.store.write_files", full)
    other = street_month_text.replace("2018-11", "2018-12")
    with pytest.raises(OSError, match="No space left"):
        ingest_police_uk(home, [month_file(tmp_path, other, "2018-12-thames-valley-street.csv")])
    assert Store(home).version("incidents") == v
