"""Coverage in time: the (source, force, month) units a lake table holds (missing, never 0)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from vru.lake.events import Events
from vru.lake.store import Store

__all__ = ["Coverage", "Unit", "coverage", "month_range", "month_runs"]

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_range(start: str, end: str) -> list[str]:
    """Every month from ``start`` to ``end`` (``YYYY-MM``, inclusive)."""
    return [_label(m) for m in range(_index(start), _index(end) + 1)]


def month_runs(months: Iterable[str]) -> str:
    """Months as runs: ``"2018-06, 2018-10..2018-12"`` (``"none"`` when empty)."""
    idx = sorted({_index(m) for m in months})
    if not idx:
        return "none"
    runs: list[str] = []
    first = prev = idx[0]
    for m in [*idx[1:], None]:
        if m is not None and m == prev + 1:
            prev = m
            continue
        runs.append(_label(first) if first == prev else f"{_label(first)}..{_label(prev)}")
        if m is not None:
            first = prev = m
    return ", ".join(runs)


@dataclass(frozen=True)
class Unit:
    """One month of one source and force held by the table (``rows`` only when asked)."""

    source: str
    force: str | None
    month: str
    rows: int | None = None


@dataclass(frozen=True)
class Coverage:
    """The (source, force, month) units a table version holds.

    A unit is held when a loaded file of that source and force covers the month: a file
    holds every month from its first row's month to its last row's (a data.police.uk street
    file is one force-month; a force extract spans its period, so a quiet month inside it is
    a true zero). Months outside every file are missing.
    """

    table: str
    version: int
    units: tuple[Unit, ...]

    def pairs(self, source: str | Iterable[str] | None = None,
              force: str | Iterable[str] | None = None) -> list[tuple[str, str | None]]:
        """The (source, force) pairs held, optionally only these sources / forces."""
        src, frc = _as_set(source), _as_set(force)
        return sorted({(u.source, u.force) for u in self.units
                       if (src is None or u.source in src) and (frc is None or u.force in frc)},
                      key=lambda p: (p[0], p[1] or ""))

    def months(self, source: str | Iterable[str] | None = None,
               force: str | Iterable[str] | None = None) -> list[str]:
        """Months held by any unit of these sources and forces, in order."""
        src, frc = _as_set(source), _as_set(force)
        return sorted({u.month for u in self.units
                       if (src is None or u.source in src) and (frc is None or u.force in frc)})

    def period(self, source: str | Iterable[str] | None = None,
               force: str | Iterable[str] | None = None) -> tuple[str, str] | None:
        """(first, last) month held, or None when nothing is held."""
        m = self.months(source, force)
        return (m[0], m[-1]) if m else None

    def missing(self, start: str | None = None, end: str | None = None,
                source: str | Iterable[str] | None = None,
                force: str | Iterable[str] | None = None) -> list[str]:
        """Months from ``start`` to ``end`` (default: the first and last held) not held."""
        held = set(self.months(source, force))
        span = self._span(start, end, source, force)
        return [m for m in span if m not in held]

    def held(self, start: str | None = None, end: str | None = None,
             source: str | Iterable[str] | None = None,
             force: str | Iterable[str] | None = None) -> list[str]:
        """Months from ``start`` to ``end`` (default: the first and last held) that are held."""
        have = set(self.months(source, force))
        return [m for m in self._span(start, end, source, force) if m in have]

    def _span(self, start: str | None, end: str | None, source: str | Iterable[str] | None,
              force: str | Iterable[str] | None) -> list[str]:
        p = self.period(source, force)
        lo = start or (p[0] if p else None)
        hi = end or (p[1] if p else None)
        if lo is None or hi is None or hi < lo:
            return []
        return month_range(lo, hi)

    def rows(self, source: str | None = None, force: str | None = None) -> dict[str, int]:
        """Rows per month held (only for a coverage computed with ``rows=True``)."""
        out: dict[str, int] = {}
        for u in self.units:
            if (source is None or u.source == source) and (force is None or u.force == force):
                if u.rows is None:
                    raise ValueError("row counts were not asked for: coverage(..., rows=True)")
                out[u.month] = out.get(u.month, 0) + u.rows
        return dict(sorted(out.items()))

    def describe(self, source: str | Iterable[str] | None = None,
                 force: str | Iterable[str] | None = None) -> str:
        """One line per (source, force), joined by ``"; "``: ``"police_uk Thames Valley
        Police: 2018-06, 2018-10..2018-12 (3 months missing: 2018-07..2018-09)"``."""
        parts = []
        for src, frc in self.pairs(source, force):
            held = self.months(src, frc) if frc is not None else [
                u.month for u in self.units if u.source == src and u.force is None]
            gap = [m for m in month_range(held[0], held[-1]) if m not in set(held)]
            name = f"{src} {frc}" if frc else src
            tail = (f" ({len(gap)} month{'s' * (len(gap) != 1)} missing: {month_runs(gap)})"
                    if gap else "")
            parts.append(f"{name}: {month_runs(held)}{tail}")
        return "; ".join(parts) if parts else f"{self.table}: no months held"

    def meta(self, start: str | None = None, end: str | None = None,
             source: str | Iterable[str] | None = None) -> dict[str, object]:
        """What a result's ``meta["coverage"]`` says: the period asked (or held), the months
        held and missing in it, and the description of the units in scope."""
        span = self._span(start, end, source, None)
        have = set(self.months(source))
        return {"start": span[0] if span else start, "end": span[-1] if span else end,
                "held": [m for m in span if m in have],
                "missing": [m for m in span if m not in have],
                "sources": self.describe(source)}


