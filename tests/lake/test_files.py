"""Appends written by vru itself: partitions, encodings kept, statistics, one commit."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable

from vru.lake.store import Store
from vru.lake.tables import TableSpec
from vru.sources.canonical import repeat

SCHEMA = pa.schema([("source", pa.string()), ("month", pa.string()), ("n", pa.int64())])
SPEC = TableSpec("t", SCHEMA, key=("n",), partition_by=("source",))


def test_append_splits_partitions_and_reads_back_plain(tmp_path):
    store = Store(tmp_path)
    rows = pa.table({"source": ["a", None, "a", "b"], "month": ["2018-01"] * 4,
                     "n": [1, 2, 3, 4]})
    v0 = store.write(SPEC, rows)
    encoded = pa.table({"source": repeat("a", 2), "month": repeat("2018-02", 2), "n": [5, 6]})
    v1 = store.write(SPEC, encoded)
    assert (v0, v1) == (0, 1)
    dt = DeltaTable(str(store.path("t")))
    back = dt.to_pyarrow_table().sort_by("n")
    assert back.schema.field("month").type == pa.string()  # the dictionary reads as strings
    assert back["n"].to_pylist() == [1, 2, 3, 4, 5, 6]
    assert back["source"].to_pylist() == ["a", None, "a", "b", "a", "a"]
    actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
    assert sorted(a["num_records"] for a in actions) == [1, 1, 2, 2]
    files = {a["path"].split("/")[0] for a in actions}
    assert files == {"source=a", "source=b", "source=__HIVE_DEFAULT_PARTITION__"}
    by_n = {(a["min.n"], a["max.n"]) for a in actions}  # statistics from each file's footer
    assert by_n == {(1, 3), (2, 2), (4, 4), (5, 6)}
