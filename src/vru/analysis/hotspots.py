"""The hotspot Python API over the lake: Gi*, emerging hot spots, near repeats, times, density.

Each function reads the lake through :mod:`vru.analysis.aggregate` (aggregation in DuckDB) or a
narrow column projection (near repeats, times, density), runs the statistics of
:mod:`vru.analysis`, and returns a result that records the lake table versions it read and
its parameters (``result.meta``), ready for :mod:`vru.analysis.outputs`.

    >>> from vru.analysis.hotspots import gistar
    >>> r = gistar("vru-home", category="Violence and sexual offences", cell="h3:9")
    >>> r.frame[["cell", "n", "z", "p", "class"]]
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd

from vru.analysis.accuracy import HotspotAccuracy, hotspot_accuracy, repeat_locations
from vru.analysis.aggregate import (
    AggregationError,
    CellCounts,
    LakeLike,
    _as_list,
    _month_arg,
    _where,
    aggregate,
    as_events,
    missing_bins_message,
)
from vru.analysis.density import DensityGrid, kernel_density
from vru.analysis.emerging import emerging_hotspots
from vru.analysis.fdr import bin_labels, confidence_bins
from vru.analysis.gistar import gi_star
from vru.analysis.harm import HarmWeights
from vru.analysis.moran import local_moran
from vru.analysis.near_repeat import KnoxResult, MonthPrecisionError, knox_test
from vru.analysis.times import MonthlyTrend, hour_weekday_matrix, month_of_year, monthly_trend
from vru.lake.coverage import coverage, month_runs
from vru.lake.events import RECORD_KEY

__all__ = [
    "HotspotResult",
    "KnoxReport",
    "TimesResult",
    "density",
    "emerging",
    "gistar",
    "near_repeat",
    "times",
]


def _meta(analysis: str, versions: dict[str, int], params: dict[str, Any],
          coverage: dict[str, Any] | None = None, warnings: Sequence[str] = (),
          **extra: Any) -> dict[str, Any]:
    import vru

    return {
        "analysis": analysis,
        "table_versions": dict(versions),
        "parameters": params,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "vru_version": getattr(vru, "__version__", None),
        "coverage": coverage,  # months held and missing in the period asked
        "warnings": list(warnings),  # sentences printed with the result
        **extra,
    }


def _coverage_meta(lake: LakeLike, start: str | None, end: str | None,
                   source: list[str] | None) -> dict[str, Any] | None:
    """``meta["coverage"]`` of an event-level analysis (None for a table without months)."""
    try:
        return coverage(as_events(lake)).meta(start, end, source)
    except LookupError:
        return None


def _missing_warning(cov: dict[str, Any] | None, what: str) -> list[str]:
    if not cov or not cov["missing"]:
        return []
    return [f"{len(cov['missing'])} month(s) of {cov['start']}..{cov['end']} are not held by "
            f"the lake ({month_runs(cov['missing'])}): missing, not zero, so {what}"]


@dataclass
class HotspotResult:
    """One row per study cell: ``cell``, ``n``, ``z``, ``p``, ``class`` (+ geometry, WGS84)."""

    frame: gpd.GeoDataFrame
    meta: dict[str, Any]
    counts: CellCounts | None = field(default=None, repr=False)

    @property
    def hot(self) -> gpd.GeoDataFrame:
        """Cells with a hot class (≥ 90 % after FDR), strongest first."""
        f = self.frame
        return f[f["class"] > 0].sort_values(["class", "z"], ascending=False)

    def summary(self) -> str:
        """One line: cells, events and cells per class."""
        c = self.frame["class"].value_counts().reindex(range(-3, 4), fill_value=0)
        parts = ", ".join(f"{k:+d}: {int(v)}" for k, v in c.items() if v)
        return (f"{self.meta['analysis']}: {len(self.frame)} cells, "
                f"{int(self.frame['n'].sum())} events; classes {parts}")


#: Releases cell counts before any statistic is computed from them: (counts, cell keys) ->
#: released counts as floats. Statistics of a restricted reader then add nothing to what the
#: released counts show.
CountRelease = Callable[[np.ndarray, np.ndarray | None], np.ndarray]


def _released(counts: CellCounts, release: CountRelease | None) -> CellCounts:
    if release is None:
        return counts
    if counts.params.get("harm"):
        raise AggregationError("harm-weighted sums show the offence mix of single cells: they "
                               "are for record-level roles only")
    n = np.asarray(release(counts.n, counts.keys), dtype=np.float64)
    return replace(counts, n=np.rint(n).astype(np.int64), value=n, keys=None)


def _cells_frame(counts: CellCounts, columns: dict[str, Any]) -> gpd.GeoDataFrame:
    region = counts.area
    df = pd.DataFrame({"cell": region.ids, **columns})
    return gpd.GeoDataFrame(df, geometry=region.geometry_wgs84().values, crs="EPSG:4326")


def gistar(
    lake: LakeLike,
    category: str | Sequence[str] | None = None,
    cell: str = "h3:9",
    start: str | None = None,
    end: str | None = None,
    weights: str = "contiguity",
    permutations: int = 0,
    seed: int = 0,
    source: str | Sequence[str] | None = None,
    harm: bool | HarmWeights = False,
    *,
    offence_group: str | Sequence[str] | None = None,
    offence_code: str | Sequence[str] | None = None,
    area: str | Sequence[str] | None = None,
    fdr: bool = True,
    lsoa_paths: Sequence[str | Path] | None = None,
    release: CountRelease | None = None,
) -> HotspotResult:
    """Getis–Ord Gi* hot and cold spots over every cell of the study area.

    Parameters
    ----------
    lake : Lake, Store, str or Path
        The lake or its home folder.
    category : str or list of str, optional
        data.police.uk categories, e.g. ``"Violence and sexual offences"``.
    cell : str, default "h3:9"
        ``h3:RES`` (6–10), ``grid:SIZE`` (metres), ``lsoa``, ``msoa`` or ``district``.
    start, end : str, optional
        First and last month ``YYYY-MM``.
    weights : str, default "contiguity"
        ``contiguity`` (the cell and its first ring), ``distance:METRES`` or ``knn:K``.
    permutations : int, default 0
        Conditional permutations; when > 0 ``p`` is the two-sided pseudo p-value
        ``min(1, 2·p_sim)`` and ``p_norm`` keeps the normal one.
    seed : int, default 0
        Seed of the permutations.
    source : str or list of str, optional
        ``"police_uk"``, ``"force_extract"``.
    harm : bool or HarmWeights, default False
        Analyse harm-weighted sums instead of counts (column ``harm``).
    offence_group, offence_code, area, lsoa_paths
        Further filters and the study area, as :func:`vru.analysis.aggregate.aggregate`.
    fdr : bool, default True
        ArcGIS's FDR correction of the classes.

    Returns
    -------
    HotspotResult
        ``frame`` columns: ``cell``, ``n`` [, ``harm``], ``z``, ``p``, ``class`` (−3…3),
        ``label``, ``geometry`` (WGS84 polygons).
    """
    counts = aggregate(lake, cell, None, category=category, offence_group=offence_group,
                       offence_code=offence_code, source=source, start=start, end=end,
                       area=area, harm=harm, lsoa_paths=lsoa_paths)
    counts = _released(counts, release)
    w = counts.area.weights(weights)
    if counts.events == 0:
        raise AggregationError("no events match the filters: nothing to analyse")
    try:
        g = gi_star(counts.value, w, permutations=permutations, seed=seed)
    except ValueError as exc:
        raise AggregationError(f"Gi* cannot run: {exc}") from None
    p = g.p_sim_two_sided if permutations else g.p
    cls = confidence_bins(g.z, p, fdr=fdr)
    cols: dict[str, Any] = {"n": counts.n}
    if counts.params["harm"]:
        cols["harm"] = counts.value
    cols.update({"z": g.z, "p": p, "class": cls.astype(np.int64), "label": bin_labels(cls)})
    if permutations:
        cols["p_norm"] = g.p
    frame = _cells_frame(counts, cols)
    params = {**counts.params, "weights": weights, "permutations": int(permutations),
              "seed": int(seed), "fdr": fdr}
    meta = _meta("gistar", counts.versions, params, counts.coverage, counts.warnings,
                 events=counts.events, outside=counts.outside, no_location=counts.no_location)
    return HotspotResult(frame, meta, counts)


def emerging(
    lake: LakeLike,
    category: str | Sequence[str] | None = None,
    cell: str = "grid:500",
    time_bin: str = "month",
    start: str | None = None,
    end: str | None = None,
    weights: str = "contiguity",
    time_window: int = 1,
    trend_alpha: float = 0.05,
    source: str | Sequence[str] | None = None,
    harm: bool | HarmWeights = False,
    *,
    offence_group: str | Sequence[str] | None = None,
    offence_code: str | Sequence[str] | None = None,
    area: str | Sequence[str] | None = None,
    drop_empty: bool = True,
    lsoa_paths: Sequence[str | Path] | None = None,
    release: CountRelease | None = None,
    gaps: str = "skip",
) -> HotspotResult:
    """Emerging Hot Spot Analysis (Esri categories) on cells × weeks or months.

    Locations with no event in the whole period are left out of the cube (``drop_empty``), as
    Esri's space-time cube does; they are reported with pattern "No Pattern Detected" and no
    series.  Needs at least three time steps.

    Only steps the lake holds enter the cube (a month not held is missing, not zero): steps
    not held at the edges of the period are cut off; steps not held inside it are skipped,
    the held steps used as consecutive ones (``gaps="skip"``, the default), or the cube is
    refused with a message naming them and the longest held run (``gaps="refuse"``). Either
    way ``meta["warnings"]`` says so and ``meta["coverage"]`` lists the months.

    Returns
    -------
    HotspotResult
        ``frame`` columns: ``cell``, ``n``, ``pattern_code``, ``pattern``, ``hot_steps``,
        ``cold_steps``, ``final_bin``, ``trend_tau``, ``trend_z``, ``trend_p``, ``bins``,
        ``explanation``, ``geometry``.
    """
    if time_bin not in ("week", "month"):
        raise AggregationError(f"emerging hot spots use week or month steps, not {time_bin!r}")
    if gaps not in ("skip", "refuse"):
        raise AggregationError(f"gaps must be 'skip' or 'refuse', not {gaps!r}")
    counts = aggregate(lake, cell, time_bin, category=category, offence_group=offence_group,
                       offence_code=offence_code, source=source, start=start, end=end,
                       area=area, harm=harm, lsoa_paths=lsoa_paths)
    counts, notes = _held_steps(counts, gaps)
    counts = _released(counts, release)
    if counts.bins is None or len(counts.bins) < 3:
        raise AggregationError("emerging hot spots need at least 3 time steps")
    w = counts.area.weights(weights)
    keep = counts.n.sum(axis=1) > 0 if drop_empty else np.ones(len(counts.area), dtype=bool)
    idx = np.flatnonzero(keep)
    sub = w[idx][:, idx]
    try:
        res = emerging_hotspots(counts.value[idx], sub, time_window, trend_alpha)
    except ValueError as exc:
        raise AggregationError(f"emerging hot spots cannot run: {exc}") from None
    L = len(counts.area)
    out = res.to_frame()
    full = pd.DataFrame(index=range(L), columns=out.columns)
    full.loc[idx, :] = out.to_numpy()
    full["pattern_code"] = full["pattern_code"].fillna(0).astype(np.int64)
    full["pattern"] = full["pattern"].fillna("No Pattern Detected")
    expl = np.full(L, "no events in the period", dtype=object)
    expl[idx] = [res.explain(i) for i in range(idx.size)]
    cols = {"n": counts.n.sum(axis=1), **{c: full[c].to_numpy() for c in full.columns},
            "explanation": expl}
    frame = _cells_frame(counts, cols)
    params = {**counts.params, "weights": weights, "time_window": time_window,
              "trend_alpha": trend_alpha, "drop_empty": drop_empty, "gaps": gaps,
              "steps": [counts.bins[0], counts.bins[-1], len(counts.bins)]}
    meta = _meta("emerging", counts.versions, params, counts.coverage,
                 [*counts.warnings, *notes], events=counts.events, outside=counts.outside,
                 no_location=counts.no_location)
    return HotspotResult(frame, meta, counts)


def _held_steps(counts: CellCounts, gaps: str = "skip") -> tuple[CellCounts, list[str]]:
    """A cube of held steps only. Bins not held at the edges of the period are cut off; bins
    not held inside it are skipped (the held bins become consecutive steps) or, with
    ``gaps="refuse"``, refused. Either way a note says which."""
    held, bins = counts.held, counts.bins
    if held is None or bins is None or held.all():
        return counts, []
    where = np.flatnonzero(held)
    sources = (counts.coverage or {}).get("sources") or "nothing"
    if where.size == 0:
        raise AggregationError(f"no time step of {bins[0]}..{bins[-1]} is held by the lake "
                               f"(it holds {sources})")
    a, b = int(where[0]), int(where[-1])
    gone = missing_bins_message(counts)
    if held[a : b + 1].all():
        note = (f"time steps not held at the edges of the period were left out ({gone}): "
                f"the cube runs {bins[a]}..{bins[b]}")
    elif gaps == "refuse":
        runs: list[tuple[int, int]] = []
        run: int | None = None
        for i, h in enumerate([*held.tolist(), False]):
            if h and run is None:
                run = i
            elif not h and run is not None:
                runs.append((run, i - 1))
                run = None
        best = max(runs, key=lambda r: r[1] - r[0])
        raise AggregationError(
            f"emerging hot spots need consecutive time steps, but inside {bins[0]}..{bins[-1]} "
            f"there are {gone} (a missing month is not a zero; the lake holds {sources}): "
            f"choose a period the lake holds throughout, e.g. the longest held run, "
            f"{bins[best[0]]}..{bins[best[1]]}")
    else:
        note = (f"time steps not held were skipped ({gone}): the {int(held.sum())} held steps "
                f"of {bins[a]}..{bins[b]} are used as consecutive steps, so a step's previous "
                "step may lie across a gap (gaps='refuse' refuses such a cube)")
    keep = np.flatnonzero(held)
    return replace(counts, n=counts.n[:, keep], value=counts.value[:, keep],
                   bins=[bins[i] for i in keep],
                   keys=counts.keys[:, keep] if counts.keys is not None else None,
                   held=held[keep]), [note]


# ---------------------------------------------------------------------------------------------
# event-level analyses: a narrow projection of the filtered events


def _events(lake: LakeLike, columns: list[str], filters: dict[str, Any],
            extra_where: str = "TRUE") -> tuple[pd.DataFrame, dict[str, int]]:
    events = as_events(lake)
    versions = {events.table: events.version}
    where, params = _where(filters)
    con = duckdb.connect()
    try:
        if RECORD_KEY in events.register(con, "e_src"):
            columns = [*columns, RECORD_KEY]  # cell keys for the release of counts
        cols = ", ".join(f"e.{c}" for c in columns)
        df = con.sql(f"SELECT {cols} FROM e_src e WHERE {where} AND {extra_where}",
                     params=params).df()
    finally:
        con.close()
    return df, versions


def _filters(category, offence_group, offence_code, source, start, end) -> dict[str, Any]:
    start, end = _month_arg(start, "start"), _month_arg(end, "end")
    return {"category": _as_list(category), "offence_group": _as_list(offence_group),
            "offence_code": _as_list(offence_code), "source": _as_list(source),
            "start": start, "end": end, "area_lsoa": None}


@dataclass
class KnoxReport:
    """A Knox near-repeat table with the lake versions and parameters."""

    knox: KnoxResult
    meta: dict[str, Any]
    released: pd.DataFrame | None = None  #: the table as released to a restricted reader

    @property
    def frame(self) -> pd.DataFrame:
        """Long table: distance band, time band, observed, expected, Knox ratio, p."""
        return self.knox.to_frame() if self.released is None else self.released


def near_repeat(
    lake: LakeLike,
    category: str | Sequence[str] | None = None,
    spatial_edges: Sequence[float] = (0, 100, 200, 400),
    temporal_edges: Sequence[float] = (0, 7, 14, 28),
    start: str | None = None,
    end: str | None = None,
    permutations: int = 99,
    seed: int = 0,
    source: str | Sequence[str] | None = None,
    *,
    offence_group: str | Sequence[str] | None = None,
    offence_code: str | Sequence[str] | None = None,
    same_location: bool = True,
) -> KnoxReport:
    """Knox near-repeat test on incidents with event times (force extracts).

    Times are ``occurred_from`` in days.  Month-precision rows (data.police.uk) are refused
    with :class:`~vru.analysis.near_repeat.MonthPrecisionError`.

    Raises
    ------
    MonthPrecisionError
        When the matching events are known only to the month.
    """
    filters = _filters(category, offence_group, offence_code, source, start, end)
    df, versions = _events(lake, ["easting", "northing", "occurred_from", "time_precision"],
                           filters, "e.easting IS NOT NULL AND e.northing IS NOT NULL")
    coarse = df["occurred_from"].isna() | df["time_precision"].isin(["month"])
    if df.empty or coarse.all():
        raise _no_times(lake, filters, df.empty)
    if coarse.any():
        raise MonthPrecisionError(
            f"{int(coarse.sum())} of {len(df)} matching events are known only to the month "
            "(data.police.uk): filter them out (source='force_extract') for a Knox test"
        )
    t = pd.to_datetime(df["occurred_from"])
    days = (t - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy() / 86400.0
    k = knox_test(df["easting"].to_numpy(), df["northing"].to_numpy(), days,
                  spatial_edges, temporal_edges, permutations=permutations, seed=seed,
                  same_location=same_location, time_precision="minute")
    params = {**{k2: v for k2, v in filters.items() if k2 != "area_lsoa"},
              "spatial_edges": list(map(float, spatial_edges)),
              "temporal_edges": list(map(float, temporal_edges)),
              "permutations": permutations, "seed": seed, "same_location": same_location}
    cov = _coverage_meta(lake, filters["start"], filters["end"], filters["source"])
    return KnoxReport(k, _meta("near_repeat", versions, params, cov, events=len(df)))


def _no_times(lake: LakeLike, filters: dict[str, Any], empty: bool) -> Exception:
    """Why no Knox test can run: which sources match, whether they are known only to the
    month, and which sources of the lake have event times (no counts: the reader's view)."""
    events = as_events(lake)
    wide = {**filters, "source": None}
    where, params = _where(wide)
    con = duckdb.connect()
    try:
        events.register(con, "e_src")
        rows = con.sql(
            "SELECT e.source, bool_or(e.occurred_from IS NOT NULL AND coalesce("
            "e.time_precision, '') <> 'month') AS timed, bool_or(e.easting IS NOT NULL) AS "
            f"located, list_contains(?, e.source) AS asked FROM e_src e WHERE {where} "
            "GROUP BY e.source", params=[filters["source"] or [], *params]).fetchall()
        timed_anywhere = sorted(r[0] for r in con.sql(
            "SELECT DISTINCT e.source FROM e_src e WHERE e.occurred_from IS NOT NULL AND "
            "coalesce(e.time_precision, '') <> 'month'").fetchall() if r[0] is not None)
    finally:
        con.close()
    asked = [r for r in rows if r[3] or not filters["source"]]
    month_only = sorted(str(r[0]) for r in rows if not r[1] and r[2])
    have = (f"sources with event times in the data you may see: {', '.join(timed_anywhere)}"
            if timed_anywhere else "no source in the data you may see has event times (load "
            "a force's crime extract: `vru ingest force-extract FILE`)")
    if month_only and (not asked or all(not r[1] for r in asked)):
        lead = (f"no {' or '.join(filters['source'])} events match the filters, and the "
                f"events that match the others ({', '.join(month_only)})"
                if filters["source"] and not asked else
                f"the matching events ({', '.join(month_only)})")
        return MonthPrecisionError(
            f"{lead} are known only to the month "
            "(data.police.uk gives months, not dates): a near-repeat (Knox) test needs dates "
            f"to the day or better; {have}")
    if empty:
        return AggregationError(f"no located events match the filters; {have}")
    return MonthPrecisionError(
        "the matching events are known only to the month: a near-repeat (Knox) test needs "
        f"dates to the day or better; {have}")


@dataclass
class TimesResult:
    """When: hour × weekday (aoristic; None without event times), month-of-year seasonality
    and the monthly trend, with the lake versions and parameters."""

    matrix: pd.DataFrame | None
    meta: dict[str, Any]
    seasonality: pd.DataFrame | None = None
    trend: MonthlyTrend | None = None
    keys: pd.DataFrame | None = None  #: cell keys of ``matrix`` when the source is keyed

    def peak(self) -> tuple[str, int]:
        """(weekday, hour) of the largest cell."""
        if self.matrix is None:
            raise AggregationError("no event has a time of day: no hour x weekday peak")
        m = self.matrix.to_numpy()
        w, h = np.unravel_index(int(m.argmax()), m.shape)
        return str(self.matrix.index[w]), int(self.matrix.columns[h])


def times(
    lake: LakeLike,
    category: str | Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    source: str | Sequence[str] | None = None,
    *,
    offence_group: str | Sequence[str] | None = None,
    offence_code: str | Sequence[str] | None = None,
) -> TimesResult:
    """When events happen: hour × weekday, each event spread over ``occurred_from``–``to``.

    Rows without an event time (data.police.uk) cannot be placed in the week; they are
    counted in ``meta["no_time"]``, and if every row lacks a time the call is refused.
    """
    filters = _filters(category, offence_group, offence_code, source, start, end)
    df, versions = _events(lake, ["occurred_from", "occurred_to", "month"], filters)
    if df.empty:
        raise AggregationError("no events match the filters")
    # seasonality and trend need months only, so data.police.uk rows count too; a month the
    # lake does not hold is left out (missing, not zero)
    cov = _coverage_meta(lake, filters["start"], filters["end"], filters["source"])
    held = cov["held"] if cov else None
    months = pd.to_datetime(df["month"] + "-01", format="%Y-%m-%d", errors="coerce").dropna()
    seasonality = month_of_year(months.to_numpy(), held) if len(months) else None
    try:
        trend = monthly_trend(months.to_numpy(), held)
    except ValueError:  # fewer than three months
        trend = None
    warnings = _missing_warning(cov, "they are left out of the seasonality and the trend")
    timed = df[df["occurred_from"].notna()]
    no_time = int(len(df) - len(timed))
    m = hour_weekday_matrix(timed["occurred_from"], timed["occurred_to"]) if len(timed) else None
    params = {k: v for k, v in filters.items() if k != "area_lsoa"}
    extra = {k: v for k, v in m.attrs.items()} if m is not None else {}
    keys = None
    if m is not None and RECORD_KEY in timed.columns:
        # a cell's key: the keys of the events that start in it (aoristic weights spread an
        # event further, but the set of starts is what identifies the cell's records)
        start_at = pd.to_datetime(timed["occurred_from"])
        keys = pd.DataFrame(0, index=m.index, columns=m.columns, dtype=np.int64)
        sums = (timed.assign(_d=start_at.dt.day_of_week, _h=start_at.dt.hour)
                .groupby(["_d", "_h"])[RECORD_KEY].sum())
        for (d, h), total in sums.items():
            keys.iat[int(d), int(h)] = int(total) % 256
    return TimesResult(m, _meta("times", versions, params, cov, warnings, events=len(timed),
                                no_time=no_time, **extra), seasonality, trend, keys)


#: The density's default search radius, metres (see `density`).
DEFAULT_BANDWIDTH = 300.0


@dataclass
class DensityResult:
    """A kernel density grid with the lake versions and parameters."""

    grid: DensityGrid
    meta: dict[str, Any]


def density(
    lake: LakeLike,
    category: str | Sequence[str] | None = None,
    cell_size: float = 100.0,
    bandwidth: float | None = None,
    kernel: str = "quartic",
    start: str | None = None,
    end: str | None = None,
    source: str | Sequence[str] | None = None,
    *,
    offence_group: str | Sequence[str] | None = None,
    offence_code: str | Sequence[str] | None = None,
    bandwidth_rule: str | None = None,
) -> DensityResult:
    """Kernel density of located events (BNG), by binned FFT.

    Events are first grouped in SQL to distinct points with counts (which the density takes as
    weights), so only distinct points leave the engine.

    The default search radius is `DEFAULT_BANDWIDTH` (300 m), the radius held-out scoring
    supports: on the real Thames Valley months (maps to 2018-10 and to 2018-11, scored on
    the month after, 250 m cells) radii of 150–350 m catch 44–47 times their share of
    violence at 1 % of the area, 1 km 39, and ArcGIS's rule (4.3–4.6 km there) 24–25: that
    rule oversmooths a hotspot map. ``bandwidth_rule="arcgis"`` (or ``"silverman"``) asks
    for a rule instead.
    """
    filters = _filters(category, offence_group, offence_code, source, start, end)
    events = as_events(lake)
    versions = {events.table: events.version}
    where, params = _where(filters)
    con = duckdb.connect()
    try:
        events.register(con, "e_src")
        pts = con.sql(
            f"SELECT e.easting AS x, e.northing AS y, count(*) AS n FROM e_src e WHERE {where} "
            "AND e.easting IS NOT NULL AND e.northing IS NOT NULL GROUP BY ALL", params=params
        ).df()
    finally:
        con.close()
    if pts.empty:
        raise AggregationError("no located events match the filters")
    if bandwidth is None and bandwidth_rule is None:
        bandwidth = DEFAULT_BANDWIDTH
    g = kernel_density(pts["x"], pts["y"], cell_size, bandwidth=bandwidth, kernel=kernel,
                       weights=pts["n"].astype(float), bandwidth_rule=bandwidth_rule or "arcgis")
    p = {**{k: v for k, v in filters.items() if k != "area_lsoa"}, "cell_size": cell_size,
         "bandwidth": g.bandwidth, "kernel": kernel}
    cov = _coverage_meta(lake, filters["start"], filters["end"], filters["source"])
    return DensityResult(g, _meta("density", versions, p, cov, events=int(pts["n"].sum())))


__all__ += ["DEFAULT_BANDWIDTH", "DensityResult"]


def moran(
    lake: LakeLike,
    category: str | Sequence[str] | None = None,
    cell: str = "lsoa",
    start: str | None = None,
    end: str | None = None,
    weights: str = "contiguity",
    permutations: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    source: str | Sequence[str] | None = None,
    *,
    offence_group: str | Sequence[str] | None = None,
    offence_code: str | Sequence[str] | None = None,
    area: str | Sequence[str] | None = None,
    release: CountRelease | None = None,
    lsoa_paths: Sequence[str | Path] | None = None,
) -> HotspotResult:
    """Local Moran's I clusters (HH, LL) and outliers (HL, LH) over the study area's cells.

    ``frame`` columns: ``cell``, ``n``, ``I``, ``z``, ``p`` (the seeded permutation pseudo p
    when ``permutations`` > 0, else the normal one), ``quadrant`` (HH/LL/HL/LH) and
    ``cluster`` (the quadrant where ``p`` ≤ ``alpha``, else ``ns``), geometry (WGS84).
    """
    counts = aggregate(lake, cell, None, category=category, offence_group=offence_group,
                       offence_code=offence_code, source=source, start=start, end=end,
                       area=area, lsoa_paths=lsoa_paths)
    counts = _released(counts, release)
    if counts.events == 0:
        raise AggregationError("no events match the filters: nothing to analyse")
    try:
        r = local_moran(counts.value, counts.area.weights(weights), permutations=permutations,
                        seed=seed)
    except ValueError as exc:
        raise AggregationError(f"Local Moran's I cannot run: {exc}") from None
    p = r.p_sim if r.p_sim is not None else r.p_norm
    frame = _cells_frame(counts, {"n": counts.n, "I": r.I, "z": r.z_norm, "p": p,
                                  "quadrant": r.quadrant, "cluster": r.clusters(alpha)})
    params = {**counts.params, "weights": weights, "permutations": int(permutations),
              "seed": int(seed), "alpha": alpha}
    return HotspotResult(frame, _meta("moran", counts.versions, params, counts.coverage,
                                      counts.warnings, events=counts.events,
                                      outside=counts.outside), counts)


@dataclass
class AccuracyResult:
    """How well a hotspot map caught the events of a later period (PAI, PEI, RRI).

    ``accuracy`` and ``frame`` judge the map's own hot area (cells by their true area);
    ``table`` scores the map and naive counts of the map's period (its last three held
    months) at fixed shares of the area and at the map's own hot area; ``curve`` is the hit
    rate by share of area of both, with perfect foresight.
    """

    accuracy: HotspotAccuracy
    repeats: pd.DataFrame
    meta: dict[str, Any]
    released: pd.DataFrame | None = None  #: the summary as released to a restricted reader
    table: pd.DataFrame | None = None
    curve: pd.DataFrame | None = None

    @property
    def frame(self) -> pd.DataFrame:
        if self.released is not None:
            return self.released
        a = self.accuracy
        return pd.DataFrame([{"hotspot_cells_share": a.area_share, "events_later": a.n_total,
                              "events_in_hotspots": a.n_hit, "hit_rate": a.hit_rate,
                              "PAI": a.pai, "PAI_max": a.pai_max, "PEI": a.pei, "RRI": a.rri}])


def accuracy(
    hotspots: HotspotResult,
    lake: LakeLike,
    start: str,
    end: str,
    min_class: int = 2,
    lsoa_paths: Sequence[str | Path] | None = None,
    shares: Sequence[float] | None = None,
) -> AccuracyResult:
    """Judge a hotspot map against the events of a later period, on the same cells.

    The map's cells with ``class`` ≥ ``min_class`` (95 % hot by default) are the hotspots;
    the later events are counted with the map's own filters and cells. Areas are the cells'
    true areas clipped to the study area (an LSOA counts by its size). PAI = (n/N)/(a/A), PEI
    = PAI / PAI_max (the best map of the same area), RRI = the later hit rate over the map's
    own. The map (ranked by Gi* z) and naive counts of the map's period are also scored at
    fixed shares of the area (``shares``, default 1, 2, 5, 10 %), so maps compare like with
    like. Also how concentrated the later events are at repeat cells.
    """
    from vru.analysis.accuracy import DEFAULT_SHARES, hit_rate_curve, score_map
    from vru.analysis.forecast.cells import clipped_areas
    from vru.analysis.forecast.models import MonthlyCounts, naive

    p = hotspots.meta["parameters"]
    filters = {"category": p.get("category"), "offence_group": p.get("offence_group"),
               "offence_code": p.get("offence_code"), "source": p.get("source")}
    later = aggregate(lake, p["cell"], None, start=start, end=end, lsoa_paths=lsoa_paths,
                      **filters)
    mine = hotspots.frame.set_index("cell")
    if list(mine.index) != list(later.area.ids):
        raise AggregationError("the later period's study area differs from the map's: use the "
                               "same cells and boundaries")
    areas = clipped_areas(later.area)
    hot = mine["class"].to_numpy() >= min_class
    earlier = mine["n"].to_numpy(dtype=np.float64)
    acc = hotspot_accuracy(hot, later.n, earlier_counts=earlier, cell_area=areas)
    monthly = aggregate(lake, p["cell"], "month", start=p.get("start"), end=p.get("end"),
                        lsoa_paths=lsoa_paths, **filters)
    held = monthly.held if monthly.held is not None else np.ones(len(monthly.bins or []), bool)
    base = naive(MonthlyCounts(monthly.n.astype(np.float64), list(monthly.bins or []), held))
    z = mine["z"].to_numpy(dtype=np.float64)  # cells without a z rank below every other
    finite = np.isfinite(z)
    z = np.where(finite, z, (z[finite].min() if finite.any() else 0.0) - 1.0)
    sh = tuple(shares or DEFAULT_SHARES)
    table = pd.concat([
        score_map(z, later.n, areas, sh, earlier=earlier, hot=hot).assign(map="gistar"),
        score_map(base, later.n, areas, sh, earlier=earlier).assign(map="naive")],
        ignore_index=True)
    table = table[["map", *[c for c in table.columns if c != "map"]]]
    curve = hit_rate_curve({"gistar": z, "naive": base}, later.n, areas)
    params = {"map": p, "start": start, "end": end, "min_class": min_class,
              "shares": list(sh)}
    warnings = [*hotspots.meta.get("warnings", ()),
                *(w for w in later.warnings if w not in hotspots.meta.get("warnings", ()))]
    return AccuracyResult(acc, repeat_locations(later.n),
                          _meta("accuracy", later.versions, params, later.coverage, warnings,
                                events=later.events), table=table, curve=curve)


__all__ += ["AccuracyResult", "accuracy", "moran"]
