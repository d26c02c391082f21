"""LSOA codes across boundary years: which year a code belongs to, and the 2011 ↔ 2021 bridge.

Built on the ONS best-fit lookup shipped in ``data/geography/lsoa-years/`` (LSOA 2011 →
LSOA 2021 → LAD 2022, England and Wales, 34,753 rows: one per 2011 LSOA). Every function is
vectorised: it works on the distinct codes of its input only (a street file holds a few
thousand among a million rows) and takes the answers back per row.

Conventions (docs/formats.md):

- **2011 codes** are the lookup's ``LSOA11CD``. **2021 codes** are its ``LSOA21CD`` plus the
  2021 LSOAs born of a split, which are the best fit of no 2011 LSOA and so appear in no row
  (E01035234 "Bracknell Forest 001F"): ONS numbered every new 2021 LSOA above the highest
  2011 code of its country, so a well-formed code above that and not above the lookup's
  highest 2021 code of the country is a 2021 code. Most codes (33,642) are both: the LSOA
  did not change.
- `to_2021` is the best fit: every 2011 LSOA has one.
- `to_2011` answers only when one 2011 LSOA has the 2021 code as its best fit. A merged 2021
  LSOA is the best fit of several 2011 LSOAs and one of them would be a guess, and a 2021
  LSOA born of a split is the best fit of none: both give None, which leaves the 2011 LSOA
  to the point (point-in-polygon), or unknown where the row has no point.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from vru.data import asset

LOOKUP = ("geography", "lsoa-years", "lsoa11-lsoa21-lad22-best-fit.csv.gz")

Codes = pa.Array | pa.ChunkedArray | np.ndarray | list[str | None] | tuple[str | None, ...]


@dataclass(frozen=True)
class _Years:
    """The lookup, indexed for vectorised answers."""

    codes11: pa.Array        # LSOA11CD, one per row
    best21: pa.Array         # its best-fit LSOA21CD
    codes21: pa.Array        # distinct LSOA21CD
    only11: pa.Array         # for each of codes21: its one 2011 LSOA, or null (0 or 2+)
    new_range: dict[str, tuple[int, int]]  # country letter → numbers of 2021-only codes
    # membership of the distinct codes of a part: Arrow's is_in would hash the 34,753 codes
    # again on every call, ten times the cost of looking a part's few thousand up here
    set11: frozenset[str]
    set21: frozenset[str]


@lru_cache(maxsize=1)
def _years() -> _Years:
    t = pcsv.read_csv(asset(*LOOKUP), convert_options=pcsv.ConvertOptions(
        include_columns=["LSOA11CD", "LSOA21CD"],
        column_types={"LSOA11CD": pa.string(), "LSOA21CD": pa.string()}))
    c11 = t["LSOA11CD"].combine_chunks()
    c21 = t["LSOA21CD"].combine_chunks()
    counts = pc.value_counts(c21)  # no group_by: it imports pandas, a second of start-up
    distinct21, n = counts.field("values"), counts.field("counts")
    first = c11.take(pc.index_in(distinct21, value_set=c21))
    only11 = pc.if_else(pc.equal(n, 1), first, pa.scalar(None, pa.string()))
    ranges = {}
    for country in ("E", "W"):
        n11 = _numbers(pc.filter(c11, pc.starts_with(c11, country + "01")))
        n21 = _numbers(pc.filter(c21, pc.starts_with(c21, country + "01")))
        ranges[country] = (int(n11.max()), int(n21.max()))
    return _Years(c11, c21, distinct21, only11, ranges, frozenset(c11.to_pylist()),
                  frozenset(distinct21.to_pylist()))


def _numbers(codes: pa.Array) -> np.ndarray:
    """The six digits of well-formed LSOA codes, as integers."""
    return np.asarray(pc.cast(pc.utf8_slice_codeunits(codes, 3, 9), pa.int64()))


def _distinct(codes: Codes) -> tuple[pa.Array, pa.Array]:
    """(distinct codes, each input's position among them; null for a null input)."""
    arr = codes if isinstance(codes, pa.Array | pa.ChunkedArray) else pa.array(
        np.asarray(codes, dtype=object) if isinstance(codes, np.ndarray) else codes,
        pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], pa.string())
    if pa.types.is_dictionary(arr.type):
        return arr.dictionary.cast(pa.string()), arr.indices
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    enc = pc.dictionary_encode(arr)
    return enc.dictionary, enc.indices


def _member(uniq: pa.Array, known: frozenset[str]) -> np.ndarray:
    """Which of the distinct codes ``uniq`` are in ``known`` (null: no)."""
    return np.fromiter((c in known for c in uniq.to_pylist()), dtype=bool, count=len(uniq))


def _year_of_distinct(uniq: pa.Array) -> np.ndarray:
    y = _years()
    is11 = _member(uniq, y.set11)
    is21 = _member(uniq, y.set21)
    # 2021 LSOAs born of a split are in no row of the lookup: known by their number
    shaped = np.asarray(pc.fill_null(pc.match_substring_regex(uniq, r"^[EW]01\d{6}$"), False))
    new = np.zeros(len(uniq), dtype=bool)
    if shaped.any():
        cand = pc.filter(uniq, pa.array(shaped))
        num = _numbers(cand)
        first = np.asarray(pc.utf8_slice_codeunits(cand, 0, 1).to_pylist(), dtype=object)
        hit = np.zeros(len(cand), dtype=bool)
        for country, (top11, top21) in y.new_range.items():
            hit |= (first == country) & (num > top11) & (num <= top21)
        new[np.flatnonzero(shaped)] = hit
    return np.where(is11, 2011, np.where(is21 | new, 2021, 0)).astype(np.int16)


