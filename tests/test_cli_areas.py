"""Task-force areas and a shared deployment's first admin, through the real CLI."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from vru.data import police_uk_months

NORTH = ("E01017649", "E01017650")
TOM = {"VRU_USER": "tom", "VRU_PASSWORD": "correct horse battery"}


def vru(home: Path, *args: str, stdin: str | None = None, **env: str
        ) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, with extra environment variables."""
    base = {k: v for k, v in os.environ.items() if k not in ("VRU_DATABASE_URL", "VRU_USER",
                                                             "VRU_PASSWORD", "VRU_ENV")}
    return subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), *args],
                          input=stdin, capture_output=True, text=True, env={**base, **env},
                          timeout=300)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def nhs(n: int) -> int | None:
    """The NHS rule: 1-7 suppressed (None), others rounded to the nearest 5."""
    return None if 1 <= n <= 7 else int((n + 2.5) // 5 * 5)


def test_task_force_member_sees_only_their_area_counts(tmp_path):
    home = tmp_path / "home"
    month = next(p for p in police_uk_months() if "2018-11" in p.name)
    assert vru(home, "ingest", "police-uk", str(month)).returncode == 0
    (tmp_path / "areas.csv").write_text("area,lsoa11cd\n" + "".join(
        f"north,{c}\n" for c in NORTH) + "south,E01016466\n")
    loaded = vru(home, "areas", "load", str(tmp_path / "areas.csv"))
    assert loaded.returncode == 0, loaded.stderr
    assert "north (2 LSOAs)" in loaded.stdout
    assert "south" in vru(home, "areas", "list").stdout
    add = vru(home, "users", "add", "tom", "--role", "task_force_member", "--area", "north",
              "--password-stdin", stdin="correct horse battery\n")
    assert add.returncode == 0, add.stderr

    # restricted roles get no SQL at all; they are pointed at `vru counts`
    refused = vru(home, "sql", "SELECT lsoa11cd, count(*) AS n FROM incidents GROUP BY ALL",
                  "--format", "csv", **TOM)
    assert refused.returncode == 3 and "vru counts" in refused.stderr
    assert refused.stdout == ""

    seen_small = seen_large = False
    for dim, column in (("lsoa", "lsoa11cd"), ("category", "category")):
        # the truth, as the home's admin reads it at record level
        truth_run = vru(home, "sql", f"SELECT {column} AS {dim}, count(*) AS n FROM incidents "
                        "WHERE lsoa11cd IN ('E01017649', 'E01017650') GROUP BY ALL",
                        "--format", "csv")
        assert truth_run.returncode == 0, truth_run.stderr
        truth = {r[dim]: int(r["n"]) for r in rows(truth_run.stdout)}
        seen_small |= any(1 <= n <= 7 for n in truth.values())
        seen_large |= any(n >= 8 for n in truth.values())

        got = vru(home, "counts", "incidents", "--by", dim, "--format", "csv", **TOM)
        assert got.returncode == 0, got.stderr
        released = {r[dim]: int(r["n"]) for r in rows(got.stdout)}
        if dim == "lsoa":
            assert set(released) == set(NORTH)
        assert released == {k: nhs(n) for k, n in truth.items() if nhs(n)}
        assert "1-7" in got.stderr
    assert seen_small and seen_large  # both rules were exercised

    other = vru(home, "counts", "incidents", "--by", "lsoa", "--area", "south", **TOM)
    assert other.returncode == 3 and "south" in other.stderr
    ids = vru(home, "counts", "incidents", "--by", "source_ref", **TOM)
    assert ids.returncode == 2 and "source_ref" in ids.stderr and "month" in ids.stderr
    rows_run = vru(home, "sql", "SELECT source_ref FROM incidents", **TOM)
    assert rows_run.returncode == 3 and rows_run.stdout == ""


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
