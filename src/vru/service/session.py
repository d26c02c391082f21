"""A Session: one authenticated identity, the policy built once from settings, one door.

Every request a face makes (the CLI, the Python API, the web app, the briefing) is a method
of a Session, and each goes the same way: **authorise** (the policy point, which audits the
decision), **run** (on a governed event source, never the lake), **release** (the one
release function, by the decision's level) and return what was released.
"""

from __future__ import annotations

import copy
import getpass
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from vru.governance import audit, disclosure, identity, signins
from vru.governance import db as gdb
from vru.governance.errors import AuditError, AuthenticationError, GovernanceError
from vru.governance.policy import Decision, PolicyConfig, authorise
from vru.governance.roles import LEVEL_ORDER, Level, Role
from vru.governance.settings import Settings
from vru.lake.events import RECORD_IDENTIFIERS, Events
from vru.lake.store import Store, arrow_schema, identifier_columns
from vru.service.errors import AuditBroken, BadRequest, Denied, ServiceError, SignInError
from vru.service.home import resolve_home

if TYPE_CHECKING:  # pandas costs 0.3 s at start-up; only frames handed in or asked for use it
    import pandas as pd

DEFAULT_PURPOSE = "violence_reduction"
#: Where a cell-key profile is asked of an output whose cells are not sets of records (pairs
#: of events, aoristic shares), suppression and rounding protect it instead.
NO_KEYS_FALLBACK = "nhs"
#: Engines (governed views bound to a table version) a session keeps.
ENGINES_KEPT = 4


@dataclass
class Release:
    """How figures given to this decision are released: level, profile and its note."""

    level: Level
    profile: str
    note: str

    @property
    def exact(self) -> bool:
        return self.profile == "none"

    def as_meta(self) -> dict[str, str]:
        return {"level": str(self.level), "profile": self.profile, "note": self.note}


