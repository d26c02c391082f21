"""The one policy decision point: may this actor do this action on this resource for this purpose?

Every decision, allowed or denied, is written to the audit log. The rules:

- **admin**: everything, at record level (writing a governed dataset still needs an
  agreement in force: that is the law, not a role).
- **analyst**: read, analyse, export and write at record level, for a purpose the dataset's
  agreement covers; reads the operational tables (quarantine, ingest_log).
- **partner_data_owner**: writes and reads the datasets whose agreement their organisation
  owns, and audits who used them; nothing else.
- **task_force_member**: read, analyse, export at aggregate level, rows filtered to their
  own area, disclosure control applied.
- **ethics_board_member**: reads the audit log and transparency records; read and analyse
  at aggregate level with disclosure control.
- **viewer**: reads and exports public-level, disclosure-controlled figures only.

A dataset is *governed* when any agreement names it, when it is a partner table
(``partner_*``) or one of `ALWAYS_GOVERNED`; using it needs an agreement in force on the day
that covers the purpose and gives the role a level. Resources: lake tables by name,
``analysis:<name>`` for analysis outputs (pass the tables they read as ``inputs``),
``quarantine`` and ``ingest_log``, ``transparency``, and for the admin action ``users``,
``areas`` or ``agreements``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vru.governance import audit
from vru.governance.agreements import REGISTER_COMMAND, active_agreements, list_agreements
from vru.governance.areas import get_area
from vru.governance.db import Database
from vru.governance.identity import User, get_user
from vru.governance.roles import ACTIONS, LEVEL_ORDER, PURPOSES, Level, Role, coarsest

#: Tables that hold partner data even before any agreement is registered for them.
ALWAYS_GOVERNED = frozenset({"ed_assaults"})
OPERATIONAL = frozenset({"quarantine", "ingest_log"})
ADMIN_RESOURCES = frozenset({"users", "areas", "agreements", "boundaries"})
TRANSPARENCY = "transparency"
OUTPUT_PREFIX = "analysis:"

#: The finest level each role can ever see.
ROLE_LEVEL = {
    Role.ADMIN: Level.RECORD, Role.ANALYST: Level.RECORD, Role.PARTNER_DATA_OWNER: Level.RECORD,
    Role.TASK_FORCE_MEMBER: Level.AGGREGATE, Role.ETHICS_BOARD_MEMBER: Level.AGGREGATE,
    Role.VIEWER: Level.PUBLIC,
}
#: Which data actions each role may ask for on tables and outputs.
ROLE_ACTIONS = {
    Role.ADMIN: {"read", "write", "analyse", "export"},
    Role.ANALYST: {"read", "write", "analyse", "export"},
    Role.PARTNER_DATA_OWNER: {"read", "write"},
    Role.TASK_FORCE_MEMBER: {"read", "analyse", "export"},
    Role.ETHICS_BOARD_MEMBER: {"read", "analyse"},
    Role.VIEWER: {"read", "export"},
}


@dataclass(frozen=True)
class RowFilter:
    """Rows a decision restricts to: ``column`` IN ``values`` (a task-force area's LSOAs)."""

    column: str
    values: frozenset[str]
    area: str

    def sql(self) -> str:
        """The filter as a SQL predicate (DuckDB/PostgreSQL), values quoted."""
        quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(self.values))
        return f"{self.column} IN ({quoted})" if quoted else "FALSE"

    def mask(self, table: pa.Table) -> pa.ChunkedArray:
        """Boolean mask of the rows of ``table`` the filter keeps (null codes are dropped)."""
        if self.column not in table.column_names:
            raise KeyError(f"the table has no column {self.column!r} to filter to area "
                           f"{self.area!r}; it cannot be shown at area level")
        return pc.fill_null(pc.is_in(table[self.column],
                                     value_set=pa.array(sorted(self.values), pa.string())), False)


