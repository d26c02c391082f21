"""The governed table builder: counts (and rates) of a table's events by chosen dimensions.

What restricted roles get instead of SQL. The request is a table, dimensions and filters on
dimensions; the query is built here from the registered dimensions, never from the user's
text, over the governed view of the decision (area rows only, identifiers absent), and every
count leaves through the session's one release function.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.lake.events import RECORD_KEY
from vru.service.dimensions import FIXED, WEEKDAYS, Dimension, dimension, known
from vru.service.errors import BadRequest
from vru.service.session import Release, Session

COUNT = "n"
RATE = "rate_per_1000"
_RANGE = re.compile(r"^(.+?)\.\.(.+)$")


@dataclass
class Counts:
    """A released table of counts, with what it was computed from and how it was released."""

    table: pa.Table
    release: Release
    meta: dict[str, Any] = field(default_factory=dict)
    withheld: int = 0  #: groups not shown because their released count is suppressed or 0


def parse_where(items: Sequence[str] | Mapping[str, Any] | None) -> dict[str, list[str]]:
    """``["month=2020-01..2020-12", "category=Robbery"]`` → {dimension: values}.

    Several values of one dimension (repeated, or ``a|b``) mean any of them; ``a..b`` is an
    inclusive range (months, years, hours).
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        items = [f"{k}={v}" for k, vs in items.items()
                 for v in ([vs] if isinstance(vs, str | int) else vs)]
    out: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise BadRequest(f"--where {item!r}: write DIMENSION=VALUE (e.g. "
                             "category=Robbery, month=2020-01..2020-12)")
        dim, _, value = item.partition("=")
        out.setdefault(dim.strip(), []).extend(v.strip() for v in value.split("|"))
    return out


def counts(session: Session, table: str, by: Sequence[str], where: Any = None, *,
           rate: bool = False, purpose: str | None = None, area: str | None = None) -> Counts:
    """Count ``table``'s rows by ``by`` as the session's user may see them.

    Parameters
    ----------
    session
        The signed-in session.
    table
        A lake table with events (``incidents``, ``ed_assaults``, ``partner_*``...).
    by
        Dimensions (see `vru.service.dimensions`): period (month, quarter, year,
        financial_year), offence (category, offence_group), geography (lsoa, msoa, district,
        area, h3:RES, grid:SIZE), hour, weekday, source, age_band; ED tables add weapon,
        location_type, site.
    where
        Filters on dimensions (`parse_where`).
    rate
        Add ``rate_per_1000`` residents (one geography dimension of lsoa, msoa, district or
        area; mid-2015 population, IoD 2019 File 6), computed from the released counts.

    Returns
    -------
    Counts
        Label columns, ``n`` (released: suppressed as null, rounded or perturbed by the
        decision's profile) [, ``rate_per_1000``].
    """
    by = [b.strip() for b in by if b.strip()]
    if not by:
        raise BadRequest("give at least one dimension: --by month (or --by lsoa,month ...)")
    if len(set(by)) != len(by):
        raise BadRequest(f"a dimension is repeated in --by {','.join(by)}")
    filters = parse_where(where)
    request = {"table": table, "by": by, "where": filters, "rate": rate}
    unknown = [d for d in (*by, *filters) if not known(d)]
    if unknown:  # refused before the policy point, and audited as a refusal
        raise session.refuse("read", table, f"no dimension {', '.join(map(repr, unknown))}; "
                             f"dimensions: {', '.join(FIXED)}, hour, weekday, h3:RES, "
                             "grid:SIZE", "request", {"via": "counts", "request": request},
                             purpose, BadRequest)
    versions = {table: session.version(table)}
    decision = session.decide("read", table, purpose=purpose, area=area, versions=versions,
                              detail={"via": "counts", "request": request})
    events = session.events(decision, table, versions[table])
    with session.engine(events) as con:
        cols = set(session.columns(events))
        dims = {name: dimension(name, cols) for name in {*by, *filters}}
        try:
            result = _query(con, session, dims, by, filters, keyed=RECORD_KEY in cols)
        except duckdb.Error as exc:
            raise BadRequest(f"counts of {table} failed: {exc}") from None
    result = _order(result, by)
    keys = {COUNT: "__key"} if "__key" in result.column_names else None
    released, rule = session.release(result, decision, [COUNT], keys=keys, groups=by)
    shown = pc.fill_null(pc.greater(released[COUNT], 0), False)
    withheld = released.num_rows - int(pc.sum(shown).as_py() or 0)
    released = released.filter(shown)
    if rate:
        released = _rates(released, by, dims, session)
    meta = {"table_versions": versions, "request": request, "release": rule.as_meta(),
            "area": events.area, "audit_seq": decision.audit_seq}
    return Counts(released, rule, meta, withheld)


