"""The briefing: a period's headline KPIs, where and when violence happens, trends, a page per
task-force area, definitions, sources and the lake versions read — as HTML and PDF.

A face: everything it shows comes from the service (`Session.kpis`, `kpi.series`,
`Session.analyse`), released for the reader, or for the public when ``audience="public"``
(`Session.for_audience`), so a public briefing cannot show what a viewer could not get.
Charts are Vega-Lite specs (`vru.service.charts`) rendered to inline SVG offline; the map is
drawn with matplotlib; the HTML needs no other file or host, and WeasyPrint prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from vru.service import BadRequest, Denied, Session
from vru.service import charts as ch
from vru.service.kpi import series
from vru.service.places import towns

Progress = Callable[[str, int, int], None]

#: Measures the opening sentences are written from, in the annual update's order.
HEADLINE = ("knife_crime", "personal_robbery", "violence_with_injury", "serious_violence",
            "serious_violence_under_25", "ed_sharp_instrument")
#: Measures drawn as monthly trends.
TRENDS = ("knife_crime", "personal_robbery", "violence_with_injury", "serious_violence",
          "ed_assaults")
#: The measure whose rows the map and the week chart are drawn from.
WHERE_WHEN = "violence_with_injury"
AUDIENCES = ("internal", "public")
STEPS = 7


@dataclass
class Briefing:
    """The rendered briefing and what it was made from."""

    html: str
    meta: dict[str, Any] = field(default_factory=dict)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "*"
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:+.1f}%".replace("-", "−")


def _change_label(k: dict[str, Any]) -> str:
    if k["partial"]:
        return "partial period: not compared"
    if k["change_pct"] is None:
        return "no comparison"
    word = ("down" if k["change_pct"] < 0 else "up") if k["significant"] else \
        "no significant change"
    return f"{word} ({_pct(k['change_pct'])})"


def _month_span(period: dict[str, str]) -> tuple[str, str]:
    return period["start"][:7], period["end"][:7]


def _svg(spec: dict[str, Any]) -> str:
    svg = ch.to_svg(spec)
    return svg.split("?>", 1)[-1].strip() if svg.startswith("<?xml") else svg


def build_briefing(session: Session, period: str, *, audience: str = "internal",
                   against: str | None = None, measures_file: str | None = None,
                   positive_outcome_types: Sequence[int] | None = None,
                   progress: Progress | None = None) -> Briefing:
    """Make the briefing of ``period`` as HTML.

    Parameters
    ----------
    session
        The signed-in session; its role decides what the briefing may show.
    period
        As `vru kpi --period` (``2020``, ``2020/21``, ``rolling:2020-06``...).
    audience
        ``internal`` (as the session's user may see) or ``public`` (every figure released
        as for a viewer: the public disclosure profile, whatever the user's role).
    against, measures_file, positive_outcome_types
        As `Session.kpis`.
    progress
        Called with (step, done, total).

    Returns
    -------
    Briefing
    """
    if audience not in AUDIENCES:
        raise BadRequest(f"--audience {audience!r}: give internal or public")
    s = session.for_audience("public") if audience == "public" else session
    say = progress or (lambda *_: None)
    kw = {"against": against, "measures_file": measures_file,
          "positive_outcome_types": positive_outcome_types}

    say("headline KPIs", 0, STEPS)
    report = s.kpis(period, **kw)
    records = report.to_list()
    meta = report.meta
    versions: dict[str, int] = dict(meta["table_versions"])
    by_id = {r["measure"]: r for r in records if r["group"] is None}

    say("task-force areas", 1, STEPS)
    try:
        areas = s.kpis(period, by="area", **kw).to_list()
    except (BadRequest, Denied):
        areas = []

    say("monthly trends", 2, STEPS)
    wanted = [m for m in TRENDS if m in by_id and by_id[m]["available"]]
    trend, trend_meta = series(s, period, measures=wanted, measures_file=measures_file)
    versions.update(trend_meta["table_versions"])
    area_names = sorted({r["group"] for r in areas if r["group"]})
    area_trend = pd.DataFrame(columns=["measure", "group", "month", "n"])
    if area_names and "serious_violence" in wanted:
        area_trend, m2 = series(s, period, measures=["serious_violence"], by="area",
                                years=2, measures_file=measures_file)
        versions.update(m2["table_versions"])

    say("where violence concentrates (Gi*)", 3, STEPS)
    lo, hi = _month_span(meta["period"])
    filters, where_label = _where_when_filters(by_id.get(WHERE_WHEN), meta)
    hot, hot_note = None, None
    try:
        hot = s.analyse("gistar", cell="lsoa", start=lo, end=hi, **filters)
        versions.update(hot.meta.get("table_versions") or {})
    except (BadRequest, Denied) as exc:
        hot_note = str(getattr(exc, "reason", None) or exc)

    say("when: hour x weekday", 4, STEPS)
    week, week_note = None, None
    try:
        week = s.analyse("times", start=lo, end=hi, **filters)
        versions.update(week.meta.get("table_versions") or {})
        if week.matrix is None:
            week_note, week = "no event in the period has a time of day", None
    except (BadRequest, Denied) as exc:
        week_note = str(getattr(exc, "reason", None) or exc)

    say("charts and map", 5, STEPS)
    figures = _figures(records, trend, meta, hot, week, where_label)
    area_pages = _area_pages(areas, area_trend, meta)
    say("writing HTML", 6, STEPS)
    html = _render(period_label=meta["period"]["label"], previous_label=meta["previous"][
        "label"], records=records, headline=[by_id[m] for m in HEADLINE if m in by_id],
        figures=figures, area_pages=area_pages, meta=meta, versions=versions,
        audience=audience, role=str(session.role.value), hot_note=hot_note,
        week_note=week_note, where_label=where_label)
    say("done", STEPS, STEPS)
    info = {"period": meta["period"], "previous": meta["previous"], "audience": audience,
            "table_versions": versions, "release": meta["release"],
            "kpis": records, "areas": areas}
    return Briefing(html, info)


def _where_when_filters(rec: dict[str, Any] | None, meta: dict[str, Any]
                        ) -> tuple[dict[str, Any], str]:
    """Filters of the map and week chart: the measure's own offence codes where its source
    has them, else data.police.uk's violence category (named as an approximation)."""
    if rec is not None and rec["available"]:
        for src in meta["measures"][rec["measure"]]["sources"]:
            if src["source"] == rec["source"] and src.get("offence_codes"):
                return ({"offence_code": list(src["offence_codes"]), "source": rec["source"]},
                        rec["label"])
    return ({"category": "Violence and sexual offences"},
            "Violence and sexual offences (data.police.uk category; approximation: includes "
            "violence without injury and sexual offences)")


def _figures(records: list[dict[str, Any]], trend: pd.DataFrame, meta: dict[str, Any],
             hot: Any, week: Any, where_label: str) -> dict[str, Any]:
    figs: dict[str, Any] = {"trends": []}
    cur, prev = _month_span(meta["period"]), _month_span(meta["previous"])
    by_id = {r["measure"]: r for r in records if r["group"] is None}
    for mid in TRENDS:
        rows = trend[trend["measure"] == mid]
        if rows.empty:
            continue
        k = by_id[mid]
        label = _change_label(k)
        desc = (f"{k['label']} per month, {rows['month'].iloc[0]} to {rows['month'].iloc[-1]}; "
                f"{meta['period']['label']} against {meta['previous']['label']}: {label}.")
        spec = ch.monthly_trend(rows, change={"current": cur, "previous": prev,
                                              "label": f"{meta['period']['label']}: {label}"},
                                title=f"{k['label']}, per month", description=desc)
        figs["trends"].append({"id": f"trend-{mid}", "title": f"{k['label']} per month",
                               "svg": _svg(spec), "description": desc,
                               "table": [(m, _fmt(None if pd.isna(n) else int(n)))
                                         for m, n in zip(rows["month"], rows["n"],
                                                         strict=True)]})
    knife = by_id.get("knife_crime")
    if knife and knife["available"] and knife["history"]:
        hist = [(h["period"], h["count"]) for h in reversed(knife["history"])]
        hist.append((knife["period"], knife["current"]))
        frame = pd.DataFrame(hist, columns=["period", "n"])
        desc = (f"Knife crime per {meta['period']['kind'].replace('_', ' ')}: "
                + "; ".join(f"{p} {_fmt(n)}" for p, n in hist) + ".")
        figs["years"] = {"svg": _svg(ch.yearly_bars(
            frame, highlight=knife["period"], title="Knife crime by year",
            description=desc)), "description": desc,
            "table": [(p, _fmt(n)) for p, n in hist]}
    if week is not None:
        m = week.matrix
        long = m.stack().rename("n").reset_index()
        long.columns = ["weekday", "hour", "n"]
        long["n"] = long["n"].round()
        peak = long.loc[long["n"].idxmax()] if long["n"].notna().any() else None
        desc = (f"{where_label} by hour of day and weekday, {meta['period']['label']}"
                + (f"; the busiest hour is {peak['weekday']} {int(peak['hour']):02d}:00."
                   if peak is not None else "."))
        figs["week"] = {"svg": _svg(ch.hour_weekday_heatmap(
            long, title=f"{where_label}: hour of day by weekday", description=desc)),
            "description": desc, "hours": list(m.columns),
            "rows": [(d, [_fmt(None if pd.isna(v) else int(round(v))) for v in m.loc[d]])
                     for d in m.index]}
    if hot is not None:
        from vru.report.maps import CLASSES, gistar_map

        frame = hot.frame
        source = ", ".join(sorted({str(v) for v in (hot.meta.get("parameters") or {}).get(
            "source") or []})) or "incidents"
        title = (f"{where_label}: Gi* hot and cold spots by LSOA, {meta['period']['label']} "
                 f"(source: {source})")
        uri = gistar_map(frame, towns(), title)
        counts = frame["class"].value_counts()
        top = frame[frame["class"] > 0].sort_values(["class", "z"], ascending=False).head(10)
        figs["map"] = {
            "uri": uri, "title": title,
            "description": ", ".join(f"{CLASSES[c][0]}: {int(counts.get(c, 0))} LSOAs"
                                     for c in CLASSES),
            "classes": [(lab, colour, int(counts.get(c, 0))) for c, (lab, colour)
                        in CLASSES.items()],
            "top": [(r["cell"], _fmt(None if pd.isna(r["n"]) else int(r["n"])),
                     f"{r['z']:.2f}", CLASSES[int(r["class"])][0]) for _, r in top.iterrows()],
            "release": (hot.meta.get("release") or {}).get("note", "")}
    return figs


def _area_pages(areas: list[dict[str, Any]], trend: pd.DataFrame,
                meta: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    cur, prev = _month_span(meta["period"]), _month_span(meta["previous"])
    for name in sorted({r["group"] for r in areas if r["group"]}):
        recs = [r for r in areas if r["group"] == name]
        page: dict[str, Any] = {"name": name, "records": recs, "chart": None}
        rows = trend[trend["group"] == name] if not trend.empty else trend
        sv = next((r for r in recs if r["measure"] == "serious_violence"), None)
        if sv is not None and not rows.empty:
            label = _change_label(sv)
            desc = (f"Serious violence in {name} per month; {meta['period']['label']} "
                    f"against {meta['previous']['label']}: {label}.")
            page["chart"] = {"svg": _svg(ch.monthly_trend(
                rows, change={"current": cur, "previous": prev, "label": label},
                title=f"Serious violence in {name}, per month", description=desc)),
                "description": desc,
                "table": [(m, _fmt(None if pd.isna(n) else int(n)))
                          for m, n in zip(rows["month"], rows["n"], strict=True)]}
        pages.append(page)
    return pages


def _render(**ctx: Any) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("vru.report", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["n"] = _fmt
    env.filters["pct"] = _pct
    env.filters["change"] = _change_label
    ctx["made"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return env.get_template("briefing.html").render(**ctx)


def write_briefing(session: Session, period: str, out_dir: str | Path, *,
                   audience: str = "internal", against: str | None = None,
                   measures_file: str | None = None,
                   positive_outcome_types: Sequence[int] | None = None, pdf: bool = True,
                   progress: Progress | None = None) -> list[Path]:
    """Write ``briefing.html`` (and ``briefing.pdf``) into ``out_dir``; return the paths.

    See `build_briefing` for the parameters.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    b = build_briefing(session, period, audience=audience, against=against,
                       measures_file=measures_file,
                       positive_outcome_types=positive_outcome_types, progress=progress)
    html_path = out / "briefing.html"
    html_path.write_text(b.html, encoding="utf-8")
    written = [html_path]
    if pdf:
        from weasyprint import HTML

        pdf_path = out / "briefing.pdf"
        HTML(string=b.html, base_url=str(out)).write_pdf(pdf_path)
        written.append(pdf_path)
    return written
