"""Forecasts of where events will be: naive counts, ProMap, a self-exciting point process and
their ensemble, fitted only on months up to the forecast origin (``--to``).

    >>> from vru.analysis.forecast import forecast
    >>> r = forecast("vru-home", category="Violence and sexual offences", end="2018-11")
    >>> r.frame[["cell", "easting", "northing", "score"]]

Modules: `models` (naive, ProMap), `sepp` (the point process), `ensemble` (terms and the
rolling-origin weights), `raster`, `cells` (clipped areas), `covariates`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from vru.analysis.aggregate import (
    AggregationError,
    CellCounts,
    LakeLike,
    _as_list,
    _month_arg,
    _where,
    aggregate,
    as_events,
    parse_cell,
)
from vru.analysis.forecast.cells import clipped_areas
from vru.analysis.forecast.covariates import cell_covariates
from vru.analysis.forecast.ensemble import (
    DEFAULT_WEIGHTS,
    MIN_ORIGINS,
    Origin,
    ensemble_score,
    features,
    learn_weights,
)
from vru.analysis.forecast.models import MonthlyCounts, naive, promap
from vru.analysis.forecast.raster import Raster
from vru.analysis.forecast.sepp import SeppFit, fit_sepp, sepp_forecast

__all__ = ["MODELS", "ForecastResult", "Forecaster", "forecast"]

#: The models a forecast can be drawn from.
MODELS: dict[str, str] = {
    "naive": "each cell's events over the last 3 held months (the baseline)",
    "promap": "prospective hot-spotting: kernels decaying in space and time "
              "(Bowers, Johnson & Pease 2004)",
    "sepp": "self-exciting point process fitted by EM (Mohler et al. 2011)",
    "ensemble": "naive counts plus smoothed, long-memory, context and model terms, weighted "
                "by rolling-origin validation (the default)",
}
DEFAULT_MODEL = "ensemble"
#: Training origins the ensemble learns from at most (the latest ones).
MAX_ORIGINS = 6
#: Search radius of the density map scored beside forecasts (the density's default).
DENSITY_RADIUS = 300.0
#: Years of history a SEPP is fitted on at most (older events barely move a forecast).
SEPP_DAYS = 366.0

Progress = Callable[[str], None]


def _month_index(m: str) -> int:
    return int(m[:4]) * 12 + int(m[5:7]) - 1


def _label(i: int) -> str:
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def _day(m: str) -> float:
    """Days since 1970-01-01 of the first day of month ``m``."""
    return float((np.datetime64(m, "M").astype("datetime64[D]")
                  - np.datetime64("1970-01-01", "D")).astype(np.int64))


@dataclass
class ForecastResult:
    """A forecast map: one row per study cell, with the model's parts and its provenance.

    ``frame`` columns: ``cell``, ``easting``, ``northing`` (the cell centre, British National
    Grid), ``score`` (expected events in the forecast window; higher means more expected),
    ``rank`` (1 = highest) and one column per part of the model (they add up to the score).
    """

    frame: pd.DataFrame
    meta: dict[str, Any]
    area_m2: np.ndarray = field(repr=False)
    counts: CellCounts | None = field(default=None, repr=False)

    @property
    def geoframe(self) -> Any:
        """``frame`` with the cells' polygons (WGS84), for GeoJSON and maps."""
        import geopandas as gpd

        assert self.counts is not None
        geom = self.counts.area.geometry_wgs84().values
        return gpd.GeoDataFrame(self.frame, geometry=geom, crs="EPSG:4326")

    def top(self, share: float = 0.01) -> pd.DataFrame:
        """The cells that make up the top ``share`` of the area, highest first."""
        order = np.argsort(-self.frame["score"].to_numpy(), kind="stable")
        cum = np.cumsum(self.area_m2[order])
        k = int(np.searchsorted(cum, share * self.area_m2.sum())) + 1
        return self.frame.iloc[order[:k]]


