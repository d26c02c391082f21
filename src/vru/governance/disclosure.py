"""Statistical disclosure control of count tables: small-cell suppression and rounding.

Profiles: "nhs" (counts 1-7 suppressed, shown as ``*``; others rounded to the nearest 5),
"ons" (the 10-5 rule: counts 1-9 suppressed, others rounded to 5) and "none" (analysts see
counts as they are). Zero is shown: it discloses no individual. Where a table carries totals
(a total column, a total row), secondary suppression makes sure no row or column has exactly
one hidden cell, which the total would otherwise give away by subtraction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from vru.governance.errors import DisclosureError

T = TypeVar("T", pd.DataFrame, pa.Table)


@dataclass(frozen=True)
class Profile:
    """A disclosure rule: counts 1..``max_suppressed`` hidden, the rest rounded."""

    name: str
    max_suppressed: int
    round_to: int


PROFILES = {
    "nhs": Profile("nhs", max_suppressed=7, round_to=5),
    "ons": Profile("ons", max_suppressed=9, round_to=5),
    "none": Profile("none", max_suppressed=0, round_to=1),
}
MARKER = "*"


def apply(table: T, profile: str, count_columns: Sequence[str],
          group_columns: Sequence[str] = (), *, total_column: str | None = None,
          total_row: str | None = None) -> T:
    """Put a table of counts through disclosure control.

    Parameters
    ----------
    table
        A pandas DataFrame or Arrow table: group columns label the rows, count columns hold
        non-negative whole numbers.
    profile
        "nhs", "ons" or "none".
    count_columns
        The columns of counts (the table's cells).
    group_columns
        The columns that label rows.
    total_column
        A count column holding each row's total: rows are then protected against
        differencing.
    total_row
        The label, in the first group column, of the row holding column totals: columns are
        then protected against differencing.

    Returns
    -------
    Same type as ``table``
        Count columns become nullable integers: null where suppressed (use `format_counts`
        to show ``*``), rounded elsewhere. Other columns are unchanged.
    """
    if profile not in PROFILES:
        raise DisclosureError(f"unknown disclosure profile {profile!r}; profiles are "
                              f"{', '.join(PROFILES)}")
    rule = PROFILES[profile]
    is_arrow = isinstance(table, pa.Table)
    frame = table.to_pandas() if is_arrow else table.copy()
    counts = list(count_columns)
    missing = [c for c in [*counts, *group_columns] if c not in frame.columns]
    if missing:
        raise DisclosureError(f"column(s) not in the table: {', '.join(missing)}")
    if total_column is not None and total_column not in counts:
        raise DisclosureError(f"total_column {total_column!r} must be one of the count columns")
    if total_row is not None and not group_columns:
        raise DisclosureError("total_row needs group_columns: it is a label in the first one")
    values = _counts(frame, counts)
    known = ~np.isnan(values)
    if rule.max_suppressed == 0:
        hidden = ~known
    else:
        hidden = ~known | ((values >= 1) & (values <= rule.max_suppressed))
        total_rows = (np.asarray(frame[group_columns[0]].astype(str) == str(total_row))
                      if total_row is not None else np.zeros(len(frame), bool))
        if total_row is not None and total_rows.sum() != 1:
            raise DisclosureError(f"expected exactly one row labelled {total_row!r} in "
                                  f"{group_columns[0]!r}, found {int(total_rows.sum())}")
        total_col = counts.index(total_column) if total_column is not None else None
        _secondary(values, hidden, total_col, int(np.argmax(total_rows))
                   if total_row is not None else None)
    rounded = np.where(known, np.floor((np.nan_to_num(values) + rule.round_to / 2)
                                       / rule.round_to) * rule.round_to, 0)
    if rule.round_to == 1:
        rounded = np.nan_to_num(values)
    for j, column in enumerate(counts):
        frame[column] = pd.array(np.where(hidden[:, j], 0, rounded[:, j]).astype("int64"),
                                 dtype="Int64")
        frame.loc[hidden[:, j], column] = pd.NA
    if is_arrow:
        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame


def _counts(frame: pd.DataFrame, counts: list[str]) -> np.ndarray:
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
    is_arrow = isinstance(table, pa.Table)
    frame = table.to_pandas() if is_arrow else table.copy()
    for column in count_columns:
        frame[column] = [marker if pd.isna(v) else str(int(v)) for v in frame[column]]
    if is_arrow:
        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame
