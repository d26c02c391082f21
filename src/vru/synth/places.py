"""The real geography the synthetic world stands on: LSOAs, population, deprivation, towns.

Points are drawn uniformly inside LSOA polygons by triangulating each polygon once
(constrained Delaunay) and sampling a triangle by area, then a point in it: exact and fully
vectorised. Town centres are located from data: the LSOA with most real data.police.uk
violence in the town's district, in the street files vru ships.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import shapely

from vru.data import asset, police_uk_months
from vru.geo.boundaries import load_lad, load_lsoa, lsoa_population
from vru.geo.crs import to_bng, to_wgs84

# The towns whose centres carry the planted hotspots, the district whose busiest LSOA is
# their centre, and the postcode district of that centre (used in hospital location text and
# as the postcode area of synthetic addresses nearby).
TOWNS: tuple[tuple[str, str, str], ...] = (
    ("Reading", "Reading", "RG1"),
    ("Oxford", "Oxford", "OX1"),
    ("Slough", "Slough", "SL1"),
    ("Milton Keynes", "Milton Keynes", "MK9"),
    ("High Wycombe", "Wycombe", "HP11"),
    ("Aylesbury", "Aylesbury Vale", "HP20"),
    ("Banbury", "Cherwell", "OX16"),
)
VIOLENCE_CATEGORY = "Violence and sexual offences"
PLACE_RADIUS_M = 6000.0  # an LSOA within this of a named town centre takes the town's name


@dataclass(frozen=True)
class Town:
    """A town centre located from real police.uk violence."""

    name: str
    lad13cd: str
    lad13nm: str
    lsoa11cd: str
    lsoa11nm: str
    easting: float
    northing: float
    postcode_district: str
    real_counts: dict[str, int]           # police.uk category -> count in the centre LSOA
    district_median: dict[str, float]     # police.uk category -> median count per LSOA

    def multiplier(self, category: str, lo: float = 3.0, hi: float = 30.0) -> float:
        """Centre LSOA's real count over the district's median LSOA count, clipped."""
        med = max(self.district_median.get(category, 1.0), 1.0)
        return float(np.clip(self.real_counts.get(category, 0) / med, lo, hi))


@dataclass
class Geography:
    """LSOAs with population, deprivation and a point sampler; towns; place names."""

    codes: np.ndarray            # lsoa11cd, sorted
    names: np.ndarray            # lsoa11nm
    lad: np.ndarray              # lad13cd
    lad_name: np.ndarray         # lad13nm
    geoms: np.ndarray            # shapely polygons, BNG
    population: np.ndarray       # mid-2015 total
    population_0_15: np.ndarray
    imd_decile: np.ndarray       # 1 = most deprived 10% of England
    crime_rank: np.ndarray       # IoD2019 crime domain rank, 1 = most deprived
    towns: list[Town]
    place: np.ndarray            # place name for each LSOA: nearest town or the district
    nearest_town: np.ndarray     # index into towns of the nearest centre
    tree: shapely.STRtree        # spatial index over geoms
    tri: np.ndarray = field(repr=False)        # (T, 3, 2) triangle vertices
    tri_start: np.ndarray = field(repr=False)  # first triangle of each LSOA (n + 1 entries)
    tri_cum: np.ndarray = field(repr=False)    # cumulative triangle area

    @property
    def n(self) -> int:
        """Number of LSOAs."""
        return len(self.codes)

    def sample_points(self, lsoa: np.ndarray, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Uniform random points inside the given LSOAs (one point per entry of ``lsoa``)."""
        lsoa = np.asarray(lsoa, dtype=np.int64)
        start = self.tri_start[lsoa]
        stop = self.tri_start[lsoa + 1]
        lo = np.where(start > 0, self.tri_cum[start - 1], 0.0)
        hi = self.tri_cum[stop - 1]
        target = lo + rng.random(len(lsoa)) * (hi - lo)
        tri = np.searchsorted(self.tri_cum, target, side="right")
        tri = np.clip(tri, start, stop - 1)
        u = rng.random(len(lsoa))
        v = rng.random(len(lsoa))
        flip = u + v > 1.0
        u = np.where(flip, 1.0 - u, u)
        v = np.where(flip, 1.0 - v, v)
        a, b, c = self.tri[tri, 0], self.tri[tri, 1], self.tri[tri, 2]
        pts = a + u[:, None] * (b - a) + v[:, None] * (c - a)
        return pts[:, 0], pts[:, 1]

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether each point lies inside some loaded LSOA."""
        out = np.zeros(len(x), dtype=bool)
        if len(x):
            hit = self.tree.query(shapely.points(x, y), predicate="intersects")
            out[hit[0]] = True
        return out

    def disc_share(self, cx: float, cy: float, r: float) -> np.ndarray:
        """Share of each LSOA's area inside the disc of radius ``r`` about (cx, cy)."""
        disc = shapely.Point(cx, cy).buffer(r, quad_segs=32)
        hit = self.tree.query(disc, predicate="intersects")
        share = np.zeros(self.n)
        if len(hit):
            inter = shapely.area(shapely.intersection(self.geoms[hit], disc))
            share[hit] = inter / shapely.area(self.geoms[hit])
        return share

    def lsoas_in_disc(self, cx: float, cy: float, r: float) -> list[str]:
        """Codes of the LSOAs the disc touches, sorted."""
        return sorted(self.codes[self.disc_share(cx, cy, r) > 0].tolist())


