"""The hotspot commands through the real CLI, on the real shipped data.police.uk months."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from vru.data import police_uk_months


def vru(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), *args],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    run = vru(home, "ingest", "police-uk", *map(str, police_uk_months()))
    assert run.returncode == 0, run.stderr
    return home


def test_gistar_contract_h3(home, tmp_path):
    out = tmp_path / "hot.parquet"
    run = vru(home, "hotspots", "gistar", "--category", "Violence and sexual offences",
              "--cell", "h3:9", "--out", str(out), "--from", "2018-10", "--to", "2018-12")
    assert run.returncode == 0, run.stderr
    t = pq.read_table(out)
    assert {"cell", "n", "z", "p", "class"} <= set(t.column_names)
    n = t.column("n").to_numpy()
    assert (n == 0).sum() > 0.5 * len(n), "every cell of the study area, empty ones included"
    classes = set(t.column("class").to_pylist())
    assert classes <= {-3, -2, -1, 0, 1, 2, 3} and 3 in classes
    # the months filter holds: three months of violence, not four
    total = int(n.sum())
    assert 0 < total < 20_000
    assert b"vru" in (t.schema.metadata or {}), "versions and parameters recorded"


def test_near_repeat_refuses_month_precision(home):
    run = vru(home, "hotspots", "near-repeat", "--source", "police_uk", "--category", "Burglary")
    assert run.returncode == 2 and "known only to the month" in run.stderr.replace("\n", " ")


def test_a_viewer_gets_released_counts_never_sql(home):
    add = subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), "users", "add",
                          "vera", "--role", "viewer", "--password-stdin"],
                         input="a long enough secret\n", capture_output=True, text=True)
    assert add.returncode == 0, add.stderr
    env_run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "vru.cli", "--home", str(home), "--user", "vera", *a],
        capture_output=True, text=True,
        env={**__import__("os").environ, "VRU_PASSWORD": "a long enough secret"})
    for query in ("SELECT * FROM incidents LIMIT 5",
                  "SELECT category, count(*) AS n FROM incidents GROUP BY ALL", "SELECT 1"):
        refused = env_run("sql", query)
        assert refused.returncode == 3 and "vru counts" in refused.stderr.replace("\n", " ")
    counts = env_run("counts", "incidents", "--by", "category", "--format", "csv")
    assert counts.returncode == 0, counts.stderr
    assert "Anti-social behaviour" in counts.stdout
    assert "perturbed" in counts.stderr  # the release is labelled
    hot = env_run("hotspots", "gistar", "--category", "Robbery", "--out", "x.parquet")
    assert hot.returncode == 3  # viewers read published counts; they do not run analyses
    wrong = subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(home), "--user",
                            "vera", "status"], capture_output=True, text=True,
                           env={**__import__("os").environ, "VRU_PASSWORD": "wrong password!"})
    assert wrong.returncode == 3


def test_moran_density_and_accuracy(home, tmp_path):
    out = tmp_path / "clusters.csv"
    run = vru(home, "hotspots", "moran", "--category", "Violence and sexual offences",
              "--cell", "lsoa", "--permutations", "99", "--out", str(out))
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    assert "HH" in text and text.count("\n") > 1000  # one row per LSOA
    kde = tmp_path / "kde.parquet"
    run = vru(home, "hotspots", "density", "--category", "Robbery", "--cell-size", "250",
              "--out", str(kde), "--png", str(tmp_path / "kde.png"))
    assert run.returncode == 0, run.stderr
    d = pq.read_table(kde)
    assert d.num_rows > 1000 and min(d.column("density_per_km2").to_pylist()) > 0
    assert (tmp_path / "kde.png").stat().st_size > 10_000
    run = vru(home, "hotspots", "accuracy", "--category", "Violence and sexual offences",
              "--map-from", "2018-06", "--map-to", "2018-06", "--from", "2018-10",
              "--to", "2018-12")
    assert run.returncode == 0, run.stderr
    assert "PAI" in run.stdout


def test_accuracy_like_with_like_and_the_forecast_contract(home, tmp_path):
    """Gi* and naive at fixed shares with the curve as CSV and PNG; then the acceptance
    contract of `vru hotspots forecast` on the real months."""
    import pandas as pd

    curve = tmp_path / "curve.csv"
    run = vru(home, "hotspots", "accuracy", "--category", "Violence and sexual offences",
              "--map-from", "2018-06", "--map-to", "2018-10", "--from", "2018-11",
              "--to", "2018-12", "--cell", "lsoa", "--curve", str(curve))
    assert run.returncode == 0, run.stderr
    assert "gistar vs naive at fixed shares" in run.stdout
    c = pd.read_csv(curve)
    assert {"area_share", "gistar", "naive", "perfect"} <= set(c.columns)
    assert (c["perfect"] >= c["gistar"] - 1e-9).all()
    assert c["perfect"].iloc[-1] == pytest.approx(1.0)
    png = tmp_path / "curve.png"
    run = vru(home, "hotspots", "accuracy", "--category", "Violence and sexual offences",
              "--map-from", "2018-06", "--map-to", "2018-10", "--from", "2018-11",
              "--to", "2018-12", "--cell", "lsoa", "--curve", str(png))
    assert run.returncode == 0 and png.stat().st_size > 10_000, run.stderr
    out = tmp_path / "F.parquet"
    run = vru(home, "hotspots", "forecast", "--category", "Violence and sexual offences",
              "--from", "2018-10", "--to", "2018-12", "--horizon", "2", "--cell", "grid:250",
              "--out", str(out))
    assert run.returncode == 0, run.stderr
    f = pd.read_parquet(out)
    assert list(f.columns[:4]) == ["cell", "easting", "northing", "score"]
    assert len(f) > 90_000 and f["score"].max() > 1
    # the map's top cells are where the most recent violence was: Reading, Oxford, Slough...
    top = f.nlargest(20, "score")
    assert top["easting"].between(400_000, 520_000).all()
