"""Charts the dashboard adds to a view: the briefing's Vega-Lite specs (`vru.service.charts`)
fed the rows the view released (the times view carries its own). Only the shape of the rows
is adapted here; nothing is computed."""

from __future__ import annotations

from typing import Any

import pandas as pd

from vru.service import charts

#: Sequential fills of map classes, light to dark (the Analysis Function sequential palette).
SEQUENTIAL = tuple(reversed(charts.SEQUENTIAL))


def monthly(rows: list[dict[str, Any]], title: str, count: str = "events") -> dict[str, Any]:
    """Line of a view's monthly rows (month, events)."""
    frame = pd.DataFrame(rows or [], columns=["month", count])
    return charts.monthly_trend(
        frame, count=count, title=f"Events per month: {title}",
        description="Line chart of events per month held; months not held are left out and "
                    "suppressed months are gaps; the table holds the same values")
