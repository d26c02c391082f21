"""The `vru` script starts reading an ingest's files before the CLI loads, and never makes
the CLI ingest anything but what it parsed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vru.service.readahead as readahead
from vru.launch import ingest_files

SRC = str(Path(__file__).resolve().parents[1] / "src")
MONTHS = Path(SRC) / "vru" / "data" / "police-uk"


@pytest.mark.parametrize(("argv", "want"), [
    (["ingest", "police-uk", "a.csv", "b.zip"], ("police-uk", ["a.csv", "b.zip"])),
    (["--home", "h", "--user", "ann", "ingest", "police-uk", "a.csv", "--json"],
     ("police-uk", ["a.csv"])),
    (["ingest", "police-uk", "--force", "Surrey Police", "a.csv"], ("police-uk", ["a.csv"])),
    (["ingest", "police-uk", "--force=Surrey Police", "a.csv"], ("police-uk", ["a.csv"])),
    (["ingest", "police-uk", "a.csv", "--help"], None),
    (["ingest", "police-uk"], None),
    (["status"], None),
    (["--home", "ingest", "status"], None),
    ([], None),
])
def test_what_the_script_reads_from_its_arguments(argv, want):
    assert ingest_files(argv) == want


def test_the_cli_gets_the_early_reader_only_for_the_same_files(tmp_path):
    files = [tmp_path / f"2018-0{i}-x-street.csv" for i in (1, 2)]
    for f in files:
        f.write_text("Crime ID,Month\n")
    readahead.start_early("police-uk", [str(f) for f in files])
    early = readahead._early[2]
    assert readahead.start("police-uk", files) is early  # handed over once
    assert readahead._early is None
    early.close()

    readahead.start_early("police-uk", [str(files[0])])
    guessed = readahead._early[2]
    got = readahead.start("police-uk", files)  # the CLI parsed other files
    assert got is not guessed and guessed._closed and not got._closed
    got.close()


def test_the_script_ingests_what_the_cli_parsed(tmp_path):
    # the same files with and without an option that takes a value before them
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run([sys.executable, "-m", "vru", "--home", str(home), "ingest",
                          "police-uk", str(MONTHS), "--json"], capture_output=True, text=True,
                         env=env, check=True).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["rows_in"] == summary["accepted"] > 10_000
    again = subprocess.run([sys.executable, "-m", "vru", "--home", str(home), "ingest",
                            "police-uk", "--force", "Thames Valley Police", str(MONTHS),
                            "--json"], capture_output=True, text=True, env=env,
                           check=True).stdout
    second = json.loads(again.strip().splitlines()[-1])
    assert second["duplicates"] == summary["accepted"] and second["added"] == 0


@pytest.mark.parametrize(("argv", "interval"), [
    (["ingest", "police-uk", "a.csv"], 0.001), (["status"], None)])
def test_an_ingest_hands_the_gil_round_sooner(argv, interval, monkeypatch):
    # its threads each take the GIL back between C++ calls: 1 ms, not 5, for an ingest only
    import vru.cli
    import vru.launch

    before = sys.getswitchinterval()
    seen = []
    monkeypatch.setattr(sys, "argv", ["vru", *argv])
    monkeypatch.setattr(readahead, "start_early", lambda *a: None)
    monkeypatch.setattr(vru.cli, "main", lambda: seen.append(sys.getswitchinterval()))
    monkeypatch.setattr(vru.launch, "_leave", lambda code: None)  # not this test process
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    try:
        vru.launch.main()
    finally:
        sys.setswitchinterval(before)
    assert seen == [pytest.approx(interval if interval else before)]


def test_an_ingest_leaves_with_its_output_and_exit_code(tmp_path):
    # the script skips the interpreter's teardown after an ingest: nothing may be lost
    bad = tmp_path / "2018-01-x-street.csv"
    bad.write_bytes(b"\x00\x01 not text")
    got = subprocess.run([sys.executable, "-m", "vru", "--home", str(tmp_path / "home"),
                          "ingest", "police-uk", str(MONTHS), str(bad), "--json"],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC})
    assert got.returncode == 1, got.stderr  # a file was rejected
    summary = json.loads(got.stdout.strip().splitlines()[-1])
    assert summary["accepted"] > 10_000
    assert [r["file"] for r in summary["rejected_files"]] == [str(bad)]
    status = subprocess.run([sys.executable, "-m", "vru", "--home", str(tmp_path / "home"),
                             "status"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": SRC})
    assert status.returncode == 0 and "incidents" in status.stdout


def test_the_exit_code_python_would_give(monkeypatch):
    import vru.launch

    codes = []
    monkeypatch.setattr(vru.launch.os, "_exit", codes.append)
    for given in (None, 0, 2, "a message"):
        vru.launch._leave(given)
    assert codes == [0, 0, 2, 1]
