"""Write hotspot results to Parquet, CSV, GeoJSON or GeoPackage, and draw quick-look PNGs.

Where the provenance (lake table versions read, parameters) goes:

* ``.parquet`` — the file's schema metadata, key ``vru`` (JSON), plus GeoParquet ``geo``
  metadata through GeoPandas.
* ``.csv``, ``.geojson``, ``.gpkg`` — a sidecar ``<file>.meta.json`` next to the file (CSV has
  no metadata; GeoJSON readers drop foreign members; a sidecar is read the same way for all).
  CSV rows carry the geometry as WKT in WGS84.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

__all__ = ["SUFFIXES", "plot_classes", "plot_forecast", "plot_hit_rate_curve",
           "plot_hour_weekday", "read_meta", "write_result"]

SUFFIXES = (".parquet", ".csv", ".geojson", ".gpkg")


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def write_result(result: Any, path: str | Path) -> Path:
    """Write ``result.frame`` (a GeoDataFrame or DataFrame) and ``result.meta`` by suffix.

    Parameters
    ----------
    result
        A :class:`~vru.analysis.hotspots.HotspotResult` (or anything with ``frame`` and
        ``meta``; a :class:`~vru.analysis.hotspots.TimesResult` writes its matrix).
    path : str or Path
        ``.parquet``, ``.csv``, ``.geojson`` or ``.gpkg``.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValueError
        For an unsupported suffix, or a geographic format asked of a table without geometry.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{p}: write .parquet, .csv, .geojson or .gpkg (not {suffix or 'none'})")
    frame = result.matrix.reset_index() if hasattr(result, "matrix") else result.frame
    frame.columns = [str(c) for c in frame.columns]
    meta = json.dumps(result.meta, default=_json_default, sort_keys=True)
    p.parent.mkdir(parents=True, exist_ok=True)
    is_geo = isinstance(frame, gpd.GeoDataFrame)
    if suffix == ".parquet":
        if is_geo:
            frame.to_parquet(p, index=False)
        else:
            pd.DataFrame(frame).to_parquet(p, index=False)
        table = pq.read_table(p)
        md = dict(table.schema.metadata or {})
        md[b"vru"] = meta.encode()
        pq.write_table(table.replace_schema_metadata(md), p)
        return p
    if suffix == ".csv":
        out = pd.DataFrame(frame)
        if is_geo:
            out["geometry"] = frame.geometry.to_wkt()
        out.to_csv(p, index=False)
    else:
        if not is_geo:
            raise ValueError(f"{p}: {suffix} needs geometries; write .parquet or .csv instead")
        driver = "GeoJSON" if suffix == ".geojson" else "GPKG"
        if p.exists():
            p.unlink()  # GPKG would otherwise add a layer to the old file
        frame.to_file(p, driver=driver, layer=p.stem if driver == "GPKG" else None)
    _sidecar(p).write_text(meta + "\n", encoding="utf-8")
    return p


def read_meta(path: str | Path) -> dict[str, Any]:
    """The provenance written with a result (Parquet metadata or the ``.meta.json`` sidecar)."""
    p = Path(path)
    if p.suffix.lower() == ".parquet":
        md = pq.read_schema(p).metadata or {}
        if b"vru" not in md:
            raise ValueError(f"{p}: no vru metadata in the Parquet schema")
        return json.loads(md[b"vru"])
    side = _sidecar(p)
    if not side.exists():
        raise FileNotFoundError(f"{p}: no metadata sidecar {side.name}")
    return json.loads(side.read_text(encoding="utf-8"))


_CLASS_COLOURS = {3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", 0: "#f7f7f7", -1: "#d1e5f0",
                  -2: "#67a9cf", -3: "#2166ac"}


