"""Vectorised parsers and checks for text columns: dates, times, flags, numbers, coordinates.

Every parser takes a column of strings (as read by `vru.sources.csvfile`) and returns the
typed values plus a boolean ``bad`` mask: ``True`` where the text is not empty but cannot be
read. Empty or blank text is a null value, never bad — whether a value is required is the
reader's decision. The happy path runs in Arrow and NumPy kernels; Python runs only to word
the reasons of the rows that failed (`Faults`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.sources.base import GB_EASTING, GB_LAT, GB_LON, GB_NORTHING, Problem
from vru.sources.canonical import single

TS = pa.timestamp("us")
DATETIME_FORMATS = "YYYY-MM-DD HH:MM[:SS], YYYY-MM-DDTHH:MM[:SS] or DD/MM/YYYY HH:MM[:SS]"
DATE_FORMATS = "YYYY-MM-DD or DD/MM/YYYY"
EARLIEST_YEAR = 1900

_TIME = r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d{1,6})?)?)?"
_ISO = r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})" + _TIME + "$"
_UK = r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})" + _TIME + "$"
_ISO_FIXED = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?$"
_UK_FIXED = r"^\d{2}/\d{2}/\d{4}(?: \d{2}:\d{2}(?::\d{2})?)?$"
_HMS = {"H": (11, 13), "M": (14, 16), "S": (17, 19)}
_ISO_POS = {"y": (0, 4), "m": (5, 7), "d": (8, 10), **_HMS}
_UK_POS = {"d": (0, 2), "m": (3, 5), "y": (6, 10), **_HMS}
_NUMBER = r"^[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)$"  # 1,234.5  .5  -3
_INTEGER = r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)$"
_TRUE = ["y", "yes", "true", "t", "1"]
_FALSE = ["n", "no", "false", "f", "0"]

Texts = pa.Array | pa.ChunkedArray


@dataclass(frozen=True)
class Column:
    """Typed values of a text column and where the text could not be read."""

    values: pa.Array  # null where the text was empty or bad
    bad: np.ndarray  # bool, True where the text is non-empty but unreadable


@dataclass(frozen=True)
class TimeColumn(Column):
    """Parsed date-times, knowing which values carried a time of day."""

    has_time: np.ndarray  # bool, True where the text gave hours and minutes


def _strings(texts: Texts) -> pa.Array:
    """One contiguous, trimmed string array (nulls kept)."""
    texts = single(texts)
    if not pa.types.is_string(texts.type) and not pa.types.is_large_string(texts.type):
        texts = texts.cast(pa.string())
    return pc.utf8_trim_whitespace(texts)


def mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Boolean Arrow array → NumPy bool, null as False."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def column(t: pa.Table, name: str) -> pa.Array:
    """Column ``name`` of a text batch as one trimmed string array; all empty if absent."""
    if name in t.column_names:
        return pc.utf8_trim_whitespace(single(t[name]))
    return pa.array([""] * t.num_rows, type=pa.string())


def null_if_blank(texts: Texts) -> pa.Array:
    """Trimmed text with empty values as null."""
    s = _strings(texts)
    return pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)


def is_blank(texts: Texts) -> np.ndarray:
    """True where the text is null, empty or only spaces."""
    s = _strings(texts)
    return mask(pc.or_kleene(pc.is_null(s), pc.equal(s, "")))


def _layout(s: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start offset, byte length of each string, and the data bytes, without copying strings."""
    bufs = s.buffers()
    off_type = np.int64 if pa.types.is_large_string(s.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=off_type)[s.offset:s.offset + len(s) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(1, np.uint8)
    if not len(data):
        data = np.zeros(1, np.uint8)
    return offsets[:-1], np.diff(offsets), data


def _ints(field: pa.Array) -> np.ndarray:
    """Digits (``""`` for an unmatched optional group, null for no match) → int64, 0 if absent."""
    filled = pc.if_else(pc.equal(field, ""), "0", field)
    return pc.fill_null(pc.cast(filled, pa.int64()), 0).to_numpy(zero_copy_only=False)


def _year_starts() -> np.ndarray:
    """Days from 1970-01-01 to 1 January of each year 0..10000 (proleptic Gregorian)."""
    y = np.arange(0, 10001, dtype=np.int64)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    starts = np.concatenate([[0], np.cumsum(365 + leap)])[:-1]
    return starts - starts[1970]


_YEAR_START = _year_starts()
_MONTH_START = np.array([  # days before each month, common and leap years
    [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334],
    [0, 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335],
], dtype=np.int64)


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of dates with year 0..9999 (out-of-range parts are clipped)."""
    y = np.clip(y, 0, 9999)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return _YEAR_START[y] + _MONTH_START[leap.astype(np.int64), np.clip(m, 0, 12)] + d - 1


def _days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    dim = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    return dim[np.clip(m, 0, 12)] + ((m == 2) & leap)


def parse_datetime(texts: Texts, *, date_only: bool = True) -> TimeColumn:
    """Parse date-times written ``YYYY-MM-DD HH:MM[:SS]``, with ``T``, or ``DD/MM/YYYY HH:MM``.

    Parameters
    ----------
    texts
        Strings; surrounding spaces are ignored, empty text gives null.
    date_only
        Accept a date without a time (midnight, ``has_time`` False). When False such a value
        is bad.

    Returns
    -------
    TimeColumn
        ``values`` as ``timestamp[us]`` (naive local time, as written); ``bad`` where the text
        matches no format or names an impossible date or time (30 February, 25:00).
    """
    s = _strings(texts)
    n = len(s)
    parts = {k: np.zeros(n, dtype=np.int64) for k in ("y", "m", "d", "H", "M", "S")}
    blank = is_blank(s)
    matched = blank.copy()  # blank rows need no parsing (they are null, not bad)
    has_time = np.zeros(n, dtype=bool)
    # fast path: zero-padded fixed-width layouts, digits read straight from the bytes
    starts, lengths, data = _layout(s)
    for pattern, pos in ((_ISO_FIXED, _ISO_POS), (_UK_FIXED, _UK_POS)):
        if matched.all():
            break
        idx = np.flatnonzero(mask(pc.match_substring_regex(s, pattern)) & ~matched)
        if len(idx):
            at = starts[idx]
            length = lengths[idx]
            for k, (a, b) in pos.items():
                val = np.zeros(len(idx), dtype=np.int64)
                present = length >= b
                for j in range(a, b):
                    digit = data[np.where(present, at + j, 0)].astype(np.int64) - 48
                    val = val * 10 + digit
                parts[k][idx] = np.where(present, val, 0)
            has_time[idx] = length > 10
            matched[idx] = True
    # slow path for the rest: single digits, fractions of a second, or not a date at all
    rest = np.flatnonzero(~matched)
    if len(rest):
        sub = s.take(pa.array(rest))
        for pattern in (_ISO, _UK):
            got = pc.extract_regex(sub, pattern)
            ok = mask(got.is_valid()) & ~matched[rest]
            at = rest[ok]
            for k in parts:
                parts[k][at] = _ints(got.field(k))[ok]
            has_time[at] = mask(pc.not_equal(got.field("H"), ""))[ok]
            matched[at] = True
    y, m, d = parts["y"], parts["m"], parts["d"]
    hh, mi, ss = parts["H"], parts["M"], parts["S"]
    matched &= ~blank
    valid = (matched & (m >= 1) & (m <= 12) & (d >= 1) & (d <= _days_in_month(y, m))
             & (hh <= 23) & (mi <= 59) & (ss <= 59))
    if not date_only:
        valid &= has_time
    days = _days_from_civil(y, m, d)
    micros = ((days * 86400 + hh * 3600 + mi * 60 + ss) * 1_000_000).astype(np.int64)
    values = pa.array(micros, type=TS, mask=~valid)
    return TimeColumn(values=values, bad=~valid & ~blank, has_time=has_time & valid)


def parse_date(texts: Texts) -> Column:
    """Parse dates ``YYYY-MM-DD`` or ``DD/MM/YYYY`` (a trailing time, as Excel writes, is dropped).

    Returns ``date32`` values and the ``bad`` mask (unreadable or impossible dates).
    """
    t = parse_datetime(texts)
    days = pc.cast(pc.floor_temporal(t.values, unit="day"), pa.date32())
    return Column(values=days, bad=t.bad)


def parse_flag(texts: Texts) -> Column:
    """Parse yes/no flags: ``Y, N, yes, no, true, false, T, F, 1, 0`` in any case → bool."""
    s = pc.utf8_lower(_strings(texts))
    yes = mask(pc.is_in(s, pa.array(_TRUE)))
    no = mask(pc.is_in(s, pa.array(_FALSE)))
    blank = is_blank(s)
    ok = yes | no
    return Column(values=pa.array(yes, type=pa.bool_(), mask=~ok), bad=~ok & ~blank)


def _numeric(texts: Texts, pattern: str, typ: pa.DataType) -> Column:
    s = _strings(texts)
    blank = is_blank(s)
    if blank.all():
        return Column(values=pa.nulls(len(s), typ), bad=np.zeros(len(s), dtype=bool))
    ok = mask(pc.match_substring_regex(s, pattern))
    clean = pc.replace_substring(pc.if_else(pa.array(ok), s, pa.scalar(None, pa.string())),
                                 ",", "")
    if typ == pa.int64():
        # guard int64 overflow: at most 18 digits
        ok &= ~mask(pc.greater(pc.utf8_length(clean), 19))
        clean = pc.if_else(pa.array(ok), clean, pa.scalar(None, pa.string()))
    values = pc.cast(clean, typ)
    return Column(values=values, bad=~ok & ~blank)


def parse_number(texts: Texts) -> Column:
    """Parse decimal numbers, allowing thousands separators (``"1,234.5"``) → float64."""
    return _numeric(texts, _NUMBER, pa.float64())


def parse_integer(texts: Texts) -> Column:
    """Parse whole numbers, allowing thousands separators (``"12,345"``) → int64."""
    return _numeric(texts, _INTEGER, pa.int64())


def _ts_numpy(ts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps → (int64 microseconds, valid mask)."""
    ts = single(ts)
    valid = mask(ts.is_valid())
    raw = pc.fill_null(ts.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    return raw, valid


def future_mask(ts: pa.Array | pa.ChunkedArray, now: datetime | None = None) -> np.ndarray:
    """True where a timestamp (or date) is after ``now`` plus a day (slack for time zones)."""
    now = now or datetime.now()
    if pa.types.is_date32(ts.type):
        ts = ts.cast(TS)
    limit = int((now + timedelta(days=1) - datetime(1970, 1, 1)) / timedelta(microseconds=1))
    raw, valid = _ts_numpy(ts)
    return valid & (raw > limit)


def too_early_mask(ts: pa.Array | pa.ChunkedArray, year: int = EARLIEST_YEAR) -> np.ndarray:
    """True where a timestamp (or date) falls before 1 January of ``year`` (a typing slip)."""
    if pa.types.is_date32(ts.type):
        ts = ts.cast(TS)
    limit = int((datetime(year, 1, 1) - datetime(1970, 1, 1)) / timedelta(microseconds=1))
    raw, valid = _ts_numpy(ts)
    return valid & (raw < limit)


def month_of(ts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``YYYY-MM`` of each timestamp (null stays null); formats each distinct month once."""
    ts = single(ts)
    d = pc.dictionary_encode(pc.floor_temporal(ts, unit="month"))
    return pc.take(pc.strftime(d.dictionary, format="%Y-%m"), d.indices)


def _floats(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    a = single(a)
    return pc.cast(a, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)


def _within(x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (x >= bounds[0]) & (x <= bounds[1])


def check_lonlat(lon: pa.Array | pa.ChunkedArray,
                 lat: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Check WGS84 points against Great Britain's extent.

    Returns
    -------
    swapped, outside
        ``swapped``: the latitude lies in GB's longitude range and the longitude in its
        latitude range. ``outside``: any other point not inside GB. Rows where either
        coordinate is null are in neither.
    """
    x, y = _floats(lon), _floats(lat)
    present = ~np.isnan(x) & ~np.isnan(y)
    inside = _within(x, GB_LON) & _within(y, GB_LAT)
    swapped = present & ~inside & _within(y, GB_LON) & _within(x, GB_LAT)
    return swapped, present & ~inside & ~swapped


def check_bng(easting: pa.Array | pa.ChunkedArray,
              northing: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Check British National Grid points: ``(swapped, outside)`` as in `check_lonlat`.

    A pair is taken as swapped when the easting is beyond GB's eastings but the pair fits
    once exchanged (e.g. easting 1,000,000 with northing 400,000).
    """
    e, n = _floats(easting), _floats(northing)
    present = ~np.isnan(e) & ~np.isnan(n)
    inside = _within(e, GB_EASTING) & _within(n, GB_NORTHING)
    swapped = present & ~inside & _within(n, GB_EASTING) & _within(e, GB_NORTHING)
    return swapped, present & ~inside & ~swapped


Reason = str | Callable[[int], str]


def begin_checks(t: pa.Table, columns: Sequence[str], required: Sequence[str]
                 ) -> tuple[Faults, dict[str, pa.Array], Callable[[str], Reason]]:
    """What every reader's row checks start from: a `Faults` for the batch, its columns as
    trimmed text, the required-value checks already added, and ``quote(name)``, a reason
    part that quotes a row's value of column ``name``."""
    f = Faults(t.num_rows)
    col = {name: column(t, name) for name in columns}

    def quote(name: str) -> Callable[[int], str]:
        return lambda i: repr(text_at(col[name], i))

    for name in required:
        f.add(is_blank(col[name]), name, f"{name} is empty; it is required")
    return f, col, quote


def coordinate_pair(f: Faults, x_text: pa.Array, y_text: pa.Array, x_name: str, y_name: str,
                    system: str = "lonlat") -> tuple[pa.Array, pa.Array]:
    """Parse one coordinate pair and add its checks to ``f``.

    Both empty is a valid row without location. Non-numbers, one of the two missing,
    swapped pairs and points outside Great Britain fail, naming the fields. ``system`` is
    ``"lonlat"`` (WGS84, x = longitude) or ``"bng"`` (British National Grid metres).
    """
    lonlat = system == "lonlat"
    check, unit = (check_lonlat, "degrees") if lonlat else (check_bng, "metres")
    pair = "latitude and longitude" if lonlat else "easting and northing"
    x, y = parse_number(x_text), parse_number(y_text)
    for name, text, parsed in ((x_name, x_text, x), (y_name, y_text, y)):
        f.add(parsed.bad, name,
              lambda i, n=name, t=text: f"{n} {text_at(t, i)!r} is not a number")
    both = f"{x_name}/{y_name}"
    f.add(is_blank(x_text) != is_blank(y_text), both,
          f"only one of {x_name} and {y_name} is given: give both, or neither when the row "
          "has no location")
    swapped, outside = check(x.values, y.values)
    f.add(swapped, both, lambda i: (f"{pair} look swapped ({x_name} {text_at(x_text, i)}, "
                                    f"{y_name} {text_at(y_text, i)}); swap the columns"))
    f.add(outside, both, lambda i: (f"coordinates outside Great Britain ({x_name} "
                                    f"{text_at(x_text, i)}, {y_name} {text_at(y_text, i)}): "
                                    f"check the {unit} and the coordinate system"))
    return x.values, y.values


class Faults:
    """Row checks of one batch, in priority order; words the first failure of each bad row.

    Add masks with `add` (vectorised); only rows with a failure cost Python time, when
    `problems` words them.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._first = np.full(n, -1, dtype=np.int32)
        self._checks: list[tuple[str | None, Reason]] = []

    def add(self, mask: np.ndarray, field: str | None, reason: Reason) -> None:
        """Record a check: rows where ``mask`` is True fail with ``reason`` naming ``field``.

        ``reason`` is a sentence, or a function of the row index giving one (so it can quote
        the value).
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.n,):
            raise ValueError(f"mask of {mask.shape} for {self.n} rows")
        k = len(self._checks)
        self._checks.append((field, reason))
        self._first[mask & (self._first < 0)] = k

    @property
    def bad(self) -> np.ndarray:
        """True for rows that failed any check."""
        return self._first >= 0

    def problems(self, file: str, lines: np.ndarray, table: pa.Table,
                 columns: Sequence[str] | None = None) -> list[Problem]:
        """One `Problem` per failing row (first failed check), quoting the row from ``table``."""
        idx = np.flatnonzero(self._first >= 0)
        if not len(idx):
            return []
        cols = list(columns) if columns is not None else table.column_names
        sub = table.select(cols).take(pa.array(idx)).to_pylist()
        out = []
        for j, i in enumerate(idx):
            field, reason = self._checks[self._first[i]]
            text = reason(int(i)) if callable(reason) else reason
            out.append(Problem(file=file, line=int(lines[i]), field=field, reason=text,
                               raw=join_row([sub[j][c] for c in cols])))
        return out


def join_row(values: Sequence[object]) -> str:
    """Re-join field values as one CSV line (for the quarantine's ``raw``)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(["" if v is None else v for v in values])
    return buf.getvalue()


def text_at(texts: Texts, i: int) -> str:
    """The text of row ``i`` (for a reason), shortened if long."""
    v = texts[i].as_py()
    v = "" if v is None else str(v)
    return v if len(v) <= 60 else v[:57] + "..."
