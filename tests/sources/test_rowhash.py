"""Row hashes made from each distinct text's hash equal the engine's hash of the rows."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from vru.sources import police_uk, rowhash


def engine_hash(con: duckdb.DuckDBPyConnection, cols: dict[str, pa.Array]) -> np.ndarray:
    con.register("_t", pa.table(cols))
    with rowhash.ordered(con):
        got = con.sql(f"SELECT hash({', '.join(cols)}) AS h FROM _t").fetchnumpy()["h"]
    return np.asarray(got, dtype=np.uint64)


def dict_col(values: list[str | None]) -> pa.DictionaryArray:
    return pa.array(values, pa.string()).dictionary_encode()


def test_equals_the_engine_on_edge_cases():
    con = duckdb.connect()
    cols = {
        "a": dict_col(["x", "y", "x", "", "é—ü", "x"]),       # repeats, blank, non-ASCII
        "b": dict_col(["1", "1", "1", "1", "1", "1"]),          # one value
        "c": dict_col([None, "q", None, "q", "r", None]),      # nulls among values
        "d": dict_col([None] * 6),                              # all null, empty dictionary
    }
    got = rowhash.row_hashes(con, list(cols.values()))
    assert got.dtype == np.uint64
    assert np.array_equal(got, engine_hash(con, cols))
    # one column, and the order matters as the engine's does
    assert np.array_equal(rowhash.row_hashes(con, [cols["a"]]),
                          engine_hash(con, {"a": cols["a"]}))
    swapped = {"c": cols["c"], "a": cols["a"]}
    assert np.array_equal(rowhash.row_hashes(con, list(swapped.values())),
                          engine_hash(con, swapped))
    assert not np.array_equal(rowhash.row_hashes(con, list(swapped.values())),
                              rowhash.row_hashes(con, [cols["a"], cols["c"]]))


def test_street_rows_keep_the_hashes_and_keys_the_lake_already_holds(tmp_path):
    """A lake made by an earlier version holds these row hashes and ASB keys: a change to
    either would turn every re-ingested row into an update or a new crime. Fingerprints of
    the shipped months (64,866 rows) as the engine-hash reader made them (commit ca9a1e6)."""
    from vru.data import police_uk_months
    from vru.sources.inputs import expand

    inputs = [police_uk.CsvInput(i.path, i.name, police_uk.inspect_bytes(i.path))
              for i in expand(police_uk_months(), tmp_path, (".csv",))]
    rows, _, problems, _ = police_uk.read_street(duckdb.connect(), inputs)
    assert (rows.num_rows, len(problems)) == (64_866, 0)
    hashes = np.sort(rows["row_hash"].to_numpy())
    refs = sorted(rows["source_ref"].to_pylist())
    assert hashlib.sha256(hashes.tobytes()).hexdigest()[:16] == "a7d4b980d7c155ac"
    assert hashlib.sha256("\n".join(refs).encode()).hexdigest()[:16] == "10822756d29402e4"


@pytest.mark.parametrize("width", [8, 24])
def test_digests_are_md5_of_the_joined_texts(width):
    con = duckdb.connect()
    t = pa.table({"a": ["x", None, "é"], "b": dict_col(["1", "2", None])})
    got = rowhash.digests(con, t, width).to_pylist()
    want = [hashlib.md5("\x1f".join(v or "" for v in row).encode()).hexdigest()[:width]
            for row in zip(["x", None, "é"], ["1", "2", None], strict=True)]
    assert got == want
