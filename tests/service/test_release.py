"""The service's release: one cell, one answer, however it is asked; each profile setting
changes what a restricted reader receives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from vru.governance.areas import define_area
from vru.governance.identity import add_user
from vru.lake.store import Store
from vru.lake.tables import SPECS
from vru.service import open_session
from vru.sources.canonical import conform

PW = "a long enough password"
LSOAS = ["E01016466", "E01016467", "E01016468"]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("release") / "home"
    rng = np.random.default_rng(7)
    n = 3_000
    months = [f"2020-{m:02d}" for m in rng.integers(1, 13, n)]
    table = pa.table({
        "source": ["police_uk"] * n, "source_ref": [f"c{i}" for i in range(n)],
        "month": months, "category": rng.choice(["Robbery", "Burglary", "Drugs"], n).tolist(),
        "lsoa11cd": rng.choice(LSOAS, n).tolist(),
        "row_hash": pa.array(rng.integers(0, 2**62, n), pa.int64())})
    Store(home).write(SPECS["incidents"], conform(table, SPECS["incidents"].schema))
    owner = open_session(home)
    define_area(owner.db, "north", LSOAS[:2])
    add_user(owner.db, "vic", "viewer", password=PW)
    add_user(owner.db, "tia", "task_force_member", area="north", password=PW)
    owner.close()
    return home


def _values(result, *labels: str) -> dict[tuple, int | None]:
    rows = result.table.to_pylist()
    return {tuple(r[k] for k in labels): r["n"] for r in rows}


def test_one_cell_one_answer_however_it_is_asked(home):
    vic = open_session(home, user="vic", password=PW)
    assert vic.counts("incidents", "lsoa").release.profile == "cellkey"
    by_both = _values(vic.counts("incidents", "lsoa,month"), "lsoa", "month")
    by_month = {}
    for code in LSOAS:  # the same cells, asked for as a filter instead of a dimension
        got = _values(vic.counts("incidents", "month", [f"lsoa={code}"]), "month")
        by_month.update({(code, m): v for (m,), v in got.items()})
    assert by_both == by_month
    # a filter that keeps every record of the cell changes nothing either
    every = "category=Robbery|Burglary|Drugs"
    assert _values(vic.counts("incidents", "lsoa,month", [every]), "lsoa", "month") == by_both


def test_cell_keys_never_leave(home, tmp_path):
    vic = open_session(home, user="vic", password=PW)
    out = vic.counts("incidents", "lsoa,category")
    assert set(out.table.column_names) == {"lsoa", "category", "n"}


def test_perturbation_moves_counts_and_stays_unbiased(home):
    owner = open_session(home)
    vic = open_session(home, user="vic", password=PW)
    exact = _values(owner.counts("incidents", "lsoa,month,category"), "lsoa", "month",
                    "category")
    released = _values(vic.counts("incidents", "lsoa,month,category"), "lsoa", "month",
                       "category")
    assert owner.counts("incidents", "month").release.profile == "none"
    moved = [k for k in exact if released.get(k, 0) != exact[k]]
    assert len(moved) > len(exact) / 3  # most counts are not multiples of 3
    assert all(v % 3 == 0 for v in released.values())
    diffs = [released.get(k, 0) - v for k, v in exact.items()]
    assert max(abs(d) for d in diffs) <= 2
    assert abs(np.mean(diffs)) < 0.35  # unbiased: no drift over 108 cells


@pytest.mark.parametrize("profile", ["nhs", "ons", "cellkey", "none"])
def test_each_public_profile_changes_what_a_viewer_gets(home, profile):
    env = {"VRU_PUBLIC_DISCLOSURE": profile}
    vic = open_session(home, user="vic", password=PW, environ=env)
    out = vic.counts("incidents", "lsoa,month,category")
    assert out.release.profile == profile
    values = [v for v in out.table["n"].to_pylist() if v is not None]
    owner = open_session(home)
    exact = owner.counts("incidents", "lsoa,month,category").table["n"].to_pylist()
    if profile == "none":
        assert sorted(values) == sorted(exact)
    elif profile in ("nhs", "ons"):
        assert all(v % 5 == 0 for v in values) and min(values) > (7 if profile == "nhs" else 9)
    else:
        assert all(v % 3 == 0 for v in values)


@pytest.mark.parametrize("profile", ["nhs", "ons", "none"])
def test_the_aggregate_setting_reaches_a_task_force_member(home, profile):
    tia = open_session(home, user="tia", password=PW,
                       environ={"VRU_AGGREGATE_DISCLOSURE": profile})
    out = tia.counts("incidents", "lsoa")
    assert out.release.profile == profile
    assert set(out.table["lsoa"].to_pylist()) <= set(LSOAS[:2])  # her area only