@dataclass(frozen=True)
class Decision:
    """What the policy decided, and the conditions the caller must apply when allowed.

    Attributes
    ----------
    allowed
        May the action go ahead?
    reason
        Why, in words a person understands.
    level
        The finest detail allowed: "record", "aggregate" (counts, never rows) or "public".
    disclosure_profile
        The `vru.governance.disclosure` profile to apply to every count shown ("none" at
        record level).
    row_filter
        Rows to keep (a task-force member's area), or None for all rows.
    column_masks
        Identifier columns to drop or mask before anything is shown.
    permitted_fields
        Dataset -> the only fields its agreement lets anyone see (absent: every field).
    agreements
        Names of the agreements the decision relied on.
    audit_seq
        The audit log entry that recorded this decision.
    """

    allowed: bool
    reason: str
    level: Level | None = None
    disclosure_profile: str | None = None
    row_filter: RowFilter | None = None
    column_masks: frozenset[str] = frozenset()
    permitted_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)
    agreements: tuple[str, ...] = ()
    audit_seq: int = 0


@dataclass(frozen=True)
class PolicyConfig:
    """Disclosure profiles used below record level (from `Settings`)."""

    aggregate_profile: str = "nhs"
    public_profile: str = "cellkey"

    def profile(self, level: Level) -> str:
        """The disclosure profile for ``level``."""
        return {Level.RECORD: "none", Level.AGGREGATE: self.aggregate_profile,
                Level.PUBLIC: self.public_profile}[level]


class _Deny(Exception):  # noqa: N818 - internal control flow, never escapes this module
    pass


def is_governed(db: Database, dataset: str) -> bool:
    """True when using ``dataset`` needs a data sharing agreement."""
    return (dataset.startswith("partner_") or dataset in ALWAYS_GOVERNED
            or bool(list_agreements(db, dataset)))


def authorise(db: Database, actor: str | User, action: str, resource: str, purpose: str, *,
              area: str | None = None, inputs: Iterable[str] = (),
              table_versions: Mapping[str, int] | None = None,
              detail: Mapping[str, Any] | None = None, on: date | None = None,
              config: PolicyConfig | None = None, needs: Level | None = None,
              refuse_roles: Mapping[Role, str] | None = None) -> Decision:
    """Decide whether ``actor`` may ``action`` ``resource`` for ``purpose``, and audit it.

    Parameters
    ----------
    db
        The metadata database.
    actor
        User name (or `User`; the database is consulted either way, so a disabled account
        is caught).
    action
        One of `vru.governance.roles.ACTIONS`.
    resource
        A lake table, ``analysis:<name>``, ``quarantine``, ``ingest_log``,
        ``transparency``, ``users``/``areas``/``agreements`` (admin) or a dataset / "audit"
        (audit).
    purpose
        One of `vru.governance.roles.PURPOSES`.
    area
        The task-force area asked for: a task-force member may ask only for their own
        (None means theirs); other roles get a row filter to that area.
    inputs
        For an analysis output, the lake tables it reads (each is judged).
    table_versions
        Lake table -> Delta version being read or written, recorded in the audit entry.
    detail
        Extra context for the audit entry.
    on
        The day agreements are judged on (default today).
    config
        Disclosure profiles below record level.
    needs
        The finest level the requested output carries (rows of a table, a density surface
        of points: `Level.RECORD`); a decision coarser than that is a denial, recorded as one.
    refuse_roles
        Roles refused this request whatever else they may do, with the reason (restricted
        roles never get free SQL).

    Returns
    -------
    Decision
        Also when denied (``allowed`` False with the reason); never raises for a denial.
    """
    name = actor.name if isinstance(actor, User) else str(actor)
    cfg = config or PolicyConfig()
    inputs = tuple(inputs)
    try:
        with db.reading():  # the user, area and agreements as of one moment
            decision = _decide(db, name, action, resource, purpose, area, inputs, on, cfg)
            if decision.allowed and (needs is not None or refuse_roles):
                _check_needs(db, name, resource, decision, needs, refuse_roles or {})
    except _Deny as denial:
        decision = Decision(False, str(denial))
    entry_detail: dict[str, Any] = dict(detail or {})
    if inputs:
        entry_detail["inputs"] = list(inputs)
    if area:
        entry_detail["area"] = area
    if decision.allowed:
        entry_detail.update(level=decision.level, disclosure_profile=decision.disclosure_profile,
                            agreements=list(decision.agreements),
                            column_masks=sorted(decision.column_masks))
        if decision.row_filter is not None:
            entry_detail["row_filter"] = {"column": decision.row_filter.column,
                                          "area": decision.row_filter.area,
                                          "codes": len(decision.row_filter.values)}
    entry = audit.record(db, actor=name, action=action, resource=resource, purpose=purpose,
                         decision="allow" if decision.allowed else "deny",
                         reason=decision.reason, table_versions=table_versions,
                         detail=entry_detail)
    return Decision(**{**decision.__dict__, "audit_seq": entry.seq})


