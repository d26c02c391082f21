"""Benchmark: data.police.uk CSV → lake, against pyarrow's plain CSV → Parquet, same files.

Builds an input of N rows by repeating the shipped Thames Valley months with new Crime IDs
(and new months, so each copy is its own force-month), then measures in one run:
  peer  pyarrow.csv.read_csv + parquet.write_table of every file (multi-threaded)
  vru   `ingest_police_uk` (validate, quarantine, key, geography, diff, Delta commit)
Each is run in a fresh subprocess so peak RSS is its own, ``--repeat`` times in turn (peer,
vru, peer, vru…); the best time of each side is reported, since on a shared machine noise
only ever adds time.

    python bench/bench_ingest.py --rows 1000000
    python bench/bench_ingest.py --rows 5000000 --only vru     # memory check
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vru.data import police_uk_months

PEER = """
import sys, time, pyarrow.csv as c, pyarrow.parquet as pq
from pathlib import Path
t = time.perf_counter(); n = 0
out = Path(sys.argv[1]); out.mkdir()
for i, f in enumerate(sys.argv[2:]):
    tb = c.read_csv(f); n += tb.num_rows
    pq.write_table(tb, out / f"{i}.parquet")
import resource
print(n, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

# the same work as PEER, timed from outside as a whole process (interpreter start and the
# pyarrow import included), to set beside a whole `vru ingest` process
PEER_CLI = """
import subprocess, sys, time, resource
t = time.perf_counter()
out = subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], check=True,
                     capture_output=True, text=True).stdout.split()
print(out[0], time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

VRU = """
import sys, time
from vru.lake.loaders import ingest_police_uk
t = time.perf_counter()
s = ingest_police_uk(sys.argv[1], sys.argv[2:]).summary()
import resource
print(s["rows_in"], time.perf_counter() - t, s["accepted"], s["quarantined"], s["duplicates"],
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def build(rows: int, folder: Path) -> list[Path]:
    """Write copies of the shipped months with fresh ids and months until ``rows`` rows."""
    texts = [gzip.decompress(p.read_bytes()).decode("utf-8-sig") for p in police_uk_months()]
    folder.mkdir(parents=True, exist_ok=True)
    files, total, copy = [], 0, 0
    while total < rows:
        for text in texts:
            if total >= rows:
                break
            reader = csv.reader(io.StringIO(text))
            header = next(reader)
            year, month = 2000 + copy // 12, copy % 12 + 1
            m = f"{year}-{month:02d}"
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(header)
            for i, r in enumerate(reader):
                if r[0]:
                    r[0] = f"{copy:08x}{i:08x}" + r[0][16:]
                r[1] = m
                w.writerow(r)
                total += 1
            p = folder / f"{m}-thames-valley-street.csv"
            p.write_text("\ufeff" + buf.getvalue(), encoding="utf-8")
            files.append(p)
            copy += 1
    return files


def relocate(files: list[Path], districts: int, seed: int = 0) -> str:
    """Move every located row to a point of an LSOA of other forces, stating that LSOA.

    Rows keep the shipped months' layout, categories and share without location; their
    places become points inside the LSOAs of ``districts`` districts of England and Wales
    outside Thames Valley (a point on an LSOA's surface, jittered by up to 50 m; one new place
    per shipped map point, so as few distinct points as data.police.uk publishes), so the
    ingest meets the geography of other forces: the districts its points need are read as
    they come. Returns the districts used.
    """
    import numpy as np
    import shapely

    from vru.geo.boundaries import THAMES_VALLEY, district_bounds, load_lsoa
    from vru.geo.crs import to_wgs84

    rng = np.random.default_rng(seed)
    others = [d for d in district_bounds()["lad13cd"] if d not in set(THAMES_VALLEY)]
    chosen = sorted(rng.choice(others, size=districts, replace=False).tolist())
    lsoa = load_lsoa(districts=chosen)
    pts = shapely.point_on_surface(np.asarray(lsoa.geometry.values, dtype=object))
    e0, n0 = shapely.get_x(pts), shapely.get_y(pts)
    codes, names = lsoa["lsoa11cd"].tolist(), lsoa["lsoa11nm"].fillna("").tolist()
    moved: dict[tuple[str, str], tuple[str, str, int]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        header, body = rows[0], rows[1:]
        lon_i, lat_i = header.index("Longitude"), header.index("Latitude")
        code_i, name_i = header.index("LSOA code"), header.index("LSOA name")
        for r in body:
            if not r[lon_i]:
                continue
            # one new place per snapped map point, as data.police.uk publishes few of them
            place = moved.get((r[lon_i], r[lat_i]))
            if place is None:
                k = int(rng.integers(0, len(codes)))
                x, y = to_wgs84(e0[k] + rng.uniform(-50, 50), n0[k] + rng.uniform(-50, 50))
                place = moved[(r[lon_i], r[lat_i])] = (f"{float(x):.6f}", f"{float(y):.6f}", k)
            r[lon_i], r[lat_i] = place[0], place[1]
            r[code_i], r[name_i] = codes[place[2]], names[place[2]]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header, *body])
        path.write_text("\ufeff" + buf.getvalue(), encoding="utf-8")
    return ", ".join(chosen)


CLI = """
import json, subprocess, sys, time, resource
t = time.perf_counter()
out = subprocess.run([sys.executable, "-m", "vru", "--home", sys.argv[1], "ingest",
                      "police-uk", *sys.argv[2:], "--json"], check=True,
                     capture_output=True, text=True).stdout
secs = time.perf_counter() - t
s = json.loads(out.strip().splitlines()[-1])
print(s["rows_in"], secs, s["accepted"], s["quarantined"], s["duplicates"],
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run(code: str, args: list[str]) -> tuple[list[str], float]:
    """Run ``code`` in a fresh interpreter; its printed fields and its own peak RSS in MB."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1].split()
    return out[:-1], int(out[-1]) / 1024  # ru_maxrss is KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--only", choices=["vru", "peer"], default=None)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side; best reported")
    ap.add_argument("--other-forces", type=int, default=0, metavar="N",
                    help="move the rows into N districts outside Thames Valley (any force)")
    ap.add_argument("--cli", action="store_true",
                    help="time vru as a whole `vru ingest police-uk` process (start-up included)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vru-bench-"))
    try:
        files = build(args.rows, tmp / "in")
        where = relocate(files, args.other_forces) if args.other_forces else "Thames Valley"
        size = sum(f.stat().st_size for f in files) / 1e6
        names = [str(f) for f in files]
        res = {"rows": args.rows, "files": len(files), "csv_mb": round(size), "where": where,
               "vru_whole_process": args.cli}
        os.sync()  # the inputs on disk, so neither side pays for their writeback
        peer: list[tuple[float, float, int]] = []
        peer_whole: list[float] = []
        mine: list[tuple[float, float, list[str]]] = []
        for i in range(args.repeat):
            if args.only != "vru":
                (n, secs), rss = run(PEER, [str(tmp / f"peer{i}"), *names])
                peer.append((float(secs), rss, int(n)))
                if args.cli:
                    (_, secs), _ = run(PEER_CLI, [PEER, str(tmp / f"peerw{i}"), *names])
                    peer_whole.append(float(secs))
            if args.only != "peer":
                code = CLI if args.cli else VRU
                (n, secs, acc, q, d), rss = run(code, [str(tmp / f"home{i}"), *names])
                mine.append((float(secs), rss, [n, acc, q, d]))
        if peer:
            secs, rss, n = min(peer)
            res["peer_rows_per_s"] = round(n / secs)
            res["peer_s"] = round(secs, 2)
            res["peer_s_all"] = [round(p[0], 2) for p in peer]
            res["peer_peak_rss_mb"] = round(max(p[1] for p in peer))
        if mine:
            secs, rss, (n, acc, q, d) = min(mine)
            res["vru_rows_per_s"] = round(int(n) / secs)
            res["vru_s"] = round(secs, 2)
            res["vru_s_all"] = [round(m[0], 2) for m in mine]
            res["vru_peak_rss_mb"] = round(max(m[1] for m in mine))
            res["accepted"], res["quarantined"], res["duplicates"] = int(acc), int(q), int(d)
        if peer_whole:
            res["peer_whole_process_s"] = round(min(peer_whole), 2)
            res["peer_whole_process_s_all"] = [round(p, 2) for p in peer_whole]
        if "peer_s" in res and "vru_s" in res:
            res["ratio_vru_to_peer"] = round(res["peer_s"] / res["vru_s"], 2)
            if peer_whole:  # both sides whole processes
                res["ratio_whole_to_whole"] = round(min(peer_whole) / res["vru_s"], 2)
        print(json.dumps(res))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
