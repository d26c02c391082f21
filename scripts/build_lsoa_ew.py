"""Build the shipped England and Wales LSOA 2011 boundaries from ONS GeoJSON, once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from vru.geo.boundaries import _load_areas

# decimetres: 0.1 m is far below the generalisation of the ONS boundaries (about 20 m)
_GRID = 0.1


def _encode(geoms: np.ndarray) -> dict[str, pa.Array]:
    """Polygons as lists per LSOA: rings per part, points per ring, delta-coded decimetres."""
    parts, rings, xs, ys = [], [], [], []
    for g in geoms:
        polys = shapely.get_parts(g)
        parts.append([1 + shapely.get_num_interior_rings(p) for p in polys])
        ring_len, coords = [], []
        for p in polys:
            for r in [p.exterior, *p.interiors]:
                c = np.rint(shapely.get_coordinates(r) / _GRID).astype(np.int64)
                ring_len.append(len(c))
                coords.append(c)
        c = np.concatenate(coords)
        d = np.diff(c, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
        rings.append(ring_len)
        xs.append(d[:, 0].astype(np.int32))
        ys.append(d[:, 1].astype(np.int32))
    lst = pa.list_(pa.int32())
    return {"parts": pa.array(parts, lst), "rings": pa.array(rings, lst),
            "x": pa.array(xs, lst), "y": pa.array(ys, lst)}


def main(argv: list[str] | None = None) -> int:
    """Read ``SRC/*.json.gz`` and write ``OUT/lsoa-2011-ew.parquet`` and its index."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("src", type=Path, help="folder of ONS LSOA 2011 GeoJSON, one per district")
    ap.add_argument("out", type=Path, help="folder to write (src/vru/data/geography)")
    args = ap.parse_args(argv)
    files = tuple(str(p) for p in sorted(args.src.glob("*.json.gz")))
    frame = _load_areas(files, "lsoa11cd", "lsoa11nm")
    # snap to the 0.1 m grid keeping polygons valid, so loading needs no repair
    frame["geometry"] = shapely.set_precision(frame.geometry.values, _GRID)
    bad = ~frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]) | frame.geometry.is_empty
    if bad.any():
        raise SystemExit(f"snapping broke {list(frame['lsoa11cd'][bad])}")
    frame = frame.sort_values(["lad13cd", "lsoa11cd"], kind="stable").reset_index(drop=True)
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / "lsoa-2011-ew.parquet"
    schema = None
    with pq.ParquetWriter(data, _schema(), compression="zstd", compression_level=19) as w:
        for _lad, part in frame.groupby("lad13cd", sort=True):
            # one row group per district: a read of a few districts skips the rest
            enc = _encode(np.asarray(part.geometry.values, dtype=object))
            w.write_table(pa.table({"lad13cd": part["lad13cd"].to_numpy(dtype=object),
                                    "lsoa11cd": part["lsoa11cd"].to_numpy(dtype=object),
                                    "lsoa11nm": part["lsoa11nm"].to_numpy(dtype=object), **enc},
                                   schema=_schema()))
    del schema
    b = shapely.bounds(np.asarray(frame.geometry.values, dtype=object))
    pq.write_table(pa.table({
        "lsoa11cd": frame["lsoa11cd"].to_numpy(dtype=object),
        "lad13cd": frame["lad13cd"].to_numpy(dtype=object),
        # whole metres, outward, so a box always holds its polygon
        "minx": np.floor(b[:, 0]).astype(np.int32), "miny": np.floor(b[:, 1]).astype(np.int32),
        "maxx": np.ceil(b[:, 2]).astype(np.int32), "maxy": np.ceil(b[:, 3]).astype(np.int32),
    }), args.out / "lsoa-2011-ew-index.parquet", compression="zstd", compression_level=19)
    print(f"{len(frame)} LSOAs in {frame['lad13cd'].nunique()} districts -> {data} "
          f"({data.stat().st_size / 1e6:.1f} MB)")
    return 0


def _schema() -> pa.Schema:
    lst = pa.list_(pa.int32())
    return pa.schema([("lad13cd", pa.string()), ("lsoa11cd", pa.string()),
                      ("lsoa11nm", pa.string()), ("parts", lst), ("rings", lst),
                      ("x", lst), ("y", lst)])


if __name__ == "__main__":
    sys.exit(main())