def _check_needs(db: Database, name: str, resource: str, decision: Decision,
                 needs: Level | None, refuse_roles: Mapping[Role, str]) -> None:
    user = get_user(db, name)
    if user is not None and user.role in refuse_roles:
        raise _Deny(refuse_roles[user.role])
    if needs is not None and decision.level is not None and \
            LEVEL_ORDER.index(decision.level) > LEVEL_ORDER.index(needs):
        raise _Deny(f"{resource} is {needs}-level output and you may see {decision.level}-"
                    "level figures only; ask for counts (`vru counts`) or an analysis that "
                    "releases aggregates")


def _decide(db: Database, name: str, action: str, resource: str, purpose: str,
            area: str | None, inputs: tuple[str, ...], on: date | None,
            cfg: PolicyConfig) -> Decision:
    user = get_user(db, name)
    if user is None:
        raise _Deny(f"{name!r} is not a user of vru; an admin can add them")
    if user.disabled:
        raise _Deny(f"the account {name!r} is disabled")
    if action not in ACTIONS:
        raise _Deny(f"unknown action {action!r}; actions are {', '.join(ACTIONS)}")
    if purpose not in PURPOSES:
        raise _Deny(f"unknown purpose {purpose!r}; purposes are {', '.join(PURPOSES)}")
    role = user.role

    if action == "admin":
        if role is Role.ADMIN:
            return _allow(f"admins manage {resource}", Level.RECORD, cfg)
        raise _Deny(f"only admins manage {resource}; you are {_a(role)}")
    if action == "retention":
        if role is Role.ADMIN:
            return _allow(f"admins apply retention to {resource}", Level.RECORD, cfg)
        raise _Deny(f"only admins delete data past its retention period; you are {_a(role)}")
    if action == "audit":
        return _decide_audit(db, user, resource, on, cfg)
    if resource == TRANSPARENCY:
        if action == "read":
            return _allow("transparency records are published to everyone", Level.PUBLIC, cfg)
        if role is Role.ADMIN or (role is Role.ETHICS_BOARD_MEMBER and action == "write"):
            return _allow(f"{_a(role)} may {action} transparency records", Level.RECORD, cfg)
        raise _Deny(f"transparency records are written by admins and the ethics board; you "
                    f"are {_a(role)}")
    if resource in OPERATIONAL:
        if action == "write" and role is not Role.ADMIN:
            raise _Deny(f"{resource} is written by ingest itself, not directly")
        if role in (Role.ADMIN, Role.ANALYST):
            return _allow(f"{_a(role)} may {action} {resource} to check data quality",
                          Level.RECORD, cfg)
        raise _Deny(f"{resource} holds rows as partners sent them; only analysts and admins "
                    f"see it, and you are {_a(role)}")
    if resource in ADMIN_RESOURCES:
        raise _Deny(f"{resource} is changed with the admin action, by admins")
    return _decide_data(db, user, action, resource, purpose, area, inputs, on, cfg)


def _a(role: Role) -> str:
    words = role.value.replace("_", " ")
    return f"{'an' if words[0] in 'aeiou' else 'a'} {words}"


def _allow(reason: str, level: Level, cfg: PolicyConfig, **extra: Any) -> Decision:
    return Decision(True, reason, level=level, disclosure_profile=cfg.profile(level), **extra)


def _decide_audit(db: Database, user: User, resource: str, on: date | None,
                  cfg: PolicyConfig) -> Decision:
    if user.role in (Role.ADMIN, Role.ETHICS_BOARD_MEMBER):
        return _allow(f"{_a(user.role)} may read the audit log", Level.RECORD, cfg)
    if user.role is Role.PARTNER_DATA_OWNER:
        owned = [a for a in list_agreements(db, resource) if a.owned_by(user.organisation)]
        if owned:
            return _allow(f"{user.organisation} owns {resource}, so may see who used it",
                          Level.RECORD, cfg, agreements=tuple(a.name for a in owned))
        raise _Deny(f"partner data owners see the use of their own datasets only; no agreement "
                    f"for {resource!r} is owned by {user.organisation!r}")
    raise _Deny(f"the audit log is read by admins, the ethics board and data owners; you are "
                f"{_a(user.role)}")


