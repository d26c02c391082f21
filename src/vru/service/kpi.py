"""Headline KPIs through the door: counts, rates, changes and their tests, released per role.

`kpis` is what `vru kpi`, the briefing and the dashboard's tiles call. For each measure
(`vru.service.measures`) it authorises a read of the measure's table (audited, with the
request), counts on the governed view (the reader's area rows only), picks the first source
the lake holds for every month of both periods (a period it holds only in part is reported
as partial and never compared), puts **every** count through the session's one release
function (cell keys where the profile asks for them), and only then computes changes,
tests, rates, "lowest since" and wording from the released figures, so nothing shown to a
restricted reader is derived from an exact count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from vru.analysis import kpi as stats
from vru.lake.coverage import Coverage, coverage
from vru.lake.events import RECORD_KEY
from vru.service.errors import BadRequest, Denied
from vru.service.measures import Measure, Measures, SourceRule, load_measures
from vru.service.session import Session

BY = (None, "area", "district")
#: The column giving the day of an event, per table (28-day periods need it).
_DAY = {"incidents": "CAST(e.occurred_from AS DATE)", "ed_assaults": "CAST(e.arrival AS DATE)"}
#: Sources that record no day (month only): never used for 28-day periods.
_MONTH_ONLY = frozenset({"police_uk"})
#: Years of history searched for "lowest since".
HISTORY_YEARS = 25


@dataclass
class Kpi:
    """One measure for one period (and one area or district), as released to the reader.

    Every count is released; change, p-value, rates and wording are computed from the
    released counts. ``available`` False means the lake cannot give the measure (``note``
    says why); ``partial`` True means a period is not wholly held (no comparison made).
    """

    measure: str
    label: str
    period: str
    previous_period: str
    current: int | None = None
    previous: int | None = None
    change_pct: float | None = None
    p_value: float | None = None
    significant: bool | None = None
    lowest_since: int | None = None
    highest_since: int | None = None
    record_low_since: int | None = None
    rate_per_1000: float | None = None
    previous_rate_per_1000: float | None = None
    population: int | None = None
    positive_outcomes: int | None = None
    previous_positive_outcomes: int | None = None
    positive_outcome_rate: float | None = None
    previous_positive_outcome_rate: float | None = None
    positive_outcome_rate_change_pct: float | None = None
    positive_outcome_p_value: float | None = None
    positive_outcome_wording: str | None = None
    wording: str = ""
    group: str | None = None
    group_name: str | None = None
    available: bool = True
    note: str | None = None
    approximation: str | None = None
    partial: bool = False
    missing_months: list[str] = field(default_factory=list)
    source: str | None = None
    table: str | None = None
    table_version: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class KpiReport:
    """The records of one request and what they were computed from."""

    records: list[Kpi]
    meta: dict[str, Any]

    def to_list(self) -> list[dict[str, Any]]:
        """The records as plain dicts (what `vru kpi --format json` prints)."""
        return [r.as_dict() for r in self.records]

    def get(self, measure: str, group: str | None = None) -> Kpi:
        """The record of ``measure`` (and ``group``)."""
        for r in self.records:
            if r.measure == measure and r.group == group:
                return r
        raise KeyError(f"no KPI {measure!r} for {group!r}")


@dataclass
class _Table:
    """A table read for the request: its decision, view and coverage."""

    name: str
    version: int | None = None
    decision: Any = None
    events: Any = None
    coverage: Coverage | None = None
    denied: str | None = None
    populations: dict[Any, dict[str | None, float]] = field(default_factory=dict)
    force: _Table | None = None  #: the table whose rows define the force area (incidents)


def kpis(session: Session, period: str, *, against: str | None = None,
         measures: Sequence[str] | None = None, by: str | None = None,
         measures_file: str | None = None, positive_outcome_types: Sequence[int] | None = None,
         purpose: str | None = None, area: str | None = None,
         versions: Mapping[str, int] | None = None) -> KpiReport:
    """Headline KPIs for ``period`` against the period before (or ``against``).

    Parameters
    ----------
    session
        The signed-in session.
    period
        ``2020``, ``2020/21``, ``rolling:2020-06``, ``28d:2020-12-31``, ``2020-01..2020-06``
        (`vru.analysis.kpi.PERIOD_HELP`).
    against
        The period compared with (default: the one of the same kind just before).
    measures
        Measure ids (default: all; `vru.service.measures`).
    by
        None (the whole lake as the reader sees it), ``"area"`` (task-force areas) or
        ``"district"``.
    measures_file
        A measures TOML adding to or overriding the shipped and the home's: a path on the
        machine running vru (a face serving other people must not pass paths they give).
    positive_outcome_types
        Home Office outcome types counted as positive (default from the measures settings:
        1-8).
    versions
        Read these table versions (table -> Delta version) instead of the current ones: a
        re-run at the versions a briefing names gives its numbers again.

    Returns
    -------
    KpiReport
        ``records`` (`Kpi`: measure, current, previous, change_pct, p_value, lowest_since,
        rates, positive outcome rate and its test, wording, partial and availability notes)
        and ``meta`` (periods, table versions, release, settings, audit entries).
    """
    if by not in BY:
        raise BadRequest(f"--by {by!r}: give area or district (or nothing for the whole lake)")
    request = {"period": period, "against": against, "measures": list(measures or []),
               "by": by, "versions": dict(versions or {})}
    defs = load_measures(session.home, measures_file,
                         list(positive_outcome_types) if positive_outcome_types else None)
    chosen = defs.select(list(measures) if measures else None)
    held = session.tables()
    tables: dict[str, _Table] = {}
    for m in chosen:
        if m.table in tables:
            continue
        t = tables[m.table] = _Table(m.table)
        if m.table not in held:
            continue
        t.version = int((versions or {}).get(m.table, held[m.table]))
        if not 0 <= t.version <= held[m.table]:
            raise BadRequest(f"{m.table} has versions 0..{held[m.table]}; asked {t.version}")
        try:
            t.decision = session.decide("read", m.table, purpose=purpose, area=area,
                                        versions={m.table: t.version},
                                        detail={"via": "kpi", "request": request})
        except Denied as exc:  # audited as a deny; the measure says it is not yours to see
            t.denied = exc.reason
            continue
        t.events = session.events(t.decision, m.table, t.version)
        t.coverage = _coverage(t.events)
    asked = [t for t in tables.values() if t.version is not None]
    if asked and all(t.denied for t in asked):  # nothing may be read: refuse the request
        raise Denied(asked[0].denied or "denied")
    lead = tables.get("incidents")
    for t in tables.values():
        t.force = lead if lead is not None and lead.events is not None else None
    last = _last_day(tables.values())
    try:
        current = stats.parse_period(period, last)
        previous = (stats.parse_period(against, last) if against else current.previous())
    except stats.PeriodError as exc:
        raise BadRequest(str(exc)) from None
    if previous.month_grained != current.month_grained or (
            current.kind == "days_28" and previous.days != current.days):
        raise BadRequest("a 28-day period is compared with another 28-day period (e.g. "
                         "--period 28d:2020-12-31 --against 28d:2019-12-31)")
    records: list[Kpi] = []
    rules: dict[str, Any] = {}
    picked = {m.id: _pick(m, tables[m.table], [current, previous]) for m in chosen}
    frames = _count_all(session, tables, chosen, picked, defs, current, previous, by)
    for m in chosen:
        t = tables[m.table]
        records += _measure(session, m, t, defs, current, previous, by, rules, picked[m.id],
                            frames.get(m.id))
    meta = {
        "period": current.as_dict(), "previous": previous.as_dict(), "by": by,
        "table_versions": {t.name: t.version for t in tables.values() if t.version is not None},
        "release": _release_meta(session, tables, rules),
        "positive_outcome_types": list(defs.positive_outcome_types),
        "significance": defs.significance, "measures_files": list(defs.files),
        "area": next((t.events.area for t in tables.values() if t.events is not None), None),
        "audit_seq": [t.decision.audit_seq for t in tables.values() if t.decision],
        "measures": {m.id: m.as_dict() for m in chosen},
        "tests": {"count": "exact conditional test of two Poisson counts (binomial, exposure "
                           "= days)", "rate": "two-proportion z test (Fisher's exact when an "
                                             "expected cell is below 5)"},
    }
    return KpiReport(records, meta)


#: Coverage and force-area LSOAs per (home, table, version, area): a table version never
#: changes, so they are computed once per process.
_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_SIZE = 32


def _cached(key: tuple[Any, ...], make: Any) -> Any:
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = make()
    return _CACHE[key]


def _coverage(events: Any) -> Coverage:
    return _cached(("coverage", str(events.home), events.table, events.version, events.lsoa),
                   lambda: coverage(events))


def _release_meta(session: Session, tables: dict[str, _Table],
                  rules: dict[str, Any]) -> dict[str, str] | None:
    if rules:
        return next(iter(rules.values()))
    decided = [t.decision for t in tables.values() if t.decision is not None]
    return session.release_rule(decided[0]).as_meta() if decided else None


def _last_day(tables: Any) -> date | None:
    months = [m for t in tables if t.coverage is not None for m in t.coverage.months()]
    if not months:
        return None
    last = max(months)
    return stats.parse_period(last).end


def _pick(m: Measure, t: _Table, periods: list[stats.Period]
          ) -> tuple[SourceRule | None, list[str], str | None]:
    """The source rule used: the first wholly held for both periods, else the one most held
    (partial), with the months missing; or None and why."""
    if t.denied:
        return None, [], f"not available to you: {t.denied}"
    if t.coverage is None:
        return None, [], (f"the lake holds no {m.table} table; load its data first "
                          f"(e.g. vru ingest {'istv' if m.table == 'ed_assaults' else '...'})")
    want = [mo for p in periods for mo in p.months()]
    cov = t.coverage
    reasons, best = [], None
    for rule in m.sources:
        if not cov.months(rule.source):
            continue
        if rule.unavailable:
            reasons.append(rule.unavailable)
            continue
        if not periods[0].month_grained and rule.source in _MONTH_ONLY:
            reasons.append(f"{rule.source} records months only: no 28-day periods")
            continue
        have = set(cov.months(rule.source))
        missing = [mo for mo in want if mo not in have]
        if not missing:
            return rule, [], None
        if best is None or len(missing) < len(best[1]):
            best = (rule, missing)
    if best is not None and len(best[1]) < len(want):
        return best[0], sorted(set(best[1])), None
    if reasons:
        return None, [], " ".join(reasons)
    names = ", ".join(r.source for r in m.sources if not r.unavailable)
    return None, [], (f"the lake holds no {names} data for {periods[0].label} or "
                      f"{periods[1].label}")


def _history(current: stats.Period, t: _Table, rule: SourceRule
             ) -> list[tuple[int, stats.Period]]:
    """The same period in earlier years, as far back as the source holds."""
    history: list[tuple[int, stats.Period]] = []
    first = min(t.coverage.months(rule.source))
    for k in range(1, HISTORY_YEARS + 1):
        p = current.years_back(k)
        if p is None or p.months()[-1] < first:
            break
        history.append((p.start.year, p))
    return history


def _count_all(session: Session, tables: dict[str, _Table], chosen: list[Measure],
               picked: dict[str, Any], defs: Measures, current: stats.Period,
               previous: stats.Period, by: str | None) -> dict[str, pd.DataFrame]:
    """Exact counts of every available measure, one scan per (table, source): measure id ->
    its frame (group, period, n, keys, positives)."""
    batches: dict[tuple[str, str], list[Measure]] = {}
    for m in chosen:
        rule = picked[m.id][0]
        if rule is not None:
            batches.setdefault((m.table, rule.source), []).append(m)
    out: dict[str, pd.DataFrame] = {}
    for (table, _source), ms in batches.items():
        t = tables[table]
        rules = [picked[m.id][0] for m in ms]
        history = _history(current, t, rules[0])
        frame = _count(session, t, rules, defs, current, previous, history, by)
        for i, m in enumerate(ms):
            out[m.id] = frame[frame["idx"] == i].drop(columns=["idx"]).reset_index(drop=True)
    return out


def _measure(session: Session, m: Measure, t: _Table, defs: Measures, current: stats.Period,
             previous: stats.Period, by: str | None, rules: dict[str, Any],
             picked: tuple[SourceRule | None, list[str], str | None],
             frame: pd.DataFrame | None) -> list[Kpi]:
    base = {"measure": m.id, "label": m.label, "period": current.label,
            "previous_period": previous.label, "table": m.table, "table_version": t.version}
    rule, missing, why = picked
    if rule is None or frame is None:
        return [Kpi(**base, available=False, note=why,
                    wording=f"{m.label}: not available — {why}")]
    history = _history(current, t, rule)
    released, rel = _release(session, t, frame)
    rules[m.table] = rel.as_meta()
    cov_months = set(t.coverage.months(rule.source))
    pop = _populations(session, t, by)
    out = []
    for group, g in released.groupby("group", dropna=False, sort=True):
        key = None if group == "" else str(group)
        out.append(_record(m, base, g.set_index("period"), rule, missing, cov_months, defs,
                           current, previous, history, key, pop))
    if not out:  # nothing counted at all (no rows for any group): zero, released as such
        out.append(_record(m, base, pd.DataFrame(columns=["n", "pos", "outcomes_known"]),
                           rule, missing, cov_months, defs, current, previous, history, None,
                           pop))
    return out


def _count(session: Session, t: _Table, rules: list[SourceRule], defs: Measures,
           current: stats.Period, previous: stats.Period,
           history: list[tuple[int, stats.Period]], by: str | None) -> pd.DataFrame:
    """Exact counts per (measure index, group, period) with their cell keys: they never
    leave this module unreleased."""
    periods = {"current": current, "previous": previous,
               **{_key(y, p, previous): p for y, p in history}}
    if _overlap(periods):  # a CASE gives a row to one period only: count each on its own
        parts = [_query(session, t, rules, defs, {name: p}, by) for name, p in periods.items()]
        rows = pd.concat(parts, ignore_index=True)
    else:
        rows = _query(session, t, rules, defs, periods, by)
    rows = rows.rename(columns={"grp": "group"})
    rows["group"] = rows["group"].fillna("").astype(str)
    return rows


def _query(session: Session, t: _Table, rules: list[SourceRule], defs: Measures,
           periods: dict[str, stats.Period], by: str | None) -> pd.DataFrame:
    """One scan of the governed view for every rule (all of one source): columns grp,
    period, idx (the rule's index), n, n_key, pos, pos_key, outcomes_known."""
    from vru.service.dimensions import dimension

    grained = next(iter(periods.values())).month_grained
    with session.engine(t.events) as con:
        cols = set(session.columns(t.events))
        flags, fparams = [], []
        for i, rule in enumerate(rules):
            cond, p = rule.where(cols)
            flags.append(f"coalesce({cond}, false) AS m{i}")
            fparams += p
        conds, params = [], []
        if "source" in cols:
            conds.append("e.source = ?")
            params.append(rules[0].source)
        joins, group = "", "''"
        if by is not None:
            dim = dimension(by, cols)
            lk = dim.lookup
            assert lk is not None
            if by == "area":
                from vru.governance.areas import list_areas

                built = lk.build(areas={a.name: a.lsoa11cd for a in list_areas(session._db)})
            else:
                built = lk.build()
            con.register(f"__{lk.alias}", built)
            joins = f"JOIN __{lk.alias} {lk.alias} ON {lk.alias}.lsoa11cd = e.lsoa11cd"
            group = dim.sql
        keyed = RECORD_KEY in cols
        positive = [str(x) for x in defs.positive_outcome_types]
        has_outcome = "outcome_code" in cols
        inner = ["e.outcome_code" if has_outcome else "NULL AS outcome_code",
                 f"e.{RECORD_KEY}" if keyed else f"0 AS {RECORD_KEY}"]
        is_pos = ("outcome_code IN (" + ", ".join("?" * len(positive)) + ")"
                  if has_outcome and positive else "FALSE")
        pos_params = positive if is_pos != "FALSE" else []
        if grained:
            day = "e.month"
            bounds = {name: (p.months()[0], p.months()[-1]) for name, p in periods.items()}
        else:
            day = _DAY.get(t.name, "")
            if not day or not {"occurred_from", "arrival"} & cols:
                raise BadRequest(f"{t.name} has no day of event: 28-day periods need one")
            bounds = {name: (p.start, p.end) for name, p in periods.items()}
        cases, bparams = [], []
        for name, (lo, hi) in bounds.items():
            cases.append(f"WHEN {day} BETWEEN ? AND ? THEN ?")
            bparams += [lo, hi, name]
        months = [mo for p in periods.values() for mo in (p.months()[0], p.months()[-1])]
        conds.append("e.month BETWEEN ? AND ?")
        params += [min(months), max(months)]
        # one aggregate set per rule, side by side: the parameters follow the text's order
        outer, oparams = [], []
        for i in range(len(rules)):
            outer.append(
                f"count(*) FILTER (WHERE m{i}) AS n_{i}, "
                f"CAST(coalesce(sum({RECORD_KEY}) FILTER (WHERE m{i}), 0) % 256 AS BIGINT) "
                f"AS n_key_{i}, count(*) FILTER (WHERE m{i} AND {is_pos}) AS pos_{i}, "
                f"CAST(coalesce(sum({RECORD_KEY}) FILTER (WHERE m{i} AND {is_pos}), 0) % 256 "
                f"AS BIGINT) AS pos_key_{i}, count(outcome_code) FILTER (WHERE m{i}) "
                f"AS outcomes_known_{i}")
            oparams += pos_params + pos_params
        any_flag = " OR ".join(f"m{i}" for i in range(len(rules)))
        sql = (f"SELECT grp, period, {', '.join(outer)} FROM ("
               f"SELECT {group} AS grp, CASE {' '.join(cases)} END AS period, "
               f"{', '.join(inner)}, {', '.join(flags)} FROM e_src e {joins} "
               f"WHERE {' AND '.join(conds)}) WHERE period IS NOT NULL AND ({any_flag}) "
               "GROUP BY ALL")
        wide = con.sql(sql, params=oparams + bparams + fparams + params).df()
    parts = []
    for i in range(len(rules)):
        part = wide[["grp", "period", f"n_{i}", f"n_key_{i}", f"pos_{i}", f"pos_key_{i}",
                     f"outcomes_known_{i}"]].copy()
        part.columns = ["grp", "period", "n", "n_key", "pos", "pos_key", "outcomes_known"]
        part = part[part["n"] > 0]  # a group with none of this measure: absent, as before
        part.insert(2, "idx", i)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else wide


def _key(year: int, p: stats.Period, previous: stats.Period) -> str:
    """The name a history period is counted under (the previous period's when the same)."""
    return "previous" if p == previous else f"y{year}"


def _overlap(periods: dict[str, stats.Period]) -> bool:
    spans = sorted((p.start, p.end) for p in periods.values())
    return any(b[0] <= a[1] for a, b in zip(spans, spans[1:], strict=False))


def _release(session: Session, t: _Table, frame: pd.DataFrame) -> tuple[pd.DataFrame, Any]:
    """Every count through the one release function (keys used by cell-key, then dropped)."""
    frame = frame.copy()
    if frame.empty:
        frame = pd.DataFrame({"group": pd.Series([], dtype=str), "period": [], "n": [],
                              "n_key": [], "pos": [], "pos_key": [], "outcomes_known": []})
    for c in ("n", "n_key", "pos", "pos_key", "outcomes_known"):
        frame[c] = frame[c].astype("int64")
    keys = {"n": "n_key", "pos": "pos_key"}
    released, rule = session.release(frame, t.decision, ["n", "pos"], keys=keys,
                                     groups=["group", "period"])
    # whether a source records outcomes is a property of the source, not a count: shown as
    # a flag only
    released["outcomes_known"] = frame["outcomes_known"].to_numpy() > 0
    return released, rule


def _populations(session: Session, t: _Table, by: str | None) -> dict[str | None, float]:
    """Residents (mid-2015, IoD 2019 File 6) per group: the whole lake's districts, the
    reader's area, each area or each district (computed once per table and request)."""
    if by in t.populations:
        return t.populations[by]
    from vru.geo.lsoa_list import lsoa_index
    from vru.geo.population import lsoa_population

    pop = lsoa_population()[["lsoa11cd", "population"]].astype({"lsoa11cd": str})
    idx = lsoa_index()[["lsoa11cd", "lad13cd"]].astype(str)
    per = pop.merge(idx, on="lsoa11cd", how="left")
    out: dict[str | None, float]
    if by == "area":
        from vru.governance.areas import list_areas

        table = per.set_index("lsoa11cd")["population"]
        out = {a.name: float(table.reindex(list(a.lsoa11cd)).sum())
               for a in list_areas(session._db)}
    elif by == "district":
        out = {str(k): float(v) for k, v in per.groupby("lad13cd")["population"].sum().items()}
    elif t.events.lsoa is not None:
        out = {None: float(per.loc[per["lsoa11cd"].isin(t.events.lsoa), "population"].sum())}
    elif t.force is not None and t.force is not t:  # the lake's force area, from incidents
        out = _populations(session, t.force, by)
    else:
        def seen() -> list[str] | None:
            with session.engine(t.events) as con:
                if "lsoa11cd" not in session.columns(t.events):
                    return None
                return con.sql("SELECT DISTINCT lsoa11cd FROM e_src WHERE lsoa11cd IS NOT "
                               "NULL").df()["lsoa11cd"].astype(str).tolist()

        codes = _cached(("lsoas", str(t.events.home), t.name, t.version), seen)
        if codes is None:
            return {}
        # the force area: districts where the rows reach at least half the LSOAs (a border
        # street of a neighbouring force does not bring its whole district in)
        per["seen"] = per["lsoa11cd"].isin(set(codes))
        share = per.groupby("lad13cd")["seen"].mean()
        districts = set(share[share >= 0.5].index)
        out = {None: float(per.loc[per["lad13cd"].isin(districts), "population"].sum())}
    t.populations[by] = out
    return out


def _value(frame: pd.DataFrame, period: str, col: str) -> int | None:
    """A released count (0 when nothing was counted: a held month with no event is 0)."""
    if period not in frame.index:
        return 0
    v = frame.at[period, col]
    return None if pd.isna(v) else int(v)


def _record(m: Measure, base: dict[str, Any], g: pd.DataFrame, rule: SourceRule,
            missing: list[str], held: set[str], defs: Measures, current: stats.Period,
            previous: stats.Period, history: list[tuple[int, stats.Period]],
            group: str | None, pop: dict[str | None, float]) -> Kpi:
    k = Kpi(**base, group=group, group_name=group, source=rule.source,
            approximation=rule.approximation)
    k.current, k.previous = _value(g, "current", "n"), _value(g, "previous", "n")
    k.partial = bool(missing)
    k.missing_months = missing
    population = pop.get(group)
    if population:
        k.population = int(round(population))
        if k.current is not None:
            k.rate_per_1000 = round(k.current / population * 1000, 3)
        if k.previous is not None:
            k.previous_rate_per_1000 = round(k.previous / population * 1000, 3)
    hist: list[tuple[int, float | None]] = []
    for year, p in history:
        whole = all(mo in held for mo in p.months())
        v = _value(g, _key(year, p, previous), "n") if whole else None
        hist.append((year, v))
        k.history.append({"period": p.label, "year": year, "count": v, "held": whole})
    label = m.label + (f" in {group}" if group else "")
    if k.partial:
        k.wording = (f"{label}: {current.label} against {previous.label} is not compared — "
                     f"the lake does not hold {stats_months(missing)} of {rule.source}; "
                     f"counts so far {_num(k.current)} and {_num(k.previous)} (partial)")
        return k
    if k.current is not None and k.previous is not None:
        k.change_pct = _round(stats.pct_change(k.previous, k.current), 1)
        k.p_value = _sig(stats.poisson_test(k.current, k.previous, current.days,
                                            previous.days))
        k.significant = (k.p_value is not None and k.p_value < defs.significance
                         and k.current != k.previous)
    if k.current is not None:
        k.lowest_since = stats.lowest_since(k.current, hist)
        k.highest_since = stats.highest_since(k.current, hist)
        k.record_low_since = stats.record_low(k.current, hist)
    falling = k.change_pct is not None and k.change_pct < 0
    since = k.lowest_since if falling else k.highest_since
    k.wording = stats.describe_change(label, k.previous, k.current, k.p_value,
                                      alpha=defs.significance, since=since, plural=m.plural)
    if falling and since is None and k.record_low_since is not None:
        k.wording += f" (the lowest of every {current.kind.replace('_', ' ')} held since " \
                     f"{k.record_low_since})"
    if rule.approximation:
        k.wording += f" [approximation: {rule.approximation}]"
    if m.outcomes:
        _outcomes(k, g, m, defs, current, previous, label)
    return k


def _outcomes(k: Kpi, g: pd.DataFrame, m: Measure, defs: Measures, current: stats.Period,
              previous: stats.Period, label: str) -> None:
    known = bool(g["outcomes_known"].any()) if "outcomes_known" in g else False
    what = f"The positive outcome rate for {label[0].lower() + label[1:]}"
    if not known:
        k.positive_outcome_wording = (f"{what}: not available — {k.source} records no Home "
                                      "Office outcome types")
        return
    k.positive_outcomes = _value(g, "current", "pos")
    k.previous_positive_outcomes = _value(g, "previous", "pos")
    x1, n1, x0, n0 = k.positive_outcomes, k.current, k.previous_positive_outcomes, k.previous
    if None in (x1, n1, x0, n0) or not n1 or not n0:
        k.positive_outcome_wording = f"{what}: too few to report"
        return
    r1, r0 = x1 / n1, x0 / n0
    k.positive_outcome_rate, k.previous_positive_outcome_rate = round(r1, 4), round(r0, 4)
    k.positive_outcome_rate_change_pct = _round(stats.pct_change(r0, r1), 1)
    k.positive_outcome_p_value = _sig(stats.two_proportion_test(x1, n1, x0, n0))
    k.positive_outcome_wording = stats.describe_change(
        what, r0, r1, k.positive_outcome_p_value, alpha=defs.significance,
        rate=(f"{100 * r0:.1f}%", f"{100 * r1:.1f}%")) + (
        f" — {x0:,} of {n0:,} → {x1:,} of {n1:,} crimes (outcome types "
        f"{', '.join(map(str, defs.positive_outcome_types))})")


def _round(v: float | None, digits: int) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(v, digits)


def _sig(p: float) -> float | None:
    """A p-value to four significant figures (tiny ones stay tiny, not 0)."""
    return None if math.isnan(p) else float(f"{p:.4g}")


def _num(v: int | None) -> str:
    return "*" if v is None else f"{v:,}"


def stats_months(months: list[str]) -> str:
    from vru.lake.coverage import month_runs

    return month_runs(months)


def series(session: Session, period: str, *, measures: Sequence[str] | None = None,
           by: str | None = None, years: int = 3, measures_file: str | None = None,
           purpose: str | None = None, area: str | None = None) -> tuple[pd.DataFrame,
                                                                          dict[str, Any]]:
    """Monthly counts of measures up to the end of ``period`` (``years`` years of months),
    released for the reader: what trend charts draw.

    Returns
    -------
    (frame, meta)
        ``frame``: measure, group, month, n (released; null where suppressed), source;
        ``meta``: table versions, release, the months shown. Months a measure's source does
        not hold are left out (missing, never zero).
    """
    if by not in BY:
        raise BadRequest(f"--by {by!r}: give area or district (or nothing for the whole lake)")
    defs = load_measures(session.home, measures_file)
    chosen = defs.select(list(measures) if measures else None)
    held = session.tables()
    rows, versions, rule_meta = [], {}, None
    for table in dict.fromkeys(m.table for m in chosen):
        if table not in held:
            continue
        t = _Table(table, held[table])
        t.decision = session.decide("read", table, purpose=purpose, area=area,
                                    versions={table: t.version},
                                    detail={"via": "kpi_series", "request": {
                                        "period": period, "years": years, "by": by,
                                        "measures": [m.id for m in chosen]}})
        t.events = session.events(t.decision, table, t.version)
        t.coverage = _coverage(t.events)
        versions[table] = t.version
        try:
            end = stats.parse_period(period, _last_day([t])).end
        except stats.PeriodError as exc:
            raise BadRequest(str(exc)) from None
        first = date(end.year - years, end.month, 1) if end.month < 12 else \
            date(end.year - years + 1, 1, 1)
        months = stats.parse_period(f"{first:%Y-%m}..{end:%Y-%m}").months()
        for m in chosen:
            if m.table != table:
                continue
            rule, _, _ = _pick(m, t, [stats.parse_period(f"{months[0]}..{months[-1]}")] * 2)
            if rule is None:
                continue
            have = set(t.coverage.months(rule.source))
            periods = {mo: stats.parse_period(mo) for mo in months if mo in have}
            if not periods:
                continue
            got = _query(session, t, [rule], defs, periods, by).drop(columns=["idx"])
            got = got.rename(columns={"grp": "group", "period": "month"})
            got["group"] = got["group"].fillna("").astype(str)
            # a month held with no event is a true 0: add it so it is drawn (and released)
            groups = sorted(set(got["group"])) or [""]
            full = pd.MultiIndex.from_product([groups, list(periods)], names=["group", "month"])
            got = got.set_index(["group", "month"]).reindex(full).reset_index()
            for c in ("n", "n_key", "pos", "pos_key", "outcomes_known"):
                got[c] = got[c].fillna(0).astype("int64")
            released, rule_obj = session.release(
                got[["group", "month", "n", "n_key"]], t.decision, ["n"], keys={"n": "n_key"},
                groups=["group", "month"])
            rule_meta = rule_obj.as_meta()
            released["measure"], released["source"] = m.id, rule.source
            rows.append(released)
    frame = (pd.concat(rows, ignore_index=True) if rows else
             pd.DataFrame(columns=["group", "month", "n", "measure", "source"]))
    frame["group"] = frame["group"].replace("", None)
    frame = frame.sort_values(["measure", "group", "month"], na_position="first")
    return frame.reset_index(drop=True)[["measure", "group", "month", "n", "source"]], {
        "table_versions": versions, "release": rule_meta, "years": years}
