"""Users, roles, passwords (argon2id) and sign-in throttling; the local OS user is admin."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from vru.governance import audit
from vru.governance._common import utc_now
from vru.governance.db import Database
from vru.governance.errors import AuthenticationError, IdentityError, LoginThrottled
from vru.governance.roles import Role
from vru.governance.schema import areas, login_failures, users

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12
# argon2-cffi's RFC 9106 "low memory" defaults, pinned to argon2id explicitly.
_hasher = PasswordHasher(type=Type.ID)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so timing does not reveal who exists.

    Made at the first sign-in, not at import: every CLI start would pay ~0.3 s of argon2.
    """
    return _hasher.hash("not a real password, only for timing")

#: Consecutive failed sign-ins for a name that cost nothing; each one after must wait.
FREE_FAILURES = 3
#: The wait after the n-th consecutive failure is 2**(n - FREE_FAILURES) s, at most this.
MAX_DELAY_SECONDS = 60
#: After this many consecutive failures the name is locked, even for the right password ...
LOCK_AFTER = 10
#: ... for this long (each further failure after it ends locks it again).
LOCK_SECONDS = 15 * 60
_FAILED = "unknown user, wrong password, or the account is disabled"
_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
_AUDIT_NAME = 256  # a claimed name longer than this is cut in the audit (it is no user's)


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
    def load() -> User | None:
        with db.connection() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return None if row is None else _user(row)

    return db.memo(("user", name), load)


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


def clock() -> datetime:
    """Return the current UTC time (`authenticate` takes ``now`` to replace it in tests)."""
    return datetime.now(UTC)


def throttle_delay(failures: int) -> int:
    """Seconds the next attempt must wait after ``failures`` consecutive failures."""
    if failures < FREE_FAILURES:
        return 0
    return min(2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME)


def _time(text: str) -> datetime:
    return datetime.strptime(text, _TIME).replace(tzinfo=UTC)


def _throttle_key(name: str) -> str:
    """The login_failures row of ``name``; a name too long for a user gets a hashed key."""
    if len(name) <= 64:
        return name
    # "#" starts no user name, so these keys never collide with a real account's.
    return "#" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:63]


@dataclass(frozen=True)
class _Attempt:
    """The outcome of reserving a sign-in attempt for a name."""

    allowed: bool
    failures: int  # consecutive failures counted, this attempt included when allowed
    retry_after: int = 0
    locked: bool = False


def _reserve(db: Database, key: str, now: datetime) -> _Attempt:
    """Count this attempt as a failure before the password is checked, unless it must wait.

    Counting first (a success deletes the row again) means attempts made in parallel cannot
    all slip in before any failure is written.
    """
    for _ in range(3):  # on PostgreSQL two first failures may race to insert the row
        try:
            with db.begin(exclusive=True) as conn:
                row = conn.execute(select(login_failures).where(login_failures.c.name == key)
                                   .with_for_update()).first()
                failures = row.failures if row is not None else 0
                if row is not None:
                    wait = _time(row.last_failure) + timedelta(seconds=throttle_delay(failures))
                    locked = row.locked_until is not None and now < _time(row.locked_until)
                    if locked:
                        wait = max(wait, _time(row.locked_until))
                    if now < wait:
                        seconds = min(math.ceil((wait - now).total_seconds()), LOCK_SECONDS)
                        return _Attempt(False, failures, max(seconds, 1), locked)
                failures += 1
                values = {"failures": failures, "last_failure": _text(now),
                          "locked_until": _text(now + timedelta(seconds=LOCK_SECONDS))
                          if failures >= LOCK_AFTER else None}
                if row is None:
                    conn.execute(insert(login_failures).values(
                        name=key, first_failure=_text(now), **values))
                else:
                    conn.execute(update(login_failures)
                                 .where(login_failures.c.name == key).values(**values))
                return _Attempt(True, failures)
        except IntegrityError:
            continue
    raise AuthenticationError(_FAILED)  # the row keeps changing under us: refuse


def _clear(db: Database, key: str) -> None:
    with db.begin() as conn:
        conn.execute(login_failures.delete().where(login_failures.c.name == key))


def _wait_message(seconds: int, now: datetime) -> str:
    when = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    at = (now + timedelta(seconds=seconds)).astimezone(UTC).strftime("%H:%M:%S UTC")
    return (f"too many failed sign-ins for this name: try again in {when} (at {at}); each "
            "further failure makes the wait longer")


def authenticate(db: Database, name: str, password: str, *,
                 now: datetime | None = None) -> User:
    """Return the enabled user whose name and password match; throttle and audit every try.

    Per name (names that are not users too, so throttling reveals nothing), consecutive
    failures are counted in ``login_failures``: after `FREE_FAILURES` each attempt must wait
    `throttle_delay` seconds after the last failure, and an attempt inside the wait is
    refused without the password being checked; after `LOCK_AFTER` the name is locked for
    `LOCK_SECONDS`, even for the right password. A success resets the count. Every failure
    and every throttled attempt is audited as a ``deny`` of action "login" (stage "login" or
    "throttle"), every success as an ``allow``; the password is never recorded.

    Parameters
    ----------
    db
        The metadata database.
    name, password
        As typed by the person signing in.
    now
        The time of the attempt (default `clock`); tests pass it instead of sleeping.

    Returns
    -------
    User

    Raises
    ------
    LoginThrottled
        The name must wait; ``retry_after`` says how many seconds.
    AuthenticationError
        The same message whether the name is unknown, the password wrong or the user
        disabled, so a caller cannot probe which accounts exist.
    AuditError
        When the attempt cannot be audited (nobody signs in unrecorded).
    """
    now = clock() if now is None else now
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    name = str(name)
    key = _throttle_key(name)
    claimed = name if len(name) <= _AUDIT_NAME else name[:_AUDIT_NAME] + "…"
    where = {"actor": claimed, "action": "login", "resource": "session",
             "purpose": "administration"}
    extra = {} if claimed == name else {"name_length": len(name)}
    attempt = _reserve(db, key, now)
    if not attempt.allowed:
        audit.refusal(db, **where, stage="throttle",
                      reason=f"sign-in refused without checking the password: "
                             f"{attempt.failures} consecutive failures for this name; the "
                             f"next attempt may come in {attempt.retry_after} s"
                             + (" (locked)" if attempt.locked else ""),
                      detail={**extra, "failures": attempt.failures,
                              "retry_after": attempt.retry_after, "locked": attempt.locked})
        raise LoginThrottled(attempt.retry_after, _wait_message(attempt.retry_after, now))
    with db.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    stored = row.password_hash if row is not None and row.password_hash else _dummy_hash()
    ok = verify_password(stored, password)
    if row is None or row.password_hash is None or row.disabled or not ok:
        why = ("no such user" if row is None else "the user has no password"
               if row.password_hash is None else "the account is disabled" if row.disabled
               else "wrong password")
        locked = attempt.failures >= LOCK_AFTER
        audit.refusal(db, **where, stage="login",
                      reason=f"sign-in failed: {why} ({attempt.failures} consecutive failures"
                             + (f"; the name is now locked for {LOCK_SECONDS // 60} minutes)"
                                if locked else ")"),
                      detail={**extra, "failures": attempt.failures, "locked": locked})
        raise AuthenticationError(_FAILED)
    _clear(db, key)
    audit.record(db, **where, decision="allow", reason="signed in",
                 detail={"stage": "login"})
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
