"""The Python API: ``vru.open(home).table("incidents").to_pandas()``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from vru.lake import engine
from vru.lake.store import Store

DEFAULT_HOME = "vru-home"


def resolve_home(home: str | Path | None = None) -> Path:
    """``home``, else ``$VRU_HOME``, else ``./vru-home``."""
    return Path(home or os.environ.get("VRU_HOME") or DEFAULT_HOME).expanduser().resolve()


@dataclass
class TableRef:
    """A lake table at a version, readable as Arrow, pandas or GeoPandas."""

    store: Store
    name: str
    version: int | None

    def to_arrow(self, columns: list[str] | None = None, filter=None) -> pa.Table:
        return self.store.read(self.name, columns=columns, filter=filter, version=self.version)

    def to_pandas(self, columns: list[str] | None = None, filter=None):
        return self.to_arrow(columns, filter).to_pandas()

    def to_geopandas(self, columns: list[str] | None = None, filter=None, crs: str = "EPSG:27700"):
        """Rows with a point geometry (British National Grid by default; 'EPSG:4326' for WGS84)."""
        import geopandas as gpd

        df = self.to_pandas(columns, filter)
        x, y = ("lon", "lat") if crs.upper() in ("EPSG:4326", "WGS84") else ("easting", "northing")
        if x not in df.columns:
            raise ValueError(f"table {self.name!r} has no {x}/{y} columns to make points from")
        return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df[x], df[y]), crs=crs)


class Lake:
    """A lake home: Delta tables under ``<home>/lake`` plus the metadata database."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.store = Store(home)

    @classmethod
    def open(cls, home: str | Path | None = None) -> Lake:
        return cls(resolve_home(home))

    def tables(self) -> dict[str, int]:
        """Every table and its current version."""
        return self.store.versions()

    def table(self, name: str, version: int | None = None) -> TableRef:
        if not self.store.exists(name):
            have = ", ".join(self.tables()) or "none yet — run `vru ingest` first"
            raise KeyError(f"no table {name!r} in {self.home}; tables: {have}")
        return TableRef(self.store, name, version)

    def sql(self, query: str) -> pa.Table:
        return engine.query(self.store, query)
