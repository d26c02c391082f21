"""Task-force areas and a shared deployment's first admin, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vru.data import police_uk_months


def vru(home: Path, *args: str, stdin: str | None = None, **env: str
        ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), *args],
                          input=stdin, capture_output=True, text=True,
                          env={**os.environ, **env})


def test_task_force_member_sees_only_their_area_counts(tmp_path):
    home = tmp_path / "home"
    month = next(p for p in police_uk_months() if "2018-11" in p.name)
    assert vru(home, "ingest", "police-uk", str(month)).returncode == 0
    (tmp_path / "areas.csv").write_text("area,lsoa11cd\nnorth,E01017649\nnorth,E01017650\n"
                                        "south,E01016466\n")
    loaded = vru(home, "areas", "load", str(tmp_path / "areas.csv"))
    assert loaded.returncode == 0, loaded.stderr
    assert "north (2 LSOAs)" in loaded.stdout
    assert "south" in vru(home, "areas", "list").stdout
    add = vru(home, "users", "add", "tom", "--role", "task_force_member", "--area", "north",
              "--password-stdin", stdin="correct horse battery\n")
    assert add.returncode == 0, add.stderr
    as_tom = {"VRU_USER": "tom", "VRU_PASSWORD": "correct horse battery"}
    got = vru(home, "sql", "SELECT lsoa11cd, count(*) AS n FROM incidents GROUP BY ALL",
              "--format", "csv", **as_tom)
    assert got.returncode == 0, got.stderr
    lsoas = {line.split(",")[0].strip('"') for line in got.stdout.splitlines()[1:]}
    assert lsoas <= {"E01017649", "E01017650"} and lsoas
    other = vru(home, "sql", "SELECT count(*) AS n FROM incidents", "--area", "south",
                **as_tom)
    assert other.returncode == 3 and "south" in other.stderr
    rows = vru(home, "sql", "SELECT source_ref FROM incidents", **as_tom)
    assert rows.returncode != 0


def test_shared_deployment_needs_keys_an_admin_and_sign_in(tmp_path):
    home = tmp_path / "home"
    shared = {"VRU_ENV": "production", "VRU_DATABASE_URL": f"sqlite:///{tmp_path}/shared.db"}
    refused = vru(home, "init", "--admin", "ada", "--password-stdin",
                  stdin="a strong admin password\n", **shared)
    assert refused.returncode == 2 and "VRU_AUDIT_KEY" in refused.stderr.replace("\n", "")
    keys = {k: os.urandom(24).hex() for k in ("VRU_SECRET_KEY", "VRU_AUDIT_KEY",
                                              "VRU_PSEUDONYM_KEY")}
    made = vru(home, "init", "--admin", "ada", "--password-stdin",
               stdin="a strong admin password\n", **shared, **keys)
    assert made.returncode == 0, made.stderr
    anonymous = vru(home, "status", **shared, **keys)
    assert anonymous.returncode == 3 and "--user" in anonymous.stderr
    signed = vru(home, "audit", "verify", **shared, **keys, VRU_USER="ada",
                 VRU_PASSWORD="a strong admin password")
    assert signed.returncode == 0 and signed.stdout.startswith("ok ")


def test_hotspots_limited_to_an_area(tmp_path):
    import pyarrow.parquet as pq

    home = tmp_path / "home"
    month = next(p for p in police_uk_months() if "2018-11" in p.name)
    assert vru(home, "ingest", "police-uk", str(month)).returncode == 0
    codes = ["E01016180", "E01016181", "E01016182", "E01016183"]
    (tmp_path / "areas.csv").write_text("area,lsoa11cd\n" + "".join(f"north,{c}\n"
                                                                    for c in codes))
    assert vru(home, "areas", "load", str(tmp_path / "areas.csv")).returncode == 0
    out = tmp_path / "north.parquet"
    run = vru(home, "hotspots", "gistar", "--cell", "lsoa", "--area", "north",
              "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert sorted(pq.read_table(out).column("cell").to_pylist()) == codes
    unknown = vru(home, "hotspots", "gistar", "--cell", "lsoa", "--area", "nowhere",
                  "--out", str(out))
    assert unknown.returncode == 3 and "nowhere" in unknown.stderr
