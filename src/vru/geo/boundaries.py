"""Loaders for ONS statistical boundaries (LSOA, MSOA, LAD) and LSOA population, in EPSG:27700.

The 2011 LSOAs of all England and Wales ship in ``vru/data/geography/lsoa-2011-ew.parquet``
and are read by district: the districts a study needs come from its data
(:func:`data_districts`) or its areas (:func:`home_districts`). MSOAs ship for Thames Valley
only. A user's own files load with :func:`read_user_boundaries`. Code columns carry their
boundary year (``lsoa11cd``, ``lsoa21cd``, ``msoa11cd``, ``lad13cd``).
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from vru.data import asset
from vru.geo.crs import BNG, WGS84
from vru.geo.errors import BoundaryError
from vru.geo.lsoa_list import (
    _EW_INDEX,
    SHIPPED_LSOA,
    _index,
    _shipped_districts,
    lsoa_index,
)
from vru.geo.population import lsoa_population

__all__ = [
    "THAMES_VALLEY",
    "BoundaryError",
    "data_districts",
    "district_bounds",
    "home_districts",
    "load_lad",
    "load_lsoa",
    "load_msoa",
    "lsoa_index",
    "lsoa_population",
    "lsoa_to_msoa",
    "read_user_boundaries",
]

PathsArg = str | PathLike[str] | Iterable[str | PathLike[str]] | None

# A GSS local authority district code: unitary (E06), non-metropolitan (E07), metropolitan
# (E08), London borough (E09), Welsh unitary (W06).
_LAD_CODE = re.compile(r"^[EW]0[6-9]\d{6}$")
_BOUNDARY_SUFFIXES = (".geojson", ".json", ".geojson.gz", ".json.gz")




# ---------------------------------------------------------------------------------------------
# reading files


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"boundary file not found: {path}") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise BoundaryError(f"{path}: damaged gzip file ({exc})") from None
    return raw


def _read_geojson(path: Path) -> gpd.GeoDataFrame:
    raw = _read_bytes(path)
    try:
        frame = gpd.read_file(io.BytesIO(raw))
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable input
        raise BoundaryError(f"{path}: not a readable GeoJSON file ({exc})") from None
    minx, miny, maxx, maxy = frame.total_bounds if len(frame) else (0.0, 0.0, 0.0, 0.0)
    looks_metric = max(abs(minx), abs(maxx)) > 180 or max(abs(miny), abs(maxy)) > 90
    if frame.crs is None or (frame.crs.is_geographic and looks_metric):
        # GeoJSON without a "crs" member is WGS84 by RFC 7946 (GDAL says so even when the
        # numbers are metres): numbers beyond +-180/90 can only be grid metres.
        frame = frame.set_crs(BNG if looks_metric else WGS84, allow_override=True)
    return frame


def _expand_paths(paths: PathsArg, shipped: str) -> tuple[str, ...]:
    """Normalise the ``paths`` argument into a sorted tuple of files (hashable, for caching)."""
    if paths is None:
        items: list[Path] = [asset("geography", shipped)]
    elif isinstance(paths, str | PathLike):
        items = [Path(paths)]
    else:
        items = [Path(p) for p in paths]
    files: list[Path] = []
    for item in items:
        if item.is_dir():
            found = sorted(
                p
                for p in item.iterdir()
                if p.is_file() and p.name.lower().endswith(_BOUNDARY_SUFFIXES)
            )
            if not found:
                raise BoundaryError(
                    f"{item}: folder holds no boundary files "
                    f"(expected names ending {', '.join(_BOUNDARY_SUFFIXES)})"
                )
            files.extend(found)
        elif item.exists():
            files.append(item)
        else:
            raise FileNotFoundError(f"boundary file or folder not found: {item}")
    return tuple(str(p.resolve()) for p in files)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(_BOUNDARY_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _find_column(frame: pd.DataFrame, name: str) -> str | None:
    for col in frame.columns:
        if str(col).strip().lower() == name:
            return str(col)
    return None


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Repair invalid polygons, keeping only their polygonal parts (some ONS shapes self-touch)."""
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(
            geoms[invalid], method="structure", keep_collapsed=False
        )
    return geoms