class Forecaster:
    """Everything a forecast reads from the lake, read once: monthly counts per cell, the
    context (all recorded crime), the events' points for the point process, covariates.

    Forecasts and backtests from any origin up to ``end`` then cost no further reads.
    """

    def __init__(self, lake: LakeLike, category: str | Sequence[str] | None = None, *,
                 start: str | None = None, end: str, cell: str = "grid:250",
                 source: str | Sequence[str] | None = None,
                 offence_group: str | Sequence[str] | None = None,
                 offence_code: str | Sequence[str] | None = None,
                 area: str | Sequence[str] | None = None,
                 lsoa_paths: Sequence[str | Path] | None = None,
                 context: bool = True, progress: Progress | None = None) -> None:
        say = progress or (lambda _text: None)
        spec = parse_cell(cell)
        if spec.kind != "grid":
            raise AggregationError(f"forecasts are drawn on square grid cells (grid:SIZE, e.g. "
                                   f"grid:250), not {cell!r}; score them on LSOAs with "
                                   "`vru hotspots accuracy --cell lsoa`")
        end = _month_arg(end, "--to")
        start = _month_arg(start, "--from")
        if end is None:
            raise AggregationError("a forecast needs its origin: --to YYYY-MM, the last month "
                                   "it may see")
        self.lake = lake
        self.filters = {"category": _as_list(category), "offence_group": _as_list(offence_group),
                        "offence_code": _as_list(offence_code), "source": _as_list(source)}
        say("counting events per cell and month")
        counts = aggregate(lake, spec, "month", start=start, end=end, area=area,
                           lsoa_paths=lsoa_paths, **self.filters)
        if counts.held is None or not counts.held.any():
            raise AggregationError(f"the lake holds no month of the period up to {end} "
                                   f"(it holds {(counts.coverage or {}).get('sources')})")
        self.counts = counts
        self.end = end
        self.start = counts.bins[0] if counts.bins else start
        self.mc = MonthlyCounts(counts.n.astype(np.float64), list(counts.bins or []),
                                counts.held)
        self.raster = Raster(counts.area.cols, counts.area.rows, float(spec.size))
        self.area_m2 = clipped_areas(counts.area)
        self.context: MonthlyCounts | None = None
        if context:
            say("counting all recorded crime for context")
            ctx = aggregate(lake, spec, "month", start=self.start, end=end, area=area,
                            lsoa_paths=lsoa_paths, source=self.filters["source"])
            self.context = MonthlyCounts(ctx.n.astype(np.float64), list(ctx.bins or []),
                                         ctx.held)
        self.covariates = cell_covariates(counts.area, self.area_m2)
        self._points: tuple[np.ndarray, ...] | None = None
        self._sepp: dict[str, SeppFit] = {}
        self.area = area
        self.cell = spec.text
        self.progress = say

    # -- reading points for the point process ----------------------------------------------

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, day, events) of the located events up to ``end``, grouped by point and day
        (events known only to the month are placed at mid-month)."""
        if self._points is None:
            events = as_events(self.lake)
            f = {**self.filters, "start": self.start, "end": self.end,
                 "area_lsoa": (self.counts.area.lsoa["lsoa11cd"].tolist()
                               if self.area else None)}
            where, params = _where(f)
            con = duckdb.connect()
            try:
                cols = events.register(con, "e_src")
                timed = ("e.occurred_from IS NOT NULL AND coalesce(e.time_precision, '') "
                         "<> 'month'" if "occurred_from" in cols else "FALSE")
                day = (f"CASE WHEN {timed} THEN epoch(e.occurred_from) / 86400.0 ELSE "
                       "epoch(CAST(e.month || '-01' AS DATE)) / 86400.0 + 14.5 END")
                res = con.sql(
                    f"SELECT e.easting AS x, e.northing AS y, {day} AS t, count(*) AS n "
                    f"FROM e_src e WHERE {where} AND e.easting IS NOT NULL AND e.northing IS "
                    "NOT NULL AND isfinite(e.easting) AND isfinite(e.northing) "
                    "AND e.month IS NOT NULL GROUP BY ALL", params=params).fetchnumpy()
            finally:
                con.close()
            t = np.asarray(res["t"], dtype=np.float64)
            ok = np.isfinite(t)
            self._points = tuple(np.asarray(res[k], dtype=np.float64)[ok]
                                 for k in ("x", "y", "t", "n"))  # type: ignore[assignment]
        assert self._points is not None
        return self._points  # type: ignore[return-value]

    def sepp_fit(self, until: str | None = None) -> SeppFit:
        """The point process fitted on the last year of events up to month ``until``
        (default ``end``); only the days of held months count as time observed."""
        until = until or self.end
        if until not in self._sepp:
            self.progress(f"fitting the self-exciting point process to {until} (EM)")
            x, y, t, n = self.points()
            stop = _day(_label(_month_index(until) + 1))
            keep = (t >= stop - SEPP_DAYS) & (t < stop)
            if n[keep].sum() < 10:
                raise AggregationError("too few located events to fit a self-exciting point "
                                       "process: widen --from or choose another category")
            first = _day(self.mc.months[0])
            observed = sum(_day(_label(_month_index(m) + 1)) - _day(m)
                           for m, h in zip(self.mc.months, self.mc.held, strict=True)
                           if h and m <= until and _day(m) >= max(first, stop - SEPP_DAYS))
            self._sepp[until] = fit_sepp(x[keep], y[keep], t[keep], n[keep], end=stop,
                                         exposure_days=observed or None)
        return self._sepp[until]

    # -- models at an origin ----------------------------------------------------------------

    def _window_days(self, origin: str, horizon: int) -> tuple[float, float]:
        first = _label(_month_index(origin) + 1)
        return _day(first), _day(_label(_month_index(origin) + 1 + horizon)) - _day(first)

    def sepp_rate(self, origin: str, horizon: int, until: str | None = None) -> np.ndarray:
        """Expected events per cell and month in the window after ``origin``, from the fit
        up to ``until`` (default ``origin``)."""
        fit = self.sepp_fit(until or origin)
        x, y, t, n = self.points()
        at, days = self._window_days(origin, horizon)
        keep = t < at
        return sepp_forecast(fit, self.raster, x[keep], y[keep], t[keep], n[keep], at,
                             days) / horizon

    def density(self, origin: str) -> np.ndarray:
        """Quartic kernel density (`DENSITY_RADIUS`) of the events up to ``origin`` at each
        cell centre, rescaled to events per held month (a hotspot map to score beside)."""
        from vru.analysis.density import kernel_density

        x, y, t, n = self.points()
        keep = t < _day(_label(_month_index(origin) + 1))
        if n[keep].sum() == 0:
            raise AggregationError(f"no located events up to {origin}: no density to score")
        cx, cy = self.raster.centres()
        half = self.raster.size / 2
        g = kernel_density(x[keep], y[keep], self.raster.size, bandwidth=DENSITY_RADIUS,
                           weights=n[keep], extent=(cx.min() - half, cy.min() - half,
                                                    cx.max() + half, cy.max() + half))
        j = ((cx - g.x0) // g.cell_size).astype(np.int64).clip(0, g.values.shape[1] - 1)
        i = ((cy - g.y0) // g.cell_size).astype(np.int64).clip(0, g.values.shape[0] - 1)
        v = g.values[i, j]
        held = int(self.mc.upto(origin).held.sum())
        total = v.sum()
        return v * (n[keep].sum() / held / total) if total > 0 else v

    def parts(self, origin: str, horizon: int, with_sepp: bool = True,
              until: str | None = None) -> dict[str, np.ndarray]:
        """The ensemble's terms at ``origin`` (see `vru.analysis.forecast.ensemble`)."""
        mc = self.mc.upto(origin)
        ctx = self.context.upto(origin) if self.context is not None else None
        if ctx is not None and not ctx.held.any():
            ctx = None
        sepp = self.sepp_rate(origin, horizon, until) if with_sepp else None
        return features(mc, self.raster, context=ctx, covariates=self.covariates, sepp=sepp)

    def origins(self, horizon: int, before: str | None = None) -> list[str]:
        """Training origins before ``before`` (default ``end``): held months whose next
        ``horizon`` months are all held and end by ``before`` (the latest `MAX_ORIGINS`)."""
        last = _month_index(before or self.end)
        held = {m for m, h in zip(self.mc.months, self.mc.held, strict=True) if h}
        out = []
        for m in self.mc.months:
            k = _month_index(m)
            target = [_label(k + j) for j in range(1, horizon + 1)]
            if m in held and k + horizon <= last and all(x in held for x in target):
                out.append(m)
        return out[-MAX_ORIGINS:]

    def target(self, origin: str, horizon: int) -> np.ndarray:
        k = _month_index(origin)
        idx = [self.mc.months.index(_label(k + j)) for j in range(1, horizon + 1)]
        return self.mc.n[:, idx].sum(axis=1)

    def rate(self, model: str, origin: str, horizon: int, *,
             with_sepp: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray],
                                                      dict[str, Any]]:
        """(rate per month, parts per month, what was fitted) of ``model`` from ``origin``.

        Nothing after ``origin`` is used: counts, context, the point process' fit and the
        ensemble's training origins (whose targets end by ``origin``) all stop there.
        """
        mc = self.mc.upto(origin)
        if model == "naive":
            v = naive(mc)
            return v, {"naive": v}, {"months": [mc.months[i] for i in mc.last_held(3)]}
        if model == "promap":
            v = promap(mc, self.raster)
            return v, {"promap": v}, {"radius_m": 500.0, "window_months": 6}
        if model == "density":
            v = self.density(origin)
            return v, {"density": v}, {"bandwidth_m": DENSITY_RADIUS, "kernel": "quartic"}
        if model == "sepp":
            v = self.sepp_rate(origin, horizon)
            return v, {"sepp": v}, {"sepp": self.sepp_fit(origin).as_dict()}
        if model != "ensemble":
            raise AggregationError(f"no forecast model {model!r}: use {', '.join(MODELS)} "
                                   "(or density, to score a hotspot map)")
        train = self.origins(horizon, origin)
        fitted: dict[str, Any] = {"training_origins": train}
        if len(train) >= MIN_ORIGINS:
            self.progress(f"learning the ensemble's weights on {len(train)} origin(s)")
            data = [Origin(o, self.parts(o, horizon, with_sepp, until=origin),
                           self.target(o, horizon)) for o in train]
            weights, base, best = learn_weights(data, self.area_m2)
            fitted.update({"weights": weights, "training_pai_naive": base,
                           "training_pai_ensemble": best, "weights_from": "rolling origins"})
        else:
            weights = dict(DEFAULT_WEIGHTS)
            fitted.update({"weights": weights, "weights_from": f"default (fewer than "
                           f"{MIN_ORIGINS} earlier origins held to learn from)"})
        parts = self.parts(origin, horizon, with_sepp and "sepp" in weights, until=origin)
        score = ensemble_score(parts, weights)
        total = sum(w for k, w in weights.items() if k in parts)
        used = {k: parts[k] * w / total for k, w in weights.items() if k in parts and w > 0}
        if with_sepp and "sepp" in weights:
            fitted["sepp"] = self.sepp_fit(origin).as_dict()
        return score, used, fitted


