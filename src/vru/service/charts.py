"""Vega-Lite chart specs (built with Altair) of released figures, and their offline SVG.

The briefing renders these specs to SVG with ``vl-convert`` (no browser, no network); the
dashboard draws the very same specs with vega-embed. Every builder takes a frame of figures
that have already passed the release function (a suppressed count is a null, drawn as a
gap and listed as ``*`` in the table behind the chart) and returns a plain dict.

Colours are the UK Government Analysis Function palettes (categorical, sequential and
focus; https://analysisfunction.civilservice.gov.uk/policy-store/data-visualisation-colours-in-charts/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

#: Analysis Function categorical palette, in its order of use.
CATEGORICAL = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
#: Sequential palette (dark blue to light blue), dark for more.
SEQUENTIAL = ("#12436D", "#2073BC", "#6BACE6", "#C5DCF2")
#: Focus palette: the thing that matters and everything else.
FOCUS, CONTEXT = "#12436D", "#BFBFBF"
FONT = "Arial"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_CONFIG = {"font": FONT, "view": {"stroke": None},
           "axis": {"labelFontSize": 11, "titleFontSize": 12, "labelColor": "#0B0C0C",
                    "titleColor": "#0B0C0C", "gridColor": "#E5E5E5"},
           "title": {"fontSize": 14, "anchor": "start", "color": "#0B0C0C"},
           "legend": {"labelFontSize": 11, "titleFontSize": 12}}


def _alt():
    import altair as alt

    return alt


def _finish(chart: Any, title: str | None, description: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if title:
        props["title"] = title
    if description:
        props["description"] = description  # read by screen readers via vega-embed's aria
    spec = chart.properties(**props).to_dict()
    spec["config"] = {**spec.get("config", {}), **_CONFIG}
    return spec


def hour_weekday_heatmap(frame: pd.DataFrame, *, title: str | None = None,
                         description: str | None = None, count: str = "n") -> dict[str, Any]:
    """Hour of day by weekday heat map.

    Parameters
    ----------
    frame
        Columns ``weekday`` (names Monday..Sunday, or 1..7 / 0..6 from Monday), ``hour``
        (0..23) and ``count`` (released; null where suppressed).
    title, description
        Chart title, and a sentence a screen reader says.

    Returns
    -------
    dict
        A Vega-Lite spec.
    """
    alt = _alt()
    df = frame[["weekday", "hour", count]].copy()
    if pd.api.types.is_numeric_dtype(df["weekday"]):
        base = 1 if df["weekday"].min() >= 1 else 0
        df["weekday"] = [WEEKDAYS[int(v) - base] for v in df["weekday"]]
    df[count] = pd.to_numeric(df[count], errors="coerce")
    df = df.rename(columns={count: "events"})
    chart = alt.Chart(df).mark_rect().encode(
        x=alt.X("hour:O", title="Hour of day", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("weekday:N", title=None, sort=list(WEEKDAYS)),
        # quantised: a legend of swatches (readable in print), not a gradient
        color=alt.Color("events:Q", title="Events",
                        scale=alt.Scale(type="quantize", nice=True,
                                        range=list(reversed(SEQUENTIAL))),
                        legend=alt.Legend(orient="right", format=",.0f")),
        tooltip=[alt.Tooltip("weekday:N"), alt.Tooltip("hour:O"),
                 alt.Tooltip("events:Q", format=",")],
    ).properties(width=520, height=200)
    return _finish(chart, title, description)


def monthly_trend(frame: pd.DataFrame, *, change: Mapping[str, Any] | None = None,
                  title: str | None = None, description: str | None = None,
                  count: str = "n", series: str | None = None) -> dict[str, Any]:
    """Monthly counts as a line, with the two compared periods marked.

    Parameters
    ----------
    frame
        Columns ``month`` (YYYY-MM) and ``count`` (released), and ``series`` when several
        lines are drawn (one colour each, categorical palette).
    change
        Marks the comparison: ``{"current": ("2020-01", "2020-12"), "previous":
        ("2019-01", "2019-12"), "label": "down 23% (1,456 → 1,121)"}``; the current period
        is shaded dark, the previous light, the label written above the current one.
    title, description
        Chart title, and a sentence a screen reader says.

    Returns
    -------
    dict
        A Vega-Lite spec.
    """
    alt = _alt()
    cols = ["month", count] + ([series] if series else [])
    df = frame[cols].copy()
    df["date"] = pd.to_datetime(df["month"] + "-01")
    df[count] = pd.to_numeric(df[count], errors="coerce")
    df = df.rename(columns={count: "events"}).drop(columns=["month"])
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    enc: dict[str, Any] = {
        "x": alt.X("date:T", title=None, axis=alt.Axis(format="%Y", tickCount="year")),
        "y": alt.Y("events:Q", title="Events per month", scale=alt.Scale(zero=True)),
        "tooltip": [alt.Tooltip("date:T", format="%b %Y", title="Month"),
                    alt.Tooltip("events:Q", format=",")],
    }
    if series:
        enc["color"] = alt.Color(f"{series}:N", title=None,
                                 scale=alt.Scale(range=list(CATEGORICAL)))
    else:
        enc["color"] = alt.value(FOCUS)
    line = alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=14), strokeWidth=2).encode(
        **enc)
    layers = []
    if change:
        spans = []
        for key, shade in (("previous", "#E5E5E5"), ("current", "#C5DCF2")):
            if change.get(key):
                lo, hi = change[key]
                spans.append({"start": f"{lo}-01", "end": f"{_month_end(hi)}",
                              "period": key, "shade": shade})
        if spans:
            bands = alt.Chart(pd.DataFrame(spans)).mark_rect(opacity=0.6).encode(
                x="start:T", x2="end:T", color=alt.Color("shade:N", scale=None, legend=None))
            layers.append(bands)
            if change.get("label") and change.get("current"):
                lo, _ = change["current"]
                text = alt.Chart(pd.DataFrame([{"date": f"{lo}-01",
                                                "label": str(change["label"])}])).mark_text(
                    align="left", baseline="top", dx=4, dy=4, fontSize=12, color="#0B0C0C",
                    fontWeight="bold").encode(x="date:T", y=alt.value(0), text="label:N")
                layers.append(text)
    chart = alt.layer(*layers, line).properties(width=560, height=220)
    return _finish(chart, title, description)


def yearly_bars(frame: pd.DataFrame, *, highlight: str | None = None,
                title: str | None = None, description: str | None = None,
                count: str = "n", period: str = "period") -> dict[str, Any]:
    """Counts per year (or financial year) as bars, the reported one in the focus colour.

    Parameters
    ----------
    frame
        Columns ``period`` (labels, in order) and ``count`` (released).
    highlight
        The period label drawn in the focus colour (others in grey).
    """
    alt = _alt()
    df = frame[[period, count]].copy().rename(columns={period: "period", count: "events"})
    df["events"] = pd.to_numeric(df["events"], errors="coerce")
    df["focus"] = [p == highlight for p in df["period"]]
    chart = alt.Chart(df).mark_bar().encode(
        x=alt.X("period:N", title=None, sort=list(df["period"]),
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("events:Q", title="Events"),
        color=alt.condition(alt.datum.focus, alt.value(FOCUS), alt.value(CONTEXT)),
        tooltip=[alt.Tooltip("period:N"), alt.Tooltip("events:Q", format=",")],
    ).properties(width=420, height=180)
    return _finish(chart, title, description)


def kpi_tiles(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What a KPI tile shows, from `vru.service.kpi` records: label, current, change, test.

    Returns a list of plain dicts (no chart): ``label``, ``current``, ``previous``,
    ``change_pct``, ``significant``, ``wording``, ``colour`` (focus when significant).
    """
    out = []
    for r in records:
        out.append({"measure": r.get("measure"), "label": r.get("label"),
                    "current": r.get("current"), "previous": r.get("previous"),
                    "change_pct": r.get("change_pct"), "significant": r.get("significant"),
                    "wording": r.get("wording"),
                    "colour": FOCUS if r.get("significant") else CONTEXT})
    return out


def _month_end(month: str) -> str:
    import calendar

    y, m = int(month[:4]), int(month[5:7])
    return f"{month}-{calendar.monthrange(y, m)[1]:02d}"


def to_svg(spec: Mapping[str, Any]) -> str:
    """Render a Vega-Lite spec to SVG text offline (``vl-convert``: no browser, no network).

    Returns
    -------
    str
        ``<svg ...>`` text, with the spec's ``description`` as its ARIA label.
    """
    import vl_convert as vlc

    return vlc.vegalite_to_svg(dict(spec))