def lsoa_year(codes: Codes) -> np.ndarray:
    """The boundary year of each LSOA code: 2011, 2021 (a 2021-only code) or 0 (unknown).

    A code that exists in both years (the LSOA did not change) is 2011: the older year is
    the one every stated code of a pre-2023 file belongs to, and the area is the same.

    Parameters
    ----------
    codes
        LSOA codes (Arrow string or dictionary array, numpy array or list); null → 0.

    Returns
    -------
    numpy.ndarray
        ``int16``, one per code.
    """
    uniq, idx = _distinct(codes)
    per = _year_of_distinct(uniq)
    if len(idx) == 0:
        return np.zeros(0, dtype=np.int16)
    at = np.asarray(pc.fill_null(idx, -1).cast(pa.int64()))
    return np.where(at >= 0, per[np.maximum(at, 0)] if len(per) else 0, 0).astype(np.int16)


def in_2021(codes: Codes) -> np.ndarray:
    """Whether each code is a 2021 LSOA code (unchanged 2011 codes included).

    Parameters
    ----------
    codes
        LSOA codes; null → False.

    Returns
    -------
    numpy.ndarray
        ``bool``, one per code.
    """
    y = _years()
    uniq, idx = _distinct(codes)
    per = _member(uniq, y.set21) | (_year_of_distinct(uniq) == 2021)
    if len(idx) == 0:
        return np.zeros(0, dtype=bool)
    at = np.asarray(pc.fill_null(idx, -1).cast(pa.int64()))
    return np.where(at >= 0, per[np.maximum(at, 0)] if len(per) else False, False)


def _map(codes: Codes, keys: pa.Array, values: pa.Array) -> pa.Array:
    uniq, idx = _distinct(codes)
    found = pc.index_in(uniq, value_set=keys)
    answers = values.take(found)  # a null position takes null
    return answers.take(idx)


def to_2021(codes11: Codes) -> pa.Array:
    """The best-fit 2021 LSOA of each 2011 LSOA code (null for a code not in 2011).

    Parameters
    ----------
    codes11
        2011 LSOA codes.

    Returns
    -------
    pyarrow.Array
        Strings, one per code.
    """
    y = _years()
    return _map(codes11, y.codes11, y.best21)


def to_2011(codes21: Codes) -> pa.Array:
    """The 2011 LSOA whose best fit is each 2021 code, where exactly one is.

    A merged 2021 LSOA (the best fit of several 2011 LSOAs) and one born of a split (the
    best fit of none, e.g. E01035234) give null: the 2011 LSOA is then left to the point.

    Parameters
    ----------
    codes21
        2021 LSOA codes.

    Returns
    -------
    pyarrow.Array
        Strings, one per code; null where there is no single answer.
    """
    y = _years()
    return _map(codes21, y.codes21, y.only11)


def stated_columns(codes: Codes) -> tuple[pa.Array, pa.Array]:
    """Where stated LSOA codes go: the ``(lsoa11cd, lsoa21cd)`` columns of a row.

    A 2011 code fills ``lsoa11cd``, and ``lsoa21cd`` too when it is also a 2021 code (the
    LSOA did not change, so the same area has the same code in both years). A 2021-only
    code fills ``lsoa21cd`` alone: its 2011 LSOA comes from the point, or the bridge. A code
    of neither year is kept in ``lsoa11cd`` as stated (the lake flags it when the point
    falls elsewhere).

    Parameters
    ----------
    codes
        Stated LSOA codes; null stays null in both.

    Returns
    -------
    (pyarrow.Array, pyarrow.DictionaryArray)
        One value per code each. ``lsoa11cd`` is ``codes`` itself (as strings) when no code
        is 2021-only, as in every file before 2023; ``lsoa21cd`` is dictionary-encoded over
        the distinct codes (it reads back as strings), so no string is copied per row.
    """
    y = _years()
    uniq, idx = _distinct(codes)
    year = _year_of_distinct(uniq)
    both = _member(uniq, y.set21)
    only21 = year == 2021
    given = _strings(codes)
    if only21.any():
        col11 = pc.if_else(pc.take(pa.array(only21), idx), pa.scalar(None, pa.string()), given)
    else:
        col11 = given
    # a row's index masked where its code has no 2021 column
    idx = idx.cast(pa.int32())
    fill21 = pc.take(pa.array(only21 | both), idx)
    indices = pc.if_else(fill21, idx, pa.scalar(None, pa.int32()))
    return col11, pa.DictionaryArray.from_arrays(indices, uniq)


def _strings(codes: Codes) -> pa.Array:
    """``codes`` as one plain string array."""
    if isinstance(codes, pa.ChunkedArray):
        codes = (codes.combine_chunks() if codes.num_chunks
                 else pa.array([], codes.type))
    if not isinstance(codes, pa.Array):
        codes = pa.array(np.asarray(codes, dtype=object) if isinstance(codes, np.ndarray)
                         else codes, pa.string())
    return codes if pa.types.is_string(codes.type) else codes.cast(pa.string())


def bridge_table() -> pa.Table:
    """`to_2011` as a table for SQL joins: ``lsoa21cd``, ``lsoa11cd`` (only unique answers).

    Returns
    -------
    pyarrow.Table
        One row per 2021 code that is the best fit of exactly one 2011 LSOA.
    """
    y = _years()
    t = pa.table({"lsoa21cd": y.codes21, "lsoa11cd": y.only11})
    return t.filter(pc.is_valid(t["lsoa11cd"]))
