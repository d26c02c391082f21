"""Users, argon2id passwords, roles and the local admin."""

from __future__ import annotations

import pytest

from vru.governance import audit
from vru.governance.areas import define_area
from vru.governance.db import Database
from vru.governance.errors import AuthenticationError, IdentityError
from vru.governance.identity import (
    add_user,
    authenticate,
    disable_user,
    ensure_local_admin,
    hash_password,
    init_admin,
    list_users,
    verify_password,
)
from vru.governance.roles import Role


def test_argon2id_hash_and_verify() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert hashed != hash_password("correct horse battery")  # salted
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterY")
    assert not verify_password("not a hash", "correct horse battery")
    with pytest.raises(IdentityError, match="12 characters"):
        hash_password("short")


def test_authenticate(db: Database) -> None:
    init_admin(db, "ada", "correct horse battery")
    assert authenticate(db, "ada", "correct horse battery").role is Role.ADMIN
    for name, password in [("ada", "wrong password!!"), ("nobody", "correct horse battery")]:
        with pytest.raises(AuthenticationError, match="unknown user, wrong password"):
            authenticate(db, name, password)
    disable_user(db, "ada")
    with pytest.raises(AuthenticationError):
        authenticate(db, "ada", "correct horse battery")


def test_init_admin_only_once(db: Database) -> None:
    init_admin(db, "ada", "correct horse battery")
    with pytest.raises(IdentityError, match="already has an admin"):
        init_admin(db, "bob", "correct horse battery")


def test_add_user_rules(db: Database) -> None:
    define_area(db, "Reading", ["E01016374"])
    with pytest.raises(IdentityError, match="exactly one area"):
        add_user(db, "tia", "task_force_member")
    with pytest.raises(IdentityError, match="no area 'Slough'.*Reading"):
        add_user(db, "tia", "task_force_member", area="Slough")
    with pytest.raises(IdentityError, match="only task force members"):
        add_user(db, "ann", "analyst", area="Reading")
    with pytest.raises(IdentityError, match="unknown role"):
        add_user(db, "ann", "superuser")
    with pytest.raises(IdentityError, match="organisation"):
        add_user(db, "olu", "partner_data_owner")
    with pytest.raises(IdentityError, match="invalid user name"):
        add_user(db, "bad name; drop", "viewer")
    add_user(db, "tia", "task_force_member", area="Reading")
    with pytest.raises(IdentityError, match="already exists"):
        add_user(db, "tia", "viewer")
    users = list_users(db)
    assert [(u.name, u.role, u.area, u.has_password) for u in users] == [
        ("tia", Role.TASK_FORCE_MEMBER, "Reading", False)]


def test_local_admin_on_first_use(db: Database) -> None:
    me = ensure_local_admin(db, "alice")
    assert (me.name, me.role, me.local, me.has_password) == ("alice", Role.ADMIN, True, False)
    assert ensure_local_admin(db, "alice") == me  # the same user every time
    with pytest.raises(IdentityError, match="vru users add bob"):
        ensure_local_admin(db, "bob")  # the home has an owner now
    add_user(db, "bob", "viewer")
    assert ensure_local_admin(db, "bob").role is Role.VIEWER
    disable_user(db, "bob")
    with pytest.raises(IdentityError, match="disabled"):
        ensure_local_admin(db, "bob")
    with pytest.raises(IdentityError, match="no user"):
        disable_user(db, "carol")


def test_failed_sign_ins_look_alike_but_are_audited_with_the_true_reason(db: Database) -> None:
    init_admin(db, "ada", "correct horse battery")
    add_user(db, "bob", "viewer")  # no password: signs in only locally
    add_user(db, "cat", "viewer", password="another long password")
    disable_user(db, "cat")
    messages = set()
    for name, password in [("bob", "correct horse battery"), ("cat", "another long password"),
                           ("ada", "not the password"), ("zed", "whatever it is")]:
        with pytest.raises(AuthenticationError) as caught:
            authenticate(db, name, password)
        messages.add(str(caught.value))
    assert len(messages) == 1  # the caller cannot tell these apart
    reasons = [e.reason for e in audit.entries(db) if e.action == "login"]
    assert ["no password" in reasons[0], "disabled" in reasons[1], "wrong password" in reasons[2],
            "no such user" in reasons[3]] == [True] * 4
