"""Users, roles and passwords (argon2id); the local OS user is the embedded home's admin."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from vru.governance._common import utc_now
from vru.governance.db import Database
from vru.governance.errors import AuthenticationError, IdentityError
from vru.governance.roles import Role
from vru.governance.schema import areas, users

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12
# argon2-cffi's RFC 9106 "low memory" defaults, pinned to argon2id explicitly.
_hasher = PasswordHasher(type=Type.ID)
# Verified against when the user does not exist, so timing does not reveal who exists.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


@dataclass(frozen=True)
class User:
    """A user as the rest of vru sees it (never with the password hash)."""

    name: str
    role: Role
    area: str | None = None
    organisation: str | None = None
    disabled: bool = False
    local: bool = False
    has_password: bool = False


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (PHC string with salt and parameters)."""
    if len(password) < MIN_PASSWORD:
        raise IdentityError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return True when ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _user(row) -> User:  # noqa: ANN001 - a SQLAlchemy Row
    return User(name=row.name, role=Role(row.role), area=row.area,
                organisation=row.organisation, disabled=bool(row.disabled),
                local=bool(row.local), has_password=row.password_hash is not None)


def _role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise IdentityError(f"unknown role {role!r}: choose one of "
                            f"{', '.join(r.value for r in Role)}") from None


def get_user(db: Database, name: str) -> User | None:
    """Return user ``name`` or None."""
    with db.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    return None if row is None else _user(row)


def list_users(db: Database) -> list[User]:
    """Return every user, by name."""
    with db.engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]


def add_user(db: Database, name: str, role: str | Role, area: str | None = None,
             password: str | None = None, organisation: str | None = None) -> User:
    """Create a user.

    Parameters
    ----------
    db
        The metadata database.
    name
        Login name: letters, digits and ``. _ @ -``, at most 64 characters.
    role
        One of `Role`.
    area
        The task-force area; required for, and only for, ``task_force_member``.
    password
        At least 12 characters; None for a user who signs in only locally or later.
    organisation
        The organisation a ``partner_data_owner`` speaks for; it must match an agreement's
        ``owner`` for that user to upload or audit the agreement's dataset.

    Returns
    -------
    User
    """
    if not NAME.match(name or ""):
        raise IdentityError(f"invalid user name {name!r}: use letters, digits and . _ @ - "
                            "(at most 64 characters, starting with a letter or digit)")
    role = _role(role)
    if role is Role.TASK_FORCE_MEMBER and not area:
        raise IdentityError(f"a task force member needs exactly one area: add_user({name!r}, "
                            "'task_force_member', area='...')")
    if role is not Role.TASK_FORCE_MEMBER and area:
        raise IdentityError(f"only task force members have an area; {name!r} is {role}")
    if role is Role.PARTNER_DATA_OWNER and not (organisation and organisation.strip()):
        raise IdentityError(f"a partner data owner needs the organisation they speak for "
                            f"(the 'owner' of their agreements): add_user({name!r}, "
                            "'partner_data_owner', organisation='...')")
    password_hash = hash_password(password) if password is not None else None
    with db.begin() as conn:
        if area and conn.execute(select(areas.c.name).where(areas.c.name == area)).first() is None:
            known = conn.execute(select(areas.c.name).order_by(areas.c.name)).scalars().all()
            raise IdentityError(f"there is no area {area!r}; areas: "
                                f"{', '.join(known) or 'none defined (load an areas file)'}")
        if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
            raise IdentityError(f"user {name!r} already exists")
        conn.execute(insert(users).values(
            name=name, role=role.value, area=area, organisation=organisation,
            password_hash=password_hash, disabled=False, local=False, created_at=utc_now()))
    return User(name, role, area, organisation, has_password=password_hash is not None)


def init_admin(db: Database, name: str, password: str) -> User:
    """Create the first admin of a shared deployment; refused once any admin exists."""
    with db.engine.connect() as conn:
        admins = conn.execute(select(func.count()).select_from(users)
                              .where(users.c.role == Role.ADMIN.value)).scalar_one()
    if admins:
        raise IdentityError("this database already has an admin: sign in as that admin and "
                            "add users instead")
    return add_user(db, name, Role.ADMIN, password=password)


def set_password(db: Database, name: str, password: str) -> None:
    """Set or replace ``name``'s password."""
    password_hash = hash_password(password)
    with db.begin() as conn:
        changed = conn.execute(update(users).where(users.c.name == name)
                               .values(password_hash=password_hash)).rowcount
    if not changed:
        raise IdentityError(f"there is no user {name!r}")


def disable_user(db: Database, name: str) -> User:
    """Disable ``name``: they can no longer sign in and every decision for them is a denial.

    Users are disabled rather than deleted so the audit log keeps naming real accounts.
    """
    with db.begin() as conn:
        changed = conn.execute(update(users).where(users.c.name == name)
                               .values(disabled=True)).rowcount
    if not changed:
        raise IdentityError(f"there is no user {name!r}")
    user = get_user(db, name)
    assert user is not None
    return user


def authenticate(db: Database, name: str, password: str) -> User:
    """Return the enabled user whose name and password match.

    Raises
    ------
    AuthenticationError
        The same message whether the name is unknown, the password wrong or the user
        disabled, so a caller cannot probe which accounts exist.
    """
    with db.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    ok = verify_password(stored, password)
    if row is None or row.password_hash is None or row.disabled or not ok:
        raise AuthenticationError("unknown user, wrong password, or the account is disabled")
    if _hasher.check_needs_rehash(row.password_hash):
        with db.begin() as conn:
            conn.execute(update(users).where(users.c.name == name)
                         .values(password_hash=_hasher.hash(password)))
    return _user(row)


def ensure_local_admin(db: Database, os_user: str) -> User:
    """Return the user the local CLI acts as: the OS user, made admin on the home's first use.

    In the embedded default there is no sign-in: whoever runs the CLI on the machine owns
    the home. On first use (no users at all) ``os_user`` becomes a passwordless local admin.
    Later, ``os_user`` must be an existing, enabled user (so an admin can add colleagues who
    share the machine with narrower roles).

    Raises
    ------
    IdentityError
        When other users exist and ``os_user`` is not one of them, or is disabled.
    """
    name = re.sub(r"[^A-Za-z0-9._@-]", "_", os_user or "")[:64] or "local"
    if not NAME.match(name):
        name = f"u{name}"[:64]
    try:
        with db.begin(exclusive=True) as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
            if row is None:
                count = conn.execute(select(func.count()).select_from(users)).scalar_one()
                if count:
                    raise IdentityError(
                        f"the OS user {os_user!r} is not a user of this home; an admin can "
                        f"add them with `vru users add {name} --role ROLE`")
                conn.execute(insert(users).values(
                    name=name, role=Role.ADMIN.value, area=None, organisation=None,
                    password_hash=None, disabled=False, local=True, created_at=utc_now()))
                return User(name, Role.ADMIN, local=True)
    except IntegrityError:
        # Another process made the same first-use admin a moment ago: use theirs.
        row = None
    user = get_user(db, name) if row is None else _user(row)
    assert user is not None
    if user.disabled:
        raise IdentityError(f"user {name!r} is disabled in this home; ask an admin")
    return user