def forecast(lake: LakeLike, category: str | Sequence[str] | None = None, *,
             start: str | None = None, end: str, horizon: int = 1, cell: str = "grid:250",
             model: str = DEFAULT_MODEL, source: str | Sequence[str] | None = None,
             offence_group: str | Sequence[str] | None = None,
             offence_code: str | Sequence[str] | None = None,
             area: str | Sequence[str] | None = None,
             lsoa_paths: Sequence[str | Path] | None = None,
             progress: Progress | None = None) -> ForecastResult:
    """Forecast events per cell for the ``horizon`` months after ``end``.

    Parameters
    ----------
    lake : Events, Store, str or Path
        The lake (a governed event source from the service).
    category, offence_group, offence_code, source, area, lsoa_paths
        Which events and which study area, as `vru.analysis.aggregate.aggregate`.
    start : str, optional
        First month the models may use (default: the first the lake holds).
    end : str
        The origin: the last month the models may see (``YYYY-MM``). Nothing after it is read.
    horizon : int, default 1
        Months forecast, starting the month after ``end``.
    cell : str, default "grid:250"
        Square cells ``grid:SIZE``.
    model : {"ensemble", "naive", "promap", "sepp"}
        See `MODELS`.

    Returns
    -------
    ForecastResult
    """
    if model not in MODELS:
        raise AggregationError(f"no forecast model {model!r}: use {', '.join(MODELS)}")
    if not 1 <= int(horizon) <= 12:
        raise AggregationError(f"--horizon is 1 to 12 months, not {horizon}")
    horizon = int(horizon)
    f = Forecaster(lake, category, start=start, end=end, cell=cell, source=source,
                   offence_group=offence_group, offence_code=offence_code, area=area,
                   lsoa_paths=lsoa_paths, context=model == "ensemble", progress=progress)
    rate, parts, fitted = f.rate(model, f.end, horizon)
    return _result(f, model, horizon, rate, parts, fitted)


