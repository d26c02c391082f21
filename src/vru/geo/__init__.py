"""Geography for vru: WGS84 <-> British National Grid, ONS boundaries, area lookups and grids."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Public names, imported on first use so that ``vru.geo.crs`` alone stays light (geopandas
# and the shipped boundaries are only loaded when a boundary or lookup name is asked for).
_EXPORTS = {
    "to_bng": "crs",
    "to_wgs84": "crs",
    "transform_accuracy": "crs",
    "BoundaryError": "boundaries",
    "load_lsoa": "boundaries",
    "load_msoa": "boundaries",
    "load_lad": "boundaries",
    "lsoa_population": "boundaries",
    "lsoa_to_msoa": "boundaries",
    "read_user_boundaries": "boundaries",
    "home_districts": "boundaries",
    "data_districts": "boundaries",
    "district_bounds": "boundaries",
    "lsoa_index": "boundaries",
    "LsoaLookup": "lookup",
    "AreaIndex": "lookup",
    "square_cell": "grids",
    "square_cell_id": "grids",
    "square_id": "grids",
    "parse_square_ids": "grids",
    "square_cells_covering": "grids",
    "square_polygons": "grids",
    "h3_cell": "grids",
    "h3_cells_covering": "grids",
    "h3_polygons": "grids",
    "h3_neighbours": "grids",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"vru.geo.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'vru.geo' has no attribute {name!r}")
