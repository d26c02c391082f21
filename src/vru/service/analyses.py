"""The registry of analyses: what each reads, the finest detail it shows, how it is released.

An analysis is one `Analysis` entry plus its module under `vru.analysis`. The service runs
it on the governed event source of the decision (area rows only) and releases its output by
the decision's level; none of that is left to the analysis or to a face.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from vru.analysis import hotspots
from vru.analysis.aggregate import AggregationError
from vru.analysis.near_repeat import MonthPrecisionError
from vru.governance.policy import Decision
from vru.governance.roles import Level
from vru.lake.events import Events
from vru.service.boundaries import lsoa_paths as home_lsoa_paths
from vru.service.errors import BadRequest
from vru.service.session import Release, Session

#: Where a suppressed count enters a statistic computed for a restricted reader: the middle
#: of the suppressed range (4 of 1..7), so a hot-spot map neither drops nor inflates it.
_MIDDLE = {"nhs": 4.0, "ons": 5.0}


class CountReleaser:
    """Releases cell counts for statistics; remembers what a reader is shown (nulls for *)."""

    def __init__(self, session: Session, decision: Decision) -> None:
        self.session, self.decision = session, decision
        self.rule: Release | None = None
        self.shown: np.ndarray | None = None
        self.totals: np.ndarray | None = None  #: per-cell totals of a cells x bins cube

    def __call__(self, n: np.ndarray, keys: np.ndarray | None) -> np.ndarray:
        flat = pd.DataFrame({"n": np.asarray(n, dtype=np.int64).ravel()})
        k = {"n": np.asarray(keys).ravel()} if keys is not None else None
        out, self.rule = self.session.release(flat, self.decision, ["n"], keys=k)
        shown = pd.to_numeric(out["n"], errors="coerce").to_numpy(dtype=np.float64,
                                                                   na_value=np.nan)
        self.shown = shown.reshape(np.shape(n))
        if np.ndim(n) == 2:  # cells x time bins: each cell's total is a cell of its own
            totals = pd.DataFrame({"n": np.asarray(n, dtype=np.int64).sum(axis=1)})
            tk = ({"n": np.mod(np.asarray(keys, dtype=np.int64).sum(axis=1), 256)}
                  if keys is not None else None)
            tout, _ = self.session.release(totals, self.decision, ["n"], keys=tk)
            self.totals = pd.to_numeric(tout["n"], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan)
        fill = _MIDDLE.get(self.rule.profile, 0.0)
        return np.where(np.isnan(self.shown), fill, self.shown)


@dataclass(frozen=True)
class Analysis:
    """One registered analysis.

    Attributes
    ----------
    name, summary
        Its name (``analysis:<name>`` in the policy and the audit) and what it tells.
    reads
        Lake tables it reads (each judged against its agreements).
    finest
        The finest level its output carries: `Level.RECORD` (a density surface drawn from
        single points) runs for record-level roles only; `Level.AGGREGATE` outputs are
        released by the decision's profile.
    area_restrictable
        Whether it can run on one task-force area's rows (then a task-force member gets it
        for their area).
    run
        ``(session, decision, events, params) -> result`` with counts already released.
    kind
        ``"descriptive"`` (where and when events were) or ``"predictive"`` (where they will
        be: forecasts). The kind is recorded in every decision's audit entry with the
        purpose, so the ethics board can review, and later gate, predictive use apart.
    """

    name: str
    summary: str
    reads: tuple[str, ...]
    finest: Level
    area_restrictable: bool
    run: Callable[[Session, Decision, Events, dict[str, Any]], Any]
    kind: str = "descriptive"


def _restricted(decision: Decision) -> bool:
    return decision.level is not Level.RECORD


def _cells(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Gi*, emerging hot spots, Moran: counts released before the statistics."""

    def run(session: Session, decision: Decision, events: Events, params: dict[str, Any]):
        releaser = CountReleaser(session, decision) if _restricted(decision) else None
        result = fn(events, release=releaser, **params)
        rule = session.release_rule(decision)
        if releaser is not None and releaser.shown is not None:
            rule = releaser.rule or rule
            shown = releaser.shown if releaser.shown.ndim == 1 else releaser.totals
            assert shown is not None
            result.frame["n"] = pd.array(
                [pd.NA if np.isnan(v) else int(v) for v in shown], dtype="Int64")
            result.counts = None  # the exact cube stays here
        result.meta["release"] = rule.as_meta()
        return result

    return run


