"""The Python API: ``vru.open(home).table("incidents").to_pandas()``."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from vru.lake.store import Store

DEFAULT_HOME = "vru-home"


def resolve_home(home: str | Path | None = None) -> Path:
    """``home``, else ``$VRU_HOME``, else ``./vru-home``."""
    return Path(home or os.environ.get("VRU_HOME") or DEFAULT_HOME).expanduser().resolve()


@dataclass
class TableRef:
    """A lake table at a version, readable (as the lake's user may see it) as Arrow, pandas or
    GeoPandas. Every read is authorised and audited."""

    lake: Lake
    name: str
    version: int | None

    def to_arrow(self, columns: list[str] | None = None, filter=None) -> pa.Table:
        """Rows the user may see (their area, visible columns); ``filter`` is a
        ``pyarrow.compute`` expression applied after."""
        from vru.lake.governed import governed_table

        t = governed_table(self.lake.store, self.lake.db, self.lake.user, self.name,
                           self.lake.purpose, self.version, area=self.lake.area,
                           columns=columns)
        return t.filter(filter) if filter is not None else t

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
    """A lake home: Delta tables under ``<home>/lake`` plus the metadata database.

    Reads act as ``user`` (default: the local OS user, the home's admin on the embedded
    default) for ``purpose``; they are authorised, limited and audited like the CLI's.
    """

    def __init__(self, home: Path, user=None, purpose: str = "violence_reduction",
                 area: str | None = None) -> None:
        self.home = home
        self.store = Store(home)
        self.purpose = purpose
        self.area = area
        self._user = user
        self._db = None

    @classmethod
    def open(cls, home: str | Path | None = None, **kwargs) -> Lake:
        return cls(resolve_home(home), **kwargs)

    @property
    def db(self):
        """The home's metadata database (governance), opened on first use."""
        if self._db is None:
            from vru.governance import db as gdb

            self.home.mkdir(parents=True, exist_ok=True)
            self._db = gdb.connect(self.home)
        return self._db

    @property
    def user(self):
        if self._user is None:
            from vru.governance import identity

            self._user = identity.ensure_local_admin(self.db, getpass.getuser())
        return self._user

    def tables(self) -> dict[str, int]:
        """Every table and its current version."""
        return self.store.versions()

    def table(self, name: str, version: int | None = None) -> TableRef:
        if not self.store.exists(name):
            have = ", ".join(self.tables()) or "none yet — run `vru ingest` first"
            raise KeyError(f"no table {name!r} in {self.home}; tables: {have}")
        return TableRef(self, name, version)

    def sql(self, query: str) -> pa.Table:
        """A read-only query over the tables, as the user may see them (governed)."""
        from vru.lake.governed import governed_query

        return governed_query(self.store, self.db, self.user, query, self.purpose,
                              area=self.area)
