"""The governed table builder against a lake whose every true count is known.

Each dimension and filter is checked exactly for an analyst (truth computed here with pandas
from the rows written), released for a task-force member, and the aggregate disclosure setting
(read when the session opens) visibly changes what the task-force member gets.
"""

from __future__ import annotations

from typing import Any

import h3
import pandas as pd
import pytest
from tests.service.world import AREA_A, World, nhs, ons

from vru.geo.boundaries import load_lsoa, lsoa_population, lsoa_to_msoa
from vru.service import BadRequest


def _fy(month: str) -> str:
    y, m = int(month[:4]), int(month[5:])
    start = y if m >= 4 else y - 1
    return f"{start}/{(start + 1) % 100:02d}"


def labels(df: pd.DataFrame, dim: str) -> pd.Series:
    """The label each row gets under ``dim``, computed independently of the builder."""
    t = df["occurred_from"]
    if dim == "month":
        return df["month"]
    if dim == "quarter":
        return df["month"].map(lambda m: f"{m[:4]}-Q{(int(m[5:]) + 2) // 3}")
    if dim == "year":
        return df["month"].str[:4]
    if dim == "financial_year":
        return df["month"].map(_fy)
    if dim in ("category", "offence_group", "source"):
        return df[dim]
    if dim == "lsoa":
        return df["lsoa11cd"]
    if dim == "msoa":
        m = lsoa_to_msoa()
        return df["lsoa11cd"].map(dict(zip(m["lsoa11cd"], m["msoa11cd"], strict=True)))
    if dim == "district":
        b = load_lsoa()
        return df["lsoa11cd"].map(dict(zip(b["lsoa11cd"], b["lad13cd"], strict=True)))
    if dim == "area":
        return df["area"]
    if dim == "hour":
        return t.dt.hour.astype("Int64")
    if dim == "weekday":
        return t.dt.day_name()
    if dim.startswith("h3:"):
        return pd.Series([h3.latlng_to_cell(la, lo, int(dim[3:]))
                          for la, lo in zip(df["lat"], df["lon"], strict=True)], df.index)
    size = int(dim.split(":")[1])
    return pd.Series([f"{int(e // size * size)}_{int(n // size * size)}"
                      for e, n in zip(df["easting"], df["northing"], strict=True)], df.index)


def truth(df: pd.DataFrame, by: list[str], joined: bool = True) -> dict[tuple, int]:
    """True counts; lookup dimensions (msoa, district, area) keep only rows they place."""
    cols = {b: labels(df, b) for b in by}
    out: dict[tuple, int] = {}
    for i in range(len(df)):
        key = tuple(None if pd.isna(cols[b].iloc[i]) else cols[b].iloc[i] for b in by)
        if joined and any(k is None and b in ("msoa", "district", "area")
                          for k, b in zip(key, by, strict=True)):
            continue
        out[key] = out.get(key, 0) + 1
    return out


def shown(table: Any, by: list[str]) -> dict[tuple, int]:
    return {tuple(r[b] for b in by): r["n"] for r in table.to_pylist()}


DIMS = ["month", "quarter", "year", "financial_year", "category", "offence_group", "lsoa",
        "msoa", "district", "area", "hour", "weekday", "source", "h3:9", "grid:500"]


@pytest.mark.parametrize("dim", DIMS)
def test_each_dimension_exact_for_an_analyst(world: World, dim: str):
    got = world.session("ann").counts("incidents", dim)
    assert got.release.exact and got.withheld == 0
    assert shown(got.table, [dim]) == truth(world.incidents, [dim])


@pytest.mark.parametrize("dim", DIMS)
def test_each_dimension_released_for_a_task_force_member(world: World, dim: str):
    got = world.session("tia").counts("incidents", dim)
    want = truth(world.incidents[world.incidents["area"] == "A"], [dim])
    assert shown(got.table, [dim]) == {k: nhs(n) for k, n in want.items() if nhs(n)}
    assert got.withheld == sum(1 for n in want.values() if not nhs(n))


def test_financial_year_runs_april_to_march(world: World):
    got = shown(world.session("ann").counts("incidents", "financial_year").table,
                ["financial_year"])
    months = world.incidents["month"]
    assert got[("2019/20",)] == int(((months >= "2019-04") & (months <= "2020-03")).sum())
    assert got[("2018/19",)] == int((months == "2019-03").sum())


WHERE = [
    pytest.param({"category": "Robbery|Burglary"},
                 lambda d: d["category"].isin(["Robbery", "Burglary"])),
    ({"category": ["Robbery", "Burglary"]}, lambda d: d["category"].isin(["Robbery", "Burglary"])),
    (["category=Robbery", "category=Burglary"],
     lambda d: d["category"].isin(["Robbery", "Burglary"])),
    (["month=2020-01..2020-06"], lambda d: d["month"].between("2020-01", "2020-06")),
    (["month=2020-01..2020-06", "category=Robbery"],
     lambda d: d["month"].between("2020-01", "2020-06") & (d["category"] == "Robbery")),
    (["hour=8..17"], lambda d: d["occurred_from"].dt.hour.between(8, 17)),
    (["weekday=Saturday|Sunday"],
     lambda d: d["occurred_from"].dt.day_name().isin(["Saturday", "Sunday"])),
    (["year=2019"], lambda d: d["month"].str[:4] == "2019"),
    (["area=B"], lambda d: d["area"] == "B"),
]


@pytest.mark.parametrize("where, keep", WHERE)
def test_filters(world: World, where: Any, keep: Any):
    df = world.incidents
    got = world.session("ann").counts("incidents", "lsoa", where)
    assert shown(got.table, ["lsoa"]) == truth(df[keep(df).fillna(False)], ["lsoa"])


@pytest.mark.parametrize("where", [["month"], ["hour=noon"], ["weekday=Funday"],
                                   ["nowhere=1"]])
def test_bad_filters_are_bad_requests(world: World, where: list[str]):
    with pytest.raises(BadRequest):
        world.session("ann").counts("incidents", "lsoa", where)


@pytest.mark.parametrize("user", ["ann", "tia"])
def test_rates_per_thousand_residents(world: World, user: str):
    pop = lsoa_population()
    people = dict(zip(pop["lsoa11cd"], pop["population"], strict=True))
    got = world.session(user).counts("incidents", "lsoa", rate=True).table.to_pylist()
    assert got
    for row in got:
        assert row["rate_per_1000"] == round(row["n"] / people[row["lsoa"]] * 1000, 2)
    if user == "ann":
        assert {r["lsoa"]: r["n"] for r in got} == {k[0]: n for k, n in truth(
            world.incidents, ["lsoa"]).items()}
    area = world.session(user).counts("incidents", "area", rate=True).table.to_pylist()
    for row in area:
        residents = sum(people[c] for c in world.lsoas(row["area"]))
        assert row["rate_per_1000"] == round(row["n"] / residents * 1000, 2)
    with pytest.raises(BadRequest, match="rate"):
        world.session(user).counts("incidents", "month", rate=True)


@pytest.mark.parametrize("profile, rule", [("nhs", nhs), ("ons", ons), ("none", None)])
def test_aggregate_disclosure_setting_changes_what_a_task_force_member_gets(
        world: World, profile: str, rule: Any):
    s = world.session("tia", environ={"VRU_AGGREGATE_DISCLOSURE": profile})
    try:
        got = s.counts("incidents", "lsoa")
    finally:
        s.close()
    assert got.release.profile == profile
    want = truth(world.incidents[world.incidents["area"] == "A"], ["lsoa"])
    released = {k: (rule(n) if rule else n) for k, n in want.items()}
    assert shown(got.table, ["lsoa"]) == {k: n for k, n in released.items() if n}
    # the LSOA with 9 crimes tells the three apart: 10 under nhs, hidden under ons, 9 exact
    nine = [c for c, n in AREA_A.items() if n == 9][0]
    assert shown(got.table, ["lsoa"]).get((nine,)) == {"nhs": 10, "ons": None,
                                                       "none": 9}[profile]


def test_production_refuses_no_disclosure(world: World):
    from vru.service import SignInError

    with pytest.raises(SignInError, match="VRU_AGGREGATE_DISCLOSURE"):
        world.session("tia", environ={"VRU_ENV": "production",
                                      "VRU_AGGREGATE_DISCLOSURE": "none"})
