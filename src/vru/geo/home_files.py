"""Where a home keeps the boundaries its user loaded (`vru boundaries load`).

Kept apart from `vru.geo.boundaries` so that finding a home's files does not import
geopandas: an ingest asks for them on every run.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

#: Where a home keeps the LSOA boundaries its users load: ``<home>/boundaries/lsoa11/`` (2011
#: codes: ingest and analyses use them) and ``lsoa21/`` (kept and listed).
HOME_BOUNDARIES = "boundaries"


def home_boundary_folder(home: str | PathLike[str], year: int = 2011) -> Path:
    """The folder of a home's own LSOA boundaries of ``year`` (2011 or 2021)."""
    return Path(home) / HOME_BOUNDARIES / f"lsoa{year % 100:02d}"


def home_boundary_files(home: str | PathLike[str], year: int = 2011) -> list[Path]:
    """A home's own LSOA boundary files of ``year`` (empty: the shipped set is used)."""
    d = home_boundary_folder(home, year)
    return sorted(d.glob("*.geojson")) if d.is_dir() else []