def _load_areas(files: tuple[str, ...], code: str, name: str) -> gpd.GeoDataFrame:
    """Read boundary files into one frame: ``code``, ``name``, ``lad13cd``, geometry in BNG."""
    parts: list[gpd.GeoDataFrame] = []
    origin: dict[str, str] = {}
    for f in files:
        path = Path(f)
        frame = _read_geojson(path)
        code_col = _find_column(frame, code)
        if code_col is None:
            raise BoundaryError(
                f"{path}: no {code.upper()} column (columns: {', '.join(map(str, frame.columns))})"
            )
        codes = frame[code_col].astype("string").str.strip()
        if codes.isna().any() or (codes == "").any():
            row = int(np.flatnonzero((codes.isna() | (codes == "")).to_numpy())[0])
            raise BoundaryError(f"{path}: feature {row} has an empty {code.upper()}")
        name_col = _find_column(frame, name)
        lad_col = _find_column(frame, "lad13cd")
        if lad_col is not None:
            lad = frame[lad_col].astype("string").str.strip()
            lad = lad.mask(lad == "")  # an empty district code is a missing one
        else:
            stem = _stem(path)
            lad = pd.Series(
                stem if _LAD_CODE.match(stem) else None, index=frame.index, dtype="string"
            )
        geom = frame.geometry.to_crs(BNG) if frame.crs != BNG else frame.geometry
        if not np.isfinite(shapely.get_coordinates(geom.values)).all():
            raise BoundaryError(f"{path}: coordinates cannot be placed in British National Grid")
        empty = geom.isna() | geom.is_empty
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise BoundaryError(f"{path}: feature {row} ({codes.iloc[row]}) has no geometry")
        if not geom.geom_type.isin(["Polygon", "MultiPolygon"]).all():
            bad = geom[~geom.geom_type.isin(["Polygon", "MultiPolygon"])]
            raise BoundaryError(
                f"{path}: feature {codes[bad.index[0]]} is a {bad.iloc[0].geom_type}, not a polygon"
            )
        for c in codes:
            if c in origin:
                where = (
                    f"twice in {path}"
                    if origin[c] == str(path)
                    else (f"in both {origin[c]} and {path}")
                )
                raise BoundaryError(f"{code.upper()} {c} appears {where}")
            origin[c] = str(path)
        parts.append(
            gpd.GeoDataFrame(
                {
                    code: codes.to_numpy(dtype=object),
                    name: (
                        frame[name_col].astype("string").str.strip().to_numpy(dtype=object)
                        if name_col
                        else np.full(len(frame), None, dtype=object)
                    ),
                    "lad13cd": lad.to_numpy(dtype=object),
                },
                geometry=_polygonal(np.asarray(geom.values, dtype=object)),
                crs=BNG,
            )
        )
    if not parts:
        raise BoundaryError("no boundary files given")
    out = pd.concat(parts, ignore_index=True)
    # Sorted by code: row order (and so border tie-breaks in lookups) is deterministic.
    out = out.sort_values(code, kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=BNG)


@lru_cache(maxsize=8)
def _load_lsoa_cached(files: tuple[str, ...]) -> gpd.GeoDataFrame:
    return _load_areas(files, "lsoa11cd", "lsoa11nm")


@lru_cache(maxsize=8)
def _load_msoa_cached(files: tuple[str, ...]) -> gpd.GeoDataFrame:
    return _load_areas(files, "msoa11cd", "msoa11nm")


