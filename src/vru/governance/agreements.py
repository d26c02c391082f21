"""Data sharing agreements: who shares which dataset, for which purposes, on what legal basis.

A partner dataset is ingested and read only under an agreement in force. Agreements are
registered from TOML files (`load_agreement_file`), one agreement per file::

    name = "Royal Berkshire ED assaults (ISTV) 2024-27"   # unique
    dataset = "ed_assaults"             # the lake table it covers (partner_<name> for partners)
    owner = "Royal Berkshire NHS Foundation Trust"   # the organisation that provides the data;
                                        # its partner_data_owner users may upload and audit it
    parties = ["Royal Berkshire NHS Foundation Trust", "Thames Valley VRU"]
    purposes = ["violence_reduction", "performance_reporting"]   # see vru.governance.roles
    legal_basis = [
      "Crime and Disorder Act 1998 s115",
      "Police, Crime, Sentencing and Courts Act 2022 s16 (Serious Violence Duty)",
    ]                                   # a string or a list of strings
    permitted_fields = ["site_code", "arrival_datetime", "assault_method"]  # optional;
                                        # absent or empty: every field of the dataset
    identifier_fields = []              # optional: pseudonymised identifiers, hidden below
                                        # record level
    retention_days = 1095               # rows older than this are deleted by retention
    start_date = 2024-04-01             # TOML dates (or "YYYY-MM-DD" strings), inclusive
    end_date = 2027-03-31

    [levels]                            # the finest level each role may see:
    analyst = "record"                  # "record", "aggregate", "public" or "none";
    task_force_member = "aggregate"     # a role not listed sees nothing of this dataset
    ethics_board_member = "aggregate"   # (admins always may; the owner's own
    viewer = "public"                   # partner_data_owner users see their own records)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from vru.governance._common import dumps, loads, utc_now
from vru.governance.db import Database
from vru.governance.errors import AgreementError, NoActiveAgreement
from vru.governance.roles import PURPOSES, Level, Role
from vru.governance.schema import agreements as _t

DATASET = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
#: The command that registers an agreement (named in errors so people know what to run).
REGISTER_COMMAND = "vru agreement add FILE.toml"
LEVEL_NONE = "none"


@dataclass(frozen=True)
class Agreement:
    """A data sharing agreement (see the module docstring for each field)."""

    name: str
    dataset: str
    owner: str
    purposes: tuple[str, ...]
    legal_basis: tuple[str, ...]
    retention_days: int
    start_date: date
    end_date: date
    parties: tuple[str, ...] = ()
    permitted_fields: frozenset[str] = frozenset()
    identifier_fields: frozenset[str] = frozenset()
    levels: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def active_on(self, day: date) -> bool:
        """True when ``day`` falls between the start and end dates (inclusive)."""
        return self.start_date <= day <= self.end_date

    def level_for(self, role: Role | str) -> Level | None:
        """The finest level ``role`` may see under this agreement, or None for no access."""
        value = self.levels.get(str(role), LEVEL_NONE)
        return None if value == LEVEL_NONE else Level(value)

    def owned_by(self, organisation: str | None) -> bool:
        """True when ``organisation`` is this agreement's owner (case and spacing ignored)."""
        return bool(organisation) and _norm(organisation) == _norm(self.owner)


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _strings(value: Any, name: str, where: str, *, required: bool) -> tuple[str, ...]:
    if value is None:
        value = []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise AgreementError(f"{where}field '{name}' must be a list of non-empty strings")
    if required and not value:
        raise AgreementError(f"{where}field '{name}' is required")
    return tuple(v.strip() for v in value)


