"""Row checks shared by the readers: each is a vectorised mask plus a reason, so a batch
becomes accepted rows and `Problem`s naming the first failing field of each bad row."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.sources.base import GB_LAT, GB_LON, Problem

_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


@dataclass
class Failure:
    """Rows failing one check: a boolean mask, the field, and a reason (may use {value})."""

    mask: np.ndarray
    field: str
    reason: str
    values: pa.Array | None = None  # the offending column, for the message


def blank(arr: pa.Array) -> np.ndarray:
    """True where a string cell is empty or only spaces."""
    return _np(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0))


def _np(mask) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def null_if_blank(arr: pa.Array) -> pa.Array:
    """Trimmed strings, empty → null."""
    t = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(pc.utf8_length(t), 0), pa.scalar(None, pa.string()), t)


def parse_float(arr: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Strings → float64; returns (values, blank mask, malformed mask)."""
    s = null_if_blank(arr)
    is_blank = _np(pc.is_null(s))
    ok = _np(pc.match_substring_regex(s, _NUMBER))
    bad = ~is_blank & ~ok
    clean = pc.if_else(pa.array(ok), s, pa.scalar(None, pa.string()))
    vals = pc.cast(pc.utf8_trim_whitespace(clean), pa.float64())
    return vals, is_blank, bad


def lonlat_failures(lon_raw: pa.Array, lat_raw: pa.Array, lon_field: str, lat_field: str
                    ) -> tuple[pa.Array, pa.Array, list[Failure]]:
    """Parse a longitude/latitude pair and list what is wrong with it.

    Both empty is a valid crime without location. One empty, non-numbers, points outside
    Great Britain and swapped pairs are failures.
    """
    lon, lon_blank, lon_bad = parse_float(lon_raw)
    lat, lat_blank, lat_bad = parse_float(lat_raw)
    lo = np.asarray(lon.to_numpy(zero_copy_only=False), dtype=float)
    la = np.asarray(lat.to_numpy(zero_copy_only=False), dtype=float)
    fails = [
        Failure(lon_bad, lon_field, "longitude {value!r} is not a number", lon_raw),
        Failure(lat_bad, lat_field, "latitude {value!r} is not a number", lat_raw),
        Failure(lon_blank ^ lat_blank,
                lat_field if lat_blank.any() else lon_field,
                "only one of longitude/latitude is given; give both or neither"),
    ]
    both = ~np.isnan(lo) & ~np.isnan(la)
    with np.errstate(invalid="ignore"):
        in_gb = (lo >= GB_LON[0]) & (lo <= GB_LON[1]) & (la >= GB_LAT[0]) & (la <= GB_LAT[1])
        swapped = (la >= GB_LON[0]) & (la <= GB_LON[1]) & (lo >= GB_LAT[0]) & (lo <= GB_LAT[1])
    fails.append(Failure(both & swapped, lat_field,
                         "latitude and longitude look swapped (latitude {value} is a British "
                         "longitude); swap the columns", lat_raw))
    fails.append(Failure(both & ~in_gb & ~swapped, lon_field,
                         "point ({value}) lies outside Great Britain; check the coordinates "
                         "are WGS84 longitude/latitude",
                         pc.binary_join_element_wise(pc.cast(lon, pa.string()),
                                                     pc.cast(lat, pa.string()), ", ")))
    return lon, lat, fails


def split(table: pa.Table, records: np.ndarray, failures: Sequence[Failure], file: str,
          raw_columns: Sequence[pa.Array]) -> tuple[pa.Table, np.ndarray, list[Problem]]:
    """Keep rows failing no check; turn the others into Problems (first failure wins)."""
    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    problems: list[Problem] = []
    for f in failures:
        new = f.mask & ~bad
        if not new.any():
            continue
        idx = np.flatnonzero(new)
        vals = (f.values.take(pa.array(idx)).to_pylist() if f.values is not None
                else [None] * len(idx))
        raws = _raw_rows(raw_columns, idx)
        for i, v, raw in zip(idx, vals, raws, strict=True):
            problems.append(Problem(file=file, line=int(records[i]), field=f.field,
                                    reason=f.reason.format(value=v), raw=raw))
        bad |= new
    if not bad.any():
        return table, records, problems
    keep = pa.array(~bad)
    problems.sort(key=lambda p: p.line or 0)
    return table.filter(keep), records[~bad], problems


def _raw_rows(columns: Sequence[pa.Array], idx: np.ndarray) -> list[str]:
    taken = [c.take(pa.array(idx)).to_pylist() for c in columns]
    out = []
    for row in zip(*taken, strict=True):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(["" if v is None else v for v in row])
        out.append(buf.getvalue())
    return out
