"""The governed forecast: a predictive, record-level analysis. Analysts get the map and its
backtest, audited with the purpose and the kind; every restricted role is refused however it
asks (Python, the service, the CLI, through accuracy), and each refusal is audited."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.service.world import PW, World, nhs

import vru
from vru.governance import audit
from vru.service import Denied
from vru.service.analyses import ANALYSES

VIOLENCE = "Violence and sexual offences"
ASK = {"category": VIOLENCE, "end": "2020-09", "cell": "grid:250"}


def _seq(world: World) -> int:
    found = audit.entries(world.owner.db, limit=1)
    return found[-1].seq if found else 0


def _new(world: World, actor: str, after: int) -> list[audit.AuditEntry]:
    return [e for e in world.entries(actor) if e.seq > after]


def test_forecast_is_registered_predictive_and_record_level():
    spec = ANALYSES["forecast"]
    assert spec.kind == "predictive" and spec.finest.value == "record"
    assert all(a.kind == "descriptive" for n, a in ANALYSES.items() if n != "forecast")


def test_an_analyst_gets_the_map_audited_with_purpose_and_kind(world: World):
    s = world.session("ann")
    before = _seq(world)
    r = s.analyse("forecast", purpose="operational_policing", model="ensemble", **ASK)
    entry = [e for e in _new(world, "ann", before) if e.resource == "analysis:forecast"][-1]
    assert entry.decision == "allow" and entry.seq == r.meta["audit_seq"]
    assert entry.purpose == "operational_policing"
    assert entry.detail["kind"] == "predictive"
    assert entry.detail["params"]["model"] == "ensemble"
    assert r.meta["kind"] == "predictive" and r.meta["purpose"] == "operational_policing"
    assert list(r.frame.columns[:4]) == ["cell", "easting", "northing", "score"]
    # the map covers the study cells; the expected events are near what the lake held
    assert r.frame["score"].sum() > 0


@pytest.mark.parametrize("user", ["tia", "eve", "vic", "pat"])
@pytest.mark.parametrize("ask", [{}, {"backtest": True}, {"area": "A"}])
def test_every_restricted_role_is_refused_and_audited(world: World, user: str, ask: dict):
    s = world.session(user)
    before = _seq(world)
    params = {**ASK, **ask}
    area = params.pop("area", None)
    with pytest.raises(Denied):
        s.analyse("forecast", area=area, **params)
    new = _new(world, user, before)
    assert [e.decision for e in new if e.resource == "analysis:forecast"] == ["deny"]
    assert not [e for e in new if e.decision == "allow"]


def test_python_face_refused_too(world: World):
    lake = vru.open(world.home, user="tia", password=PW)
    try:
        with pytest.raises(Denied):
            lake.analyse("forecast", **ASK)
    finally:
        lake.close()  # a second engine on the database must not outlive the test


def test_a_task_force_member_cannot_score_a_forecast_through_accuracy(world: World, tmp_path):
    before = _seq(world)
    run = world.cli("tia", "hotspots", "accuracy", "--category", VIOLENCE, "--map-from",
                    "2019-03", "--map-to", "2020-08", "--from", "2020-09", "--to", "2020-09",
                    "--cell", "grid:250", "--map", "ensemble", "--curve",
                    str(tmp_path / "c.csv"))
    assert run.returncode == 3, run.stderr
    assert "denied" in run.stderr
    assert not (tmp_path / "c.csv").exists()
    assert [e.decision for e in _new(world, "tia", before)
            if e.resource == "analysis:forecast"] == ["deny"]


def test_the_cli_contract_and_its_refusal(world: World, tmp_path: Path):
    out = tmp_path / "F.parquet"
    run = world.cli("ann", "hotspots", "forecast", "--category", VIOLENCE, "--from", "2019-03",
                    "--to", "2020-09", "--horizon", "2", "--cell", "grid:250", "--out",
                    str(out))
    assert run.returncode == 0, run.stderr
    f = pd.read_parquet(out)
    assert {"cell", "easting", "northing", "score"} <= set(f.columns)
    assert f["score"].notna().all() and (f["score"] >= 0).all()
    denied = tmp_path / "tia.parquet"
    run = world.cli("tia", "hotspots", "forecast", "--category", VIOLENCE, "--to", "2020-09",
                    "--out", str(denied))
    assert run.returncode == 3 and not denied.exists()


def test_a_restricted_accuracy_table_is_released(world: World):
    s = world.session("tia", environ={})  # a session of its own, closed at the end
    try:
        r = s.analyse("accuracy", map_from="2019-03", map_to="2020-03", start="2020-04",
                      end="2020-12", cell="lsoa")
    finally:
        s.close()
    t = r.table
    assert set(t["map"]) == {"gistar", "naive"}
    for col in ("hits", "events"):
        for v in t[col]:
            assert v is None or np.isnan(v) or v == 0 or (v >= 10 and v % 5 == 0)
    assert t[["PEI", "PEI_star", "RRI"]].isna().all().all()
    assert r.curve is None
    # the analyst gets the exact figures; the task-force member's are area A's, released
    a = world.session("ann").analyse("accuracy", map_from="2019-03", map_to="2020-03",
                                     start="2020-04", end="2020-12", cell="lsoa")
    exact = float(a.table["events"].iloc[0])
    shown = t["events"].iloc[0]
    assert exact > 0 and r.meta["area"] == "A"
    assert shown is None or np.isnan(shown) or shown % 5 == 0
    area_a = world.incidents[(world.incidents["area"] == "A")
                             & world.incidents["month"].between("2020-04", "2020-12")]
    want = nhs(len(area_a))
    assert (None if np.isnan(shown) else int(shown)) == want


def test_a_map_file_is_scored_beside_naive(world: World, tmp_path: Path):
    """A user's file of cell scores is scored on the same cells and shares as naive counts:
    the naive forecast written to a file scores exactly as naive does."""
    from vru.service import BadRequest
    from vru.service.formats import write

    s = world.session("ann")
    made = s.analyse("forecast", end="2020-08", cell="grid:250",
                     model="naive")
    path = write(made, tmp_path / "mine.parquet")
    b = s.analyse("forecast", backtest=True, end="2020-09",
                  origins=["2020-08"], horizon=1, cell="grid:250", models=["density"],
                  map_file=str(path))
    f = b.frame.set_index(["model", "at"])
    assert set(b.frame["model"]) == {"naive", "density", "file"}
    for share in ("0.01", "0.1"):
        assert f.loc[("file", share), "PAI"] == pytest.approx(f.loc[("naive", share), "PAI"])
    bad = tmp_path / "bad.csv"
    bad.write_text("lsoa,value\nE01016353,3\n")
    with pytest.raises(BadRequest, match="columns cell and score") as e:
        s.analyse("forecast", backtest=True, end="2020-09", origins=["2020-08"], horizon=1,
                  models=[], map_file=str(bad))
    assert "lsoa" not in str(e.value)  # a file's content is never echoed
    # files of the home (its database, keys, lake) are not maps to score
    inside = next(p for p in world.home.rglob("*") if p.is_file())
    for target in (inside, world.home / "x.csv"):
        with pytest.raises(BadRequest, match="file of your own|parquet or .csv"):
            s.analyse("forecast", backtest=True, end="2020-09", origins=["2020-08"],
                      horizon=1, models=[], map_file=str(target))


def test_the_cli_backtest_scores_every_origin_with_naive_beside(world: World, tmp_path: Path):
    out = tmp_path / "bt.csv"
    run = world.cli("ann", "hotspots", "forecast", "--to", "2020-09", "--backtest",
                    "--model", "ensemble", "--out", str(out))
    assert run.returncode == 0, run.stderr
    f = pd.read_csv(out)
    assert {"naive", "ensemble", "promap", "sepp"} <= set(f["model"])
    assert f["origin"].nunique() >= 2
    per = f.groupby(["origin", "model"])["at"].apply(lambda s: tuple(map(str, s)))
    assert per.nunique() == 1  # every map of every origin on the same shares
    assert "PAI at 1%" in run.stdout
    last = [e for e in world.entries("ann") if e.resource == "analysis:forecast"][-1]
    assert last.detail["kind"] == "predictive" and last.detail["params"]["backtest"] is True