def load_lsoa(paths: PathsArg = None, districts: Iterable[str] | None = None) -> gpd.GeoDataFrame:
    """Load 2011 LSOA boundaries in British National Grid.

    Parameters
    ----------
    paths
        ``None`` for the boundaries shipped with vru (every district of England and Wales);
        otherwise a GeoJSON file, a folder of them (``*.geojson``, ``*.json``, optionally
        ``.gz``), or a list of files/folders. Each file needs an ``LSOA11CD`` property (any
        case); ``LSOA11NM`` and ``LAD13CD`` are optional. A file without a CRS is WGS84 (or
        BNG if its coordinates are clearly metres). For other formats and 2021 codes see
        :func:`read_user_boundaries`.
    districts
        District codes (``lad13cd``) to keep: only these districts are read from the shipped
        set (see :func:`home_districts` and :func:`data_districts`). ``None`` with shipped
        boundaries means the demo's Thames Valley districts (:data:`THAMES_VALLEY`); with
        ``paths`` it means every area in the files.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``lsoa11cd``, ``lsoa11nm``, ``lad13cd``, ``geometry`` (EPSG:27700), sorted by
        ``lsoa11cd``. ``lad13cd`` comes from a ``LAD13CD`` property if present, else from the
        file name when it is a district code, else ``None``.

    Raises
    ------
    FileNotFoundError
        A given path does not exist.
    BoundaryError
        A file is unreadable, lacks the code column, has an empty code or geometry, or a code
        appears twice; or a district is not in the shipped set.
    """
    if paths is None:
        wanted = THAMES_VALLEY if districts is None else districts
        return _load_shipped(_district_key(wanted)).copy()
    out = _load_lsoa_cached(_expand_paths(paths, "lsoa-2011"))
    if districts is not None:
        keep = out["lad13cd"].isin(set(_district_key(districts, check=False)))
        out = out[keep].reset_index(drop=True)
    return out.copy()


def load_msoa(paths: PathsArg = None) -> gpd.GeoDataFrame:
    """Load 2011 MSOA boundaries in British National Grid.

    Parameters
    ----------
    paths
        As for :func:`load_lsoa`; files need an ``MSOA11CD`` property.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``msoa11cd``, ``msoa11nm``, ``lad13cd``, ``geometry`` (EPSG:27700).
    """
    return _load_msoa_cached(_expand_paths(paths, "msoa-2011")).copy()


# ---------------------------------------------------------------------------------------------
# the shipped England and Wales set, read by district

# The demo's force area: what ``load_lsoa()`` without districts returns.
THAMES_VALLEY: tuple[str, ...] = (
    "E06000036", "E06000037", "E06000038", "E06000039", "E06000040", "E06000041",
    "E06000042", "E07000004", "E07000005", "E07000006", "E07000007", "E07000177",
    "E07000178", "E07000179", "E07000180", "E07000181",
)
_EW_DATA = SHIPPED_LSOA
_DECIMETRE = 10.0  # shipped coordinates are whole decimetres of British National Grid


def district_bounds() -> pd.DataFrame:
    """Bounding box and LSOA count of each shipped district (``lad13cd``), sorted by code."""
    return (
        _index()
        .groupby("lad13cd", sort=True)
        .agg(minx=("minx", "min"), miny=("miny", "min"), maxx=("maxx", "max"),
             maxy=("maxy", "max"), n_lsoa=("lsoa11cd", "size"))
        .reset_index()
    )


def _district_key(districts: Iterable[str] | str, check: bool = True) -> tuple[str, ...]:
    """Sorted, distinct district codes (hashable, for caching); unknown ones refused."""
    if isinstance(districts, str):
        districts = [districts]
    key = tuple(sorted({str(d).strip() for d in districts}))
    if check:
        unknown = sorted(set(key) - _shipped_districts())
        if unknown:
            raise BoundaryError(
                f"{asset('geography', _EW_INDEX)}: no district {', '.join(unknown)} "
                "(the shipped set holds the 2013 districts of England and Wales)"
            )
    return key