@dataclass
class Session:
    """A signed-in user of a lake home.

    Open one with `open_session` (or `vru.open`). Attributes are read-only in spirit: the
    user, their role and area come from the metadata database at sign-in, the policy
    configuration from the settings read once.
    """

    home: Path
    _settings: Settings = field(repr=False)
    _db: gdb.Database = field(repr=False)
    user: identity.User
    purpose: str = DEFAULT_PURPOSE
    area: str | None = None
    #: Release every figure as for this level at most (`for_audience`); None: the role's own.
    audience: Level | None = None
    _store: Store = field(init=False, repr=False)
    config: PolicyConfig = field(init=False)
    _engines: dict[Events, Any] = field(init=False, default_factory=dict, repr=False)
    _schemas: dict[tuple[str, int], list[str]] = field(init=False, default_factory=dict,
                                                       repr=False)
    _identifiers: dict[tuple[str, int], set[str]] = field(init=False, default_factory=dict,
                                                          repr=False)
    _columns: dict[Events, list[str]] = field(init=False, default_factory=dict, repr=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._store = Store(self.home)
        self.config = PolicyConfig(aggregate_profile=self._settings.aggregate_profile,
                                   public_profile=self._settings.public_profile)

    @contextmanager
    def engine(self, events: Events) -> Iterator[Any]:
        """A DuckDB connection holding the governed view ``e_src`` of ``events``.

        Kept for the session: binding a view over a table version's files costs more than
        most counts queries, and the same reader asks many. One request at a time uses it.
        """
        import duckdb

        with self._lock:
            con = self._engines.get(events)
            if con is None:
                if len(self._engines) >= ENGINES_KEPT:
                    old = next(iter(self._engines))
                    self._engines.pop(old).close()
                    self._columns.pop(old, None)
                con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
                con.execute("SET python_enable_replacements = false")
                self._columns[events] = events.register(con, "e_src")
                self._engines[events] = con
            yield con

    def columns(self, events: Events) -> list[str]:
        """The columns of ``events``' view in its engine (see `engine`)."""
        return self._columns[events]

    def close(self) -> None:
        """Close the session's engines and database connections."""
        with self._lock:
            for con in self._engines.values():
                con.close()
            self._engines.clear()
        self._db.dispose()

    # -- the parts behind the door: the home's admins only ------------------------------------

    def _admin_only(self, what: str) -> None:
        if self.role is not Role.ADMIN:
            raise Denied(f"{what} is for the home's admins; ask through the session "
                         "(counts, analyse, table) so the rules of your role apply")

    @property
    def db(self) -> gdb.Database:
        """The metadata database (admins only)."""
        self._admin_only("the metadata database")
        return self._db

    @property
    def store(self) -> Store:
        """The lake's raw tables (admins only)."""
        self._admin_only("the raw lake")
        return self._store

    @property
    def settings(self) -> Settings:
        """The settings, keys included (admins only)."""
        self._admin_only("the settings and keys")
        return self._settings

    # -- identity ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def free_sql(self) -> bool:
        """May this user run SQL at all (admins and analysts; others use counts)? Not in a
        session made for an audience below record level."""
        below = self.audience is not None and self.audience is not Level.RECORD
        return self.role in (Role.ADMIN, Role.ANALYST) and not below

    def __repr__(self) -> str:
        return f"Session({self.home}, user={self.name!r}, role={self.role.value})"

    # -- the policy point ----------------------------------------------------------------------

    def decide(self, action: str, resource: str, *, purpose: str | None = None,
               area: str | None = None, inputs: Sequence[str] = (),
               versions: Mapping[str, int] | None = None,
               detail: Mapping[str, Any] | None = None, needs: Level | None = None,
               refuse_roles: Mapping[Role, str] | None = None) -> Decision:
        """Authorise (and audit) one request; raise `Denied` with the reason when refused.

        A session made `for_audience` gets the decision lowered to its audience's level (and
        that level's disclosure profile), and the audit entry says so.
        """
        if self.audience is not None:
            detail = {**(detail or {}), "audience": str(self.audience)}
        try:
            decision = authorise(self._db, self.user, action, resource, purpose or self.purpose,
                                 area=area if area is not None else self.area, inputs=inputs,
                                 table_versions=versions, detail=detail, config=self.config,
                                 needs=needs, refuse_roles=refuse_roles)
        except AuditError as exc:  # a broken audit log stops everything: fail closed
            raise AuditBroken(str(exc)) from None
        if not decision.allowed:
            raise Denied(decision.reason)
        if (self.audience is not None and decision.level is not None
                and LEVEL_ORDER.index(decision.level) < LEVEL_ORDER.index(self.audience)):
            decision = replace(decision, level=self.audience,
                               disclosure_profile=self.config.profile(self.audience))
        return decision

    def for_audience(self, audience: str | Level) -> Session:
        """The same signed-in user, with every figure released as for ``audience`` at most
        (``"public"``: as for a viewer, by the public profile; ``"aggregate"``: as for a
        task-force member). A public briefing is made this way, so it can show nothing a
        viewer's release would not give. Shares this session's connections: close this one.
        """
        try:
            level = Level(str(audience))
        except ValueError:
            raise BadRequest(f"audience {audience!r}: give public, aggregate or record") \
                from None
        if self.audience is not None and LEVEL_ORDER.index(level) < LEVEL_ORDER.index(
                self.audience):
            level = self.audience  # never finer than it already is
        clone = copy.copy(self)
        clone.audience = level
        return clone

    def refuse(self, action: str, resource: str, reason: str, stage: str,
               detail: Mapping[str, Any] | None = None, purpose: str | None = None,
               error: type[ServiceError] = Denied) -> ServiceError:
        """Record a refusal made outside the policy point (a bad request: ``error`` is
        `BadRequest`) as a deny, and return the error to raise."""
        audit.refusal(self._db, actor=self.name, action=action, resource=resource,
                      purpose=purpose or self.purpose, reason=reason, stage=stage,
                      detail=dict(detail or {}))
        return error(reason)

    def version(self, table: str) -> int:
        v = self._store.version(table)
        if v is None:
            have = ", ".join(self._store.versions()) or "none yet (run `vru ingest` or `vru demo`)"
            raise BadRequest(f"no table {table!r} in {self.home}; tables: {have}")
        return v

    def events(self, decision: Decision, table: str, version: int | None = None) -> Events:
        """The governed event source a decision allows: area rows, visible columns, keys."""
        v = self.version(table) if version is None else version
        rf = decision.row_filter
        hidden = set(decision.column_masks)
        permitted = decision.permitted_fields.get(table)
        names = self._schemas.get((table, v))
        if names is None:
            dt = self._store.table(table, v)
            names = arrow_schema(dt).names if dt is not None else []
            self._schemas[(table, v)] = names
        if permitted:
            hidden |= {c for c in names if c not in permitted}
        below = decision.level is not Level.RECORD
        if below:
            hidden |= RECORD_IDENTIFIERS
            ids = self._identifiers.get((table, v))
            if ids is None:
                ids = self._identifiers[(table, v)] = set(identifier_columns(self._store, table))
            hidden |= ids
        return Events(self._store, table, v, lsoa=rf.values if rf is not None else None,
                      area=rf.area if rf is not None else None,
                      hidden=frozenset(hidden & set(names)),
                      key_seed=self._settings.cellkey_secret if below else None)

    # -- what a face calls ---------------------------------------------------------------------

    def tables(self) -> dict[str, int]:
        """Every lake table and its current version (names are not data: no decision)."""
        return self._store.versions()

    def table(self, name: str, version: int | None = None) -> TableRef:
        """Rows of ``name`` (record-level roles; area rows and visible columns only)."""
        if not self._store.exists(name):
            have = ", ".join(self.tables()) or "none yet — run `vru ingest` first"
            raise BadRequest(f"no table {name!r} in {self.home}; tables: {have}")
        return TableRef(self, name, version)

    def sql(self, query: str, *, purpose: str | None = None) -> pa.Table:
        """Read-only SQL over the lake (admins and analysts; sandboxed, audited)."""
        import duckdb

        if self.audience is not None and self.audience is not Level.RECORD:
            raise self.refuse("read", "sql", f"a session released for the {self.audience} "
                              "level runs no SQL; use counts", "policy", None, purpose)

        from vru.lake.engine import ReadOnlyQuery
        from vru.lake.governed import AccessDenied, governed_query

        try:
            return governed_query(self._store, self._db, self.user, query,
                                  purpose or self.purpose, area=self.area, config=self.config)
        except AccessDenied as exc:
            raise Denied(exc.reason) from None
        except AuditError as exc:
            raise AuditBroken(str(exc)) from None
        except (ReadOnlyQuery, LookupError, duckdb.Error) as exc:
            raise BadRequest(str(exc)) from None

    def counts(self, table: str, by: Sequence[str] | str, where: Any = None, *,
               rate: bool = False, purpose: str | None = None, area: str | None = None) -> Any:
        """Counts of ``table`` by dimensions, released for this user (`vru.service.counts`)."""
        from vru.service.counts import counts

        dims = by.split(",") if isinstance(by, str) else list(by)
        return counts(self, table, dims, where, rate=rate, purpose=purpose, area=area)

    def coverage(self, table: str = "incidents", *, purpose: str | None = None) -> Any:
        """Which (source, force, month) units the lake holds for this reader: months only, no
        counts (`vru.lake.coverage.Coverage`; a month not held is missing, never zero)."""
        from vru.lake.coverage import coverage

        v = self.version(table)
        d = self.decide("read", table, purpose=purpose, versions={table: v},
                        detail={"via": "coverage"})
        return coverage(self.events(d, table, v))

    def analyse(self, name: str, *, purpose: str | None = None, area: str | None = None,
                **params: Any) -> Any:
        """Run a registered analysis (`vru.service.analyses.ANALYSES`), released."""
        from vru.service.analyses import analyse

        return analyse(self, name, purpose=purpose, area=area, **params)

    def kpis(self, period: str, *, against: str | None = None,
             measures: Sequence[str] | None = None, by: str | None = None,
             measures_file: str | None = None,
             positive_outcome_types: Sequence[int] | None = None,
             purpose: str | None = None, area: str | None = None,
             versions: Mapping[str, int] | None = None) -> Any:
        """Headline KPIs for ``period`` against the one before, released for this user
        (`vru.service.kpi.kpis`: records with measure, current, previous, change_pct,
        p_value, lowest_since, rates, positive outcome rate, wording, partial flags)."""
        from vru.service.kpi import kpis

        return kpis(self, period, against=against, measures=measures, by=by,
                    measures_file=measures_file,
                    positive_outcome_types=positive_outcome_types, purpose=purpose, area=area,
                    versions=versions)

    # -- the one release function --------------------------------------------------------------

    def release_rule(self, decision: Decision, keyed: bool = True) -> Release:
        """The profile a decision's figures are released under (and its note)."""
        level = decision.level or Level.PUBLIC
        profile = "none" if level is Level.RECORD else (decision.disclosure_profile or "nhs")
        if profile == "cellkey" and not keyed:
            profile = NO_KEYS_FALLBACK
        return Release(level, profile, disclosure.describe(profile))

    def release(self, frame: pd.DataFrame | pa.Table, decision: Decision,
                counts: Sequence[str], *, keys: Mapping[str, Any] | None = None,
                groups: Sequence[str] = ()) -> tuple[Any, Release]:
        """Put count columns through the decision's release profile.

        ``keys`` maps a count column to its cell keys (a column name of ``frame`` or an array
        aligned with its rows); they are used by the cell-key profile and never returned.
        """
        rule = self.release_rule(decision, keyed=bool(keys))
        if rule.exact:
            return _drop_keys(frame, keys), rule
        cell_keys = None
        if rule.profile == "cellkey":
            assert keys is not None
            frame, cell_keys = _with_key_columns(frame, keys)
        else:
            frame = _drop_keys(frame, keys)
        released = disclosure.apply(frame, rule.profile, list(counts), list(groups),
                                    cell_keys=cell_keys)
        return released, rule


@dataclass
class TableRef:
    """A lake table at a version, read as the session's user may see it (each read audited)."""

    session: Session
    name: str
    version: int | None

    def to_arrow(self, columns: list[str] | None = None, filter: Any = None) -> pa.Table:  # noqa: A002
        """Rows the user may see; ``filter`` is a ``pyarrow.compute`` expression applied
        after."""
        from vru.lake.governed import AccessDenied, governed_table

        s = self.session
        try:
            t = governed_table(s._store, s._db, s.user, self.name, s.purpose, self.version,
                               area=s.area, columns=columns, config=s.config)
        except AccessDenied as exc:
            raise Denied(exc.reason) from None
        except LookupError as exc:
            raise BadRequest(str(exc)) from None
        return t.filter(filter) if filter is not None else t

    def to_pandas(self, columns: list[str] | None = None, filter: Any = None) -> pd.DataFrame:  # noqa: A002
        return self.to_arrow(columns, filter).to_pandas()

    def to_geopandas(self, columns: list[str] | None = None, filter: Any = None,  # noqa: A002
                     crs: str = "EPSG:27700") -> Any:
        """Rows with a point geometry (British National Grid by default; "EPSG:4326")."""
        import geopandas as gpd

        df = self.to_pandas(columns, filter)
        x, y = (("lon", "lat") if crs.upper() in ("EPSG:4326", "WGS84")
                else ("easting", "northing"))
        if x not in df.columns:
            raise BadRequest(f"table {self.name!r} has no {x}/{y} columns to make points from")
        return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df[x], df[y]), crs=crs)