def _query(con: duckdb.DuckDBPyConnection, session: Session, dims: dict[str, Dimension],
           by: list[str], filters: dict[str, list[str]], keyed: bool) -> pa.Table:
    joins, params, conds = [], [], []
    done: set[str] = set()
    for d in dims.values():
        lk = d.lookup
        if lk is None or lk.alias in done:
            continue
        done.add(lk.alias)
        if lk.alias == "lk_h3":
            points = con.sql("SELECT DISTINCT lon, lat FROM e_src WHERE lon IS NOT NULL AND "
                             "lat IS NOT NULL").to_arrow_table()
            built = lk.build(points=points)
        elif lk.alias == "lk_area":
            from vru.governance.areas import list_areas

            built = lk.build(areas={a.name: a.lsoa11cd for a in list_areas(session._db)})
        else:
            built = lk.build()
        con.register(f"__{lk.alias}", built)
        on = " AND ".join(f"{lk.alias}.{c} = e.{c}" for c in lk.on)
        joins.append(f"JOIN __{lk.alias} {lk.alias} ON {on}")
    for name, values in filters.items():
        expr = dims[name].sql
        ranges = [_RANGE.match(v) for v in values]
        parts = []
        if name in _PERIODS:  # a period is a range of months: compare the month text itself
            for v, r in zip(values, ranges, strict=True):
                lo = _months(name, r.group(1) if r else v)[0]
                hi = _months(name, r.group(2) if r else v)[1]
                parts.append("e.month BETWEEN ? AND ?")
                params += [lo, hi]
            conds.append("(" + " OR ".join(parts) + ")")
            continue
        for v, r in zip(values, ranges, strict=True):
            if r:
                parts.append(f"CAST({expr} AS VARCHAR) BETWEEN ? AND ?"
                             if name not in ("hour", "weekday")
                             else f"{expr} BETWEEN ? AND ?")
                params += [_value(name, r.group(1)), _value(name, r.group(2))]
            else:
                parts.append(f"CAST({expr} AS VARCHAR) = ?" if name not in ("hour", "weekday")
                             else f"{expr} = ?")
                params.append(_value(name, v))
        conds.append("(" + " OR ".join(parts) + ")")
    select = ", ".join(f"{dims[b].sql} AS \"{b}\"" for b in by)
    key = f", CAST(sum(e.{RECORD_KEY}) % 256 AS BIGINT) AS __key" if keyed else ""
    where = " AND ".join(conds) or "TRUE"
    sql = (f"SELECT {select}, count(*) AS {COUNT}{key} FROM e_src e {' '.join(joins)} "
           f"WHERE {where} GROUP BY ALL")
    return con.sql(sql, params=params).to_arrow_table()


_PERIODS = ("month", "quarter", "year", "financial_year")
_PERIOD_TEXT = {
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "year": re.compile(r"^(\d{4})$"),
    "financial_year": re.compile(r"^(\d{4})/(\d{2})$"),
}


def _months(name: str, text: str) -> tuple[str, str]:
    """First and last month (YYYY-MM) of a period written as the dimension writes it."""
    m = _PERIOD_TEXT[name].match(text.strip())
    if m is None:
        shape = {"month": "2020-01", "quarter": "2020-Q1", "year": "2020",
                 "financial_year": "2020/21"}[name]
        raise BadRequest(f"{name}={text!r}: write it as {shape} (or a range {shape}..{shape})")
    y = int(m.group(1))
    if name == "month":
        if not 1 <= int(m.group(2)) <= 12:
            raise BadRequest(f"month={text!r}: months are 01..12")
        return text.strip(), text.strip()
    if name == "quarter":
        q = int(m.group(2))
        return f"{y}-{3 * q - 2:02d}", f"{y}-{3 * q:02d}"
    if name == "year":
        return f"{y}-01", f"{y}-12"
    if int(m.group(2)) != (y + 1) % 100:
        raise BadRequest(f"financial_year={text!r}: a financial year runs April {y} to March "
                         f"{y + 1}, written {y}/{(y + 1) % 100:02d}")
    return f"{y}-04", f"{y + 1}-03"


def _value(name: str, text: str) -> Any:
    if name == "hour":
        try:
            return int(text)
        except ValueError:
            raise BadRequest(f"hour={text!r}: give 0..23") from None
    if name == "weekday":
        low = text.strip().lower()
        for i, day in enumerate(WEEKDAYS, 1):
            if low in (str(i), day.lower(), day[:3].lower()):
                return i
        raise BadRequest(f"weekday={text!r}: give Monday..Sunday (or 1..7)")
    return text


def _order(result: pa.Table, by: list[str]) -> pa.Table:
    """Rows sorted by the dimensions; weekdays as names, in week order."""
    result = result.sort_by([(b, "ascending") for b in by])
    if "weekday" in by:
        idx = result.column_names.index("weekday")
        names = [None if v is None else WEEKDAYS[v - 1] for v in result["weekday"].to_pylist()]
        result = result.set_column(idx, "weekday", pa.array(names, pa.string()))
    return result


def _rates(released: pa.Table, by: list[str], dims: dict[str, Dimension],
           session: Session) -> pa.Table:
    geo = [b for b in by if dims[b].geography]
    if len(geo) != 1:
        raise BadRequest("--rate needs exactly one of the dimensions lsoa, msoa, district or "
                         "area (population is known by LSOA)")
    g = geo[0]
    population = _population(dims[g], session)
    labels = released[g].to_pylist()
    pop = np.array([population.get(v, np.nan) if v is not None else np.nan for v in labels],
                   dtype=np.float64)
    n = released[COUNT].to_numpy(zero_copy_only=False).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(pop > 0, n / pop * 1000.0, np.nan)
    return released.append_column(RATE, pa.array(np.round(rate, 2), pa.float64(),
                                                 mask=np.isnan(rate)))


def _population(dim: Dimension, session: Session) -> dict[str, float]:
    from vru.geo.population import lsoa_population

    pop = lsoa_population()
    per_lsoa = dict(zip(pop["lsoa11cd"], pop["population"].astype(float), strict=True))
    if dim.geography == "lsoa":
        return per_lsoa
    if dim.lookup is None:
        return {}
    if dim.geography == "area":
        from vru.governance.areas import list_areas

        lookup = dim.lookup.build(areas={a.name: a.lsoa11cd for a in list_areas(session._db)})
    else:
        lookup = dim.lookup.build()
    value = [c for c in lookup.column_names if c != "lsoa11cd"][0]
    totals: dict[str, float] = {}
    for code, label in zip(lookup["lsoa11cd"].to_pylist(), lookup[value].to_pylist(),
                           strict=True):
        if label is not None and code in per_lsoa:
            totals[label] = totals.get(label, 0.0) + per_lsoa[code]
    return totals