def _result(f: Forecaster, model: str, horizon: int, rate: np.ndarray,
            parts: dict[str, np.ndarray], fitted: dict[str, Any]) -> ForecastResult:
    import vru

    ex, ny = f.raster.centres()
    score = rate * horizon
    order = np.argsort(-score, kind="stable")
    rank = np.empty(score.size, dtype=np.int64)
    rank[order] = np.arange(1, score.size + 1)
    frame = pd.DataFrame({"cell": f.counts.area.ids, "easting": ex, "northing": ny,
                          "score": score, "rank": rank,
                          **{f"part_{k}": v * horizon for k, v in parts.items()}})
    first = _label(_month_index(f.end) + 1)
    last = _label(_month_index(f.end) + horizon)
    held = [m for m, h in zip(f.mc.months, f.mc.held, strict=True) if h]
    warnings = list(f.counts.warnings)
    missing = [m for m, h in zip(f.mc.months, f.mc.held, strict=True) if not h]
    if missing:
        warnings.append(f"{len(missing)} month(s) of {f.start}..{f.end} are not held by the "
                        "lake: gaps, not zeros (the models skip them)")
    meta = {
        "analysis": "forecast", "kind": "predictive",
        "table_versions": dict(f.counts.versions),
        "parameters": {**f.filters, "start": f.start, "end": f.end,
                       "horizon": horizon, "cell": f.cell, "model": model,
                       "area": f.area if isinstance(f.area, str | None) else list(f.area)},
        "window": [first, last], "months_held": held, "fitted": fitted,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "vru_version": getattr(vru, "__version__", None),
        "coverage": f.counts.coverage, "warnings": warnings,
        "events": f.counts.events, "outside": f.counts.outside,
        "no_location": f.counts.no_location,
    }
    return ForecastResult(frame, meta, f.area_m2, f.counts)


