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
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vru-bench-"))
    try:
        files = build(args.rows, tmp / "in")
        size = sum(f.stat().st_size for f in files) / 1e6
        names = [str(f) for f in files]
        res = {"rows": args.rows, "files": len(files), "csv_mb": round(size)}
        os.sync()  # the inputs on disk, so neither side pays for their writeback
        peer: list[tuple[float, float, int]] = []
        mine: list[tuple[float, float, list[str]]] = []
        for i in range(args.repeat):
            if args.only != "vru":
                (n, secs), rss = run(PEER, [str(tmp / f"peer{i}"), *names])
                peer.append((float(secs), rss, int(n)))
            if args.only != "peer":
                (n, secs, acc, q, d), rss = run(VRU, [str(tmp / f"home{i}"), *names])
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
        if "peer_s" in res and "vru_s" in res:
            res["ratio_vru_to_peer"] = round(res["peer_s"] / res["vru_s"], 2)
        print(json.dumps(res))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