def _decide_data(db: Database, user: User, action: str, resource: str, purpose: str,
                 area: str | None, inputs: tuple[str, ...], on: date | None,
                 cfg: PolicyConfig) -> Decision:
    role = user.role
    is_output = resource.startswith(OUTPUT_PREFIX)
    if action not in ROLE_ACTIONS[role]:
        raise _Deny(f"{_a(role)} may not {action} data (allowed: "
                    f"{', '.join(sorted(ROLE_ACTIONS[role]))})")
    if is_output and role is Role.PARTNER_DATA_OWNER:
        raise _Deny("partner data owners see their own datasets, not analysis outputs")
    datasets = inputs if is_output else (resource,)
    if is_output and action == "write" and role not in (Role.ADMIN, Role.ANALYST):
        raise _Deny("analysis outputs are stored by analysts and admins")

    row_filter = None
    if role is Role.TASK_FORCE_MEMBER:
        if area is not None and area != user.area:
            raise _Deny(f"task force members see their own area only ({user.area}); you asked "
                        f"for {area}")
        area = user.area
    if area is not None:
        found = get_area(db, area)
        if found is None:
            raise _Deny(f"there is no task-force area {area!r}")
        row_filter = RowFilter("lsoa11cd", found.lsoa11cd, found.name)

    level = ROLE_LEVEL[role]
    masks: set[str] = set()
    permitted: dict[str, frozenset[str]] = {}
    used: list[str] = []
    for dataset in datasets:
        if not is_governed(db, dataset):
            if role is Role.PARTNER_DATA_OWNER:
                raise _Deny(f"partner data owners use their own datasets only; {dataset!r} has "
                            "no agreement owned by your organisation")
            continue
        found_level, agreement = _agreement_level(db, user, action, dataset, purpose, on)
        level = coarsest(level, found_level)
        used.append(agreement.name)
        if agreement.permitted_fields:
            permitted[dataset] = agreement.permitted_fields
        masks |= agreement.identifier_fields
    if level is Level.RECORD:
        masks = set()  # identifiers are pseudonymised tokens: analysts need them to link
    if action == "write" and level is not Level.RECORD:
        raise _Deny(f"writing needs record-level access; you have {level} level")
    where = f" in {row_filter.area}" if row_filter else ""
    basis = f" under {', '.join(used)}" if used else ""
    reason = f"{_a(role)} may {action} {resource}{where} at {level} level{basis}"
    return _allow(reason, level, cfg, row_filter=row_filter, column_masks=frozenset(masks),
                  permitted_fields=permitted, agreements=tuple(used))


def _agreement_level(db: Database, user: User, action: str, dataset: str, purpose: str,
                     on: date | None) -> tuple[Level, Any]:
    day = on or date.today()
    active = active_agreements(db, dataset, day)
    if not active:
        raise _Deny(f"no data sharing agreement is in force for {dataset!r} on {day}; an "
                    f"admin registers one with `{REGISTER_COMMAND}`")
    role = user.role
    if role is Role.PARTNER_DATA_OWNER:
        owned = [a for a in active if a.owned_by(user.organisation)]
        if not owned:
            raise _Deny(f"{dataset!r} is provided by {active[0].owner}, not by "
                        f"{user.organisation}; partner data owners use their own datasets only")
        return Level.RECORD, owned[0]
    covering = [a for a in active if purpose in a.purposes]
    if not covering:
        agreed = sorted({p for a in active for p in a.purposes})
        raise _Deny(f"the agreement for {dataset!r} does not cover the purpose {purpose!r}; it "
                    f"covers {', '.join(agreed)}")
    if role is Role.ADMIN:
        return Level.RECORD, covering[0]
    graded = [(a.level_for(role), a) for a in covering]
    graded = [(lv, a) for lv, a in graded if lv is not None]
    if not graded:
        raise _Deny(f"the agreement {covering[0].name!r} gives {role.value.replace('_', ' ')}s "
                    f"no access to {dataset!r}")
    # Several agreements in force: the most generous one for this role applies.
    return min(graded, key=lambda pair: [Level.RECORD, Level.AGGREGATE,
                                         Level.PUBLIC].index(pair[0]))