def plot_classes(result: Any, path: str | Path, lsoa: gpd.GeoDataFrame | None = None,
                 title: str | None = None) -> Path:
    """PNG map of Gi* classes (hot reds, cold blues) over the LSOA outlines.

    Parameters
    ----------
    result
        A Gi* :class:`~vru.analysis.hotspots.HotspotResult`.
    path : str or Path
        PNG file to write.
    lsoa : GeoDataFrame, optional
        Outlines to draw (default: the boundaries the result's study area stands on).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from vru.analysis.fdr import bin_labels

    f = result.frame.to_crs("EPSG:27700")
    if lsoa is None and getattr(result, "counts", None) is not None:
        lsoa = result.counts.area.lsoa
    fig, ax = plt.subplots(figsize=(8, 9), dpi=110)
    sig = f[f["class"] != 0]
    if len(sig):
        sig.plot(ax=ax, color=sig["class"].map(_CLASS_COLOURS), linewidth=0)
    if lsoa is not None:
        lsoa.to_crs("EPSG:27700").boundary.plot(ax=ax, color="#999999", linewidth=0.15)
    present = sorted(set(f["class"].tolist()) - {0}, reverse=True)
    ax.legend(handles=[Patch(color=_CLASS_COLOURS[c], label=str(bin_labels([c])[0]))
                       for c in present], loc="lower left", fontsize=7, frameon=False)
    p = result.meta.get("parameters", {})
    ax.set_title(title or f"Gi* hot and cold spots — {p.get('category') or 'all'} "
                 f"({p.get('cell')}, {p.get('start') or '…'} to {p.get('end') or '…'})",
                 fontsize=9)
    return _save_map(fig, ax, path)


def _save_map(fig: Any, ax: Any, path: str | Path) -> Path:
    """A map's last step: no axes, metres equal both ways, written to ``path`` and closed."""
    import matplotlib.pyplot as plt

    ax.set_axis_off()
    ax.set_aspect("equal")
    out = Path(path)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_hour_weekday(result: Any, path: str | Path, title: str | None = None) -> Path:
    """PNG heat map of an hour × weekday matrix (:class:`~vru.analysis.hotspots.TimesResult`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = result.matrix if hasattr(result, "matrix") else result
    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=110)
    im = ax.imshow(m.to_numpy(), aspect="auto", cmap="Reds")
    ax.set_yticks(range(len(m.index)), [str(d)[:3] for d in m.index])
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour of day")
    fig.colorbar(im, ax=ax, label="events (aoristic)")
    ax.set_title(title or "When: events by weekday and hour", fontsize=9)
    out = Path(path)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_forecast(result: Any, path: str | Path, lsoa: gpd.GeoDataFrame | None = None) -> Path:
    """PNG map of a forecast: the cells of the top 1, 2, 5 and 10 % of the area by score.

    Parameters
    ----------
    result
        A :class:`~vru.analysis.forecast.ForecastResult`.
    path : str or Path
        PNG file to write.
    lsoa : GeoDataFrame, optional
        Outlines to draw (default: the study area's LSOA boundaries).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from vru.analysis.accuracy import selection

    f = result.frame
    score = f["score"].to_numpy()
    bands = ((0.01, "#7f0000", "top 1 % of the area"), (0.02, "#d7301f", "top 2 %"),
             (0.05, "#fc8d59", "top 5 %"), (0.10, "#fdd49e", "top 10 %"))
    colour = np.full(len(f), None, dtype=object)
    for share, c, _ in reversed(bands):
        # a cell is drawn in a band when it is at least half in it (cells tied at the edge
        # share what is left of the area) and something is expected there at all
        colour[(selection(score, result.area_m2, share) >= 0.5) & (score > 0)] = c
    size = float(result.meta["parameters"]["cell"].split(":")[1])
    fig, ax = plt.subplots(figsize=(8, 9), dpi=110)
    if lsoa is None and getattr(result, "counts", None) is not None:
        lsoa = result.counts.area.lsoa
    if lsoa is not None:
        lsoa.to_crs("EPSG:27700").boundary.plot(ax=ax, color="#bbbbbb", linewidth=0.15)
    for _, c, _ in reversed(bands):
        sel = colour == c
        ax.scatter(f["easting"][sel], f["northing"][sel], marker="s", s=2.0, c=c,
                   linewidths=0)
    ax.legend(handles=[Patch(color=c, label=t) for _, c, t in bands], loc="lower left",
              fontsize=7, frameon=False)
    _name_districts(ax)
    # a 10 km scale bar in the south-east corner
    x1, y0 = ax.get_xlim()[1], ax.get_ylim()[0]
    ax.plot([x1 - 12_000, x1 - 2_000], [y0 + 3_000] * 2, color="black", linewidth=2)
    ax.text(x1 - 7_000, y0 + 4_000, "10 km", ha="center", fontsize=7)
    p = result.meta["parameters"]
    w = result.meta.get("window", ["?", "?"])
    ax.set_title(f"Forecast ({p['model']}) of {', '.join(p.get('category') or ['all crime'])}, "
                 f"{w[0]}..{w[1]}, from {p.get('start')}..{p['end']} "
                 f"({', '.join(p.get('source') or ['all sources'])}; {size:g} m cells)",
                 fontsize=8)
    return _save_map(fig, ax, path)


def _name_districts(ax: Any) -> None:
    """Label the districts of the shipped gazetteer that lie on the map, at their
    population-weighted centres (in the town for districts named after one)."""
    import csv
    import gzip

    from vru.data import asset
    from vru.geo.crs import to_bng

    with gzip.open(asset("gazetteer", "places.csv.gz"), "rt", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] == "district"]
    if not rows:
        return
    x, y = to_bng(np.array([float(r["lon"]) for r in rows]),
                  np.array([float(r["lat"]) for r in rows]))
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for name, px, py in zip((r["name"] for r in rows), x, y, strict=True):
        if x0 <= px <= x1 and y0 <= py <= y1:
            ax.annotate(name, (px, py), fontsize=6, color="#333333", ha="center",
                        xytext=(0, 6), textcoords="offset points")


def plot_hit_rate_curve(curve: pd.DataFrame, path: str | Path, title: str | None = None) -> Path:
    """PNG of hit rate by share of area: one line per map (and perfect foresight).

    ``curve`` has ``area_share`` and a hit-rate column per map (an ``origin`` column, when
    present, gives one panel line per origin and map)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=110)
    groups = curve.groupby("origin") if "origin" in curve.columns else [(None, curve)]
    styles = ["-", "--", ":", "-."]
    for k, (origin, c) in enumerate(groups):
        for name in [x for x in c.columns if x not in ("area_share", "origin")]:
            label = f"{name} (from {origin})" if origin is not None else name
            ax.plot(c["area_share"] * 100, c[name] * 100, styles[k % 4],
                    color="black" if name == "perfect" else None, label=label, linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("share of the area (%)")
    ax.set_ylabel("share of the test period's events caught (%)")
    for s in (1, 2, 5, 10):
        ax.axvline(s, color="#dddddd", linewidth=0.6, zorder=0)
    ax.legend(fontsize=6, frameon=False)
    ax.set_title(title or "Hit rate by share of area", fontsize=9)
    out = Path(path)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out
