"""True cell areas: each cell clipped to the study area, so a part-cell counts by its part."""

from __future__ import annotations

import numpy as np
import shapely

from vru.analysis.aggregate import StudyArea

__all__ = ["clipped_areas"]


def clipped_areas(area: StudyArea) -> np.ndarray:
    """Area in m² of each study cell inside the study area's LSOA boundaries.

    LSOA, MSOA and district cells are their own polygons; squares and hexagons on the edge
    of the study area are cut to it (a coastal or border cell counts by its land inside).
    Cached per study area (they are cached too, so the same object recurs).
    """
    hit = _CACHE.get(id(area))
    if hit is not None and hit[0] is area:
        return hit[1]
    out = _clipped(area)
    if len(_CACHE) >= 8:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[id(area)] = (area, out)  # holding the area keeps its id from being reused
    return out


_CACHE: dict[int, tuple[StudyArea, np.ndarray]] = {}


def _clipped(area: StudyArea) -> np.ndarray:
    geom = np.asarray(area.geometry, dtype=object)
    if area.spec.kind in ("lsoa", "msoa", "district"):
        return np.asarray(shapely.area(geom), dtype=np.float64)
    union = shapely.union_all(np.asarray(area.lsoa.geometry.values, dtype=object))
    shapely.prepare(union)
    inside = shapely.contains_properly(union, geom)
    out = np.asarray(shapely.area(geom), dtype=np.float64)
    edge = ~inside
    if edge.any():
        out[edge] = shapely.area(shapely.intersection(geom[edge], union))
    return out