def _knox(session: Session, decision: Decision, events: Events, params: dict[str, Any]):
    result = hotspots.near_repeat(events, **params)
    rule = session.release_rule(decision, keyed=False)
    if _restricted(decision):
        # cells of a Knox table are pairs of events, not sets of records: no cell keys, so
        # suppression and rounding; the ratio and p are recomputed or withheld with them
        frame = result.knox.to_frame()
        out, rule = session.release(frame, decision, ["observed"])
        observed = pd.to_numeric(out["observed"], errors="coerce")
        frame["observed"] = out["observed"]
        frame["knox_ratio"] = (observed / frame["expected"]).round(2)
        frame["expected"] = frame["expected"].round(1)
        frame.loc[observed.isna(), "p_value"] = np.nan
        frame["p_value"] = frame["p_value"].round(2)
        result.released = frame
        shape = result.knox.observed.shape
        result.knox = replace(
            result.knox, observed=observed.to_numpy(dtype=np.float64).reshape(shape),
            expected=frame["expected"].to_numpy().reshape(shape),
            ratio=frame["knox_ratio"].to_numpy().reshape(shape),
            p=frame["p_value"].to_numpy().reshape(shape))
    result.meta["release"] = rule.as_meta()
    return result


def _times(session: Session, decision: Decision, events: Events, params: dict[str, Any]):
    result = hotspots.times(events, **params)
    rule = session.release_rule(decision, keyed=result.keys is not None)
    if _restricted(decision) and result.matrix is not None:
        m = result.matrix
        flat = pd.DataFrame({"n": np.rint(m.to_numpy().ravel()).astype(np.int64)})
        keys = ({"n": result.keys.to_numpy().ravel()} if result.keys is not None else None)
        out, rule = session.release(flat, decision, ["n"], keys=keys)
        shown = pd.to_numeric(out["n"], errors="coerce").to_numpy(dtype=np.float64)
        result.matrix = pd.DataFrame(shown.reshape(m.shape), index=m.index, columns=m.columns)
        if result.seasonality is not None:
            result.seasonality = _released_column(session, decision, result.seasonality,
                                                  "events").round(3)
    if _restricted(decision) and result.trend is not None:
        result.trend = replace(result.trend, counts=_released_column(
            session, decision, result.trend.counts, "events"))
    result.keys = None
    result.meta["release"] = rule.as_meta()
    return result


def _density(session: Session, decision: Decision, events: Events, params: dict[str, Any]):
    result = hotspots.density(events, **params)
    result.meta["release"] = session.release_rule(decision).as_meta()
    return result


def _accuracy(session: Session, decision: Decision, events: Events, params: dict[str, Any]):
    p = dict(params)
    map_from, map_to = p.pop("map_from"), p.pop("map_to")
    min_class = p.pop("min_class", 2)
    start, end = p.pop("start"), p.pop("end")
    shares = p.pop("shares", None)
    releaser = CountReleaser(session, decision) if _restricted(decision) else None
    hot = hotspots.gistar(events, start=map_from, end=map_to, release=releaser, **p)
    result = hotspots.accuracy(hot, events, start, end, min_class=min_class,
                               lsoa_paths=p.get("lsoa_paths"), shares=shares)
    rule = session.release_rule(decision, keyed=False)
    if _restricted(decision):
        frame = result.frame
        out, rule = session.release(frame, decision, ["events_later", "events_in_hotspots"])
        hit, total = out["events_in_hotspots"].iloc[0], out["events_later"].iloc[0]
        rate = (float(hit) / float(total) if not (pd.isna(hit) or pd.isna(total)) and total
                else None)
        out["hit_rate"] = rate
        a = result.accuracy
        result.accuracy = replace(a, n_hit=float("nan") if pd.isna(hit) else float(hit),
                                  n_total=float("nan") if pd.isna(total) else float(total),
                                  hit_rate=float("nan") if rate is None else rate)
        result.repeats = result.repeats.iloc[0:0]  # exact counts per repeat threshold
        result.released = out
        if result.table is not None:
            result.table = _released_scores(session, decision, result.table)
        result.curve = None  # a curve of exact hit rates at every share: not released
    result.meta["release"] = rule.as_meta()
    return result


