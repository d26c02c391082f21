"""Reading inputs ahead: the same rows as reading them in turn, never stale, bounded, and
dropped when the ingest is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from vru.lake.loaders import ingest_police_uk
from vru.lake.store import Store
from vru.service.readahead import start
from vru.sources import police_uk
from vru.sources.csvfile import CsvInput, inspect_bytes
from vru.sources.police_uk_layout import read_ahead
from vru.sources.readahead import Readahead

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context")
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _row(i: int, month: str = "2018-11", **kw: str) -> str:
    cells = {"id": f"{i:064x}", "month": month, "type": "Robbery", "lon": "-0.971",
             "lat": "51.456", "lsoa": "E01016466"}
    cells.update(kw)
    return (f"{cells['id']},{cells['month']},Thames Valley Police,Thames Valley Police,"
            f"{cells['lon']},{cells['lat']},On or near Broad Street,{cells['lsoa']},"
            f"Reading 011A,{cells['type']},Under investigation,\n")


def _files(folder: Path, n: int, rows: int = 40) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n):
        p = folder / f"2018-{k + 1:02d}-thames-valley-street.csv"
        body = "".join(_row(k * 1000 + i, month=f"2018-{k + 1:02d}") for i in range(rows))
        # a bad row in every file: problems must keep the user's name and line
        p.write_text(HEADER + "\n" + body + _row(k * 1000 + 999, month="Nov 2018"))
        out.append(p)
    return out


def _wait_done(ahead: Readahead, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while ahead._thread is not None:
        assert time.monotonic() < end, "the reading thread never finished"
        time.sleep(0.01)


def test_rows_read_ahead_are_the_rows_read_in_turn(tmp_path):
    files = _files(tmp_path / "in", 3)
    with start("police-uk", files) as ahead:
        _wait_done(ahead)
        con = duckdb.connect()
        inputs = [CsvInput(p, str(p), inspect_bytes(p)) for p in files]
        got = police_uk.read_street(con, inputs, ready=ahead.rows)
    want = police_uk.read_street(duckdb.connect(), inputs)
    assert got[0].equals(want[0])
    assert got[1:] == want[1:]
    assert len(got[2]) == 3 and all(p.field == "Month" for p in got[2])


def test_an_ingest_with_reading_ahead_writes_what_one_without_does(tmp_path):
    files = _files(tmp_path / "in", 4)
    plain = ingest_police_uk(tmp_path / "a", files).summary()
    with start("police-uk", files) as ahead:
        fast = ingest_police_uk(tmp_path / "b", files, ahead=ahead).summary()
    for key in ("rows_in", "accepted", "quarantined", "added"):
        assert plain[key] == fast[key]
    assert [f["sha256"] for f in plain["files"]] == [f["sha256"] for f in fast["files"]]
    cols = ["source_ref", "month", "lsoa11cd", "row_hash", "source_file", "source_line"]
    a = Store(tmp_path / "a").read("incidents", columns=cols).sort_by("source_ref")
    b = Store(tmp_path / "b").read("incidents", columns=cols).sort_by("source_ref")
    assert a.equals(b)
    qa = Store(tmp_path / "a").read("quarantine", columns=["source_file", "line", "field"])
    qb = Store(tmp_path / "b").read("quarantine", columns=["source_file", "line", "field"])
    assert sorted(qa.to_pylist(), key=str) == sorted(qb.to_pylist(), key=str)


def test_a_file_changed_after_reading_ahead_is_read_again(tmp_path):
    (path,) = _files(tmp_path / "in", 1)
    with start("police-uk", [path]) as ahead:
        _wait_done(ahead)
        # the user replaces the file between the read ahead and the ingest
        path.write_text(HEADER + "\n" + "".join(_row(5000 + i) for i in range(7)))
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
        s = ingest_police_uk(tmp_path / "home", [path], ahead=ahead).summary()
    assert (s["rows_in"], s["accepted"], s["quarantined"]) == (7, 7, 0)
    assert s["files"][0]["sha256"] == inspect_bytes(path).sha256


def test_reading_ahead_holds_at_most_its_budget(tmp_path):
    files = _files(tmp_path / "in", 4)
    ahead = Readahead(files, read_ahead, budget=1)  # room for one file at a time
    try:
        deadline = time.monotonic() + 30
        while sum(f.rows_state == 2 for f in ahead._files.values()) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.2)  # were it not waiting, it would parse the others now
        assert [f.rows_state for f in ahead._files.values()] == [2, 0, 0, 0]
        assert ahead.rows(files[0]) is not None  # claimed: the next may be read
        while ahead._files[files[1].absolute()].rows_state != 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert ahead._files[files[2].absolute()].rows_state == 0
        assert ahead.rows(files[0]) is None, "rows are handed over once"
    finally:
        ahead.close()
    assert ahead._held == 0


def test_a_file_not_reached_is_left_to_the_ingest(tmp_path):
    files = _files(tmp_path / "in", 2)
    release = []

    def slow(path: Path, facts):  # the thread is held on the first file
        while not release:
            time.sleep(0.01)
        return read_ahead(path, facts)

    ahead = Readahead(files, slow)
    try:
        while ahead._files[files[0].absolute()].rows_state != 1:  # parsing the first
            time.sleep(0.01)
        # not reached: the ingest hashes and reads it itself, now
        assert ahead.facts(files[1]) is None and ahead.rows(files[1]) is None
        release.append(True)
        assert ahead.rows(files[0]) is not None  # being read: waited for
        _wait_done(ahead)
        second = ahead._files[files[1].absolute()]
        assert second.facts is None and second.rows is None, "not read twice"
    finally:
        ahead.close()


def test_a_broken_file_is_refused_as_without_reading_ahead(tmp_path):
    bad = tmp_path / "in" / "2018-11-x-street.csv"
    bad.parent.mkdir()
    bad.write_text("Crime ID,Month,Crime type\nabc,2018-11,Robbery\n")
    plain = ingest_police_uk(tmp_path / "a", [bad]).summary()
    with start("police-uk", [bad]) as ahead:
        _wait_done(ahead)
        fast = ingest_police_uk(tmp_path / "b", [bad], ahead=ahead).summary()
    assert plain["rejected_files"] == fast["rejected_files"] != []


def test_the_cli_starts_reading_before_the_service_loads():
    # `vru ingest` starts reading its files while the lake and governance modules load;
    # that only helps while importing the CLI and the reader stays cheap
    code = ("import sys, vru.cli, vru.service.readahead, vru.sources.police_uk_layout; "
            "heavy = [m for m in ('vru.service.session', 'vru.lake.ingest', 'sqlalchemy', "
            "'duckdb', 'vru.sources.police_uk') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": SRC}).stdout
    assert out.strip() == "[]"


def test_closing_while_a_file_is_parsed_drops_it(tmp_path):
    # a refused ingest closes the reader while it may be in the middle of a file: what that
    # file gives must not be kept
    files = _files(tmp_path / "in", 2)
    release = []

    def slow(path: Path, facts):
        while not release:
            time.sleep(0.01)
        return read_ahead(path, facts)

    ahead = Readahead(files, slow)
    while ahead._files[files[0].absolute()].rows_state != 1:
        time.sleep(0.01)
    ahead.close()
    release.append(True)
    _wait_done(ahead)
    assert all(f.rows is None for f in ahead._files.values()) and ahead._held == 0
    assert ahead.rows(files[0]) is None
