"""Analysis cells: square British National Grid cells of any size, and H3 hexagons.

Square cells are identified by ``"{size}m:{col}:{row}"`` where ``col = floor(easting / size)``
and ``row = floor(northing / size)``: ids are stable across runs and datasets, and a cell's
polygon is recovered from its id alone. H3 cells use the standard hexadecimal H3 index
strings (h3 v4); resolutions 6-10 suit force-area analysis (about 36 km² down to 0.015 km²).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

import geopandas as gpd
import h3
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from vru.geo.crs import BNG, WGS84, to_bng

__all__ = [
    "NO_CELL",
    "h3_cell",
    "h3_cells_covering",
    "h3_neighbours",
    "h3_polygons",
    "parse_square_ids",
    "square_cell",
    "square_cell_id",
    "square_cells_covering",
    "square_id",
    "square_polygons",
]

NO_CELL = np.iinfo(np.int64).min
"""Column/row value given to points without a location (NaN coordinates)."""

_SQUARE_ID = re.compile(r"^(\d+(?:\.\d+)?)m:(-?\d+):(-?\d+)$")

Area = (
    shapely.Geometry
    | gpd.GeoDataFrame
    | gpd.GeoSeries
    | Sequence[shapely.Geometry]
    | tuple[float, float, float, float]
)


def _check_size(size: float) -> float:
    s = float(size)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"cell size must be a positive number of metres, got {size!r}")
    return s


def _size_text(size: float) -> str:
    return f"{size:g}" if float(size) != int(size) else str(int(size))


# ---------------------------------------------------------------------------------------------
# square BNG cells


def square_cell(
    easting: npt.ArrayLike, northing: npt.ArrayLike, size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Column and row of the square cell holding each point.

    Parameters
    ----------
    easting, northing
        British National Grid metres, equal shape.
    size
        Cell side in metres (any positive number: 100, 250, 500...).

    Returns
    -------
    (col, row)
        int64 arrays: ``floor(easting / size)``, ``floor(northing / size)``. A point on a
        cell edge belongs to the cell above/right of it. :data:`NO_CELL` where a coordinate
        is NaN or infinite.
    """
    s = _check_size(size)
    x = np.asarray(easting, dtype=np.float64)
    y = np.asarray(northing, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"easting and northing differ in shape: {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    col = np.full(x.shape, NO_CELL, dtype=np.int64)
    row = np.full(x.shape, NO_CELL, dtype=np.int64)
    col[ok] = _floor_div(x[ok], s)
    row[ok] = _floor_div(y[ok], s)
    return col, row


def _floor_div(v: np.ndarray, s: float) -> np.ndarray:
    """floor(v / s), corrected so that ``k * s <= v < (k + 1) * s`` holds exactly.

    ``v / s`` rounds (e.g. -5e-324 / 10 == -0.0), which would put a point just outside the
    polygon :func:`square_polygons` draws for its cell; one step of correction fixes it.
    """
    k = np.floor(v / s)
    k -= k * s > v
    k += (k + 1) * s <= v
    return k.astype(np.int64)


def square_id(col: npt.ArrayLike, row: npt.ArrayLike, size: float) -> np.ndarray:
    """Cell ids ``"{size}m:{col}:{row}"`` for integer columns and rows (``None`` for NO_CELL)."""
    s = _check_size(size)
    c = np.asarray(col, dtype=np.int64).ravel()
    r = np.asarray(row, dtype=np.int64).ravel()
    ok = (c != NO_CELL) & (r != NO_CELL)
    out = np.full(c.shape, None, dtype=object)
    if ok.any():
        text = (
            f"{_size_text(s)}m:" + pd.Series(c[ok]).astype(str) + ":" + pd.Series(r[ok]).astype(str)
        )
        out[ok] = text.to_numpy(dtype=object)
    return out.reshape(np.shape(col))


def square_cell_id(easting: npt.ArrayLike, northing: npt.ArrayLike, size: float) -> np.ndarray:
    """Cell id string of each point, e.g. ``"250m:1886:694"``; ``None`` without a location.

    Parameters
    ----------
    easting, northing
        British National Grid metres.
    size
        Cell side in metres.

    Returns
    -------
    numpy.ndarray
        Object array of ids. Compute ids on unique cells when there are millions of points:
        ``square_cell`` is much cheaper than building strings.
    """
    col, row = square_cell(easting, northing, size)
    return square_id(col, row, size)


def parse_square_ids(ids: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``"{size}m:{col}:{row}"`` ids into (size, col, row) arrays.

    Raises
    ------
    ValueError
        Naming the first id that is not a square cell id.
    """
    items = list(ids)
    parts = pd.Series(items, dtype=object).astype(str).str.extract(_SQUARE_ID.pattern)
    bad = parts[0].isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"not a square cell id (expected like '250m:1886:694'): {items[first]!r} "
            f"at position {first}"
        )
    return (
        parts[0].astype(np.float64).to_numpy(),
        parts[1].astype(np.int64).to_numpy(),
        parts[2].astype(np.int64).to_numpy(),
    )


def square_polygons(ids: Iterable[str], size: float | None = None) -> np.ndarray:
    """Square polygons (EPSG:27700) of cell ids, for maps and output files.

    Parameters
    ----------
    ids
        Square cell ids; each carries its own size.
    size
        If given, every id must be of this size (a guard against mixing grids).

    Returns
    -------
    numpy.ndarray
        Object array of shapely Polygons in British National Grid metres.
    """
    sizes, col, row = parse_square_ids(ids)
    if size is not None and sizes.size and not np.all(sizes == _check_size(size)):
        odd = sorted(set(sizes[sizes != float(size)].tolist()))
        raise ValueError(f"cell ids of size {odd} m given where {size} m was expected")
    x0, y0 = col * sizes, row * sizes
    return shapely.box(x0, y0, x0 + sizes, y0 + sizes)


def _area_parts(area: Area, crs: str) -> tuple[np.ndarray | None, tuple[float, ...]]:
    """Geometries (in ``crs``) and bounds of an area given in any accepted form."""
    if (
        isinstance(area, tuple)
        and len(area) == 4
        and all(isinstance(v, int | float | np.number) for v in area)
    ):
        minx, miny, maxx, maxy = (float(v) for v in area)
        if not (minx <= maxx and miny <= maxy):
            raise ValueError(f"bounds must be (minx, miny, maxx, maxy), got {area}")
        return None, (minx, miny, maxx, maxy)
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        series = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        if series.crs is not None:
            series = series.to_crs(crs)
        geoms = np.asarray(series.values, dtype=object)
    elif isinstance(area, shapely.Geometry):
        geoms = np.asarray(shapely.get_parts(area), dtype=object)
    else:
        geoms = np.asarray(list(area), dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if geoms.size == 0:
        raise ValueError("the area has no geometry")
    return geoms, tuple(float(v) for v in shapely.total_bounds(geoms))


def square_cells_covering(
    area: Area, size: float, *, only_intersecting: bool = False
) -> pd.DataFrame:
    """All square cells of a study area, including the empty ones.

    Parameters
    ----------
    area
        ``(minx, miny, maxx, maxy)`` in BNG metres, a shapely geometry (BNG), a sequence
        of geometries, or a GeoDataFrame/GeoSeries (reprojected to BNG if it has a CRS).
    size
        Cell side in metres.
    only_intersecting
        Keep only cells sharing some area with the geometries (not cells merely touching
        them); ignored for plain bounds. Without it, every cell of the bounding box.

    Returns
    -------
    pandas.DataFrame
        ``cell_id``, ``col``, ``row``, ordered by row then column. A 1,000 m square aligned
        on the grid is covered by exactly 16 cells of 250 m. A point exactly on the top or
        right edge of the area falls in the cell beyond it, which is not listed.
    """
    s = _check_size(size)
    geoms, (minx, miny, maxx, maxy) = _area_parts(area, BNG)
    c0, r0 = int(np.floor(minx / s)), int(np.floor(miny / s))
    # ceil - 1 so an area ending exactly on a grid line does not gain a row of empty cells.
    c1 = max(c0, int(np.ceil(maxx / s)) - 1)
    r1 = max(r0, int(np.ceil(maxy / s)) - 1)
    ncell = (c1 - c0 + 1) * (r1 - r0 + 1)
    if ncell > 50_000_000:
        raise ValueError(f"{ncell:,} cells of {size} m: choose a larger cell size")
    rows, cols = np.divmod(np.arange(ncell, dtype=np.int64), c1 - c0 + 1)
    cols += c0
    rows += r0
    if only_intersecting and geoms is not None:
        boxes = shapely.box(cols * s, rows * s, (cols + 1) * s, (rows + 1) * s)
        tree = shapely.STRtree(geoms)
        hit = np.bincount(tree.query(boxes, predicate="intersects")[0], minlength=ncell)
        cand = np.flatnonzero(hit)
        # A cell that only touches (shares an edge with) the area holds none of it.
        touch = np.bincount(tree.query(boxes[cand], predicate="touches")[0], minlength=cand.size)
        keep = np.zeros(ncell, dtype=bool)
        keep[cand] = hit[cand] > touch
        cols, rows = cols[keep], rows[keep]
    return pd.DataFrame({"cell_id": square_id(cols, rows, s), "col": cols, "row": rows})


# ---------------------------------------------------------------------------------------------
# H3 cells


def _check_res(res: int) -> int:
    if not isinstance(res, int | np.integer) or not 0 <= int(res) <= 15:
        raise ValueError(f"H3 resolution must be an integer 0-15, got {res!r}")
    return int(res)


def h3_cell(lat: npt.ArrayLike, lon: npt.ArrayLike, res: int) -> np.ndarray:
    """H3 cell id of each WGS84 point.

    Parameters
    ----------
    lat, lon
        Degrees, equal shape (note the order: latitude first, as H3 takes it).
    res
        H3 resolution (6-10 for force-area analysis).

    Returns
    -------
    numpy.ndarray
        Object array of H3 index strings; ``None`` where a coordinate is NaN or invalid.

    Notes
    -----
    h3-py 4.x has no vectorised ``latlng_to_cell``; each distinct point is indexed once in
    a loop and the answers scattered back, so snapped data costs little.
    """
    r = _check_res(res)
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    if la.shape != lo.shape:
        raise ValueError(f"lat and lon differ in shape: {la.shape} and {lo.shape}")
    flat_la, flat_lo = la.ravel(), lo.ravel()
    ok = np.isfinite(flat_la) & np.isfinite(flat_lo) & (np.abs(flat_la) <= 90)
    out = np.full(flat_la.shape, None, dtype=object)
    where = np.flatnonzero(ok)
    if where.size:
        inverse, uniq = pd.factorize(flat_la[where] + 1j * flat_lo[where])
        to_cell = h3.latlng_to_cell
        cells = np.array(
            [to_cell(a, b, r) for a, b in zip(uniq.real.tolist(), uniq.imag.tolist(), strict=True)],
            dtype=object,
        )
        out[where] = cells[inverse]
    return out.reshape(la.shape)


def _wgs84_polygons(area: Area) -> list[shapely.Polygon]:
    """The polygons of an area, in WGS84, each given separately (not unioned)."""
    if (
        isinstance(area, tuple)
        and len(area) == 4
        and all(isinstance(v, int | float | np.number) for v in area)
    ):
        return [shapely.box(*(float(v) for v in area))]
    geoms, _ = _area_parts(area, WGS84)
    return [p for p in shapely.get_parts(geoms) if isinstance(p, shapely.Polygon)]


def h3_cells_covering(
    area_wgs84: Area, res: int, *, contain: Literal["center", "overlap"] = "center"
) -> np.ndarray:
    """H3 cells of a study area, including the empty ones.

    Parameters
    ----------
    area_wgs84
        A shapely (multi)polygon or bounds in WGS84 longitude/latitude, or a
        GeoDataFrame/GeoSeries in any CRS (reprojected to WGS84).
    res
        H3 resolution.
    contain
        ``"center"``: cells whose centre lies in the area (H3's polygon fill; the cells
        tile the area without double counting). ``"overlap"``: every cell that overlaps
        the area, so that no point of the area is left without a listed cell.

    Returns
    -------
    numpy.ndarray
        Sorted object array of H3 index strings.

    Notes
    -----
    Each polygon is filled on its own and the cell sets are unioned: a cell overlaps (or has
    its centre in) the union of the polygons exactly when it does so for one of them, and H3
    fills many small polygons far faster than their union (for 1,415 LSOAs at resolution 9,
    0.8 s instead of 6 s, the same 61,263 cells).
    """
    r = _check_res(res)
    if contain not in ("center", "overlap"):
        raise ValueError(f"contain must be 'center' or 'overlap', got {contain!r}")
    polys = _wgs84_polygons(area_wgs84)
    if not polys:
        raise ValueError("the area has no polygon to cover")
    cells: set[str] = set()
    for poly in polys:
        shape = h3.geo_to_h3shape(poly.__geo_interface__)
        if contain == "center":
            cells.update(h3.h3shape_to_cells(shape, r))
        else:
            cells.update(h3.h3shape_to_cells_experimental(shape, r, contain="overlap"))
    return np.array(sorted(cells), dtype=object)


def h3_polygons(ids: Iterable[str], *, bng: bool = False) -> np.ndarray:
    """Hexagon polygons of H3 cells.

    Parameters
    ----------
    ids
        H3 index strings.
    bng
        Return polygons in British National Grid metres instead of WGS84 lon/lat.

    Returns
    -------
    numpy.ndarray
        Object array of shapely Polygons (lon/lat order for WGS84).
    """
    rings: list[np.ndarray] = []
    for cell in ids:
        if not h3.is_valid_cell(cell):
            raise ValueError(f"not an H3 cell id: {cell!r}")
        rings.append(np.asarray(h3.cell_to_boundary(cell), dtype=np.float64)[:, ::-1])
    if not rings:
        return np.empty(0, dtype=object)
    if bng:
        sizes = [len(r) for r in rings]
        allpts = np.concatenate(rings)
        e, n = to_bng(allpts[:, 0], allpts[:, 1])
        rings = np.split(np.column_stack([e, n]), np.cumsum(sizes)[:-1])
    return np.array([shapely.Polygon(r) for r in rings], dtype=object)


def h3_neighbours(ids: Iterable[str], k: int = 1) -> pd.DataFrame:
    """Pairs of H3 cells within ``k`` grid steps of each other (``grid_disk``), for weights.

    Parameters
    ----------
    ids
        H3 index strings (typically the cells of a study area).
    k
        Largest grid distance (1 = the six touching hexagons).

    Returns
    -------
    pandas.DataFrame
        ``cell``, ``neighbour``, ``distance`` (1..k); a cell is not its own neighbour.
        Neighbours outside ``ids`` are included: filter with ``isin`` to stay in the area.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    cell_col: list[str] = []
    nb_col: list[str] = []
    dist_col: list[int] = []
    for cell in dict.fromkeys(ids):  # unique, order kept
        if not h3.is_valid_cell(cell):
            raise ValueError(f"not an H3 cell id: {cell!r}")
        # grid_disk is safe near pentagons, unlike grid_ring.
        for nb in h3.grid_disk(cell, k):
            if nb != cell:
                cell_col.append(cell)
                nb_col.append(nb)
                dist_col.append(h3.grid_distance(cell, nb))
    return pd.DataFrame(
        {"cell": cell_col, "neighbour": nb_col, "distance": np.asarray(dist_col, dtype=np.int64)}
    )