def _released_scores(session: Session, decision: Decision, table: pd.DataFrame) -> pd.DataFrame:
    """A fixed-share score table for a restricted reader: hits and events released, hit rate
    and PAI recomputed from them; PEI, PEI* and RRI (ratios of exact counts that could
    reveal a small one) withheld."""
    t = table.copy()
    for col in ("hits", "events"):
        t[col] = np.rint(t[col].to_numpy(dtype=np.float64)).astype(np.int64)
    out, _ = session.release(t[["hits", "events"]], decision, ["hits", "events"])
    hits = pd.to_numeric(out["hits"], errors="coerce").to_numpy(dtype=np.float64)
    events = pd.to_numeric(out["events"], errors="coerce").to_numpy(dtype=np.float64)
    t["hits"], t["events"] = hits, events
    with np.errstate(invalid="ignore", divide="ignore"):
        t["hit_rate"] = hits / events
        t["PAI"] = t["hit_rate"] / t["area_share"]
    t[["PEI", "PEI_star", "RRI"]] = np.nan
    return t


def _file_map(session: Session, path: str) -> Callable[[Any, str], np.ndarray]:
    """A user's map (columns ``cell`` and ``score``, Parquet or CSV) on the study cells:
    cells it does not list rank below every cell it does. Files inside the home (the lake,
    its keys and database) are refused, and nothing of a file's content but its scores is
    ever echoed."""
    from pathlib import Path

    p = Path(path).expanduser().resolve()
    if p.is_relative_to(session.home.resolve()):
        raise BadRequest(f"{p}: a map to score is a file of your own, not a file of the home")
    if p.suffix.lower() not in (".parquet", ".csv"):
        raise BadRequest(f"{p}: a map to score is a .parquet or .csv file")
    try:
        df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)
    except (OSError, ValueError) as exc:
        raise BadRequest(f"{p}: not a readable Parquet or CSV file ({type(exc).__name__})"
                         ) from None
    if not {"cell", "score"} <= set(df.columns):
        raise BadRequest(f"{p}: a map to score needs columns cell and score (as "
                         "`vru hotspots forecast` writes)")
    scores = pd.to_numeric(df["score"], errors="coerce")
    if scores.isna().any():
        raise BadRequest(f"{p}: {int(scores.isna().sum())} scores are not numbers")
    by_cell = pd.Series(scores.to_numpy(dtype=np.float64), index=df["cell"].astype(str))

    def align(f: Any, origin: str) -> np.ndarray:
        ids = pd.Index(f.counts.area.ids.astype(str))
        got = by_cell.reindex(ids)
        if got.notna().sum() == 0:
            raise BadRequest(f"{p}: none of its cells is a study cell of {f.cell} (ids such "
                             f"as {ids[0]})")
        return got.fillna(got.min() - 1.0).to_numpy()

    return align


def _forecast(session: Session, decision: Decision, events: Events, params: dict[str, Any]):
    from vru.analysis import forecast as fc

    p = dict(params)
    backtest = p.pop("backtest", False)
    map_file = p.pop("map_file", None)
    if map_file is not None:
        if not backtest:
            raise BadRequest("a map file is scored in a backtest (backtest=True)")
        p["extra"] = {"file": _file_map(session, map_file)}
    run = fc.backtest if backtest else fc.forecast
    result = run(events, **p)
    result.meta["release"] = session.release_rule(decision).as_meta()
    return result