def _decode(table: pa.Table) -> np.ndarray:
    """Shapes from the shipped columns: rings per part, points per ring, delta decimetres."""
    if table.num_rows == 0:
        return np.array([], dtype=object)
    nparts = pc.list_value_length(table["parts"]).to_numpy(zero_copy_only=False)
    npts = pc.list_value_length(table["x"]).to_numpy(zero_copy_only=False)
    rings_per_part = pc.list_flatten(table["parts"]).to_numpy(zero_copy_only=False)
    pts_per_ring = pc.list_flatten(table["rings"]).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.cumsum(npts)[:-1]])
    xy = []
    for col in ("x", "y"):
        # deltas restart at each LSOA: a running sum less the sum before the LSOA's start
        run = np.cumsum(pc.list_flatten(table[col]).to_numpy(zero_copy_only=False),
                        dtype=np.int64)
        before = np.concatenate([[0], run])[starts]
        xy.append((run - np.repeat(before, npts)) / _DECIMETRE)
    offsets = tuple(np.concatenate([[0], np.cumsum(n)]).astype(np.int64)
                    for n in (pts_per_ring, rings_per_part, nparts))
    geoms = shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON, np.column_stack(xy), offsets
    )
    single = nparts == 1
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    return geoms


@lru_cache(maxsize=16)
def _load_shipped(districts: tuple[str, ...]) -> gpd.GeoDataFrame:
    return read_shipped(districts)


def read_shipped(districts: Iterable[str]) -> gpd.GeoDataFrame:
    """The shipped LSOAs of the given districts, read afresh (``load_lsoa`` caches, this not).

    For callers that keep what they read themselves, such as the point lookup.
    """
    districts = _district_key(districts)
    table = pq.read_table(
        asset("geography", _EW_DATA), filters=[("lad13cd", "in", list(districts))]
    ) if districts else pq.read_schema(asset("geography", _EW_DATA)).empty_table()
    out = gpd.GeoDataFrame(
        {c: table[c].to_numpy(zero_copy_only=False).astype(object)
         for c in ("lsoa11cd", "lsoa11nm", "lad13cd")},
        geometry=_decode(table),
        crs=BNG,
    )
    return out.sort_values("lsoa11cd", kind="stable").reset_index(drop=True)


def home_districts(codes: Iterable[str], *, strict: bool = False) -> list[str]:
    """Districts (``lad13cd``) holding the given 2011 LSOA codes, for ``load_lsoa(districts=)``.

    Parameters
    ----------
    codes
        LSOA codes, e.g. a home's task-force areas or the ``lsoa11cd`` of its rows.
    strict
        Refuse codes that are not 2011 LSOAs of England and Wales (2021-only codes, typos);
        otherwise they are skipped.

    Returns
    -------
    list of str
        Sorted distinct district codes.

    Raises
    ------
    BoundaryError
        With ``strict``, naming up to five unknown codes and how many there are.
    """
    index = _index()
    wanted = {str(c).strip() for c in codes if c is not None and not pd.isna(c)}
    hit = index["lsoa11cd"].isin(wanted).to_numpy()
    if strict and hit.sum() < len(wanted):
        bad = sorted(wanted - set(index["lsoa11cd"][hit]))
        raise BoundaryError(
            f"{len(bad)} code(s) are not 2011 LSOAs of England and Wales: "
            f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}"
        )
    return sorted(set(index["lad13cd"][hit]))


def data_districts(
    codes: Iterable[str] = (),
    easting: npt.ArrayLike | None = None,
    northing: npt.ArrayLike | None = None,
) -> list[str]:
    """Districts a batch of rows needs: those its points fall in and its LSOA codes name.

    Points are placed by the shipped LSOA index (bounding boxes first, then point in polygon
    on the candidate districts only), so only the districts near the points are ever read.

    Parameters
    ----------
    codes
        Stated 2011 LSOA codes (others are skipped).
    easting, northing
        British National Grid metres of the rows' points (NaN for none); points outside
        England and Wales add nothing.

    Returns
    -------
    list of str
        Sorted distinct district codes, for ``load_lsoa(districts=...)``.
    """
    wanted = set(home_districts(codes))
    if easting is not None and northing is not None:
        from vru.geo.lookup import AreaIndex  # the lookup imports this module

        found = AreaIndex.lsoa().assign(easting, northing)
        wanted |= set(home_districts(found[found != None]))  # noqa: E711 (object array)
    return sorted(wanted)