def _with_key_columns(frame: Any, keys: Mapping[str, Any]) -> tuple[Any, dict[str, str]]:
    names: dict[str, str] = {}
    for count, key in keys.items():
        if isinstance(key, str):
            names[count] = key
            continue
        col = f"__key_{count}"
        if isinstance(frame, pa.Table):
            frame = frame.append_column(col, pa.array(key, pa.int64()))
        else:
            frame = frame.copy()
            frame[col] = key
        names[count] = col
    return frame, names


def _drop_keys(frame: Any, keys: Mapping[str, Any] | None) -> Any:
    cols = [k for k in (keys or {}).values() if isinstance(k, str)]
    if not cols:
        return frame
    if isinstance(frame, pa.Table):
        return frame.drop_columns([c for c in cols if c in frame.column_names])
    return frame.drop(columns=[c for c in cols if c in frame.columns])


def resume_session(home: str | Path, token: str, *, now: float, idle: float, absolute: float,
                   environ: Mapping[str, str] | None = None) -> tuple[Session, str, str] | None:
    """The `Session` of a browser that signed in earlier through `open_session`, for the
    dashboard's session store in another worker process or after a restart.

    The proof is the browser's token itself (only its hash is kept): a user's name, or a
    hash copied from the table, resumes nothing. None when the token is unknown or expired,
    or the account is gone or disabled.

    Returns
    -------
    (session, the sign-in's CSRF secret, its declared purpose) or None
    """
    path = resolve_home(home)
    try:
        settings = Settings.from_env(path, environ)
        db = gdb.connect(path)
    except GovernanceError as exc:
        raise SignInError(str(exc)) from None
    row = signins.get(db, signins.token_hash(token))
    me = identity.get_user(db, row.user_name) if row is not None else None
    if row is None or not signins.live(row, now, idle, absolute) or me is None or me.disabled:
        db.dispose()
        return None
    return Session(path, settings, db, me, purpose=row.purpose), row.csrf, row.purpose


