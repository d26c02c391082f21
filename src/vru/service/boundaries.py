"""A home's own boundaries: LSOA files a user brings, kept in the home and used by analyses.

vru ships the LSOA 2011 boundaries of England and Wales and picks the districts a lake's
data fall in. A VRU that works with other boundaries (newer generalisations, 2021 LSOAs)
loads them here; they are normalised to British National Grid and kept under
``<home>/boundaries/lsoa11/`` (2011 codes, which analyses use) or ``lsoa21/`` (kept and
listed; the lake's LSOA analyses are on 2011 codes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vru.geo.boundaries import BoundaryError, read_user_boundaries
from vru.geo.home_files import home_boundary_files, home_boundary_folder
from vru.service.errors import BadRequest
from vru.service.session import Session


@dataclass(frozen=True)
class LoadedBoundaries:
    """One boundary file kept in the home."""

    name: str
    year: int
    areas: int
    bounds: tuple[float, float, float, float]  # BNG metres
    path: Path


def folder(session_home: Path, year: int = 2011) -> Path:
    return home_boundary_folder(session_home, year)


def load(session: Session, paths: Sequence[Path]) -> list[LoadedBoundaries]:
    """Read, check and keep boundary files in the home (admins; audited)."""
    session.decide("admin", "boundaries", purpose="administration",
                   detail={"change": "load", "files": [str(p) for p in paths]})
    kept: list[LoadedBoundaries] = []
    for path in paths:
        try:
            frame = read_user_boundaries(path)
        except (BoundaryError, FileNotFoundError, OSError, ValueError) as exc:
            raise BadRequest(str(exc)) from None
        year = 2011 if "lsoa11cd" in frame.columns else 2021
        code = f"lsoa{year % 100:02d}cd"
        name_col = f"lsoa{year % 100:02d}nm"
        keep = frame[[code, *([name_col] if name_col in frame.columns else []), "geometry"]]
        target = folder(session.home, year)
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        out = target / f"{Path(path).name.split('.')[0]}.geojson"
        if out.exists():
            out.unlink()
        # GeoJSON in WGS84 is what the boundary loaders read back (with their own checks)
        keep.rename(columns={code: code.upper(), name_col: name_col.upper()}).to_crs(
            "EPSG:4326").to_file(out, driver="GeoJSON")
        minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
        kept.append(LoadedBoundaries(out.stem, year, len(frame), (minx, miny, maxx, maxy),
                                     out))
    return kept


def listing(session: Session) -> list[LoadedBoundaries]:
    """The boundary files a home keeps (empty: the shipped England and Wales set is used);
    admins, like the areas list (audited)."""
    import geopandas as gpd

    session.decide("admin", "boundaries", purpose="administration", detail={"change": "list"})

    found: list[LoadedBoundaries] = []
    for year in (2011, 2021):
        for path in home_boundary_files(session.home, year):
            frame = gpd.read_file(path).to_crs("EPSG:27700")
            minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
            found.append(LoadedBoundaries(path.stem, year, len(frame),
                                          (minx, miny, maxx, maxy), path))
    return found


def lsoa_paths(session: Session) -> list[Path] | None:
    """The home's 2011 LSOA boundary files for analyses, or None for the shipped set."""
    return home_boundary_files(session.home) or None
