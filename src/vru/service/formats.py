"""The registry of output formats: one writer per suffix, for tables, maps and charts.

Everything written here has already passed the service's release function; a format only
changes how released figures are laid out, never what they are.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vru.analysis import outputs
from vru.governance.disclosure import MARKER
from vru.service.errors import BadRequest

TABLE_FORMATS = ("table", "csv", "json", "parquet")


class _Framed:
    """A result seen through another frame (a forecast with its cells' polygons)."""

    def __init__(self, frame: Any, meta: dict[str, Any]) -> None:
        self.frame, self.meta = frame, meta


def _write_result(result: Any, path: Path) -> Path:
    if hasattr(result, "geoframe") and path.suffix.lower() in (".geojson", ".gpkg"):
        result = _Framed(result.geoframe, result.meta)
    try:
        return outputs.write_result(result, path)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _png(result: Any, path: Path) -> Path:
    if hasattr(result, "matrix"):
        if result.matrix is None:
            raise BadRequest("no event has a time of day: there is no hour x weekday chart")
        return outputs.plot_hour_weekday(result, path)
    if hasattr(result, "grid"):
        return _density_png(result, path)
    if hasattr(result, "geoframe"):
        return outputs.plot_forecast(result, path)
    if getattr(result, "curve", None) is not None:
        return outputs.plot_hit_rate_curve(result.curve, path)
    if getattr(result, "table", None) is not None:
        # a restricted reader's accuracy: the curve through the released fixed shares only
        t = result.table[result.table["at"] != "own"]
        wide = t.pivot(index="area_share", columns="map", values="hit_rate").reset_index()
        return outputs.plot_hit_rate_curve(wide, path, title="Hit rate at fixed shares of "
                                           "the area (released figures)")
    if hasattr(result, "frame") and "class" in getattr(result.frame, "columns", []):
        return outputs.plot_classes(result, path)
    raise BadRequest(f"{path}: this output has no picture; write .csv or .parquet")


#: suffix -> writer(result, path) for analysis outputs
RESULT_WRITERS: dict[str, Callable[[Any, Path], Path]] = {
    ".parquet": _write_result, ".csv": _write_result, ".geojson": _write_result,
    ".gpkg": _write_result, ".png": _png,
}


def write(result: Any, path: str | Path) -> Path:
    """Write a released analysis output by the suffix of ``path``."""
    p = Path(path)
    if hasattr(result, "grid"):
        if p.suffix.lower() in (".parquet", ".csv"):
            return _density_table(result, p)
        if p.suffix.lower() != ".png":
            raise BadRequest(f"{p}: a density surface is written as .parquet, .csv or .png")
    writer = RESULT_WRITERS.get(p.suffix.lower())
    if writer is None:
        raise BadRequest(f"{p}: write one of {', '.join(RESULT_WRITERS)}")
    return writer(result, p)


def shown(table: pa.Table, counts: list[str] | None = None) -> pa.Table:
    """Count columns as text for people: suppressed (null) counts as ``*``."""
    counts = counts or [f.name for f in table.schema if pa.types.is_integer(f.type)]
    cols = {}
    for name in table.column_names:
        if name in counts:
            cols[name] = pa.array([MARKER if v is None else str(v)
                                   for v in table[name].to_pylist()], pa.string())
        else:
            cols[name] = table[name]
    return pa.table(cols)


def table_text(table: pa.Table, fmt: str) -> bytes | str:
    """A released table as csv / json text (parquet as bytes)."""
    if fmt == "csv":
        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        return buf.getvalue().decode()
    if fmt == "json":
        return json.dumps(table.to_pylist(), default=str)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()
    raise BadRequest(f"unknown format {fmt!r}: use {', '.join(TABLE_FORMATS)}")


def density_frame(result: Any) -> pa.Table:
    """Grid cells of a density surface with their value (FFT round-off dropped)."""
    xs, ys = result.grid.centres()
    x, y = np.meshgrid(xs, ys)  # values[row, col]: row 0 is the southern row
    values = result.grid.values
    frame = pa.table({"easting": x.ravel(), "northing": y.ravel(),
                      "density_per_km2": np.asarray(values).ravel()})
    floor = float(np.max(values)) * 1e-6  # below this is FFT round-off, not density
    return frame.filter(pa.compute.greater(frame["density_per_km2"], floor))


def _density_table(result: Any, path: Path) -> Path:
    frame = density_frame(result)
    meta = json.dumps(result.meta, default=str)
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(frame, path)
        path.with_name(path.name + ".meta.json").write_text(meta)
    else:
        import pyarrow.parquet as pq

        pq.write_table(frame.replace_schema_metadata({b"vru": meta.encode()}), path)
    return path


def _density_png(result: Any, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = result.grid.centres()
    grid = np.asarray(result.grid.values)
    fig, ax = plt.subplots(figsize=(7, 7))
    # FFT leaves ±1e-12 noise where nothing is: show only what carries density
    ax.imshow(np.ma.masked_less_equal(grid, grid.max() * 1e-6), origin="lower",
              cmap="magma_r", extent=(float(np.min(xs)), float(np.max(xs)),
                                      float(np.min(ys)), float(np.max(ys))))
    p = result.meta["parameters"]
    ax.set_title(f"{p['kernel']} kernel density, bandwidth {p['bandwidth']:.0f} m")
    ax.set_axis_off()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path