def open_session(home: str | Path | None = None, *, user: str | None = None,
                 password: str | None = None, purpose: str = DEFAULT_PURPOSE,
                 area: str | None = None, environ: Mapping[str, str] | None = None) -> Session:
    """Sign in to a lake home and return the `Session` every request goes through.

    Parameters
    ----------
    home
        The lake home (default ``$VRU_HOME`` or ``./vru-home``); created on first use.
    user, password
        Sign in as this user of the home (argon2id password check, throttled and audited).
        Without ``user``, on the embedded default the local OS user acts, and becomes the
        home's admin on its first use; a shared deployment (``VRU_DATABASE_URL``) always needs
        a user and password.
    purpose
        Why the data are used (audited with every decision; judged against agreements).
    area
        Limit every request to this task-force area (a task-force member always gets theirs).

    Raises
    ------
    SignInError
        Wrong password, throttled, unknown or disabled user (one message for all), a missing
        password, or settings that refuse to start.
    """
    path = resolve_home(home)
    try:
        settings = Settings.from_env(path, environ)
        db = gdb.connect(path)
        if user:
            if password is None:
                audit.refusal(db, actor=user[:64], action="login", resource="session",
                              purpose="administration", reason="no password given",
                              stage="login")
                raise SignInError(f"signing in as {user!r} needs a password (VRU_PASSWORD, the "
                                  "prompt, or password=...)")
            me = identity.authenticate(db, user, password)
        else:
            if settings.is_shared:
                raise SignInError("a shared deployment has no local admin: sign in with --user "
                                  "NAME (or VRU_USER) and VRU_PASSWORD")
            me = identity.ensure_local_admin(db, getpass.getuser())
    except AuthenticationError as exc:
        raise SignInError(str(exc)) from None
    except GovernanceError as exc:
        raise SignInError(str(exc)) from None
    return Session(path, settings, db, me, purpose=purpose, area=area)
