"""A small offline gazetteer: street, postcode-district and place names → approximate WGS84 points.

What it holds (``src/vru/data/gazetteer/``, built by `build_gazetteer` from data vru ships):

- ``places.csv.gz``: each local authority district of the loaded boundaries (named as the
  MSOA names spell them, "Reading 001" → "Reading") at its *population-weighted centre*:
  the mean of its LSOA centroids weighted by mid-2015 population (IoD2019 File 6). For a
  district named after its town (Reading, Oxford, Slough, Milton Keynes) this lies in the
  town; for a rural district it is only the centre of its people. Post towns are added as
  aliases of the district they mostly lie in, at the district's point — vru has no town
  boundaries, so "Banbury" is placed at Cherwell's centre (several km off) and is good for
  district-level counts, not for maps of streets.
- ``postcode_districts.csv.gz``: Thames Valley postcode districts (``RG1``) → post town and
  district; a hand-compiled table of Royal Mail post towns (no postcode coordinates are
  shipped: vru has no postcode data). A postcode district resolves to its district's point.
- ``streets.csv.gz``: street names from the data.police.uk files shipped in
  ``data/police-uk`` ("On or near Broad Street"), per district (from the LSOA name), at the
  mean of the distinct anonymised map points police.uk snapped crimes to, with the spread of
  those points. Generic map-point labels ("Supermarket", "Parking Area") are left out.

Lookups: "Broad Street, Reading" → the street within the named district; a street name
without a place resolves only if it is unique across districts and compact; a street whose
points spread over more than `MAX_STREET_SPREAD_M` (two "High Street"s in one district) is
ambiguous and falls back to the place. Levels: ``street``, ``postcode_district``, ``place``,
``none``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vru.data import asset

MAX_STREET_SPREAD_M = 2500.0
_EARTH_M = 6_371_008.8

# data.police.uk labels of anonymous map points that are not street names
GENERIC_LABELS = frozenset(s.casefold() for s in (
    "Supermarket", "Parking Area", "Petrol Station", "Shopping Area", "Pedestrian Subway",
    "Nightclub", "Hospital", "Police Station", "Prison", "Motorway Service Area",
    "No Location",
))

_SUFFIXES = {  # abbreviations of a street's last word
    "rd": "road", "st": "street", "ave": "avenue", "av": "avenue", "ln": "lane",
    "cl": "close", "dr": "drive", "pl": "place", "sq": "square", "cres": "crescent",
    "gdns": "gardens", "tce": "terrace", "ct": "court", "gr": "grove", "pde": "parade",
}
_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)(?:\s*\d[A-Z]{2})?\b")

# Postcode district → (post town, local authority district it mostly lies in), Thames Valley.
# Hand-compiled from Royal Mail post towns; a district straddling a boundary is given its
# main local authority.
POSTCODE_DISTRICTS: dict[str, tuple[str, str]] = {
    **{f"RG{n}": ("Reading", "Reading") for n in (1, 2, 4, 30, 31)},
    "RG5": ("Reading", "Wokingham"), "RG6": ("Reading", "Wokingham"),
    "RG7": ("Reading", "West Berkshire"), "RG8": ("Reading", "West Berkshire"),
    "RG9": ("Henley-on-Thames", "South Oxfordshire"), "RG10": ("Reading", "Wokingham"),
    "RG12": ("Bracknell", "Bracknell Forest"), "RG14": ("Newbury", "West Berkshire"),
    "RG17": ("Hungerford", "West Berkshire"), "RG18": ("Thatcham", "West Berkshire"),
    "RG19": ("Thatcham", "West Berkshire"), "RG20": ("Newbury", "West Berkshire"),
    "RG40": ("Wokingham", "Wokingham"), "RG41": ("Wokingham", "Wokingham"),
    "RG42": ("Bracknell", "Bracknell Forest"), "RG45": ("Crowthorne", "Wokingham"),
    **{f"OX{n}": ("Oxford", "Oxford") for n in (1, 2, 3, 4)},
    "OX5": ("Kidlington", "Cherwell"), "OX7": ("Chipping Norton", "West Oxfordshire"),
    "OX9": ("Thame", "South Oxfordshire"), "OX10": ("Wallingford", "South Oxfordshire"),
    "OX11": ("Didcot", "South Oxfordshire"), "OX12": ("Wantage", "Vale of White Horse"),
    "OX13": ("Abingdon", "Vale of White Horse"), "OX14": ("Abingdon", "Vale of White Horse"),
    **{f"OX{n}": ("Banbury", "Cherwell") for n in (15, 16, 17)},
    "OX18": ("Burford", "West Oxfordshire"), "OX20": ("Woodstock", "West Oxfordshire"),
    **{f"OX{n}": ("Bicester", "Cherwell") for n in (25, 26, 27)},
    "OX28": ("Witney", "West Oxfordshire"), "OX29": ("Witney", "West Oxfordshire"),
    "OX33": ("Oxford", "South Oxfordshire"), "OX39": ("Chinnor", "South Oxfordshire"),
    "OX44": ("Oxford", "South Oxfordshire"), "OX49": ("Watlington", "South Oxfordshire"),
    "SL0": ("Iver", "South Bucks"), "SL1": ("Slough", "Slough"), "SL2": ("Slough", "Slough"),
    "SL3": ("Slough", "Slough"), "SL4": ("Windsor", "Windsor and Maidenhead"),
    "SL5": ("Ascot", "Windsor and Maidenhead"), "SL6": ("Maidenhead", "Windsor and Maidenhead"),
    "SL7": ("Marlow", "Wycombe"), "SL8": ("Bourne End", "Wycombe"),
    "SL9": ("Gerrards Cross", "South Bucks"),
    "HP5": ("Chesham", "Chiltern"), "HP6": ("Amersham", "Chiltern"),
    "HP7": ("Amersham", "Chiltern"), "HP8": ("Chalfont St Giles", "Chiltern"),
    "HP9": ("Beaconsfield", "South Bucks"),
    **{f"HP{n}": ("High Wycombe", "Wycombe") for n in (10, 11, 12, 13, 14, 15)},
    "HP16": ("Great Missenden", "Chiltern"),
    **{f"HP{n}": ("Aylesbury", "Aylesbury Vale") for n in (17, 18, 19, 20, 21, 22)},
    "HP27": ("Princes Risborough", "Wycombe"),
    **{f"MK{n}": ("Milton Keynes", "Milton Keynes") for n in (*range(1, 16), 17, 19)},
    "MK16": ("Newport Pagnell", "Milton Keynes"), "MK18": ("Buckingham", "Aylesbury Vale"),
    "MK46": ("Olney", "Milton Keynes"),
}


@dataclass(frozen=True)
class Hit:
    """Where a description was placed."""

    lon: float | None
    lat: float | None
    level: str  # "street" | "postcode_district" | "place" | "none"
    district: str | None = None


NONE = Hit(None, None, "none")


def key(text: str) -> str:
    """Comparison key of a name: case-folded, punctuation dropped, last-word abbreviations
    expanded ("Broad St." → "broad street")."""
    words = re.sub(r"[^\w\s-]", " ", text.casefold()).replace("-", " ").split()
    if words and words[-1] in _SUFFIXES and len(words) > 1:
        words[-1] = _SUFFIXES[words[-1]]
    return " ".join(words)


class Gazetteer:
    """Look-ups over the shipped tables (see the module docstring)."""

    def __init__(self, places: list[dict], postcodes: list[dict], streets: list[dict]) -> None:
        self.districts: dict[str, tuple[float, float]] = {}
        self.place_district: dict[str, str] = {}
        for p in places:
            self.place_district[key(p["name"])] = p["district"]
            if p["kind"] == "district":
                self.districts[p["district"]] = (float(p["lon"]), float(p["lat"]))
        self.postcodes = {p["postcode_district"]: p["district"] for p in postcodes
                          if p["district"] in self.districts}
        self.streets: dict[str, list[tuple[str, float, float, float]]] = defaultdict(list)
        for s in streets:
            self.streets[key(s["street"])].append(
                (s["district"], float(s["lon"]), float(s["lat"]), float(s["spread_m"])))

    def locate(self, text: str | None) -> Hit:
        """Place a free-text location ("Broad Street, Reading", "RG1", "near RG1 1AA")."""
        if not text or not text.strip():
            return NONE
        raw = text.strip()
        if raw.casefold().startswith("on or near "):
            raw = raw[11:]
        district = None
        postcode_district = None
        for m in _POSTCODE.finditer(raw.upper()):
            if m.group(1) in self.postcodes:
                postcode_district = self.postcodes[m.group(1)]
                break
        parts = [key(p) for p in re.split(r"[,;]", _POSTCODE.sub(" ", raw.upper())
                                          if postcode_district else raw)]
        parts = [p for p in parts if p]
        rest = []
        for p in parts:
            if p in self.place_district:
                district = district or self.place_district[p]
            else:
                rest.append(p)
        district = district or postcode_district
        for p in rest:
            hit = self._street(p, district)
            if hit is not None:
                return hit
        if postcode_district:
            lon, lat = self.districts[postcode_district]
            return Hit(lon, lat, "postcode_district", postcode_district)
        if district:
            lon, lat = self.districts[district]
            return Hit(lon, lat, "place", district)
        return NONE

    def _street(self, name: str, district: str | None) -> Hit | None:
        rows = self.streets.get(name, [])
        if district is not None:
            rows = [r for r in rows if r[0] == district]
        if len(rows) != 1 or rows[0][3] > MAX_STREET_SPREAD_M:
            return None
        d, lon, lat, _ = rows[0]
        return Hit(lon, lat, "street", d)


def _read(name: str) -> list[dict]:
    with gzip.open(asset("gazetteer", name), "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@lru_cache(maxsize=1)
def load() -> Gazetteer:
    """The shipped gazetteer (read once)."""
    return Gazetteer(_read("places.csv.gz"), _read("postcode_districts.csv.gz"),
                     _read("streets.csv.gz"))


# ---- building the shipped tables from vru's own data ------------------------------------

def _district_of(name: str) -> str:
    """'Reading 011B' / 'Reading 001' → 'Reading'."""
    return re.sub(r"\s+\d{3}[A-Z]?$", "", name.strip())


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance, ample for a few km."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return _EARTH_M * math.hypot(x, math.radians(lat2 - lat1))


def build_gazetteer(out_dir: str | Path | None = None) -> dict[str, int]:
    """Rebuild ``data/gazetteer/*.csv.gz`` from the shipped boundaries, populations and
    police.uk files. Returns the number of rows written per file."""
    from shapely.geometry import shape  # build-time only

    out = Path(out_dir) if out_dir else asset("gazetteer")
    out.mkdir(parents=True, exist_ok=True)
    pop: dict[str, float] = {}
    with gzip.open(asset("deprivation", "File_6_-_IoD2019_Population_Denominators.csv.gz"),
                   "rt", encoding="utf-8-sig") as f:
        for row in csv.reader(f):
            if row and row[0].startswith(("E0", "W0")):
                pop[row[0]] = float(row[4].replace(",", ""))
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    codes: dict[str, str] = {}
    for path in sorted(asset("geography", "lsoa-2011").glob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            features = json.load(f)["features"]
        for feat in features:
            props = feat["properties"]
            district = _district_of(props["LSOA11NM"])
            codes[district] = path.name.split(".")[0]
            c = shape(feat["geometry"]).centroid
            w = pop.get(props["LSOA11CD"], 1.0)
            s = sums[district]
            s[0] += w * c.x
            s[1] += w * c.y
            s[2] += w
    centres = {d: (s[0] / s[2], s[1] / s[2]) for d, s in sums.items()}
    places = [{"name": d, "kind": "district", "district": d, "lad11cd": codes[d],
               "lon": round(x, 5), "lat": round(y, 5)} for d, (x, y) in sorted(centres.items())]
    towns = sorted({(t, d) for t, d in POSTCODE_DISTRICTS.values() if d in centres})
    places += [{"name": t, "kind": "post_town", "district": d, "lad11cd": codes[d],
                "lon": round(centres[d][0], 5), "lat": round(centres[d][1], 5)}
               for t, d in towns if key(t) not in {key(p["name"]) for p in places}]
    postcodes = [{"postcode_district": pc, "post_town": t, "district": d}
                 for pc, (t, d) in sorted(POSTCODE_DISTRICTS.items())]
    streets = _streets()
    counts = {}
    for name, rows in (("places.csv.gz", places), ("postcode_districts.csv.gz", postcodes),
                       ("streets.csv.gz", streets)):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        # mtime=0: the same inputs give byte-identical files
        with open(out / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb",
                                                          mtime=0) as gz:
            gz.write(buf.getvalue().encode("utf-8"))
        counts[name] = len(rows)
    return counts


def _streets() -> list[dict]:
    points: dict[tuple[str, str], dict[tuple[str, str], int]] = defaultdict(dict)
    for path in sorted(asset("police-uk").glob("*-street.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                loc, lsoa = row["Location"], row["LSOA name"]
                if not loc.startswith("On or near ") or not lsoa or not row["Longitude"]:
                    continue
                street = loc[11:].strip()
                if not street or "/" in street or street.casefold() in GENERIC_LABELS:
                    continue
                pts = points[(street, _district_of(lsoa))]
                pt = (row["Longitude"], row["Latitude"])
                pts[pt] = pts.get(pt, 0) + 1
    rows = []
    for (street, district), pts in sorted(points.items()):
        xy = [(float(a), float(b)) for a, b in pts]
        lon = sum(p[0] for p in xy) / len(xy)
        lat = sum(p[1] for p in xy) / len(xy)
        spread = max(_metres(lon, lat, x, y) for x, y in xy)
        rows.append({"street": street, "district": district, "lon": round(lon, 6),
                     "lat": round(lat, 6), "points": len(xy), "crimes": sum(pts.values()),
                     "spread_m": round(spread)})
    return rows


if __name__ == "__main__":  # python -m vru.sources.gazetteer  (rebuilds the shipped tables)
    print(build_gazetteer())
