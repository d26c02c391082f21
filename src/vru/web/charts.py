"""The dashboard's charts: the briefing's Vega-Lite specs (`vru.service.charts`), fed the rows
a view released. Only the shape of the rows is adapted here; nothing is computed."""

from __future__ import annotations

from typing import Any

import pandas as pd

from vru.service import charts

#: Sequential fills of map classes, light to dark (the Analysis Function sequential palette).
SEQUENTIAL = tuple(reversed(charts.SEQUENTIAL))


def hour_weekday(rows: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """Heat map of a view's ``matrix`` rows (weekday, hour, value)."""
    frame = pd.DataFrame(rows or [], columns=["weekday", "hour", "value"])
    return charts.hour_weekday_heatmap(
        frame, count="value", title=f"Events by hour and weekday: {title}",
        description="Heat map of events by hour of day and day of week; the table below "
                    "holds the same values (* where a count is suppressed)")


def monthly(rows: list[dict[str, Any]], title: str, count: str = "events") -> dict[str, Any]:
    """Line of a view's monthly rows (month, events)."""
    frame = pd.DataFrame(rows or [], columns=["month", count])
    return charts.monthly_trend(
        frame, count=count, title=f"Events per month: {title}",
        description="Line chart of events per month held; months not held are left out and "
                    "suppressed months are gaps; the table holds the same values")
