"""Vega-Lite specs of the dashboard's charts, in the Analysis Function palette.

Specs are plain JSON (Vega-Lite v6) built from released rows; the page draws them with
vega-embed (no eval: the expression interpreter) and shows the same rows as a table.
"""

from __future__ import annotations

from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
#: Analysis Function (ONS) palette: dark blue, turquoise, dark pink, orange, dark grey.
AF = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
#: Single-hue sequential blues for heat maps and choropleths (light to dark).
SEQUENTIAL = ("#E3ECF6", "#A9C4E0", "#6A9BCB", "#2E6AA6", "#12436D")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _base(title: str, description: str) -> dict[str, Any]:
    return {"$schema": SCHEMA, "title": {"text": title, "anchor": "start", "fontSize": 14},
            "description": description, "width": "container",
            "config": {"font": "Arial, Helvetica, sans-serif", "view": {"stroke": None},
                       "axis": {"labelColor": "#0b0c0c", "titleColor": "#0b0c0c"}}}


def hour_weekday(rows: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """Heat map of weekday (rows) by hour (columns); suppressed cells hatched grey with *."""
    spec = _base(f"Events by hour and weekday: {title}",
                 "Heat map of events by hour of day and day of week; the table below holds "
                 "the same values")
    spec.update({
        "height": 210,
        "data": {"values": [{**r, "label": "*" if r.get("value") is None else ""}
                            for r in rows]},
        "layer": [
            {"mark": {"type": "rect", "stroke": "#ffffff", "strokeWidth": 1},
             "encoding": {
                 "x": {"field": "hour", "type": "ordinal", "title": "hour of day"},
                 "y": {"field": "weekday", "type": "ordinal", "sort": list(WEEKDAYS),
                       "title": None},
                 "color": {"field": "value", "type": "quantitative", "title": "events",
                           "scale": {"range": list(SEQUENTIAL)}},
                 "tooltip": [{"field": "weekday"}, {"field": "hour"},
                             {"field": "value", "title": "events"}]}},
            {"mark": {"type": "text", "fontSize": 11, "color": "#0b0c0c"},
             "encoding": {"x": {"field": "hour", "type": "ordinal"},
                          "y": {"field": "weekday", "type": "ordinal",
                                "sort": list(WEEKDAYS)},
                          "text": {"field": "label"}}},
        ],
    })
    return spec


def monthly(rows: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """Events per month held (a line with points; suppressed months are gaps)."""
    spec = _base(f"Events per month: {title}",
                 "Line chart of events per month held; months not held are left out")
    spec.update({
        "height": 220,
        "data": {"values": rows},
        "mark": {"type": "line", "point": {"filled": True, "size": 40}, "color": AF[0],
                 "strokeWidth": 2},
        "encoding": {"x": {"field": "month", "type": "temporal", "title": "month",
                           "timeUnit": "yearmonth"},
                     "y": {"field": "events", "type": "quantitative", "title": "events"},
                     "tooltip": [{"field": "month"}, {"field": "events"}]},
    })
    return spec


def place_months(rows: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """A place's events per month (bars)."""
    spec = _base(title, "Bar chart of events per month at one place")
    spec.update({"height": 140, "data": {"values": rows},
                 "mark": {"type": "bar", "color": AF[0]},
                 "encoding": {"x": {"field": "month", "type": "ordinal", "title": None},
                              "y": {"field": "n", "type": "quantitative", "title": "events"},
                              "tooltip": [{"field": "month"}, {"field": "n"}]}})
    return spec
