"""Task-force areas: named sets of LSOA codes, loaded from configuration, never hard-coded.

An areas file is CSV with a header ``area,lsoa11cd`` (one row per LSOA, optional
``description`` column) or TOML::

    [[area]]
    name = "Reading"
    description = "Reading Borough"
    lsoa11cd = ["E01016374", "E01016375"]
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, insert, select

from vru.governance._common import utc_now
from vru.governance.db import Database
from vru.governance.errors import AreaError
from vru.governance.schema import area_lsoas, areas, users

# England E01, Wales W01: the same prefixes in the 2011 and 2021 LSOA sets.
LSOA_CODE = re.compile(r"^[EW]01\d{6}$")


@dataclass(frozen=True)
class Area:
    """A task-force area."""

    name: str
    lsoa11cd: frozenset[str]
    description: str = ""


def _check(name: str, codes: Iterable[str], where: str = "") -> frozenset[str]:
    prefix = f"{where}: " if where else ""
    if not name or not name.strip() or len(name) > 100:
        raise AreaError(f"{prefix}an area needs a name of 1 to 100 characters, got {name!r}")
    cleaned = set()
    for code in codes:
        code = str(code).strip().upper()
        if not LSOA_CODE.match(code):
            raise AreaError(f"{prefix}area {name!r}: {code!r} is not an LSOA code "
                            "(E01 or W01 followed by six digits)")
        cleaned.add(code)
    if not cleaned:
        raise AreaError(f"{prefix}area {name!r} has no LSOA codes")
    return frozenset(cleaned)


def define_area(db: Database, name: str, lsoa_codes: Iterable[str],
                description: str = "") -> Area:
    """Create area ``name`` or replace its LSOAs and description.

    Parameters
    ----------
    db
        The metadata database.
    name
        The area's name, e.g. "Reading".
    lsoa_codes
        LSOA codes (``E01...``/``W01...``); duplicates are ignored.
    description
        Free text.

    Returns
    -------
    Area
    """
    codes = _check(name, lsoa_codes)
    with db.begin() as conn:
        exists = conn.execute(select(areas.c.name).where(areas.c.name == name)).first()
        if exists:
            conn.execute(areas.update().where(areas.c.name == name)
                         .values(description=description))
            conn.execute(delete(area_lsoas).where(area_lsoas.c.area == name))
        else:
            conn.execute(insert(areas).values(name=name, description=description,
                                              created_at=utc_now()))
        conn.execute(insert(area_lsoas), [{"area": name, "lsoa11cd": c} for c in sorted(codes)])
    return Area(name, codes, description)


def get_area(db: Database, name: str) -> Area | None:
    """Return area ``name``, or None when there is none."""
    return db.memo(("area", name), lambda: _read_area(db, name))


def _read_area(db: Database, name: str) -> Area | None:
    with db.connection() as conn:
        # the codes as one text (LSOA codes hold no comma): a row object per code cost more
        # than the rest of a task-force member's decision under load
        join = func.string_agg if conn.dialect.name == "postgresql" else func.group_concat
        codes = (select(join(area_lsoas.c.lsoa11cd, ","))
                 .where(area_lsoas.c.area == areas.c.name).scalar_subquery())
        row = conn.execute(select(areas.c.name, areas.c.description, codes.label("codes"))
                           .where(areas.c.name == name)).first()
    if row is None:
        return None
    return Area(row.name, frozenset(row.codes.split(",")) if row.codes else frozenset(),
                row.description)


def list_areas(db: Database) -> list[Area]:
    """Return every area, by name."""
    with db.connection() as conn:
        rows = conn.execute(select(areas).order_by(areas.c.name)).all()
        pairs = conn.execute(select(area_lsoas.c.area, area_lsoas.c.lsoa11cd)).all()
    members: dict[str, set[str]] = {}
    for area, code in pairs:
        members.setdefault(area, set()).add(code)
    return [Area(r.name, frozenset(members.get(r.name, ())), r.description) for r in rows]


def remove_area(db: Database, name: str) -> None:
    """Delete area ``name``; refused while a user is assigned to it."""
    with db.begin() as conn:
        holders = conn.execute(select(users.c.name).where(users.c.area == name)).scalars().all()
        if holders:
            raise AreaError(f"area {name!r} is assigned to {', '.join(holders)}: move or "
                            "disable those users first")
        conn.execute(delete(area_lsoas).where(area_lsoas.c.area == name))
        if conn.execute(delete(areas).where(areas.c.name == name)).rowcount == 0:
            raise AreaError(f"there is no area {name!r}")


def read_areas_file(path: Path) -> list[Area]:
    """Parse an areas file (CSV or TOML, see the module docstring) without storing it.

    Raises
    ------
    AreaError
        Naming the file and line (CSV) or entry (TOML) at fault.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".toml":
            return _read_toml(path)
        return _read_csv(path)
    except OSError as exc:
        raise AreaError(f"{path}: cannot read: {exc}") from exc


def _read_toml(path: Path) -> list[Area]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AreaError(f"{path}: not valid TOML: {exc}") from exc
    entries = data.get("area")
    if not isinstance(entries, list) or not entries:
        raise AreaError(f"{path}: expected one or more [[area]] tables")
    result = []
    for i, entry in enumerate(entries, start=1):
        where = f"{path}, [[area]] #{i}"
        if not isinstance(entry, dict):
            raise AreaError(f"{where}: expected a table")
        codes = entry.get("lsoa11cd")
        if not isinstance(codes, list):
            raise AreaError(f"{where}: field 'lsoa11cd' must be a list of LSOA codes")
        name = str(entry.get("name", ""))
        result.append(Area(name, _check(name, codes, where), str(entry.get("description", ""))))
    return result


def _read_csv(path: Path) -> list[Area]:
    codes: dict[str, list[str]] = {}
    descriptions: dict[str, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
        if "area" not in fields or "lsoa11cd" not in fields:
            raise AreaError(f"{path}, line 1: expected columns 'area' and 'lsoa11cd', found "
                            f"{', '.join(reader.fieldnames or []) or 'none'}")
        for row in reader:
            line = reader.line_num
            name = (row.get(fields["area"]) or "").strip()
            code = (row.get(fields["lsoa11cd"]) or "").strip()
            _check(name, [code], f"{path}, line {line}")
            codes.setdefault(name, []).append(code)
            if "description" in fields and row.get(fields["description"]):
                descriptions[name] = row[fields["description"]].strip()
    if not codes:
        raise AreaError(f"{path}: no areas (the file has a header but no rows)")
    return [Area(n, _check(n, c), descriptions.get(n, "")) for n, c in codes.items()]


def load_areas_file(db: Database, path: Path) -> list[Area]:
    """Read an areas file and define (create or replace) every area in it."""
    return [define_area(db, a.name, a.lsoa11cd, a.description) for a in read_areas_file(path)]