def _triangulate(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tris: list[np.ndarray] = []
    start = [0]
    for g in geoms:
        parts = shapely.get_parts(shapely.constrained_delaunay_triangles(g))
        coords = shapely.get_coordinates(parts).reshape(len(parts), 4, 2)[:, :3, :]
        tris.append(coords)
        start.append(start[-1] + len(coords))
    tri = np.concatenate(tris)
    ab = tri[:, 1] - tri[:, 0]
    ac = tri[:, 2] - tri[:, 0]
    area = 0.5 * np.abs(ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0])
    return tri, np.asarray(start, dtype=np.int64), np.cumsum(area)


def _read_csv_gz(name: str) -> pd.DataFrame:
    with gzip.open(asset("deprivation", name), "rt", encoding="utf-8-sig") as fh:
        return pd.read_csv(fh, thousands=",", dtype=str)


def _deprivation() -> pd.DataFrame:
    f1 = _read_csv_gz("File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz")
    f2 = _read_csv_gz("File_2_-_IoD2019_Domains_of_Deprivation.csv.gz")

    def col(frame: pd.DataFrame, start: str) -> str:
        return next(c for c in frame.columns if c.lower().startswith(start))

    out = pd.DataFrame({
        "lsoa11cd": f1[col(f1, "lsoa code")].str.strip(),
        "imd_decile": pd.to_numeric(f1[col(f1, "index of multiple deprivation (imd) decile")]),
    })
    crime = pd.DataFrame({
        "lsoa11cd": f2[col(f2, "lsoa code")].str.strip(),
        "crime_rank": pd.to_numeric(f2[col(f2, "crime rank")].str.replace(",", "")),
    })
    return out.merge(crime, on="lsoa11cd")


def _police_uk_counts() -> pd.DataFrame:
    """Real police.uk counts per LSOA and category over the shipped months."""
    frames = []
    for path in police_uk_months():
        t = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=["LSOA code", "Crime type"],
            column_types={"LSOA code": pa.string(), "Crime type": pa.string()}))
        t = t.filter(pc.is_valid(t["LSOA code"]))
        frames.append(t.group_by(["LSOA code", "Crime type"]).aggregate([([], "count_all")]))
    allc = pa.concat_tables(frames).to_pandas()
    allc.columns = ["lsoa11cd", "category", "n"]
    return allc.groupby(["lsoa11cd", "category"], as_index=False)["n"].sum()


def _locate_towns(codes: np.ndarray, names: np.ndarray, lad: np.ndarray,
                  lad_names: dict[str, str], counts: pd.DataFrame) -> list[Town]:
    by_name = {v: k for k, v in lad_names.items()}
    lsoa_lad = pd.Series(lad, index=codes)
    counts = counts[counts["lsoa11cd"].isin(codes)].copy()
    counts["lad"] = counts["lsoa11cd"].map(lsoa_lad)
    # Mean position of the real violence in the centre LSOA (police.uk map points).
    towns: list[Town] = []
    for town, district, postcode in TOWNS:
        code = by_name.get(district)
        if code is None:
            continue  # the district is not in the loaded boundaries
        dist = counts[counts["lad"] == code]
        viol = dist[dist["category"] == VIOLENCE_CATEGORY].sort_values(
            ["n", "lsoa11cd"], ascending=[False, True])
        if viol.empty:
            continue
        centre = str(viol.iloc[0]["lsoa11cd"])
        real = dist[dist["lsoa11cd"] == centre].set_index("category")["n"]
        n_lsoa = int((lad == code).sum())
        median = {}
        for cat, grp in dist.groupby("category"):
            full = np.zeros(n_lsoa)
            full[: len(grp)] = grp["n"].to_numpy()
            median[str(cat)] = float(np.median(full))
        towns.append(Town(town, code, district, centre, str(names[codes == centre][0]),
                          np.nan, np.nan, postcode, {str(k): int(v) for k, v in real.items()},
                          median))
    return towns