@dataclass
class BacktestResult:
    """Forecasts from rolling origins scored on the months after each, naive beside.

    ``frame``: one row per origin, model and area share (``at``: a share, or ``own`` for a
    map's own hot area) with hit rate, PAI, PEI, PEI*, RRI; ``curve``: hit rate by share of
    area per origin and model, with perfect foresight.
    """

    frame: pd.DataFrame
    curve: pd.DataFrame
    meta: dict[str, Any]

    def summary(self, share: str = "0.01") -> pd.DataFrame:
        """PAI at ``share`` per origin (rows) and model (columns), and the gain over naive."""
        f = self.frame[self.frame["at"] == share]
        wide = f.pivot(index="origin", columns="model", values="PAI")
        for m in wide.columns:
            if m != "naive" and "naive" in wide.columns:
                wide[f"{m}_vs_naive"] = wide[m] / wide["naive"] - 1
        return wide


def backtest(lake: LakeLike, category: str | Sequence[str] | None = None, *,
             origins: Sequence[str] | None = None, horizon: int = 1,
             models: Sequence[str] = tuple(MODELS), shares: Sequence[float] | None = None,
             start: str | None = None, end: str | None = None, cell: str = "grid:250",
             source: str | Sequence[str] | None = None,
             offence_group: str | Sequence[str] | None = None,
             offence_code: str | Sequence[str] | None = None,
             area: str | Sequence[str] | None = None,
             lsoa_paths: Sequence[str | Path] | None = None,
             extra: dict[str, Callable[[Forecaster, str], np.ndarray]] | None = None,
             progress: Progress | None = None) -> BacktestResult:
    """Score each model's forecast from each origin on the ``horizon`` months after it.

    Each forecast sees only the months up to its origin (its point-process fit and its
    ensemble weights included). Naive counts are always scored beside. ``origins`` default:
    every held month whose next ``horizon`` months are held, up to ``end``, with a held month
    before it. ``extra`` maps a name to ``(forecaster, origin) -> score per cell`` for maps
    made elsewhere (Gi*, density, a file) to be scored on the same cells and shares.
    """
    from vru.analysis.accuracy import DEFAULT_SHARES, hit_rate_curve, score_map

    if end is None:
        raise AggregationError("a backtest needs the last month it may score on (--to)")
    f = Forecaster(lake, category, start=start, end=end, cell=cell, source=source,
                   offence_group=offence_group, offence_code=offence_code, area=area,
                   lsoa_paths=lsoa_paths, context="ensemble" in models, progress=progress)
    todo = list(origins) if origins else f.origins(horizon)
    if not todo:
        raise AggregationError(f"no origin in {f.start}..{f.end} has {horizon} held month(s) "
                               "after it and a held month at or before it: widen the period")
    names = ["naive", *[m for m in models if m != "naive"]]
    unknown = [m for m in names if m not in MODELS and m != "density"]
    if unknown:
        raise AggregationError(f"no map {unknown[0]!r} to score: use {', '.join(MODELS)}, "
                               "density, or a file of cell scores")
    rows, curves, fitted = [], [], {}
    for o in todo:
        if o not in f.mc.months or not f.mc.held[f.mc.months.index(o)]:
            raise AggregationError(f"origin {o} is not a held month of {f.start}..{f.end}")
        y = f.target(o, horizon)
        if y.sum() <= 0:
            continue
        earlier = naive(f.mc.upto(o)) * 3
        maps: dict[str, np.ndarray] = {}
        for m in names:
            if f.progress:
                f.progress(f"{m} from {o}")
            rate, _, fit = f.rate(m, o, horizon)
            maps[m] = rate
            fitted[f"{m}@{o}"] = fit
        for name, fn in (extra or {}).items():
            maps[name] = np.asarray(fn(f, o), dtype=np.float64)
        for m, sc in maps.items():
            t = score_map(sc, y, f.area_m2, tuple(shares or DEFAULT_SHARES), earlier=earlier)
            t.insert(0, "model", m)
            t.insert(0, "origin", o)
            rows.append(t)
        c = hit_rate_curve(maps, y, f.area_m2)
        c.insert(0, "origin", o)
        curves.append(c)
    if not rows:
        raise AggregationError("no events in any test window: nothing to score")
    meta = {"analysis": "forecast_backtest", "kind": "predictive",
            "table_versions": dict(f.counts.versions),
            "parameters": {**f.filters, "start": f.start, "end": f.end, "horizon": horizon,
                           "cell": f.cell, "origins": todo, "models": names},
            "fitted": fitted, "coverage": f.counts.coverage,
            "warnings": list(f.counts.warnings), "events": f.counts.events}
    return BacktestResult(pd.concat(rows, ignore_index=True),
                          pd.concat(curves, ignore_index=True), meta)


__all__ += ["BacktestResult", "backtest"]