ANALYSES: dict[str, Analysis] = {a.name: a for a in (
    Analysis("gistar", "Getis-Ord Gi* hot and cold spots (FDR classes)", ("incidents",),
             Level.AGGREGATE, True, _cells(hotspots.gistar)),
    Analysis("emerging", "emerging hot spots over months or weeks (Esri categories)",
             ("incidents",), Level.AGGREGATE, True, _cells(hotspots.emerging)),
    Analysis("moran", "local Moran's I clusters and outliers", ("incidents",),
             Level.AGGREGATE, True, _cells(hotspots.moran)),
    Analysis("near_repeat", "Knox near-repeat table", ("incidents",), Level.AGGREGATE, True,
             _knox),
    Analysis("times", "hour x weekday, seasonality and monthly trend", ("incidents",),
             Level.AGGREGATE, True, _times),
    Analysis("accuracy", "how well a Gi* map of one period caught the next (PAI, PEI, RRI)",
             ("incidents",), Level.AGGREGATE, True, _accuracy),
    Analysis("density", "kernel density surface of located events", ("incidents",),
             Level.RECORD, True, _density),
    # forecasts: where events will be. Record level: each cell's score carries its recent
    # exact counts (the naive term) and single events' near-repeat kernels.
    Analysis("forecast", "forecast map of where events will be (naive, ProMap, SEPP, "
             "ensemble), or its rolling-origin backtest", ("incidents",), Level.RECORD, True,
             _forecast, kind="predictive"),
)}

#: Analyses whose study area is drawn from LSOA boundaries (a home's own, when loaded).
USES_BOUNDARIES = frozenset({"gistar", "emerging", "moran", "accuracy", "forecast"})

#: Errors an analysis raises for a request that cannot run as asked.
REQUEST_ERRORS = (AggregationError, MonthPrecisionError, ValueError, KeyError)


def analyse(session: Session, name: str, *, purpose: str | None = None,
            area: str | None = None, **params: Any) -> Any:
    """Run registered analysis ``name`` as the session's user may: authorise, run on the
    governed events, release, audit (the decision's entry names the parameters)."""
    spec = ANALYSES.get(name)
    if spec is None:
        raise session.refuse("analyse", f"analysis:{name}",
                             f"no analysis {name!r}; analyses: {', '.join(ANALYSES)}",
                             "request", {"params": _jsonable(params)}, purpose, BadRequest)
    versions = {t: session.version(t) for t in spec.reads}
    decision = session.decide("analyse", f"analysis:{name}", purpose=purpose, area=area,
                              inputs=spec.reads, versions=versions, needs=spec.finest,
                              detail={"params": _jsonable(params), "kind": spec.kind})
    if decision.row_filter is not None and not spec.area_restrictable:
        raise session.refuse("analyse", f"analysis:{name}", f"{name} cannot be limited to an "
                             "area, and you may see one area only", "policy", None, purpose)
    events = session.events(decision, spec.reads[0], versions[spec.reads[0]])
    own = home_lsoa_paths(session)
    if own and name in USES_BOUNDARIES:
        params.setdefault("lsoa_paths", own)  # the home's boundaries, where it has its own
    try:
        result = spec.run(session, decision, events, dict(params))
    except REQUEST_ERRORS as exc:
        raise BadRequest(str(exc)) from None
    if _restricted(decision):
        _release_totals(session, decision, result.meta)
    result.meta["area"] = events.area
    result.meta["audit_seq"] = decision.audit_seq
    result.meta["kind"] = spec.kind
    result.meta["purpose"] = purpose or session.purpose
    return result


def _released_column(session: Session, decision: Decision, frame: pd.DataFrame,
                     column: str) -> pd.DataFrame:
    """``frame`` with its count ``column`` released (its cells are not keyed: suppression
    and rounding); shares computed from it are recomputed from the released values."""
    out, _ = session.release(frame[[column]].astype("int64"), decision, [column])
    frame = frame.copy()
    frame[column] = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=np.float64)
    if "share" in frame.columns:
        frame["share"] = frame[column] / frame[column].sum()
    return frame


#: Totals an analysis reports beside its output: released like any count.
TOTALS = ("events", "outside", "no_location", "no_time")


def _release_totals(session: Session, decision: Decision, meta: dict[str, Any]) -> None:
    names = [k for k in TOTALS if isinstance(meta.get(k), int | np.integer)]
    if not names:
        return
    row = pd.DataFrame({k: [int(meta[k])] for k in names})
    out, _ = session.release(row, decision, names)
    for k in names:
        v = out[k].iloc[0]
        meta[k] = None if pd.isna(v) else int(v)


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, str | int | float | bool | type(None) | list | tuple)
                else str(v)) for k, v in params.items()}
