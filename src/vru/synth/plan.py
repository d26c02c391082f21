"""The planted structure of the synthetic world: hotspots, the emerging hotspot, contagion."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import shapely

from vru.synth.places import VIOLENCE_CATEGORY, Geography
from vru.synth.timing import PROFILES, day_weights

VIOLENCE = ("Violence with injury", "Violence without injury")

# Town-centre hotspots: (id suffix, subgroups, police.uk category whose real concentration
# sets the multiplier, radius m, timing profile, closed when pubs are shut).
TOWN_HOTSPOTS = (
    ("violence", VIOLENCE, VIOLENCE_CATEGORY, 400.0, "nte", True),
    ("shoplifting", ("Shoplifting",), "Shoplifting", 500.0, "retail", False),
    ("theft-person", ("Theft from the person",), "Theft from the person", 500.0, "retail",
     False),
)
EMERGING_SUBGROUPS = ("Violence with injury",)
EMERGING_RADIUS_M = 400.0
EMERGING_MIN_DISTANCE_M = 2500.0   # away from every town centre
EMERGING_MULTIPLIERS = {2015: 1.0, 2016: 1.0, 2017: 1.5, 2018: 2.5, 2019: 4.0, 2020: 6.0,
                        2021: 8.0}
# An established hotspot that grows every year: hot throughout and rising, which is what
# Esri calls an intensifying hot spot (the emerging one above is new, so cannot be).
INTENSIFYING_MULTIPLIERS = {2015: 8.0, 2016: 10.0, 2017: 12.5, 2018: 15.0, 2019: 19.0,
                            2020: 24.0, 2021: 30.0}


@dataclass
class Hotspot:
    """A disc where a subgroup's intensity is ``multiplier`` times the background."""

    id: str
    kind: str                          # "town_centre" | "emerging" | "intensifying"
    town: str | None
    subgroups: tuple[str, ...]
    easting: float
    northing: float
    radius_m: float
    multipliers: dict[int, float]      # year -> planted multiplier (town centres: constant)
    profile: str
    closures: bool
    lsoa_index: int                    # LSOA at the centre (for place names)
    share: np.ndarray = field(repr=False)  # share of each LSOA's area inside the disc

    def multiplier(self, year: int) -> float:
        """Planted multiplier for ``year`` (nearest planted year outside the schedule)."""
        if year in self.multipliers:
            return self.multipliers[year]
        near = min(self.multipliers, key=lambda y: abs(y - year))
        return self.multipliers[near]

    def effective(self, year: int, days: np.ndarray) -> float:
        """Multiplier after closures: the excess scales with the share of open nights."""
        m = self.multiplier(year)
        if not self.closures:
            return m
        prof = PROFILES[self.profile]
        open_share = day_weights(days, prof, True).sum() / day_weights(days, prof, False).sum()
        return 1.0 + (m - 1.0) * float(open_share)


@dataclass(frozen=True)
class Contagion:
    """Near-repeat self-excitation: each event may trigger one offspring nearby, soon after."""

    name: str
    subgroup: str
    p: float         # share of events that are offspring (exact: round(p * N) per year)
    d_m: float       # offspring lie uniformly within d metres of the parent
    t_days: int      # and strictly within t days after it


CONTAGION = (
    Contagion("burglary", "Domestic burglary", 0.12, 200.0, 14),
    Contagion("violence", "Violence with injury", 0.08, 150.0, 7),
)


def lsoa_weights(geo: Geography, kappa: float) -> np.ndarray:
    """Background intensity per LSOA: population x deprivation factor."""
    return geo.population * np.exp(kappa * (10 - geo.imd_decile) / 9.0)


def _index(geo: Geography, code: str) -> int:
    return int(np.flatnonzero(geo.codes == code)[0])


def build_hotspots(geo: Geography) -> list[Hotspot]:
    """Town-centre hotspots at each located town and the emerging hotspot."""
    out: list[Hotspot] = []
    for town in geo.towns:
        slug = town.name.lower().replace(" ", "-")
        for suffix, subgroups, category, radius, profile, closures in TOWN_HOTSPOTS:
            m = round(town.multiplier(category), 2)
            out.append(Hotspot(
                f"{slug}-{suffix}", "town_centre", town.name, subgroups, town.easting,
                town.northing, radius, {0: m}, profile, closures,
                _index(geo, town.lsoa11cd),
                geo.disc_share(town.easting, town.northing, radius)))
    # Emerging: the most crime-deprived LSOA (IoD2019 crime domain) away from town centres.
    rep = shapely.point_on_surface(geo.geoms)
    rx, ry = shapely.get_x(rep), shapely.get_y(rep)
    far = np.ones(geo.n, dtype=bool)
    for t in geo.towns:
        far &= np.hypot(rx - t.easting, ry - t.northing) >= EMERGING_MIN_DISTANCE_M
    order = np.lexsort((geo.codes.astype(str), geo.crime_rank))
    pick = int(next(i for i in order if far[i]))
    cx, cy = round(float(rx[pick]), 1), round(float(ry[pick]), 1)
    out.append(Hotspot(
        "emerging-violence", "emerging", str(geo.place[pick]), EMERGING_SUBGROUPS, cx, cy,
        EMERGING_RADIUS_M, dict(EMERGING_MULTIPLIERS), "violence", False, pick,
        geo.disc_share(cx, cy, EMERGING_RADIUS_M)))
    # Intensifying: the next most crime-deprived LSOA that far from the towns and the
    # emerging disc, so the two plants never overlap.
    far &= np.hypot(rx - cx, ry - cy) >= EMERGING_MIN_DISTANCE_M
    second = int(next(i for i in order if far[i]))
    ix, iy = round(float(rx[second]), 1), round(float(ry[second]), 1)
    out.append(Hotspot(
        "intensifying-violence", "intensifying", str(geo.place[second]), EMERGING_SUBGROUPS,
        ix, iy, EMERGING_RADIUS_M, dict(INTENSIFYING_MULTIPLIERS), "violence", False, second,
        geo.disc_share(ix, iy, EMERGING_RADIUS_M)))
    return out


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent generator for one part of the world (stable across code changes)."""
    ints = [int(seed)] + [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(ints)))
