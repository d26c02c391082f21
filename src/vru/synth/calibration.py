"""Real volumes the synthetic force is calibrated on: offence mix by Home Office code and trends.

Sources (read, never copied): the Home Office police recorded crime by force and offence code
for 2017/18 and the offence code → police.uk category mapping, both shipped inside the
``crime-sim-toolkit`` package; and vru's own copy of the Home Office rolling 12-month totals
by force and offence group (``data/home-office/rec-crime-pfa.csv.gz``).
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

from vru.data import asset

FORCE = "Thames Valley"
_TOOLKIT = "crime_sim_toolkit"

# Combined Home Office codes in the toolkit's table -> the code a force system records.
_CODE_ALIASES = {"1/4.1/4.10/4.2": "1"}

# Offence subgroup (toolkit) -> series of the Home Office trend file whose rolling totals
# drive it. Burglary is one series because the 2017 split into residential/non-residential
# redefined both halves (Domestic + Non-domestic before, Residential + Non-residential after).
_BURGLARY = ("Domestic burglary", "Non-domestic burglary", "Residential burglary",
             "Non-residential burglary")
TREND_SERIES: dict[str, tuple[str, ...]] = {
    "Violence with injury": ("Violence with injury",),
    "Violence without injury": ("Violence without injury",),
    "Stalking and harassment": ("Stalking and harassment",),
    "Homicide": ("Homicide",),
    "Domestic burglary": _BURGLARY,
    "Non-domestic burglary": _BURGLARY,
    "Theft from a vehicle": ("Vehicle offences",),
    "Theft of a motor vehicle": ("Vehicle offences",),
    "Vehicle interference": ("Vehicle offences",),
    "Theft from the person": ("Theft from the person",),
    "Bicycle theft": ("Bicycle theft",),
    "Shoplifting": ("Shoplifting",),
    "Other theft offences": ("All other theft offences",),
    "Robbery of business property": ("Robbery",),
    "Robbery of personal property": ("Robbery",),
    "Rape offences": ("Sexual offences",),
    "Other sexual offences": ("Sexual offences",),
    "Arson": ("Criminal damage and arson",),
    "Criminal damage": ("Criminal damage and arson",),
    "Possession of drugs": ("Drug offences",),
    "Trafficking of drugs": ("Drug offences",),
    "Possession of weapons offences": ("Possession of weapons offences",),
    "Public order offences": ("Public order offences",),
    "Miscellaneous crimes": ("Miscellaneous crimes against society",),
}

# Planted year-on-year changes (percent) after the trend file ends (December 2018), by
# offence subgroup; "*" is the default. 2020 carries the pandemic: less acquisitive crime and
# night-time violence, more drug possession found by patrols in empty streets. Personal
# robbery's 2020 figure is replaced by an exact plant (see targets.py).
PLANTED_CHANGES: dict[int, dict[str, float]] = {
    2019: {"*": 2.0, "Violence with injury": 4.0, "Violence without injury": 6.0,
           "Stalking and harassment": 15.0, "Domestic burglary": -5.0,
           "Non-domestic burglary": -6.0, "Theft from a vehicle": -3.0,
           "Possession of weapons offences": 8.0, "Public order offences": 6.0,
           "Trafficking of drugs": 10.0},
    2020: {"*": -10.0, "Violence with injury": -9.0, "Violence without injury": -3.0,
           "Stalking and harassment": 12.0, "Domestic burglary": -22.0,
           "Non-domestic burglary": -25.0, "Theft from the person": -45.0,
           "Shoplifting": -28.0, "Other theft offences": -25.0, "Theft from a vehicle": -24.0,
           "Theft of a motor vehicle": -18.0, "Bicycle theft": -8.0,
           "Robbery of business property": -20.0, "Possession of drugs": 18.0,
           "Trafficking of drugs": 12.0, "Possession of weapons offences": -5.0,
           "Public order offences": 3.0, "Criminal damage": -8.0, "Rape offences": -6.0,
           "Other sexual offences": -9.0},
    2021: {"*": 6.0, "Violence with injury": 9.0, "Violence without injury": 7.0,
           "Stalking and harassment": 5.0, "Domestic burglary": -4.0,
           "Theft from the person": 30.0, "Shoplifting": 14.0, "Possession of drugs": -10.0,
           "Rape offences": 15.0, "Other sexual offences": 12.0},
}


@dataclass(frozen=True)
class OffenceCode:
    """One Home Office offence code with its 2017/18 Thames Valley count."""

    code: str
    description: str
    group: str        # Home Office offence group, e.g. "Violence against the person"
    subgroup: str     # e.g. "Violence with injury"
    category: str     # data.police.uk crime type, e.g. "Violence and Sexual Offences"
    count_2017_18: int


def _toolkit_text(name: str) -> str:
    res = files(_TOOLKIT).joinpath("src", name)
    return res.read_text(encoding="utf-8-sig")


def _number(text: str) -> int:
    return int(text.replace(",", "").strip() or 0)


@lru_cache(maxsize=2)
def offence_codes(force: str = FORCE) -> tuple[OffenceCode, ...]:
    """The force's 2017/18 recorded offences by Home Office code (codes with any offence).

    Returns
    -------
    tuple of OffenceCode
        Sorted by code; quarterly rows summed; combined codes mapped to the code a force
        records (homicide ``1/4.1/4.10/4.2`` → ``1``).
    """
    rows = csv.DictReader(io.StringIO(_toolkit_text("prc-pfa-201718_new.csv")))
    counts: dict[str, int] = {}
    meta: dict[str, tuple[str, str, str, str]] = {}
    for r in rows:
        if r["Force_Name"] != force:
            continue
        code = _CODE_ALIASES.get(r["Offence_Code"], r["Offence_Code"])
        counts[code] = counts.get(code, 0) + _number(r["Number_of_Offences"])
        meta[code] = (r["Offence_Description"], r["Offence_Group"], r["Offence_Subgroup"],
                      r["Policeuk_Cat"])
    if not counts:
        raise ValueError(f"crime-sim-toolkit holds no offences for force {force!r}")
    out = [OffenceCode(c, *meta[c], counts[c]) for c in sorted(counts) if counts[c] > 0]
    unknown = sorted({o.subgroup for o in out} - set(TREND_SERIES))
    if unknown:
        raise ValueError(f"offence subgroups without a trend series: {', '.join(unknown)}")
    return tuple(out)


@lru_cache(maxsize=1)
def category_mapping() -> dict[str, str]:
    """Home Office offence code → data.police.uk category (the toolkit's mapping table)."""
    rows = csv.DictReader(io.StringIO(_toolkit_text("CrimeCatMappings.csv")))
    return {r["Offence_Code"]: r["Police.uk_Cat"] for r in rows}


@lru_cache(maxsize=2)
def _trend_table(force: str) -> dict[tuple[str, int, int], int]:
    """(series, year, month) → rolling 12-month total for the force."""
    path = asset("home-office", "rec-crime-pfa.csv.gz")
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        out: dict[tuple[str, int, int], int] = {}
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise ValueError(f"{path}: line {line} has {len(row)} fields, expected "
                                 f"{len(header)}")
            if row[1] != force:
                continue
            day, month, year = row[0].split("-")
            try:
                out[(row[3], int(year), int(month))] = _number(row[4])
            except ValueError:
                raise ValueError(f"{path}: line {line}, column {header[4]!r}: "
                                 f"not a number: {row[4]!r}") from None
    if not out:
        raise ValueError(f"{path}: no rows for force {force!r}")
    return out


def trend_total(subgroup: str, year: int, month: int, force: str = FORCE) -> int | None:
    """Rolling 12-month total of the trend series behind ``subgroup`` ending ``year-month``."""
    table = _trend_table(force)
    keys = [(s, year, month) for s in TREND_SERIES[subgroup]]
    if not any(k in table for k in keys):
        return None
    return sum(table.get(k, 0) for k in keys)


def trend_ratio(subgroup: str, year: int, force: str = FORCE) -> float:
    """Calendar-year volume of ``year`` relative to 2017/18, from the rolling totals.

    Years the trend file covers use the total for the 12 months ending December; later
    years chain :data:`PLANTED_CHANGES` from the last December held; earlier years use the
    first December held.
    """
    base = trend_total(subgroup, 2018, 3, force)
    if not base:
        raise ValueError(f"no 2017/18 trend total for {subgroup!r}")
    years = sorted({y for (_, y, m) in _trend_table(force) if m == 12})
    last, first = years[-1], years[0]
    if year < first:
        year = first
    if year <= last:
        total = trend_total(subgroup, year, 12, force)
        if total is None:  # a December missing from the file: nearest December held
            near = min(years, key=lambda y: abs(y - year))
            total = trend_total(subgroup, near, 12, force) or base
        return total / base
    ratio = (trend_total(subgroup, last, 12, force) or base) / base
    for y in range(last + 1, year + 1):
        ratio *= 1.0 + planted_change(subgroup, y) / 100.0
    return ratio


def planted_change(subgroup: str, year: int) -> float:
    """The planted percent change of ``subgroup`` from ``year - 1`` to ``year`` (0 if none)."""
    table = PLANTED_CHANGES.get(year, {})
    return float(table.get(subgroup, table.get("*", 0.0)))


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer ``total`` in proportion to ``weights`` so the parts sum exactly.

    Hamilton's method: floor the quotas, then give the leftover units to the largest
    remainders (ties to the lower index, so the result is deterministic).
    """
    w = np.asarray(weights, dtype=np.float64)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=np.int64)
    quota = total * w / w.sum()
    base = np.floor(quota).astype(np.int64)
    left = int(total - base.sum())
    if left:
        order = np.lexsort((np.arange(len(w)), -(quota - base)))
        base[order[:left]] += 1
    return base
