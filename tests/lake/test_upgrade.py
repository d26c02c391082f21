"""A lake written before a canonical column existed takes new months and replaced months."""

from __future__ import annotations

import gzip

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from vru.data import police_uk_months
from vru.lake.loaders import ingest_police_uk
from vru.lake.store import Store
from vru.service import open_session


def _downgrade(store: Store) -> None:
    """Rewrite incidents as an older vru wrote it: without lsoa21cd."""
    path = str(store.path("incidents"))
    old = DeltaTable(path).to_pyarrow_table()
    write_deltalake(path, old.drop_columns(["lsoa21cd"]), mode="overwrite",
                    schema_mode="overwrite", partition_by=["source"])


def test_an_older_table_gains_the_column_and_takes_replaced_months(tmp_path):
    home = tmp_path / "home"
    months = police_uk_months()
    ingest_police_uk(home, [months[0]])
    store = Store(home)
    _downgrade(store)
    assert "lsoa21cd" not in DeltaTable(str(store.path("incidents"))).schema().to_arrow().names
    # the same month again, one row fewer: a replace, which needs one schema
    text = gzip.decompress(months[0].read_bytes()).decode("utf-8").splitlines(keepends=True)
    shorter = tmp_path / months[0].name.removesuffix(".gz")
    shorter.write_text("".join(text[:-1]), encoding="utf-8")
    replaced = ingest_police_uk(home, [shorter]).summary()
    assert replaced["removed"] == 1
    added = ingest_police_uk(home, [months[1]]).summary()
    assert added["added"] > 0
    names = DeltaTable(str(store.path("incidents"))).schema().to_arrow().names
    assert "lsoa21cd" in names
    got = open_session(home).sql("SELECT count(*) AS n, count(lsoa21cd) AS with21 "
                                 "FROM incidents")
    assert got["n"][0].as_py() == len(text) - 2 + added["accepted"]
    assert isinstance(got, pa.Table)