def _town_points(towns: list[Town]) -> list[Town]:
    """Place each town at the mean of the real violence map points in its centre LSOA."""
    wanted = {t.lsoa11cd for t in towns}
    xs: dict[str, list[np.ndarray]] = {c: [] for c in wanted}
    ys: dict[str, list[np.ndarray]] = {c: [] for c in wanted}
    for path in police_uk_months():
        t = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=["Longitude", "Latitude", "LSOA code", "Crime type"]))
        t = t.filter(pc.and_(pc.equal(t["Crime type"], VIOLENCE_CATEGORY),
                             pc.is_in(t["LSOA code"], pa.array(sorted(wanted)))))
        e, n = to_bng(t["Longitude"].to_numpy(zero_copy_only=False),
                      t["Latitude"].to_numpy(zero_copy_only=False))
        codes = t["LSOA code"].to_numpy(zero_copy_only=False)
        for c in wanted:
            m = codes == c
            xs[c].append(e[m])
            ys[c].append(n[m])
    out = []
    for t in towns:
        e = np.concatenate(xs[t.lsoa11cd])
        n = np.concatenate(ys[t.lsoa11cd])
        ok = np.isfinite(e) & np.isfinite(n)
        out.append(Town(t.name, t.lad13cd, t.lad13nm, t.lsoa11cd, t.lsoa11nm,
                        round(float(e[ok].mean()), 1), round(float(n[ok].mean()), 1),
                        t.postcode_district, t.real_counts, t.district_median))
    return out


@lru_cache(maxsize=1)
def load_geography() -> Geography:
    """Load the shipped Thames Valley geography through ``vru.geo`` (cached).

    Returns
    -------
    Geography
        LSOAs sorted by code with population, IMD decile, crime-domain rank, a point
        sampler, and the located town centres.
    """
    lsoa = load_lsoa()
    lads = load_lad()
    lad_names = dict(zip(lads["lad13cd"], lads["lad13nm"], strict=True))
    pop = lsoa_population().set_index("lsoa11cd")
    dep = _deprivation().set_index("lsoa11cd")
    codes = lsoa["lsoa11cd"].to_numpy(dtype=object)
    missing = [c for c in codes if c not in pop.index or c not in dep.index]
    if missing:
        raise ValueError(f"no population/deprivation for LSOA {', '.join(missing[:5])}")
    geoms = np.asarray(lsoa.geometry.values, dtype=object)
    names = lsoa["lsoa11nm"].to_numpy(dtype=object)
    lad = lsoa["lad13cd"].to_numpy(dtype=object)
    towns = _town_points(_locate_towns(codes, names, lad, lad_names, _police_uk_counts()))
    rep = shapely.point_on_surface(geoms)
    rx, ry = shapely.get_x(rep), shapely.get_y(rep)
    tx = np.array([t.easting for t in towns])
    ty = np.array([t.northing for t in towns])
    dist = np.hypot(rx[:, None] - tx[None, :], ry[:, None] - ty[None, :])
    nearest = dist.argmin(axis=1)
    lad_name = np.array([lad_names.get(c, c) for c in lad], dtype=object)
    place = np.where(dist.min(axis=1) <= PLACE_RADIUS_M,
                     np.array([t.name for t in towns], dtype=object)[nearest], lad_name)
    tri, start, cum = _triangulate(geoms)
    return Geography(
        codes=codes, names=names, lad=lad, lad_name=lad_name, geoms=geoms,
        population=pop.loc[codes, "population"].to_numpy(np.float64),
        population_0_15=pop.loc[codes, "population_0_15"].to_numpy(np.float64),
        imd_decile=dep.loc[codes, "imd_decile"].to_numpy(np.int64),
        crime_rank=dep.loc[codes, "crime_rank"].to_numpy(np.int64),
        towns=towns, place=place.astype(object), nearest_town=nearest,
        tree=shapely.STRtree(geoms), tri=tri, tri_start=start, tri_cum=cum,
    )


def wgs84(easting: float, northing: float) -> tuple[float, float]:
    """(lon, lat) of a BNG point, rounded to 6 decimals."""
    lon, lat = to_wgs84(np.array([easting]), np.array([northing]))
    return round(float(lon[0]), 6), round(float(lat[0]), 6)