def _date(value: Any, name: str, where: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise AgreementError(f"{where}field '{name}' must be a date (YYYY-MM-DD), got {value!r}")


def agreement_from_mapping(data: dict[str, Any], source: str = "") -> Agreement:
    """Build and validate an `Agreement` from a mapping shaped like the TOML file.

    Raises
    ------
    AgreementError
        Naming ``source`` and the field at fault.
    """
    where = f"{source}: " if source else ""
    known = {"name", "dataset", "owner", "parties", "purposes", "legal_basis",
             "permitted_fields", "identifier_fields", "retention_days", "start_date",
             "end_date", "levels"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise AgreementError(f"{where}unknown field(s) {', '.join(unknown)}; the fields are "
                             f"{', '.join(sorted(known))}")
    for required in ("name", "dataset", "owner", "retention_days", "start_date", "end_date"):
        if data.get(required) in (None, ""):
            raise AgreementError(f"{where}field '{required}' is required")
    name, dataset, owner = (str(data[k]).strip() for k in ("name", "dataset", "owner"))
    if not DATASET.match(dataset):
        raise AgreementError(f"{where}field 'dataset': {dataset!r} is not a lake table name "
                             "(lower-case letters, digits and _, e.g. partner_school_exclusions)")
    purposes = _strings(data.get("purposes"), "purposes", where, required=True)
    bad = [p for p in purposes if p not in PURPOSES]
    if bad:
        raise AgreementError(f"{where}field 'purposes': unknown purpose(s) {', '.join(bad)}; "
                             f"choose from {', '.join(PURPOSES)}")
    legal_basis = _strings(data.get("legal_basis"), "legal_basis", where, required=True)
    retention = data["retention_days"]
    if not isinstance(retention, int) or isinstance(retention, bool) or retention <= 0:
        raise AgreementError(f"{where}field 'retention_days' must be a positive whole number "
                             f"of days, got {retention!r}")
    start = _date(data["start_date"], "start_date", where)
    end = _date(data["end_date"], "end_date", where)
    if end < start:
        raise AgreementError(f"{where}field 'end_date' ({end}) is before 'start_date' ({start})")
    levels_raw = data.get("levels") or {}
    if not isinstance(levels_raw, dict):
        raise AgreementError(f"{where}field 'levels' must be a table of role = level")
    levels: dict[str, str] = {}
    allowed = [lv.value for lv in Level] + [LEVEL_NONE]
    for role, level in levels_raw.items():
        if role not in {r.value for r in Role}:
            raise AgreementError(f"{where}field 'levels': unknown role {role!r}; roles are "
                                 f"{', '.join(r.value for r in Role)}")
        if level not in allowed:
            raise AgreementError(f"{where}field 'levels.{role}': {level!r} is not one of "
                                 f"{', '.join(allowed)}")
        levels[role] = level
    return Agreement(
        name=name, dataset=dataset, owner=owner, purposes=purposes, legal_basis=legal_basis,
        retention_days=retention, start_date=start, end_date=end,
        parties=_strings(data.get("parties"), "parties", where, required=False),
        permitted_fields=frozenset(_strings(data.get("permitted_fields"), "permitted_fields",
                                            where, required=False)),
        identifier_fields=frozenset(_strings(data.get("identifier_fields"),
                                             "identifier_fields", where, required=False)),
        levels=levels, source=source)


def read_agreement_file(path: Path) -> Agreement:
    """Parse and validate an agreement TOML file without registering it."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AgreementError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AgreementError(f"{path}: not valid TOML: {exc}") from exc
    return agreement_from_mapping(data, str(path))


def register_agreement(db: Database, agreement: Agreement, *, replace: bool = False) -> Agreement:
    """Store ``agreement``; with ``replace`` an agreement of the same name is updated."""
    values = {
        "dataset": agreement.dataset, "owner": agreement.owner,
        "parties": dumps(list(agreement.parties)), "purposes": dumps(list(agreement.purposes)),
        "legal_basis": dumps(list(agreement.legal_basis)),
        "permitted_fields": dumps(sorted(agreement.permitted_fields)),
        "identifier_fields": dumps(sorted(agreement.identifier_fields)),
        "levels": dumps(agreement.levels), "retention_days": agreement.retention_days,
        "start_date": agreement.start_date, "end_date": agreement.end_date,
        "source": agreement.source,
    }
    with db.begin() as conn:
        exists = conn.execute(select(_t.c.id).where(_t.c.name == agreement.name)).first()
        if exists and not replace:
            raise AgreementError(f"an agreement named {agreement.name!r} already exists; "
                                 "give the new one another name or replace it")
        if exists:
            conn.execute(update(_t).where(_t.c.name == agreement.name).values(**values))
        else:
            conn.execute(insert(_t).values(name=agreement.name, created_at=utc_now(), **values))
    return agreement


def load_agreement_file(db: Database, path: Path, *, replace: bool = False) -> Agreement:
    """Read, validate and register the agreement in TOML file ``path``."""
    return register_agreement(db, read_agreement_file(path), replace=replace)


def _from_row(row: Any) -> Agreement:
    return Agreement(
        name=row.name, dataset=row.dataset, owner=row.owner,
        purposes=tuple(loads(row.purposes)), legal_basis=tuple(loads(row.legal_basis)),
        retention_days=row.retention_days, start_date=row.start_date, end_date=row.end_date,
        parties=tuple(loads(row.parties)), permitted_fields=frozenset(loads(row.permitted_fields)),
        identifier_fields=frozenset(loads(row.identifier_fields)), levels=loads(row.levels),
        source=row.source)


def list_agreements(db: Database, dataset: str | None = None) -> list[Agreement]:
    """Return every agreement (of ``dataset`` when given), newest start first."""
    query = select(_t).order_by(_t.c.dataset, _t.c.start_date.desc(), _t.c.name)
    if dataset is not None:
        query = query.where(_t.c.dataset == dataset)

    def load() -> tuple[Agreement, ...]:
        with db.connection() as conn:
            return tuple(_from_row(r) for r in conn.execute(query))

    return list(db.memo(("agreements", dataset), load))


def active_agreements(db: Database, dataset: str, on: date | None = None) -> list[Agreement]:
    """Return the agreements of ``dataset`` in force on ``on`` (default today), newest first."""
    day = on or date.today()
    query = (select(_t).where(_t.c.dataset == dataset, _t.c.start_date <= day,
                              _t.c.end_date >= day)
             .order_by(_t.c.start_date.desc(), _t.c.name))

    def load() -> tuple[Agreement, ...]:
        with db.connection() as conn:
            return tuple(_from_row(r) for r in conn.execute(query))

    return list(db.memo(("active", dataset, day), load))


def active_agreement(db: Database, dataset: str, on: date | None = None) -> Agreement | None:
    """Return the newest agreement of ``dataset`` in force on ``on`` (default today), or None."""
    found = active_agreements(db, dataset, on)
    return found[0] if found else None


def require_active_agreement(db: Database, dataset: str, on: date | None = None) -> Agreement:
    """Return the agreement in force for ``dataset``, or raise saying how to register one.

    Raises
    ------
    NoActiveAgreement
        When no agreement covers ``dataset`` on ``on`` (default today).
    """
    day = on or date.today()
    found = active_agreement(db, dataset, day)
    if found is not None:
        return found
    others = list_agreements(db, dataset)
    if others:
        spans = "; ".join(f"{a.name!r} {a.start_date} to {a.end_date}" for a in others)
        history = f" Its agreements are not in force on that date: {spans}."
    else:
        history = " It has never had one."
    raise NoActiveAgreement(
        dataset,
        f"No data sharing agreement is in force for dataset {dataset!r} on {day}.{history} "
        f"Register one with `{REGISTER_COMMAND}` (the file's shape is described in "
        "vru.governance.agreements), then ingest again.")


def retention_due(db: Database, dataset: str, today: date | None = None) -> date:
    """Return the cutoff date: rows of ``dataset`` dated before it are past retention.

    The period comes from the agreement in force on ``today``; when none is, from the most
    recently ended one (data outlives its agreement only for that agreement's period).

    Raises
    ------
    NoActiveAgreement
        When ``dataset`` has never had an agreement.
    """
    day = today or date.today()
    agreement = active_agreement(db, dataset, day)
    if agreement is None:
        past = [a for a in list_agreements(db, dataset) if a.start_date <= day]
        if not past:
            raise NoActiveAgreement(dataset, f"dataset {dataset!r} has no agreement, so no "
                                    f"retention period; register one with `{REGISTER_COMMAND}`")
        agreement = max(past, key=lambda a: a.end_date)
    return day - timedelta(days=agreement.retention_days)

