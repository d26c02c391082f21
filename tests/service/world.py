"""A small governed lake for the service tests, where every true count is known.

Two task-force areas of real Thames Valley LSOAs (A: six in Reading, B: four in Oxford) and two
Slough LSOAs outside every area. ``incidents`` holds force-extract crimes with times and
points inside their LSOAs plus a few data.police.uk rows (month only); ``ed_assaults`` a few
ED attendances; ``partner_schools`` a partner table with pseudonym columns. One user per role
(signed in with a password), built once per test module through the service's own door.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from vru.geo.boundaries import load_lsoa
from vru.geo.crs import to_wgs84
from vru.governance import audit
from vru.governance.agreements import agreement_from_mapping, register_agreement
from vru.lake.store import Store
from vru.lake.tables import SPECS, partner_spec
from vru.service import Session, admin, open_session
from vru.sources.canonical import conform

PW = "correct horse battery staple"
#: true incidents per LSOA: force-extract rows (with times and points)
AREA_A = {"E01016353": 40, "E01016355": 12, "E01016356": 9, "E01016357": 5,
          "E01016358": 3, "E01016359": 1}
AREA_B = {"E01028513": 30, "E01028514": 8, "E01028515": 4, "E01028516": 2}
OUTSIDE = {"E01016444": 6, "E01016445": 10}
#: data.police.uk rows (month only, no time) in the first LSOA of A
POLICE_UK_IN_A = 5
MONTHS = ("2019-03", "2019-04", "2020-01", "2020-02", "2020-03", "2020-04", "2020-05",
          "2020-06", "2020-07", "2020-08", "2020-09", "2020-12")
CATEGORIES = (("Violence and sexual offences", "Violence against the person"),
              ("Robbery", "Robbery"), ("Burglary", "Burglary"))
ED_OWNER, SCHOOLS_OWNER = "Royal Berkshire NHS FT", "Reading BC"
LEVELS = {"analyst": "record", "task_force_member": "aggregate",
          "ethics_board_member": "aggregate", "viewer": "public"}
AGREEMENTS = [
    {"name": "ED", "dataset": "ed_assaults", "owner": ED_OWNER,
     "purposes": ["violence_reduction"], "legal_basis": ["Crime and Disorder Act 1998 s115"],
     "retention_days": 3650, "start_date": date(2019, 1, 1), "end_date": date(2099, 1, 1),
     "levels": LEVELS},
    {"name": "Schools", "dataset": "partner_schools", "owner": SCHOOLS_OWNER,
     "purposes": ["violence_reduction"], "legal_basis": ["Serious Violence Duty"],
     "retention_days": 3650, "start_date": date(2019, 1, 1), "end_date": date(2099, 1, 1),
     "levels": LEVELS},
]
#: name -> (role, area, organisation)
USERS = {
    "ann": ("analyst", None, None),
    "ada": ("admin", None, None),
    "tia": ("task_force_member", "A", None),
    "tib": ("task_force_member", "B", None),
    "eve": ("ethics_board_member", None, None),
    "vic": ("viewer", None, None),
    "pat": ("partner_data_owner", None, SCHOOLS_OWNER),
    "dan": ("viewer", None, None),           # disabled by the fixture
    "wes": ("task_force_member", "A", None),  # tried with a wrong password only
}
RESTRICTED = ("tia", "vic", "eve", "pat")
#: the environment sessions open with unless a test says otherwise: local mode, defaults
ENVIRON: dict[str, str] = {}
SRC = str(Path(__file__).resolve().parents[2] / "src")


def nhs(n: int) -> int | None:
    """The NHS rule: counts 1-7 suppressed (None), others rounded to the nearest 5."""
    return None if 1 <= n <= 7 else int((n + 2.5) // 5 * 5)


def ons(n: int) -> int | None:
    """The ONS 10-5 rule: counts 1-9 suppressed, others rounded to the nearest 5."""
    return None if 1 <= n <= 9 else int((n + 2.5) // 5 * 5)


def _points(codes: list[str]) -> dict[str, list[tuple[float, float]]]:
    """For each LSOA, a ring of points inside it (BNG), around a representative point."""
    lsoa = load_lsoa().set_index("lsoa11cd")
    out = {}
    for code in codes:
        poly = lsoa.loc[code, "geometry"]
        p = poly.representative_point()
        ring = [(p.x, p.y)]
        for dx, dy in ((30, 0), (0, 30), (-30, 0), (0, -30), (45, 45), (-45, -45)):
            q = shapely.Point(p.x + dx, p.y + dy)
            if poly.contains(q):
                ring.append((q.x, q.y))
        out[code] = ring
    return out


def incidents_truth() -> pd.DataFrame:
    """Every incident of the lake as a plain frame (the truth tests compare against)."""
    spec = {**AREA_A, **AREA_B, **OUTSIDE}
    pts = _points(list(spec))
    rows: list[dict[str, Any]] = []
    k = 0
    for code, n in spec.items():
        for i in range(n):
            month = MONTHS[(k * 7) % len(MONTHS)]
            cat, group = CATEGORIES[k % len(CATEGORIES)]
            y, m = int(month[:4]), int(month[5:])
            t = datetime(y, m, 1 + (k * 3) % 27, (k * 5) % 24, 15)
            x, yy = pts[code][i % len(pts[code])]
            rows.append({"source": "force_extract", "source_ref": f"FX{k:05d}", "month": month,
                         "occurred_from": t, "time_precision": "minute", "category": cat,
                         "offence_group": group, "easting": x, "northing": yy,
                         "lsoa11cd": code})
            k += 1
    code = next(iter(AREA_A))
    for i in range(POLICE_UK_IN_A):
        x, yy = pts[code][0]
        rows.append({"source": "police_uk", "source_ref": f"PU{i:05d}", "month": "2020-06",
                     "occurred_from": None, "time_precision": "month",
                     "category": "Violence and sexual offences", "offence_group": None,
                     "easting": x, "northing": yy, "lsoa11cd": code})
    df = pd.DataFrame(rows)
    lon, lat = to_wgs84(df["easting"].to_numpy(), df["northing"].to_numpy())
    df["lon"], df["lat"] = lon, lat
    df["occurred_from"] = pd.to_datetime(df["occurred_from"])
    df["area"] = df["lsoa11cd"].map({**{c: "A" for c in AREA_A}, **{c: "B" for c in AREA_B}})
    return df


def _incidents_table(df: pd.DataFrame) -> pa.Table:
    cols = ["source", "source_ref", "month", "occurred_from", "time_precision", "category",
            "offence_group", "easting", "northing", "lon", "lat", "lsoa11cd"]
    t = pa.Table.from_pandas(df[cols], preserve_index=False)
    t = t.set_column(t.column_names.index("occurred_from"), "occurred_from",
                     t["occurred_from"].cast(pa.timestamp("us")))
    n = t.num_rows
    t = t.append_column("geo_status", pa.array(["ok"] * n))
    t = t.append_column("force", pa.array(["Thames Valley Police"] * n))
    t = t.append_column("source_file", pa.array([f"/private/partner/file-{i}.csv"
                                                 for i in range(n)]))
    t = t.append_column("row_hash", pa.array(np.arange(n, dtype=np.int64) * 7919 + 11))
    return conform(t, SPECS["incidents"].schema)


def ed_truth() -> pd.DataFrame:
    codes = ["E01016353"] * 9 + ["E01016355"] * 3 + ["E01028513"] * 8
    return pd.DataFrame({
        "source_ref": [f"RHW01:{i:04d}" for i in range(len(codes))],
        "site_code": ["RHW01"] * len(codes), "lsoa11cd": codes,
        "arrival": [datetime(2020, 1 + i % 6, 3, (i * 7) % 24) for i in range(len(codes))],
        "month": [f"2020-{1 + i % 6:02d}" for i in range(len(codes))],
        "weapon": ["body part" if i % 3 else "knife" for i in range(len(codes))],
        "location_type": ["street"] * len(codes)})


def schools_truth() -> pd.DataFrame:
    codes = ["E01016353"] * 11 + ["E01016356"] * 2 + ["E01028514"] * 9
    n = len(codes)
    return pd.DataFrame({
        "lsoa11cd": codes, "month": [f"2020-{1 + i % 3:02d}" for i in range(n)],
        "exclusion_type": ["fixed" if i % 4 else "permanent" for i in range(n)],
        "pupil": [f"tok{i:04x}a9" for i in range(n)],
        "pupil_name": [f"nm{i:04x}c3" for i in range(n)],
        "row_hash": np.arange(n, dtype=np.int64) * 104729 + 3})


@dataclass
class World:
    """The built home, its truth frames and ways to sign in."""

    home: Path
    incidents: pd.DataFrame
    ed: pd.DataFrame
    schools: pd.DataFrame
    owner: Session
    sessions: dict[str, Session] = field(default_factory=dict)

    def session(self, name: str, environ: Mapping[str, str] | None = None) -> Session:
        """A signed-in session of ``name`` (cached per user for the default environment)."""
        if environ is not None:
            return open_session(self.home, user=name, password=PW, environ=dict(environ))
        if name not in self.sessions:
            self.sessions[name] = open_session(self.home, user=name, password=PW,
                                               environ=dict(ENVIRON))
        s = self.sessions[name]
        s.area, s.purpose = None, "violence_reduction"
        return s

    def cli(self, user: str | None, *args: str, stdin: str | None = None,
            **env: str) -> subprocess.CompletedProcess:
        """The real `vru` script (`vru.launch`) on this home as ``user`` (None: the home's
        owner)."""
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("VRU_")}
        base["PYTHONPATH"] = SRC
        if user is not None:
            base.update(VRU_USER=user, VRU_PASSWORD=PW)
        return subprocess.run([sys.executable, "-m", "vru", "--home", str(self.home),
                               *args], input=stdin, capture_output=True, text=True,
                              env={**base, **env}, timeout=300)

    def entries(self, actor: str | None = None) -> list[audit.AuditEntry]:
        return audit.entries(self.owner.db, actor=actor)

    def lsoas(self, area: str) -> set[str]:
        return set({"A": AREA_A, "B": AREA_B}[area])


def build_world(root: Path) -> World:
    """Build the home through the service as its owner (the local admin), then the lake."""
    home = root / "home"
    owner = open_session(home, environ=dict(ENVIRON))
    areas = root / "areas.csv"
    areas.write_text("area,lsoa11cd\n" + "".join(f"A,{c}\n" for c in AREA_A)
                     + "".join(f"B,{c}\n" for c in AREA_B))
    admin.load_areas(owner, areas)
    for mapping in AGREEMENTS:
        register_agreement(owner.db, agreement_from_mapping(mapping))
    for name, (role, area, org) in USERS.items():
        admin.add_user(owner, name, role, area=area, password=PW, organisation=org)
    admin.disable_user(owner, "dan")

    store = Store(home)
    inc = incidents_truth()
    store.write(SPECS["incidents"], _incidents_table(inc))
    ed = ed_truth()
    t = pa.Table.from_pandas(ed, preserve_index=False)
    t = t.set_column(t.column_names.index("arrival"), "arrival",
                     t["arrival"].cast(pa.timestamp("us")))
    store.write(SPECS["ed_assaults"], conform(t, SPECS["ed_assaults"].schema))
    sch = schools_truth()
    schema = pa.schema([("lsoa11cd", pa.string()), ("month", pa.string()),
                        ("exclusion_type", pa.string()), ("pupil", pa.string()),
                        ("pupil_name", pa.string()), ("row_hash", pa.int64())])
    spec = partner_spec("schools", schema, "month", {"pupil": "identifier",
                                                      "pupil_name": "name"})
    store.write(spec, pa.Table.from_pandas(sch, schema=schema, preserve_index=False))
    return World(home, inc, ed, sch, owner)
