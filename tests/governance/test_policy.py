"""The authorisation matrix: every role x action x resource, areas, purposes and dates."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from vru.governance import audit
from vru.governance.areas import define_area
from vru.governance.db import Database
from vru.governance.identity import disable_user
from vru.governance.policy import PolicyConfig, authorise

TODAY = date(2025, 6, 1)
RESOURCES = ["incidents", "ed_assaults", "partner_school_exclusions", "quarantine",
             "analysis:hotspots", "transparency"]
# R record, A aggregate, P public, - denied. Purpose: violence_reduction, on TODAY.
# incidents: no agreement (open data). ed_assaults: owned by the hospital (olu's
# organisation); analyst record, task force aggregate, ethics aggregate, viewer public.
# partner_school_exclusions: owned by the council; task force "none", viewer not listed.
# analysis:hotspots reads incidents and ed_assaults.
MATRIX = """
admin               read      R R R R R P
admin               write     R R R R R R
admin               analyse   R R R R R R
admin               export    R R R R R R
admin               admin     R R R R R R
admin               audit     R R R R R R
admin               retention R R R R R R
analyst             read      R R R R R P
analyst             write     R R R - R -
analyst             analyse   R R R R R -
analyst             export    R R R R R -
analyst             admin     - - - - - -
analyst             audit     - - - - - -
analyst             retention - - - - - -
partner_data_owner  read      - R - - - P
partner_data_owner  write     - R - - - -
partner_data_owner  analyse   - - - - - -
partner_data_owner  export    - - - - - -
partner_data_owner  admin     - - - - - -
partner_data_owner  audit     - R - - - -
partner_data_owner  retention - - - - - -
task_force_member   read      A A - - A P
task_force_member   write     - - - - - -
task_force_member   analyse   A A - - A -
task_force_member   export    A A - - A -
task_force_member   admin     - - - - - -
task_force_member   audit     - - - - - -
task_force_member   retention - - - - - -
ethics_board_member read      A A A - A P
ethics_board_member write     - - - - - R
ethics_board_member analyse   A A A - A -
ethics_board_member export    - - - - - -
ethics_board_member admin     - - - - - -
ethics_board_member audit     R R R R R R
ethics_board_member retention - - - - - -
viewer              read      P P - - P P
viewer              write     - - - - - -
viewer              analyse   - - - - - -
viewer              export    P P - - P -
viewer              admin     - - - - - -
viewer              audit     - - - - - -
viewer              retention - - - - - -
"""
USERS = {"admin": "ada", "analyst": "ann", "partner_data_owner": "olu",
         "task_force_member": "tia", "ethics_board_member": "eve", "viewer": "vic"}
LETTER = {"R": "record", "A": "aggregate", "P": "public", "-": None}


def test_authorisation_matrix(world: Database) -> None:
    rows = [line.split() for line in MATRIX.strip().splitlines()]
    assert len(rows) == 6 * 7
    wrong = []
    for role, action, *cells in rows:
        for resource, cell in zip(RESOURCES, cells, strict=True):
            inputs = ("incidents", "ed_assaults") if resource.startswith("analysis:") else ()
            got = authorise(world, USERS[role], action, resource, "violence_reduction",
                            inputs=inputs, on=TODAY)
            expected = LETTER[cell]
            actual = got.level.value if got.allowed and got.level else None
            if got.allowed != (expected is not None) or actual != expected:
                wrong.append(f"{role} {action} {resource}: expected {cell}, got "
                             f"{actual or '-'} ({got.reason})")
            assert got.reason  # every decision, allowed or not, says why
    assert not wrong, "\n".join(wrong)
    # Every decision was audited, allowed and denied alike, and the chain is intact.
    logged = audit.entries(world)
    assert len(logged) == 6 * 7 * len(RESOURCES)
    assert {e.decision for e in logged} == {"allow", "deny"}
    assert audit.verify(world).ok


def test_task_force_member_sees_only_their_area(world: Database) -> None:
    own = authorise(world, "tia", "read", "incidents", "violence_reduction", on=TODAY)
    assert own.allowed and own.row_filter is not None
    assert own.row_filter.area == "North"
    assert own.row_filter.values == {"E01000001", "E01000002"}
    assert own.row_filter.sql() == "lsoa11cd IN ('E01000001', 'E01000002')"
    assert own.disclosure_profile == "nhs"

    asked = authorise(world, "tia", "read", "incidents", "violence_reduction", area="North",
                      on=TODAY)
    assert asked.allowed and asked.row_filter == own.row_filter

    other = authorise(world, "tia", "read", "incidents", "violence_reduction", area="South",
                      on=TODAY)
    assert not other.allowed
    assert "North" in other.reason and "South" in other.reason
    entry = audit.entries(world)[-1]
    assert (entry.decision, entry.actor, entry.detail["area"]) == ("deny", "tia", "South")

    table = pa.table({"lsoa11cd": ["E01000001", "E01000003", None, "E01000002"],
                      "n": [1, 2, 3, 4]})
    assert table.filter(own.row_filter.mask(table))["n"].to_pylist() == [1, 4]


def test_analyst_may_narrow_to_any_area(world: Database) -> None:
    got = authorise(world, "ann", "analyse", "incidents", "violence_reduction", area="South",
                    on=TODAY)
    assert got.allowed and got.row_filter is not None and got.row_filter.values == {"E01000003"}
    assert got.disclosure_profile == "none"
    missing = authorise(world, "ann", "analyse", "incidents", "violence_reduction",
                        area="Atlantis", on=TODAY)
    assert not missing.allowed and "Atlantis" in missing.reason


def test_levels_bring_masks_fields_and_profiles(world: Database) -> None:
    analyst = authorise(world, "ann", "read", "ed_assaults", "violence_reduction", on=TODAY)
    assert analyst.column_masks == frozenset()  # pseudonymised tokens, needed for linkage
    assert analyst.agreements == ("RBH ED assaults 2024-27",)
    task_force = authorise(world, "tia", "read", "ed_assaults", "violence_reduction", on=TODAY)
    assert task_force.column_masks == {"attendance_ref"}
    viewer = authorise(world, "vic", "read", "ed_assaults", "violence_reduction", on=TODAY,
                       config=PolicyConfig(public_profile="ons"))
    assert (viewer.level, viewer.disclosure_profile) == ("public", "ons")
    school = authorise(world, "ann", "read", "partner_school_exclusions", "violence_reduction",
                       on=TODAY)
    assert school.permitted_fields["partner_school_exclusions"] == {
        "exclusion_date", "exclusion_type", "lsoa11cd"}


def test_purpose_must_be_agreed(world: Database) -> None:
    denied = authorise(world, "ann", "read", "ed_assaults", "research", on=TODAY)
    assert not denied.allowed
    assert "research" in denied.reason and "violence_reduction" in denied.reason
    assert authorise(world, "ann", "read", "incidents", "research", on=TODAY).allowed
    unknown = authorise(world, "ann", "read", "incidents", "curiosity", on=TODAY)
    assert not unknown.allowed and "purpose" in unknown.reason


def test_no_agreement_in_force_denies_even_admins_writing(world: Database) -> None:
    after = date(2027, 4, 1)
    read = authorise(world, "ann", "read", "ed_assaults", "violence_reduction", on=after)
    assert not read.allowed and "vru agreement add" in read.reason
    write = authorise(world, "ada", "write", "ed_assaults", "violence_reduction", on=after)
    assert not write.allowed
    never = authorise(world, "ada", "write", "partner_youth_justice", "violence_reduction",
                      on=TODAY)
    assert not never.allowed and "partner_youth_justice" in never.reason


def test_unknown_or_disabled_actor_and_unknown_action(world: Database) -> None:
    assert not authorise(world, "mallory", "read", "incidents", "violence_reduction").allowed
    disable_user(world, "ann")
    gone = authorise(world, "ann", "read", "incidents", "violence_reduction")
    assert not gone.allowed and "disabled" in gone.reason
    odd = authorise(world, "ada", "delete_everything", "incidents", "administration")
    assert not odd.allowed and "action" in odd.reason
    assert [e.decision for e in audit.entries(world)] == ["deny", "deny", "deny"]


def test_decision_records_table_versions(world: Database) -> None:
    got = authorise(world, "ann", "read", "incidents", "violence_reduction",
                    table_versions={"incidents": 12}, on=TODAY)
    entry = audit.entries(world)[-1]
    assert entry.seq == got.audit_seq
    assert entry.table_versions == {"incidents": 12}
    assert entry.detail["level"] == "record"


def test_partner_data_owner_audits_their_dataset(world: Database) -> None:
    authorise(world, "ann", "read", "ed_assaults", "violence_reduction", on=TODAY)
    authorise(world, "ann", "analyse", "analysis:hotspots", "violence_reduction",
              inputs=["incidents", "ed_assaults"], on=TODAY)
    authorise(world, "ann", "read", "incidents", "violence_reduction", on=TODAY)
    assert authorise(world, "olu", "audit", "ed_assaults", "administration", on=TODAY).allowed
    used = audit.entries(world, dataset="ed_assaults")
    assert [(e.action, e.resource) for e in used] == [
        ("read", "ed_assaults"), ("analyse", "analysis:hotspots"), ("audit", "ed_assaults")]


@pytest.mark.parametrize("role_user", ["ann", "tia", "vic"])
def test_only_admins_manage(world: Database, role_user: str) -> None:
    assert not authorise(world, role_user, "admin", "users", "administration").allowed
    assert authorise(world, "ada", "admin", "users", "administration").allowed


def test_a_decision_reads_one_snapshot_and_nothing_is_kept_between_decisions(
        world: Database) -> None:
    # inside one decision every read shares the read transaction's connection
    with world.reading(), world.connection() as a, world.reading(), world.connection() as b:
        assert a is b
    with world.connection() as a, world.connection() as b:
        assert a is not b  # outside a decision each read takes its own
    first = authorise(world, "tia", "read", "incidents", "violence_reduction", on=TODAY)
    assert first.row_filter is not None and first.row_filter.values == {"E01000001",
                                                                          "E01000002"}
    # an admin narrows the area, then disables the account: the very next request sees each
    define_area(world, "North", {"E01000002"})
    narrowed = authorise(world, "tia", "read", "incidents", "violence_reduction", on=TODAY)
    assert narrowed.row_filter is not None and narrowed.row_filter.values == {"E01000002"}
    disable_user(world, "tia")
    assert not authorise(world, "tia", "read", "incidents", "violence_reduction",
                         on=TODAY).allowed


def test_a_change_made_by_hand_in_sql_is_seen_by_the_next_decision(world: Database) -> None:
    """Decisions reuse what they read while the governance version stays; triggers move it
    on any change, so even an edit that bypasses vru is never missed."""
    from sqlalchemy import event, text

    def version() -> int:
        with world.engine.connect() as conn:
            return conn.execute(text("SELECT n FROM governance_version")).scalar_one()

    first = authorise(world, "tia", "read", "incidents", "violence_reduction", on=TODAY)
    statements: list[str] = []
    event.listen(world.engine, "before_cursor_execute",
                 lambda *a: statements.append(a[2]))
    again = authorise(world, "tia", "read", "incidents", "violence_reduction", on=TODAY)
    assert again.row_filter == first.row_filter
    assert not [q for q in statements if "FROM users" in q or "FROM area_lsoas" in q]
    edits = {
        "area_lsoas": "DELETE FROM area_lsoas WHERE area = 'North' AND lsoa11cd = 'E01000001'",
        "areas": "UPDATE areas SET description = 'edited' WHERE name = 'North'",
        "agreements": "UPDATE agreements SET purposes = purposes WHERE 1 = 1",
        "users": "UPDATE users SET disabled = true WHERE name = 'tia'",
    }
    for table, sql in edits.items():
        before = version()
        with world.engine.begin() as conn:
            conn.execute(text(sql))
        assert version() > before, f"a change to {table} must move the governance version"
    # the last two edits: the area lost a code, then the account was disabled
    assert not authorise(world, "tia", "read", "incidents", "violence_reduction",
                         on=TODAY).allowed
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE users SET disabled = false WHERE name = 'tia'"))
    narrowed = authorise(world, "tia", "read", "incidents", "violence_reduction", on=TODAY)
    assert narrowed.row_filter is not None and narrowed.row_filter.values == {"E01000002"}