# ---------------------------------------------------------------------------------------------
# a user's own boundaries

_CODE_FIELDS = ("lsoa11cd", "lsoa21cd")
_NAME_FIELDS = {"lsoa11cd": "lsoa11nm", "lsoa21cd": "lsoa21nm"}


def read_user_boundaries(path: str | PathLike[str]) -> gpd.GeoDataFrame:
    """Read a user's LSOA boundary file: GeoJSON, GeoPackage or Shapefile, any CRS.

    Parameters
    ----------
    path
        The file (``.geojson``/``.json``, optionally gzipped, ``.gpkg``, ``.shp``; a zipped
        shapefile as ``.zip``). Fields are matched case-insensitively: ``LSOA11CD`` and/or
        ``LSOA21CD`` (at least one), and optionally ``LSOA11NM``/``LSOA21NM``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``lsoa11cd`` and/or ``lsoa21cd`` (as present), their name columns (``None`` when the
        file has none), ``geometry`` in EPSG:27700 (reprojected from the file's CRS; WGS84
        when it states none and its numbers are degrees), sorted by the first code column.

    Raises
    ------
    FileNotFoundError
        No such file.
    BoundaryError
        Unreadable file, no code field (the message lists the fields found), an empty or
        repeated code, or a feature that is not a polygon.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"boundary file not found: {p}")
    if p.name.lower().endswith(_BOUNDARY_SUFFIXES):
        frame = _read_geojson(p)
    else:
        try:
            frame = gpd.read_file(p)
        except Exception as exc:  # pyogrio raises several unrelated types for unreadable input
            raise BoundaryError(f"{p}: not a readable GeoJSON, GeoPackage or Shapefile "
                                f"({exc})") from None
        if frame.crs is None:
            minx, miny, maxx, maxy = frame.total_bounds if len(frame) else (0, 0, 0, 0)
            metric = max(abs(minx), abs(maxx)) > 180 or max(abs(miny), abs(maxy)) > 90
            frame = frame.set_crs(BNG if metric else WGS84)
    found = {c: _find_column(frame, c) for c in _CODE_FIELDS}
    present = [c for c in _CODE_FIELDS if found[c] is not None]
    if not present:
        fields = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
        raise BoundaryError(
            f"{p}: no LSOA11CD or LSOA21CD field (fields: {fields or 'none'})"
        )
    out: dict[str, np.ndarray] = {}
    for code in present:
        values = frame[found[code]].astype("string").str.strip()
        blank = values.isna() | (values == "")
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0])
            raise BoundaryError(f"{p}: feature {row} has an empty {code.upper()}")
        twice = values[values.duplicated()]
        if len(twice):
            raise BoundaryError(f"{p}: {code.upper()} {twice.iloc[0]} appears twice")
        out[code] = values.to_numpy(dtype=object)
        name_col = _find_column(frame, _NAME_FIELDS[code])
        out[_NAME_FIELDS[code]] = (
            frame[name_col].astype("string").str.strip().to_numpy(dtype=object)
            if name_col else np.full(len(frame), None, dtype=object)
        )
    geom = frame.geometry.to_crs(BNG) if frame.crs != BNG else frame.geometry
    if not np.isfinite(shapely.get_coordinates(geom.values)).all():
        raise BoundaryError(f"{p}: coordinates cannot be placed in British National Grid")
    kinds = geom.geom_type
    bad = ~kinds.isin(["Polygon", "MultiPolygon"]) | geom.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise BoundaryError(f"{p}: feature {row} ({out[present[0]][row]}) is "
                            f"{kinds.iloc[row] or 'empty'}, not a polygon")
    result = gpd.GeoDataFrame(
        out, geometry=_polygonal(np.asarray(geom.values, dtype=object)), crs=BNG
    )
    return result.sort_values(present[0], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# local authority districts (TopoJSON)


def _decode_arcs(topo: dict[str, Any]) -> list[np.ndarray]:
    """Absolute coordinates of every TopoJSON arc (undoing delta encoding and quantisation)."""
    transform = topo.get("transform")
    arcs: list[np.ndarray] = []
    for arc in topo["arcs"]:
        pts = np.asarray(arc, dtype=np.float64)[:, :2]
        if transform is not None:
            pts = np.cumsum(pts, axis=0)
            pts = pts * np.asarray(transform["scale"]) + np.asarray(transform["translate"])
        arcs.append(pts)
    return arcs


def _ring(arcs: list[np.ndarray], indices: Sequence[int]) -> np.ndarray:
    pieces = []
    for k, i in enumerate(indices):
        pts = arcs[i] if i >= 0 else arcs[~i][::-1]
        pieces.append(pts if k == 0 else pts[1:])  # consecutive arcs share an end point
    return np.concatenate(pieces)


def _topo_geometry(arcs: list[np.ndarray], geom: dict[str, Any]) -> shapely.Geometry | None:
    def polygon(rings: Sequence[Sequence[int]]) -> shapely.Polygon:
        coords = [_ring(arcs, r) for r in rings]
        return shapely.Polygon(coords[0], coords[1:])

    kind = geom.get("type")
    if kind == "Polygon":
        return polygon(geom["arcs"])
    if kind == "MultiPolygon":
        return shapely.MultiPolygon([polygon(p) for p in geom["arcs"]])
    return None


@lru_cache(maxsize=2)
def _load_lad_all(path: str) -> gpd.GeoDataFrame:
    p = Path(path)
    try:
        topo = json.loads(_read_bytes(p))
        objects = topo["objects"]
        arcs = _decode_arcs(topo)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise BoundaryError(f"{p}: not a readable TopoJSON file ({exc!r})") from None
    rows: list[tuple[str, str | None, shapely.Geometry]] = []
    for obj_name, obj in objects.items():
        for n, g in enumerate(obj.get("geometries", [])):
            props = {str(k).lower(): v for k, v in (g.get("properties") or {}).items()}
            code = props.get("lad13cd") or g.get("id")
            if not code:
                raise BoundaryError(f"{p}: object {obj_name!r} geometry {n} has no LAD13CD")
            try:
                shape = _topo_geometry(arcs, g)
            except (IndexError, ValueError, TypeError) as exc:
                raise BoundaryError(f"{p}: district {code}: broken arcs ({exc})") from None
            if shape is not None:
                rows.append((str(code), props.get("lad13nm"), shape))
    frame = gpd.GeoDataFrame(
        {"lad13cd": [r[0] for r in rows], "lad13nm": [r[1] for r in rows]},
        geometry=[r[2] for r in rows],
        crs=WGS84,
    ).to_crs(BNG)
    # Quantised TopoJSON arcs often self-touch; repair so point-in-polygon behaves.
    frame["geometry"] = _polygonal(np.asarray(frame.geometry.values, dtype=object))
    return frame.sort_values("lad13cd", kind="stable").reset_index(drop=True)


def load_lad(
    codes: Iterable[str] | None = None,
    *,
    all_districts: bool = False,
    lsoa_paths: PathsArg = None,
    path: str | PathLike[str] | None = None,
) -> gpd.GeoDataFrame:
    """Load 2013 local authority district boundaries in British National Grid.

    Parameters
    ----------
    codes
        District codes to return. ``None``: the districts covered by the LSOAs that
        ``load_lsoa(lsoa_paths)`` loads (their ``lad13cd``; for LSOAs without one, the
        district holding the LSOA's representative point), unless ``all_districts``.
    all_districts
        Return every district in the file (all of England for the shipped file).
    lsoa_paths
        Passed to :func:`load_lsoa` when ``codes`` is ``None``; default the shipped set.
    path
        A TopoJSON file with ``LAD13CD``/``LAD13NM`` properties; default the shipped
        ``geography/lad-2013-england.topo.json.gz`` (decoded here, no GDAL driver needed).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``lad13cd``, ``lad13nm``, ``geometry`` (EPSG:27700), sorted by code. The
        shipped file is generalised (arcs quantised to about 60 m): use it for maps and
        context, and LSOA boundaries for assigning points.

    Raises
    ------
    BoundaryError
        The file is unreadable, or a requested code is not in it.
    """
    src = (
        str(Path(path).resolve())
        if path
        else str(asset("geography", "lad-2013-england.topo.json.gz"))
    )
    lad = _load_lad_all(src)
    if all_districts and codes is None:
        return lad.copy()
    if codes is None:
        lsoa = load_lsoa(lsoa_paths)
        known = lsoa["lad13cd"].notna().to_numpy()
        wanted = set(lsoa["lad13cd"][known])
        if not known.all():
            pts = shapely.point_on_surface(np.asarray(lsoa.geometry.values, dtype=object)[~known])
            hits = shapely.STRtree(lad.geometry.values).query(pts, predicate="intersects")[1]
            wanted |= set(lad["lad13cd"].to_numpy(dtype=object)[hits])
    else:
        wanted = {str(c).strip() for c in codes}
    missing = sorted(wanted - set(lad["lad13cd"]))
    if missing:
        raise BoundaryError(f"{src}: no district {', '.join(missing)}")
    return lad[lad["lad13cd"].isin(sorted(wanted))].reset_index(drop=True).copy()


# ---------------------------------------------------------------------------------------------
# population and lookups

def lsoa_to_msoa(
    lsoa: gpd.GeoDataFrame | None = None, msoa: gpd.GeoDataFrame | None = None
) -> pd.DataFrame:
    """Map each LSOA to the MSOA that contains it.

    An LSOA named "Reading 001A" lies in MSOA "Reading 001" (ONS naming); LSOAs whose name
    does not match are placed by the MSOA holding their representative point.

    Parameters
    ----------
    lsoa, msoa
        Boundaries as returned by :func:`load_lsoa` / :func:`load_msoa`; default the
        shipped sets.

    Returns
    -------
    pandas.DataFrame
        ``lsoa11cd``, ``msoa11cd`` (``None`` when no MSOA contains the LSOA), ``method``
        (``"name"`` or ``"spatial"``; ``None`` when unmatched), one row per LSOA.
    """
    lsoa = load_lsoa() if lsoa is None else lsoa
    msoa = load_msoa() if msoa is None else msoa
    by_name = {nm: cd for cd, nm in zip(msoa["msoa11cd"], msoa["msoa11nm"], strict=True) if nm}
    names = lsoa["lsoa11nm"].fillna("").astype(str)
    # "Reading 001A" -> "Reading 001": drop the trailing letter only when it is a letter.
    stems = names.where(names.str.match(r".*\d[A-Z]$"), "").str[:-1]
    code = stems.map(by_name)
    method = pd.Series(np.where(code.notna(), "name", None), index=lsoa.index, dtype=object)
    todo = code.isna().to_numpy()
    if todo.any():
        pts = shapely.point_on_surface(np.asarray(lsoa.geometry.values, dtype=object)[todo])
        geoms = np.asarray(msoa.geometry.values, dtype=object)
        tree = shapely.STRtree(geoms)
        pairs = tree.query(pts, predicate="intersects")
        # Several hits only on a shared border: keep the first MSOA in code order.
        found = np.full(len(pts), len(geoms), dtype=np.int64)
        np.minimum.at(found, pairs[0], pairs[1])
        hit = found < len(geoms)
        spatial = np.full(len(pts), None, dtype=object)
        spatial[hit] = msoa["msoa11cd"].to_numpy(dtype=object)[found[hit]]
        code = np.array(code, dtype=object)
        code[todo] = spatial
        method = np.array(method, dtype=object)
        method[todo] = np.where(hit, "spatial", None)
    else:
        code = code.to_numpy(dtype=object)
        method = method.to_numpy()
    return pd.DataFrame(
        {
            "lsoa11cd": lsoa["lsoa11cd"].to_numpy(dtype=object),
            "msoa11cd": code,
            "method": method,
        }
    )
