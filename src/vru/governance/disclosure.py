"""Statistical disclosure control of count tables: the one release function and its profiles.

Profiles: "nhs" (counts 1-7 suppressed, shown as ``*``; others rounded to the nearest 5),
"ons" (the 10-5 rule: counts 1-9 suppressed, others rounded to 5), "cellkey" (every count
perturbed by the cell-key method, `vru.governance.cellkey`: the same cell always gets the
same answer, so differencing two queries yields noise) and "none" (analysts see counts as
they are). Zero is shown: it discloses no individual. Where a suppressing profile meets a
table with totals (a total column, a total row), secondary suppression makes sure no row or
column has exactly one hidden cell, which the total would otherwise give away by
subtraction. docs/release.md explains the rules and whom each profile serves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyarrow as pa

from vru.governance.cellkey import KEYS, PTableParams, ptable
from vru.governance.errors import DisclosureError

if TYPE_CHECKING:
    import pandas as pd

# pandas (0.3 s to import) only when a table is released: a command that releases nothing,
# such as an ingest, never loads it
T = TypeVar("T", "pd.DataFrame", pa.Table)


@dataclass(frozen=True)
class Profile:
    """A disclosure rule.

    Attributes
    ----------
    name
        The profile's name, as settings spell it.
    max_suppressed
        Counts 1..max_suppressed are hidden (0: nothing is hidden).
    round_to
        Shown counts are rounded to a multiple of this (1: not rounded).
    perturbation
        The pTable parameters of cell-key perturbation, or None for no perturbation.
    """

    name: str
    max_suppressed: int = 0
    round_to: int = 1
    perturbation: PTableParams | None = None


PROFILES = {
    "nhs": Profile("nhs", max_suppressed=7, round_to=5),
    "ons": Profile("ons", max_suppressed=9, round_to=5),
    "cellkey": Profile("cellkey", perturbation=PTableParams()),
    "none": Profile("none"),
}
MARKER = "*"


def _rule(profile: str) -> Profile:
    if profile not in PROFILES:
        raise DisclosureError(f"unknown disclosure profile {profile!r}; profiles are "
                              f"{', '.join(PROFILES)}")
    return PROFILES[profile]


def describe(profile: str) -> str:
    """The one-line note a table or chart released under ``profile`` shows.

    Parameters
    ----------
    profile
        A name in `PROFILES`.

    Returns
    -------
    str
        E.g. "counts 1-7 shown as *, others rounded to the nearest 5".
    """
    rule = _rule(profile)
    if rule.perturbation is not None:
        step = rule.perturbation.step
        shown = f", each shown as a nearby multiple of {step}" if step > 1 else ""
        return (f"counts perturbed by the cell-key method (as ONS, Census 2021{shown}): "
                "small differences are noise")
    parts = []
    if rule.max_suppressed:
        parts.append(f"counts 1-{rule.max_suppressed} shown as {MARKER}")
    if rule.round_to > 1:
        parts.append(f"{'others' if parts else 'counts'} rounded to the nearest "
                     f"{rule.round_to}")
    return ", ".join(parts) or "counts as recorded (no disclosure control)"


def apply(table: T, profile: str, count_columns: Sequence[str],
          group_columns: Sequence[str] = (), *, total_column: str | None = None,
          total_row: str | None = None, cell_keys: Mapping[str, str] | None = None) -> T:
    """Put a table of counts through disclosure control: every released number passes here.

    Parameters
    ----------
    table
        A pandas DataFrame or Arrow table: group columns label the rows, count columns hold
        non-negative whole numbers.
    profile
        A name in `PROFILES`: "nhs", "ons", "cellkey" or "none".
    count_columns
        The columns of counts (the table's cells).
    group_columns
        The columns that label rows.
    total_column
        A count column holding each row's total: rows are then protected against
        differencing (suppressing profiles; under "cellkey" the total is perturbed with
        its own key like any cell).
    total_row
        The label, in the first group column, of the row holding column totals: columns are
        then protected against differencing (as for ``total_column``).
    cell_keys
        Count column -> the column holding its cells' keys: the sum of the cell's record keys
        (``sum(record_key)``, or that sum mod 256). Required by "cellkey" for every count
        column. Key columns are consumed and dropped from the output under every profile:
        they must never be released.

    Returns
    -------
    Same type as ``table``
        Count columns become nullable integers: null where suppressed (use `format_counts`
        to show ``*``), rounded or perturbed elsewhere. Key columns are gone; other columns
        are unchanged.
    """
    import pandas as pd

    rule = _rule(profile)
    is_arrow = isinstance(table, pa.Table)
    frame = table.to_pandas() if is_arrow else table.copy()
    counts = list(count_columns)
    keys = dict(cell_keys or {})
    missing = [c for c in [*counts, *group_columns, *keys.values()] if c not in frame.columns]
    if missing:
        raise DisclosureError(f"column(s) not in the table: {', '.join(missing)}")
    if total_column is not None and total_column not in counts:
        raise DisclosureError(f"total_column {total_column!r} must be one of the count columns")
    if total_row is not None and not group_columns:
        raise DisclosureError("total_row needs group_columns: it is a label in the first one")
    strays = [c for c in keys if c not in counts]
    clashes = [k for k in keys.values() if k in counts or k in group_columns]
    if strays or clashes:
        raise DisclosureError(
            "cell_keys must map count columns to separate key columns: "
            + "; ".join([*(f"{c!r} is not a count column" for c in strays),
                         *(f"key column {k!r} is also a count or group column"
                           for k in clashes)]))
    if rule.perturbation is not None:
        lacking = [c for c in counts if c not in keys]
        if lacking:
            raise DisclosureError(
                f"profile {profile!r} perturbs each count by its cell key, and cell_keys "
                f"names no key column for: {', '.join(lacking)} (pass cell_keys={{count "
                "column: column of sum(record_key)}})")
    values = _counts(frame, counts)
    known = ~np.isnan(values)
    total_rows = (np.asarray(frame[group_columns[0]].astype(str) == str(total_row))
                  if total_row is not None else np.zeros(len(frame), bool))
    if total_row is not None and total_rows.sum() != 1:
        raise DisclosureError(f"expected exactly one row labelled {total_row!r} in "
                              f"{group_columns[0]!r}, found {int(total_rows.sum())}")
    if rule.perturbation is not None:
        hidden = ~known
        shown = _perturb(frame, values, counts, keys, rule.perturbation)
    else:
        hidden = ~known | ((values >= 1) & (values <= rule.max_suppressed))
        if rule.max_suppressed:
            total_col = counts.index(total_column) if total_column is not None else None
            _secondary(values, hidden, total_col, int(np.argmax(total_rows))
                       if total_row is not None else None)
        step = rule.round_to
        shown = np.floor((np.nan_to_num(values) + step / 2) / step) * step
    for j, column in enumerate(counts):
        frame[column] = pd.array(np.where(hidden[:, j], 0, shown[:, j]).astype("int64"),
                                 dtype="Int64")
        frame.loc[hidden[:, j], column] = pd.NA
    frame = frame.drop(columns=list(dict.fromkeys(keys.values())))
    if is_arrow:
        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame


def _perturb(frame: pd.DataFrame, values: np.ndarray, counts: list[str],
             keys: Mapping[str, str], params: PTableParams) -> np.ndarray:
    """Released values of the count columns: each count plus its pTable adjustment."""
    import pandas as pd

    table = ptable(params)
    out = np.zeros_like(values)
    for j, column in enumerate(counts):
        key = pd.to_numeric(frame[keys[column]], errors="coerce")
        raw = frame[keys[column]]
        bad = (raw.notna() & (key.isna() | (key < 0) | (key % 1 != 0))) | (
            key.isna() & (np.nan_to_num(values[:, j]) > 0))
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            shown = "null" if pd.isna(raw.iloc[row]) else f"'{raw.iloc[row]}'"
            raise DisclosureError(f"column {keys[column]!r}, row {row + 1}: "
                                  f"{shown} is not a cell key (the sum of the "
                                  f"cell's record keys, a whole number, zero or more) for "
                                  f"the count {values[row, j]:.0f} in {column!r}")
        cell_key = key.fillna(0).to_numpy().astype(np.int64) % KEYS
        out[:, j] = table.perturb(np.nan_to_num(values[:, j]).astype(np.int64), cell_key)
    return out


def _counts(frame: pd.DataFrame, counts: list[str]) -> np.ndarray:
    import pandas as pd

    out = np.empty((len(frame), len(counts)), dtype=float)
    for j, column in enumerate(counts):
        series = pd.to_numeric(frame[column], errors="coerce")
        bad = series.notna() & ((series < 0) | (series % 1 != 0))
        unparsed = series.isna() & frame[column].notna()
        if bad.any() or unparsed.any():
            row = int(np.argmax((bad | unparsed).to_numpy()))
            raise DisclosureError(f"column {column!r}, row {row + 1}: "
                                  f"'{frame[column].iloc[row]}' is not a count (a whole "
                                  "number, zero or more)")
        out[:, j] = series.to_numpy(dtype=float, na_value=np.nan)
    return out


def _secondary(values: np.ndarray, hidden: np.ndarray, total_col: int | None,
               total_row: int | None) -> None:
    """Suppress more cells until no line (row or column with a total) has one hidden cell.

    Each line is an equation: its cells add up to its total. With exactly one unknown it
    can be solved, so a second cell is hidden, the smallest non-zero one (the least
    information lost); the total itself only when nothing else is left. Hiding a cell can
    expose the crossing line, so this repeats until nothing changes.
    """
    n_rows, n_cols = values.shape
    lines: list[tuple[list[tuple[int, int]], tuple[int, int]]] = []
    if total_col is not None:
        inner_cols = [j for j in range(n_cols) if j != total_col]
        lines += [([(i, j) for j in inner_cols], (i, total_col)) for i in range(n_rows)]
    if total_row is not None:
        inner_rows = [i for i in range(n_rows) if i != total_row]
        lines += [([(i, j) for i in inner_rows], (total_row, j)) for j in range(n_cols)]
    changed = True
    while changed:
        changed = False
        for inner, total in lines:
            members = [*inner, total]
            if sum(hidden[c] for c in members) != 1:
                continue
            shown = [c for c in inner if not hidden[c]]
            nonzero = [c for c in shown if values[c] > 0]
            pool = nonzero or shown
            pick = min(pool, key=lambda c: (values[c], c)) if pool else total
            if hidden[pick]:  # only the total left, and it is the hidden one: nothing to add
                continue
            hidden[pick] = True
            changed = True


def format_counts(table: T, count_columns: Sequence[str], marker: str = MARKER) -> T:
    """Render count columns as text for display: suppressed cells as ``marker`` ("*")."""
    import pandas as pd

    is_arrow = isinstance(table, pa.Table)
    frame = table.to_pandas() if is_arrow else table.copy()
    for column in count_columns:
        frame[column] = [marker if pd.isna(v) else str(int(v)) for v in frame[column]]
    if is_arrow:
        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame
