"""Chart specs the briefing renders and the dashboard draws: valid Vega-Lite, Analysis
Function colours, released nulls kept as gaps, and offline SVG."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from vru.service import charts


def _week() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [(d, h, int(rng.poisson(20))) for d in range(1, 8) for h in range(24)]
    frame = pd.DataFrame(rows, columns=["weekday", "hour", "n"]).astype({"n": "Int64"})
    frame.loc[5, "n"] = pd.NA  # a suppressed cell
    return frame


def _values(spec: dict) -> list[dict]:
    data = spec.get("datasets") or {}
    return [row for rows in data.values() for row in rows]


def test_heatmap_spec_and_svg():
    spec = charts.hour_weekday_heatmap(_week(), title="Violence by hour",
                                       description="busiest Saturday 22:00")
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert spec["description"] == "busiest Saturday 22:00"
    assert spec["encoding"]["y"]["sort"] == list(charts.WEEKDAYS)
    assert set(spec["encoding"]["color"]["scale"]["range"]) <= set(charts.SEQUENTIAL)
    rows = _values(spec)
    assert {r["weekday"] for r in rows} == set(charts.WEEKDAYS)
    assert sum(r["events"] is None for r in rows) == 1  # the suppressed cell stays a gap
    json.dumps(spec)  # plain JSON for vega-embed
    svg = charts.to_svg(spec)
    assert svg.lstrip().startswith("<svg") and "Saturday" in svg and "http" not in svg.split(
        "xmlns", 1)[0]


def test_monthly_trend_marks_the_two_periods():
    months = [f"{y}-{m:02d}" for y in (2019, 2020) for m in range(1, 13)]
    frame = pd.DataFrame({"month": months, "n": range(100, 124)})
    spec = charts.monthly_trend(frame, change={"current": ("2020-01", "2020-12"),
                                               "previous": ("2019-01", "2019-12"),
                                               "label": "2020: down 23%"}, title="Robbery")
    text = json.dumps(spec)
    assert "2020: down 23%" in text and "2020-12-31" in text and "2019-01-01" in text
    assert charts.FOCUS in text
    assert "2020: down 23%" in charts.to_svg(spec)
    several = charts.monthly_trend(frame.assign(area="a"), series="area")
    assert json.dumps(several).count(charts.CATEGORICAL[0]) >= 1


def test_yearly_bars_and_tiles():
    frame = pd.DataFrame({"period": ["2018", "2019", "2020"], "n": [1290, 1300, 1222]})
    spec = charts.yearly_bars(frame, highlight="2020")
    assert [r["focus"] for r in _values(spec)] == [False, False, True]
    assert "<svg" in charts.to_svg(spec)
    tiles = charts.kpi_tiles([{"measure": "knife_crime", "label": "Knife crime",
                               "current": 1222, "previous": 1300, "change_pct": -6.0,
                               "significant": False, "wording": "no significant change"}])
    assert tiles[0]["colour"] == charts.CONTEXT and tiles[0]["current"] == 1222
