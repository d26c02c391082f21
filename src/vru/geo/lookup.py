"""Fast point-in-polygon assignment of British National Grid points to area codes (LSOA, MSOA...).

How it is fast: at build time the study area is covered by a raster of small square cells
(about 4 million at most). A cell that no polygon boundary touches lies wholly inside one
polygon, or wholly outside all of them, so its answer is stored once. Assigning a point is
then one array look-up; only points in cells a boundary crosses are tested exactly (shapely
STRtree, on unique coordinates only, since data.police.uk snaps crimes to shared map points).

Points on a shared border belong to the polygon whose code sorts first, so every point gets
exactly one answer, the same on every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely

if TYPE_CHECKING:  # geopandas and pandas cost 0.4 s at start-up, and ingest needs neither
    import geopandas as gpd
    import pandas as pd

__all__ = ["AreaIndex", "LsoaLookup"]

_MAX_CELLS = 4_000_000  # raster budget: 16 MB of int32 labels
_MIN_CELL = 5.0  # metres; finer gains nothing for ONS boundaries
_OUTSIDE = -1
_BOUNDARY = -2


def _finite_pair(
    easting: npt.ArrayLike, northing: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(easting, dtype=np.float64).ravel()
    y = np.asarray(northing, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"easting and northing differ in length: {x.size} and {y.size}")
    return x, y, np.isfinite(x) & np.isfinite(y)


class AreaIndex:
    """Assigns points (BNG metres) to the code of the polygon containing them.

    Parameters
    ----------
    geometries
        Polygons or multipolygons in EPSG:27700; they should not overlap (ONS areas don't).
    codes
        One code per geometry. Rows are ordered by code internally, so where polygons share
        a border (or overlap) the smallest code wins.
    cell_size
        Side of the acceleration raster's cells in metres; default chosen from the extent so
        the raster has at most about 4 million cells.

    Examples
    --------
    >>> idx = AreaIndex.from_frame(load_lsoa(), "lsoa11cd")
    >>> idx.assign(np.array([471570.7, np.nan]), np.array([173559.5, 0.0]))  # Reading
    array(['E01033415', None], dtype=object)
    """

    def __init__(
        self,
        geometries: Sequence[shapely.Geometry] | np.ndarray | gpd.GeoSeries,
        codes: Sequence[str] | np.ndarray | pd.Series,
        *,
        cell_size: float | None = None,
    ) -> None:
        geoms = np.asarray(getattr(geometries, "values", geometries), dtype=object)
        code_arr = np.asarray(codes, dtype=object)
        if geoms.shape != code_arr.shape or geoms.ndim != 1:
            raise ValueError(f"{geoms.size} geometries but {code_arr.size} codes")
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        geoms, code_arr = geoms[keep], code_arr[keep]
        order = np.argsort(code_arr.astype(str), kind="stable")
        self._geoms = geoms[order]
        self._codes = code_arr[order]
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        self._build_raster(cell_size)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_frame(cls, frame: gpd.GeoDataFrame, code_column: str, **kwargs: float) -> AreaIndex:
        """Index a GeoDataFrame (reprojected to EPSG:27700 if needed) by one code column."""
        if code_column not in frame.columns:
            raise KeyError(f"no column {code_column!r} (columns: {', '.join(frame.columns)})")
        if frame.crs is not None and frame.crs.to_epsg() != 27700:
            frame = frame.to_crs(27700)
        return cls(frame.geometry.values, frame[code_column].to_numpy(dtype=object), **kwargs)

    @classmethod
    def lsoa(cls) -> LsoaLookup:
        """The shipped 2011 LSOAs of England and Wales, read by district as points need them.

        One per process; see :class:`LsoaLookup`.
        """
        return _lsoa_lookup()

    @classmethod
    def msoa(cls) -> AreaIndex:
        """Index of the shipped 2011 MSOA boundaries (built once per process)."""
        return _shipped("msoa")

    def save(self, path: Path) -> None:
        """Write the built index (polygons, codes, raster) so `load` skips the build.

        One flat file of raw arrays (`_write_arrays`): the polygons as one WKB buffer with
        offsets, the raster run-length encoded along its rows (labels change only at
        boundaries). Nothing is pickled or inflated, so a district loads in about a
        millisecond.
        """
        wkb = shapely.to_wkb(self._geoms)
        flat = self._labels.ravel()
        starts = (np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]]) if flat.size
                  else np.zeros(0, np.int64))
        small = flat.size == 0 or (flat.min() >= -(2**15) and flat.max() < 2**15)
        _write_arrays(path, {
            "wkb": np.frombuffer(b"".join(wkb), dtype=np.uint8),
            "offsets": np.cumsum([0, *map(len, wkb)], dtype=np.int64),
            "codes": self._codes.astype(str),
            "values": flat[starts].astype(np.int16 if small else np.int32),
            "runs": np.diff(np.r_[starts, flat.size]).astype(np.int64),
            "shape": np.array(self._labels.shape, dtype=np.int64),
            "meta": np.array([*self._bounds, self._cell, getattr(self, "_x0", np.nan),
                              getattr(self, "_y0", np.nan)])})

    @classmethod
    def load(cls, path: Path) -> AreaIndex:
        """An index written by `save`."""
        z = _read_arrays(path)
        self = cls.__new__(cls)
        buf, offsets = z["wkb"].tobytes(), z["offsets"].tolist()
        self._geoms = shapely.from_wkb(np.array(
            [buf[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)], dtype=object))
        self._codes = z["codes"].astype(object)
        self._labels = np.repeat(z["values"].astype(np.int32), z["runs"]).reshape(
            tuple(z["shape"].tolist()))
        minx, miny, maxx, maxy, cell, x0, y0 = (float(v) for v in z["meta"])
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        self._bounds, self._cell, self._x0, self._y0 = (minx, miny, maxx, maxy), cell, x0, y0
        return self

    def _build_raster(self, cell_size: float | None) -> None:
        if len(self._geoms) == 0:
            self._bounds = (np.nan, np.nan, np.nan, np.nan)
            self._cell = 1.0
            self._labels = np.full((0, 0), _OUTSIDE, dtype=np.int32)
            return
        minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(self._geoms))
        self._bounds = (minx, miny, maxx, maxy)
        w, h = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
        cell = cell_size if cell_size else max(_MIN_CELL, float(np.sqrt(w * h / _MAX_CELLS)))
        self._cell = float(cell)
        # One spare cell on each side so boundary vertices on the extent stay inside the raster.
        self._x0, self._y0 = minx - cell, miny - cell
        ncol = int(np.ceil(w / cell)) + 3
        nrow = int(np.ceil(h / cell)) + 3

        # Mark every cell a boundary passes through. Boundaries are cut into pieces shorter
        # than half a cell, so each piece spans at most 2 x 2 cells: marking its bounding
        # cells (with a hair of slack against rounding) is conservative.
        edges = shapely.segmentize(shapely.boundary(self._geoms), cell / 2.0)
        coords, ring_of = shapely.get_coordinates(shapely.get_parts(edges), return_index=True)
        same = ring_of[1:] == ring_of[:-1]
        a, b = coords[:-1][same], coords[1:][same]
        slack = cell * 1e-6
        lo = np.floor((np.minimum(a, b) - slack - (self._x0, self._y0)) / cell).astype(np.int64)
        hi = np.floor((np.maximum(a, b) + slack - (self._x0, self._y0)) / cell).astype(np.int64)
        boundary = np.zeros((nrow, ncol), dtype=bool)
        for cols in (lo[:, 0], hi[:, 0]):
            for rows in (lo[:, 1], hi[:, 1]):
                boundary[np.clip(rows, 0, nrow - 1), np.clip(cols, 0, ncol - 1)] = True

        # Cells untouched by any boundary form regions lying wholly in one polygon (or none):
        # test one cell centre per region. 4-connectivity keeps regions from leaking diagonally.
        from scipy import ndimage  # only a build needs it; a cached index loads without

        regions, nregions = ndimage.label(~boundary)
        first = np.full(nregions + 1, -1, dtype=np.int64)
        flat = regions.ravel()
        idx = np.arange(flat.size, dtype=np.int64)[::-1]
        first[flat[::-1]] = idx  # reversed write: the first cell of each region wins
        reps = first[1:]
        rx = self._x0 + (reps % ncol + 0.5) * cell
        ry = self._y0 + (reps // ncol + 0.5) * cell
        region_label = np.concatenate([[_BOUNDARY], self._exact(rx, ry)]).astype(np.int32)
        self._labels = region_label[regions]

    # -- queries ------------------------------------------------------------------------------

    def _exact(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Polygon position for each point (smallest on ties), -1 outside; no deduplication."""
        out = np.full(x.size, np.iinfo(np.int64).max, dtype=np.int64)
        if x.size:
            pairs = self._tree.query(shapely.points(x, y), predicate="intersects")
            np.minimum.at(out, pairs[0], pairs[1])
        out[out == np.iinfo(np.int64).max] = _OUTSIDE
        return out

    def assign_index(self, easting: npt.ArrayLike, northing: npt.ArrayLike) -> np.ndarray:
        """Position in :attr:`codes` of the polygon holding each point, or -1.

        Parameters
        ----------
        easting, northing
            British National Grid metres, equal length; NaN means no location.

        Returns
        -------
        numpy.ndarray
            int32 positions into :attr:`codes`; -1 for NaN or a point outside every polygon.
        """
        x, y, ok = _finite_pair(easting, northing)
        out = np.full(x.size, _OUTSIDE, dtype=np.int32)
        if not ok.any() or self._labels.size == 0:
            return out
        nrow, ncol = self._labels.shape
        col = np.floor((x - self._x0) / self._cell)
        row = np.floor((y - self._y0) / self._cell)
        inside = ok & (col >= 0) & (col < ncol) & (row >= 0) & (row < nrow)
        where = np.flatnonzero(inside)
        label = self._labels[row[where].astype(np.intp), col[where].astype(np.intp)]
        out[where] = label
        hard = where[label == _BOUNDARY]
        if hard.size:
            # Snapped data repeats coordinates heavily: test each distinct point once.
            key = x[hard] + 1j * y[hard]
            uniq, inverse = np.unique(key, return_inverse=True)
            found = self._exact(uniq.real, uniq.imag).astype(np.int32)
            out[hard] = found[inverse]
        return out

    def assign(self, easting: npt.ArrayLike, northing: npt.ArrayLike) -> np.ndarray:
        """Code of the polygon holding each point.

        Parameters
        ----------
        easting, northing
            British National Grid metres (see :func:`vru.geo.crs.to_bng`), equal length.

        Returns
        -------
        numpy.ndarray
            Object array of codes; ``None`` where a coordinate is NaN or the point is outside
            every polygon. A point on a shared border gets the smallest of the codes.
        """
        pos = self.assign_index(easting, northing)
        table = np.append(self._codes, None)  # position -1 reads the trailing None
        return table[pos]

    def covers(self, easting: npt.ArrayLike, northing: npt.ArrayLike) -> np.ndarray:
        """Boolean mask: the point lies in (or on the edge of) some polygon."""
        return self.assign_index(easting, northing) >= 0

    @property
    def codes(self) -> np.ndarray:
        """All codes, in the order :meth:`assign_index` positions refer to (sorted)."""
        return self._codes.copy()

    @property
    def geometries(self) -> np.ndarray:
        """Polygons in :attr:`codes` order (EPSG:27700)."""
        return self._geoms.copy()

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min easting, min northing, max easting, max northing) of all polygons."""
        return self._bounds

    @property
    def cell_size(self) -> float:
        """Side in metres of the acceleration raster's cells."""
        return self._cell

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return f"AreaIndex({len(self)} areas, raster cell {self._cell:.1f} m)"


