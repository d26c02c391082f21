"""Vectorised conversion between WGS84 longitude/latitude and British National Grid metres.

Every distance, density and grid in vru is computed in British National Grid (EPSG:27700);
WGS84 (EPSG:4326) is for exchange and the browser. Conversion goes through pyproj with
``always_xy=True`` so arguments are always (x, y) = (longitude, latitude) or (easting,
northing), never the EPSG axis order.

Accuracy
--------
The best WGS84 -> OSGB36 transformation uses Ordnance Survey's OSTN15 grid
(``uk_os_OSTN15_NTv2_OSGBtoETRS.tif``). vru never downloads it, so unless the grid has been
installed into PROJ's data directory by hand, PROJ falls back to the 7-parameter Helmert
transformation (EPSG "OSGB36 to WGS 84 (6)"), whose stated accuracy is about 2 m. That is
well below the precision of anonymised data.police.uk map points and of any analysis grid
vru uses, but it means eastings/northings differ by up to a few metres from those OS
software would give. :func:`transform_accuracy` says which case applies on this machine.
"""

from __future__ import annotations

import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from pyproj import Transformer
from pyproj.enums import TransformDirection
from pyproj.transformer import TransformerGroup

__all__ = ["BNG", "WGS84", "to_bng", "to_wgs84", "transform_accuracy"]

WGS84 = "EPSG:4326"
BNG = "EPSG:27700"

_log = logging.getLogger(__name__)

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

_THREADS = max(1, min(4, os.cpu_count() or 1))
_MIN_PER_THREAD = 100_000  # below this, thread hand-off costs more than it saves


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    # One pool per process: a forked child inherits the pool object but not its threads,
    # and would wait forever on it.
    pid = os.getpid()
    if pid not in _pools:
        _pools[pid] = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="vru-crs")
    return _pools[pid]


@lru_cache(maxsize=1)
def _operations() -> TransformerGroup:
    with warnings.catch_warnings(record=True) as caught:
        # TransformerGroup warns when the best (grid-based) operation is missing: that is the
        # expected offline state; log it once instead of warning on every import.
        warnings.simplefilter("always")
        group = TransformerGroup(WGS84, BNG, always_xy=True)
    for w in caught:
        _log.info("pyproj: %s", w.message)
    if not group.transformers:
        raise RuntimeError("PROJ offers no WGS84 -> British National Grid transformation")
    return group


@lru_cache(maxsize=1)
def _transformer() -> Transformer:
    """The best operation available here, pinned for both directions and safe across threads.

    ``Transformer.from_crs`` would choose among several operations point by point (by area
    of use), so near the edge of Great Britain the two directions could disagree by tens of
    metres; one pinned operation makes ``to_wgs84`` the exact inverse of ``to_bng``. The
    group's own transformer objects are not thread-safe, so the operation is rebuilt from
    its PROJ string (``always_xy`` order already applied), which pyproj keeps per thread.
    """
    return Transformer.from_pipeline(_operations().transformers[0].to_proj4())


def transform_accuracy() -> tuple[float, str]:
    """Stated accuracy (metres) and description of the WGS84 -> BNG transformation in use.

    Returns
    -------
    (accuracy_m, description)
        About ``(2.0, "... OSGB36 to WGS 84 (6) ...")`` without the OSTN15 grid (the
        Helmert fallback), under a metre when the grid is installed locally. Nothing is
        downloaded.
    """
    best = _operations().transformers[0]
    return float(best.accuracy), str(best.description)


def _run(
    tr: Transformer,
    x: np.ndarray,
    y: np.ndarray,
    direction: TransformDirection,
    ox: np.ndarray,
    oy: np.ndarray,
    part: slice,
) -> None:
    ox[part], oy[part] = tr.transform(x[part], y[part], direction=direction)


def _as_float_arrays(a: ArrayLike, b: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"coordinate arrays differ in shape: {x.shape} and {y.shape}")
    return x, y


def _transform(inverse: bool, a: ArrayLike, b: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, y = _as_float_arrays(a, b)
    if x.size == 0:
        return x.copy(), y.copy()
    direction = TransformDirection.INVERSE if inverse else TransformDirection.FORWARD
    tr = _transformer()
    flat_x, flat_y = x.ravel(), y.ravel()
    ox = np.empty(flat_x.shape, dtype=np.float64)
    oy = np.empty(flat_y.shape, dtype=np.float64)
    workers = min(_THREADS, max(1, flat_x.size // _MIN_PER_THREAD))
    if workers == 1:
        _run(tr, flat_x, flat_y, direction, ox, oy, slice(None))
    else:
        # PROJ releases the GIL: large arrays are split across cores.
        edges = np.linspace(0, flat_x.size, workers + 1).astype(int)
        parts = [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        list(_pool().map(lambda p: _run(tr, flat_x, flat_y, direction, ox, oy, p), parts))
    ox, oy = ox.reshape(x.shape), oy.reshape(y.shape)
    # PROJ returns inf for NaN or out-of-domain input; callers expect NaN for "no location".
    bad = ~(np.isfinite(x) & np.isfinite(y) & np.isfinite(ox) & np.isfinite(oy))
    if bad.any():
        ox = np.where(bad, np.nan, ox)
        oy = np.where(bad, np.nan, oy)
    return ox, oy


def to_bng(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 longitude/latitude (degrees) to British National Grid easting/northing.

    Parameters
    ----------
    lon, lat
        Arrays (or scalars) of equal shape, degrees. NaN means "no location".

    Returns
    -------
    (easting, northing)
        float64 arrays of the input shape, metres. NaN where either input is NaN or the
        point cannot be projected.

    Notes
    -----
    Vectorised through PROJ (about 3.5 million points a second per core; arrays of more
    than 200,000 points are split across cores). Without the OSTN15 grid the error is
    about 2 m; see the module docstring.
    """
    return _transform(False, lon, lat)


def to_wgs84(easting: ArrayLike, northing: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert British National Grid easting/northing (metres) to WGS84 longitude/latitude.

    Parameters
    ----------
    easting, northing
        Arrays (or scalars) of equal shape, metres. NaN means "no location".

    Returns
    -------
    (lon, lat)
        float64 arrays of the input shape, degrees; NaN where either input is NaN.
    """
    return _transform(True, easting, northing)
