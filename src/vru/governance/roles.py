"""The roles a user can hold, the vocabulary of purposes, and the levels of detail."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role; each user holds exactly one."""

    ADMIN = "admin"
    ANALYST = "analyst"
    PARTNER_DATA_OWNER = "partner_data_owner"
    TASK_FORCE_MEMBER = "task_force_member"
    ETHICS_BOARD_MEMBER = "ethics_board_member"
    VIEWER = "viewer"


class Level(StrEnum):
    """How fine the data a person sees is: rows, aggregates, or published figures."""

    RECORD = "record"
    AGGREGATE = "aggregate"
    PUBLIC = "public"


#: Finest first: a lower index is more detailed.
LEVEL_ORDER = (Level.RECORD, Level.AGGREGATE, Level.PUBLIC)


def coarsest(*levels: Level) -> Level:
    """Return the least detailed of ``levels``."""
    return max(levels, key=LEVEL_ORDER.index)


#: The purposes a use of data may name, and what each means.
PURPOSES: dict[str, str] = {
    "violence_reduction": "finding and acting on where and when serious violence concentrates "
                          "(Serious Violence Duty)",
    "performance_reporting": "measuring programmes and reporting KPIs to the VRU board and PCC",
    "research": "evaluation and research approved by the ethics board",
    "operational_policing": "tasking and deployment by police and partner task forces",
    "public_information": "publishing disclosure-controlled figures to the public",
    "administration": "running the platform: users, agreements, data quality, retention",
    "ethics_oversight": "scrutiny of data use by the ethics board",
}

#: The actions a decision is asked for.
ACTIONS: dict[str, str] = {
    "read": "read a lake table or an analysis output",
    "write": "ingest into a lake table or store an analysis output",
    "analyse": "run an analysis over a table",
    "export": "take data or figures out of vru (download, file, briefing)",
    "admin": "manage users, areas and agreements",
    "audit": "read the audit log",
    "retention": "delete rows past their retention period",
    "login": "sign in (recorded whether it succeeds, fails or is throttled)",
}