_MAGIC = b"VRUIDX1\n"


def _write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays as one file: a magic line, a JSON header (name → dtype, shape, offset), the
    raw bytes. Written atomically: a concurrent reader sees the old file or the new."""
    header, blobs, at = {}, [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        header[name] = [a.dtype.str, list(a.shape), at]
        blobs.append(a.tobytes())
        at += a.nbytes
    head = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(_MAGIC + len(head).to_bytes(8, "little") + head)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """What `_write_arrays` wrote (ValueError if the file is not one)."""
    data = Path(path).read_bytes()
    if not data.startswith(_MAGIC):
        raise ValueError(f"{path}: not an index file")
    start = len(_MAGIC) + 8
    size = int.from_bytes(data[len(_MAGIC):start], "little")
    header = json.loads(data[start:start + size])
    body = start + size
    out = {}
    for name, (dtype, shape, at) in header.items():
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        out[name] = np.frombuffer(data, dtype=dt, count=count,
                                  offset=body + at).reshape(shape)
    return out


def cache_dir() -> Path:
    """Where built indexes are kept between processes: ``$VRU_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/vru``, else ``~/.cache/vru``."""
    if os.environ.get("VRU_CACHE_DIR"):
        return Path(os.environ["VRU_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vru"


_CACHE_FORMAT = "2"  # bump when the saved layout or the raster rule changes


@lru_cache(maxsize=2)
def _shipped(kind: str) -> AreaIndex:
    """The shipped boundaries' index: built once per machine (0.6 s), then loaded (~0.05 s).

    The cache key is the content of the shipped files, so new boundaries rebuild it; an
    unreadable or unwritable cache only costs the build.
    """
    # Imported here: building an index for a user's own frame should not load shipped data.
    from vru.data import asset
    from vru.geo.boundaries import load_msoa

    folder = asset("geography", f"{kind}-2011")  # the MSOAs: Thames Valley only
    h = hashlib.sha256(_CACHE_FORMAT.encode())
    for f in sorted(folder.glob("*")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    path = cache_dir() / f"areaindex-{kind}-{h.hexdigest()[:16]}.idx"
    try:
        return AreaIndex.load(path)
    except (OSError, ValueError, KeyError, EOFError):
        pass
    index = AreaIndex.from_frame(load_msoa(), "msoa11cd")
    with contextlib.suppress(OSError):
        index.save(path)
    return index


# A district's raster: cells of 25 m or more, at most about 200,000 of them, so it builds in
# ~10 ms and a few per cent of points (those in cells a border crosses) are tested exactly.
_DISTRICT_CELL = 25.0
_DISTRICT_CELLS = 200_000


class LsoaLookup:
    """Point -> 2011 LSOA anywhere in England and Wales, reading only the districts needed.

    The shipped LSOA index (codes, districts, bounding boxes; milliseconds to read) says which
    districts a point may fall in; those districts' polygons are read and indexed (an
    :class:`AreaIndex` per district, ~20 ms each) the first time a point needs them and kept
    for the process, and in :func:`cache_dir` for the next (a cached district loads in ~2 ms).
    Answers are those of one :class:`AreaIndex` over every LSOA: the code of the polygon
    holding the point, the smallest code on a shared border, ``None`` outside.
    """

    def __init__(self) -> None:
        from vru.geo.lsoa_list import lsoa_arrays

        self._codes, districts, box = lsoa_arrays()  # codes sorted
        self._sorted = self._codes.astype(str)  # fixed-width: searched in C, not by Python
        self._districts, self._district_of = np.unique(districts.astype(str), return_inverse=True)
        self._tree = shapely.STRtree(shapely.box(box[:, 0], box[:, 1], box[:, 2], box[:, 3]))
        self._bounds = (float(box[:, 0].min()), float(box[:, 1].min()),
                        float(box[:, 2].max()), float(box[:, 3].max()))
        # district position -> (its index, positions of its codes in self._codes)
        self._loaded: dict[int, tuple[AreaIndex, np.ndarray]] = {}
        self._digest: str | None = None

    def _candidates(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(point, district) pairs where the point lies in the box of one of its LSOAs."""
        pts, boxes = self._tree.query(shapely.points(x, y), predicate="intersects")
        # one int64 key per pair: a 1-d unique is far quicker than unique rows
        key = np.unique(self._district_of[boxes].astype(np.int64) * max(x.size, 1) + pts)
        return key % max(x.size, 1), key // max(x.size, 1)

    def _cache_path(self, district: str) -> Path | None:
        """Where a district's built index is kept; keyed by the shipped file (its size, and
        its first and last megabyte, which hold the Parquet footer), so new boundaries
        rebuild it without hashing the whole file in every process."""
        if self._digest is None:
            from vru.data import asset
            from vru.geo.lsoa_list import SHIPPED_LSOA

            h = hashlib.sha256(f"{_CACHE_FORMAT}/{_DISTRICT_CELL}/{_DISTRICT_CELLS}".encode())
            try:
                with open(asset("geography", SHIPPED_LSOA), "rb") as f:
                    size = f.seek(0, os.SEEK_END)
                    f.seek(0)
                    h.update(f"{size}".encode() + f.read(1 << 20))
                    f.seek(max(0, size - (1 << 20)))
                    h.update(f.read())
            except OSError:
                return None
            self._digest = h.hexdigest()[:16]
        return cache_dir() / f"lsoa-ew-{self._digest}" / f"{district}.idx"

    def _read(self, wanted: np.ndarray) -> None:
        """Index the districts (positions) not read yet: from the cache, else built and kept."""
        todo = [int(d) for d in np.unique(wanted) if int(d) not in self._loaded]
        build = []
        for d in todo:
            path = self._cache_path(str(self._districts[d]))
            try:
                self._keep(d, AreaIndex.load(path) if path else None)
            except (OSError, ValueError, KeyError, EOFError):
                build.append(d)
        if not build:
            return
        from vru.geo.boundaries import read_shipped

        # one read of the shipped file for every district still missing
        frame = read_shipped(self._districts[build])
        for district, part in frame.groupby("lad13cd", sort=True):
            minx, miny, maxx, maxy = part.total_bounds
            cell = max(_DISTRICT_CELL, float(np.sqrt((maxx - minx) * (maxy - miny)
                                                     / _DISTRICT_CELLS)))
            index = AreaIndex.from_frame(part, "lsoa11cd", cell_size=cell)
            self._keep(int(np.searchsorted(self._districts, district)), index)
            path = self._cache_path(str(district))
            if path is not None:
                with contextlib.suppress(OSError):
                    index.save(path)

    def _keep(self, d: int, index: AreaIndex | None) -> None:
        if index is None:
            raise OSError("no cache")
        self._loaded[d] = (index, np.searchsorted(self._sorted, index.codes.astype(str)))

    def districts_for(self, easting: npt.ArrayLike, northing: npt.ArrayLike) -> list[str]:
        """Districts whose LSOA bounding boxes hold some of the points (nothing is read)."""
        x, y, ok = _finite_pair(easting, northing)
        _, district = self._candidates(x[ok], y[ok])
        return sorted(str(c) for c in self._districts[np.unique(district)])

    def assign_index(self, easting: npt.ArrayLike, northing: npt.ArrayLike) -> np.ndarray:
        """Position in :attr:`codes` of the LSOA holding each point, or -1 (as AreaIndex)."""
        x, y, ok = _finite_pair(easting, northing)
        best = np.full(x.size, len(self._codes), dtype=np.int64)
        where = np.flatnonzero(ok)
        pts, district = self._candidates(x[where], y[where])
        if pts.size:
            self._read(district)
            order = np.argsort(district, kind="stable")
            pts, district = where[pts[order]], district[order]
            cuts = np.flatnonzero(np.diff(district)) + 1
            for p, d in zip(np.split(pts, cuts), district[np.r_[0, cuts]], strict=True):
                index, glob = self._loaded[int(d)]
                local = index.assign_index(x[p], y[p])
                hit = local >= 0
                # sorted codes: the smallest position is the smallest code across districts
                np.minimum.at(best, p[hit], glob[local[hit]])
        best[best == len(self._codes)] = _OUTSIDE
        return best.astype(np.int32)

    def assign(self, easting: npt.ArrayLike, northing: npt.ArrayLike) -> np.ndarray:
        """Code of the LSOA holding each point; ``None`` for NaN or outside England and Wales."""
        return np.append(self._codes, None)[self.assign_index(easting, northing)]

    def covers(self, easting: npt.ArrayLike, northing: npt.ArrayLike) -> np.ndarray:
        """Boolean mask: the point lies in (or on the edge of) some LSOA."""
        return self.assign_index(easting, northing) >= 0

    @property
    def codes(self) -> np.ndarray:
        """Every shipped LSOA code, sorted: what :meth:`assign_index` positions refer to."""
        return self._codes.copy()

    @property
    def loaded(self) -> list[str]:
        """Districts read so far, sorted."""
        return sorted(str(self._districts[d]) for d in self._loaded)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min easting, min northing, max easting, max northing) of England and Wales."""
        return self._bounds

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return f"LsoaLookup({len(self)} LSOAs, {len(self._loaded)} districts loaded)"


@lru_cache(maxsize=1)
def _lsoa_lookup() -> LsoaLookup:
    return LsoaLookup()


class LayeredLookup:
    """Point -> 2011 LSOA from a home's own boundaries first, then the shipped ones.

    A VRU that loaded newer or finer LSOA 2011 boundaries (``vru boundaries load``) gets its
    own answer wherever its polygons cover a point; elsewhere the shipped England and Wales
    set answers as usual, so a row just past the loaded area is still placed.
    """

    def __init__(self, own: AreaIndex, fallback: AreaIndex | LsoaLookup) -> None:
        self.own, self.fallback = own, fallback

    def assign(self, easting: npt.ArrayLike, northing: npt.ArrayLike) -> np.ndarray:
        e, n = np.asarray(easting, dtype=float), np.asarray(northing, dtype=float)
        out = self.own.assign(e, n)
        missing = np.array([c is None for c in out], dtype=bool)
        if missing.any():
            out[missing] = self.fallback.assign(e[missing], n[missing])
        return out

    def __repr__(self) -> str:
        return f"LayeredLookup({len(self.own)} own LSOAs over {self.fallback!r})"


@lru_cache(maxsize=4)
def _home_index(files: tuple[tuple[str, int], ...]) -> AreaIndex:
    from vru.geo.boundaries import load_lsoa  # the boundaries module imports this one

    return AreaIndex.from_frame(load_lsoa([Path(p) for p, _ in files]), "lsoa11cd")


def home_lookup(files: Sequence[Path]) -> AreaIndex | LsoaLookup | LayeredLookup:
    """The point -> LSOA lookup ingest uses for a home with these 2011 boundary files.

    No files: the shipped lookup. Otherwise their index (built once per process per set of
    files and modification times) layered over the shipped one.
    """
    if not files:
        return AreaIndex.lsoa()
    key = tuple((str(p), Path(p).stat().st_mtime_ns) for p in sorted(files))
    return LayeredLookup(_home_index(key), AreaIndex.lsoa())
