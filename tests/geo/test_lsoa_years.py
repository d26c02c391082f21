"""Tests for vru.geo.lsoa_years: boundary year of a code and the 2011 ↔ 2021 best-fit bridge."""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from vru.data import asset
from vru.geo import lsoa_years as ly


@pytest.fixture(scope="module")
def lookup() -> list[dict[str, str]]:
    """The shipped ONS rows, read independently of the module under test."""
    text = gzip.decompress(asset(*ly.LOOKUP).read_bytes()).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_lookup_is_the_published_one(lookup):
    assert len(lookup) == 34_753
    assert {r["LSOA11CD"] for r in lookup} == set(ly._years().codes11.to_pylist())


def test_years_of_real_codes():
    codes = ["E01016252",   # Bracknell Forest 001C: unchanged, in both years
             "E01032727",   # Bracknell Forest 001E: split in 2021, 2011 only
             "E01035235",   # Bracknell Forest 001G: its best fit
             "E01035234",   # Bracknell Forest 001F: born of the split, in no row
             "W01001960",   # a new Welsh 2021 code
             "E01099999", "S01000001", "", None]
    assert ly.lsoa_year(codes).tolist() == [2011, 2011, 2021, 2021, 2021, 0, 0, 0, 0]
    assert ly.in_2021(codes).tolist() == [True, False, True, True, True, False, False, False,
                                          False]


def test_every_lookup_code_has_its_year(lookup):
    c11 = [r["LSOA11CD"] for r in lookup]
    c21 = [r["LSOA21CD"] for r in lookup]
    assert (ly.lsoa_year(c11) == 2011).all()
    only21 = sorted(set(c21) - set(c11))
    assert len(only21) == 986 and (ly.lsoa_year(only21) == 2021).all()
    assert ly.in_2021(c21).all()


def test_to_2021_is_the_best_fit(lookup):
    c11 = [r["LSOA11CD"] for r in lookup]
    assert ly.to_2021(c11).to_pylist() == [r["LSOA21CD"] for r in lookup]
    assert ly.to_2021(["E01035234", None, "nonsense"]).to_pylist() == [None, None, None]


def test_to_2011_only_when_unique(lookup):
    parents = Counter(r["LSOA21CD"] for r in lookup)
    one = {r["LSOA21CD"]: r["LSOA11CD"] for r in lookup if parents[r["LSOA21CD"]] == 1}
    merged = sorted(c for c, n in parents.items() if n > 1)
    assert merged, "the lookup has merged 2021 LSOAs"
    codes = sorted(one) + merged + ["E01035234"]
    want = [one[c] for c in sorted(one)] + [None] * (len(merged) + 1)
    assert ly.to_2011(codes).to_pylist() == want
    assert ly.to_2011(["E01035235"]).to_pylist() == ["E01032727"]


def test_accepts_arrow_numpy_and_dictionary_input():
    codes = ["E01035234", "E01016252", None, "E01035234"]
    want = [2021, 2011, 0, 2021]
    for given in (pa.array(codes), pa.chunked_array([codes[:2], codes[2:]]),
                  pa.array(codes).dictionary_encode(), np.array(codes, dtype=object)):
        assert ly.lsoa_year(given).tolist() == want
    assert ly.lsoa_year([]).tolist() == []
    assert ly.to_2011(pa.array([], pa.string())).to_pylist() == []


def test_stated_columns_put_each_code_in_its_year():
    c11, c21 = ly.stated_columns(["E01016252", "E01032727", "E01035234", "E01099999", None])
    assert c11.to_pylist() == ["E01016252", "E01032727", None, "E01099999", None]
    assert c21.to_pylist() == ["E01016252", None, "E01035234", None, None]


def test_bridge_table_is_to_2011_for_sql():
    import duckdb

    t = ly.bridge_table()
    assert t.num_rows == len(set(t["lsoa21cd"].to_pylist()))
    assert ly.to_2011(t["lsoa21cd"]).to_pylist() == t["lsoa11cd"].to_pylist()
    con = duckdb.connect()
    con.register("bridge", t)
    got = con.execute("SELECT lsoa11cd FROM bridge WHERE lsoa21cd = 'E01035235'").fetchall()
    assert got == [("E01032727",)]