def _as_set(value: str | Iterable[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def coverage(events_or_store: Events | Store | str | Path, table: str = "incidents", *,
             rows: bool = False) -> Coverage:
    """The (source, force, month) units a table version holds, computed in DuckDB.

    Parameters
    ----------
    events_or_store : Events, Store, str or Path
        A governed event source (the service's), or the lake / its home (the owner's own
        access). An area-limited reader gets the coverage of the forces that have rows in
        their area, taken from the whole table: a month loaded force-wide is held for the
        area too, even when the area had no crime in it. Only months are returned from the
        whole table, never its counts.
    table : str, default "incidents"
        The lake table (when given a Store or home).
    rows : bool, default False
        Also count rows per unit, on the reader's own view (area rows only for an
        area-limited reader; such counts must be released like any other).

    Returns
    -------
    Coverage

    Raises
    ------
    LookupError
        No such table, or it has no ``month`` column.
    """
    if isinstance(events_or_store, Events):
        events = events_or_store if events_or_store.table == table or table == "incidents" \
            else events_or_store.at(table)
    else:
        events = Events.whole(events_or_store, table)
    # the whole table's units, read without the area and with provenance columns (only the
    # months leave this function)
    whole = replace(events, lsoa=None, area=None, hidden=frozenset(), key_seed=None)
    con = duckdb.connect()
    try:
        cols = whole.register(con, "__whole")
        if "month" not in cols:
            raise LookupError(f"{events.table} has no month column: no coverage in time")
        src = _q("source") if "source" in cols else f"'{events.table}'"
        frc = _q("force") if "force" in cols else "NULL"
        fil = _q("source_file") if "source_file" in cols else "NULL"
        # one GROUP BY: each file's first and last month (a file holds the months between)
        spans = con.sql(
            f"SELECT {src} AS s, {frc} AS f, min(month) AS lo, max(month) AS hi "
            f"FROM __whole WHERE month IS NOT NULL GROUP BY {src}, {frc}, {fil}").fetchall()
        scope: set[tuple[str, str | None]] | None = None
        if events.lsoa is not None:
            events.register(con, "__mine")
            s2 = src if "source" in cols else f"'{events.table}'"
            f2 = frc
            scope = {(r[0], r[1]) for r in con.sql(
                f"SELECT DISTINCT {s2}, {f2} FROM __mine").fetchall()}
        counts: dict[tuple[str, str | None, str], int] = {}
        if rows:
            view = "__mine" if events.lsoa is not None else "__whole"
            counts = {(r[0], r[1], r[2]): int(r[3]) for r in con.sql(
                f"SELECT {src}, {frc}, month, count(*) FROM {view} WHERE month IS NOT NULL "
                "GROUP BY ALL").fetchall()}
    finally:
        con.close()
    held: set[tuple[str, str | None, str]] = set()
    for s, f, lo, hi in spans:
        if scope is not None and (s, f) not in scope:
            continue
        if not (_MONTH.match(str(lo)) and _MONTH.match(str(hi))):
            continue  # an unreadable month is the row's problem, not a month held
        held.update((s, f, m) for m in month_range(lo, hi))
    units = tuple(Unit(s, f, m, counts.get((s, f, m), 0) if rows else None)
                  for s, f, m in sorted(held, key=lambda u: (u[0], u[1] or "", u[2])))
    return Coverage(events.table, events.version, units)
