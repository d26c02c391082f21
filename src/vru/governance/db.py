"""The metadata database: connect to SQLite in the home or PostgreSQL, migrating on first use."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from vru.governance.errors import SettingsError
from vru.governance.keys import load_key

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
DB_FILE = "vru.db"
# Any constant: PostgreSQL advisory lock key that serialises concurrent first-use migrations.
_MIGRATION_LOCK = 0x5652_5547  # "VRUG"
#: Folders of a home that hold data or secrets: owner-only, like the home itself.
PRIVATE_DIRS = ("lake", "keys")
# Files SQLite keeps beside a database (write-ahead log, shared memory, rollback journal).
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


@dataclass
class _Reading:
    """A `Database.reading` in progress."""

    version: int | None
    conn: Connection | None = None
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


@dataclass
class Database:
    """An open metadata database.

    Attributes
    ----------
    home
        The lake home (key files live under ``<home>/keys``).
    url
        The SQLAlchemy URL in use (password hidden when printed).
    engine
        The SQLAlchemy engine.
    """

    home: Path
    url: str
    engine: Engine
    _audit_key: bytes | None = field(default=None, repr=False)
    # the `reading` this thread (or task) is inside, shared by the reads in it
    _pinned: ContextVar[_Reading | None] = field(
        default_factory=lambda: ContextVar("vru_db_pinned", default=None), repr=False)
    # what decisions read, kept while the governance version stays (see `memo`)
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)
    _memo_version: int | None = field(default=None, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.engine.dialect.name

    @property
    def audit_key(self) -> bytes:
        """The audit HMAC key: given to `connect`, else ``VRU_AUDIT_KEY`` or the key file."""
        if self._audit_key is None:
            self._audit_key = load_key(self.home, "audit")
        return self._audit_key

    @contextmanager
    def begin(self, *, exclusive: bool = False) -> Iterator[Connection]:
        """Open a transaction; commit on success, roll back on error.

        Parameters
        ----------
        exclusive
            On SQLite take the database write lock at BEGIN (``BEGIN IMMEDIATE``) so that a
            read-then-write sequence cannot interleave with another process. PostgreSQL
            callers lock rows instead (``SELECT ... FOR UPDATE``).
        """
        with self.engine.connect() as conn:
            if exclusive:
                conn.execution_options(vru_sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                yield conn

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A series of reads that see one moment: the first read opens one transaction on
        one pooled connection, which every `connection` inside shares, and `memo` reuses
        what earlier decisions read at the same governance version (migration 0004).

        A decision reads the user, their area and the agreements: in one transaction they
        come from one snapshot (a change committed half-way cannot mix old and new), and
        while nothing changed they come from the memo, with no transaction at all.
        """
        if self._pinned.get() is not None:
            yield
            return
        state = _Reading(self._governance_version())
        token = self._pinned.set(state)
        try:
            with state.stack:
                yield
        finally:
            self._pinned.reset(token)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """For reads: the transaction of the `reading` around (opened now if not yet), else
        a connection of its own."""
        state = self._pinned.get()
        if state is None:
            with self.engine.connect() as conn:
                yield conn
            return
        if state.conn is None:
            state.conn = state.stack.enter_context(self.engine.connect())
            if self.dialect == "postgresql":  # one snapshot for the whole transaction
                state.conn.execution_options(isolation_level="REPEATABLE READ")
            state.stack.enter_context(state.conn.begin())
        yield state.conn

    def memo(self, key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
        """``load()``, or what it gave at the same governance version.

        Only inside `reading` (decisions): the version is read as the reading starts, and a
        trigger moves it in the same transaction as any change to users, areas or
        agreements, so a value kept under a version is never older than that version.
        """
        state = self._pinned.get()
        if state is None or state.version is None:
            return load()
        with self._memo_lock:
            if self._memo_version != state.version:
                self._memo.clear()
                self._memo_version = state.version
            if key in self._memo:
                return self._memo[key]
        value = load()
        with self._memo_lock:
            if self._memo_version == state.version:
                self._memo[key] = value
        return value

    def fetch_one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        """One row of one statement on a pooled driver connection, for reads on every request:
        without SQLAlchemy's transaction and result layers, which cost more than the lookup.
        ``sql`` marks parameters with ``?``.
        """
        if self.dialect != "sqlite":
            sql = sql.replace("?", "%s")  # psycopg's parameter style
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            try:
                cur.execute(sql, params)
                return cur.fetchone()
            finally:
                cur.close()
        finally:
            raw.close()  # back to the pool, which ends any transaction the driver began

    def _governance_version(self) -> int | None:
        """The trigger-moved count of governance changes: one driver statement."""
        try:
            row = self.fetch_one("SELECT n FROM governance_version WHERE id = 1")
        except self.engine.dialect.loaded_dbapi.Error:
            return None  # a database not migrated yet (connect(migrate=False)): no memo
        return None if row is None else int(row[0])

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def database_url(home: Path, url: str | None = None) -> str:
    """Return the URL to use: ``url``, else ``VRU_DATABASE_URL``, else ``<home>/vru.db``."""
    chosen = url or os.environ.get("VRU_DATABASE_URL") or f"sqlite:///{Path(home) / DB_FILE}"
    parsed = make_url(chosen)
    # vru ships the psycopg 3 driver only: accept the plain scheme people copy from elsewhere.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise SettingsError(f"unsupported database URL {parsed!r}: use sqlite:///PATH or "
                            "postgresql+psycopg://USER@HOST:PORT/DATABASE")
    return parsed.render_as_string(hide_password=False)


def connect(home: Path, url: str | None = None, *, audit_key: bytes | None = None,
            migrate: bool = True) -> Database:
    """Open the metadata database, creating or migrating its schema on first use.

    Parameters
    ----------
    home
        The lake home; the default database is the SQLite file ``<home>/vru.db``.
    url
        SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``); default
        ``VRU_DATABASE_URL`` from the environment, else the SQLite file.
    audit_key
        The audit HMAC key; default ``VRU_AUDIT_KEY`` or ``<home>/keys/audit.key``.
    migrate
        Bring the schema to the newest revision (safe when several processes start at once).

    Returns
    -------
    Database
    """
    home = Path(home)
    resolved = database_url(home, url)
    parsed = make_url(resolved)
    file = None
    if parsed.get_backend_name() == "sqlite":
        secure_home(home, create=True)
        file = _sqlite_file(parsed.database)
        if file is not None:
            _create_private(file)
        # connections kept for as many threads as a server runs at once (anyio's 40): an
        # overflow connection is opened (with its PRAGMAs) and closed on every use, which
        # under 20 dashboard clients cost more than the queries
        engine = create_engine(resolved, connect_args={"timeout": 60}, pool_size=40,
                               max_overflow=40)
        _sqlite_events(engine)
    else:
        secure_home(home)  # keys and lake may live there; the database has no file here
        engine = create_engine(resolved, pool_pre_ping=True)
    db = Database(home=home, url=resolved, engine=engine, _audit_key=audit_key)
    if migrate:
        upgrade(db)
    if file is not None:
        _owner_only(file, 0o600)  # and the -wal/-shm the first connection created
    return db


def secure_home(home: Path, *, create: bool = False) -> list[Path]:
    """Make a home owner-only: home, ``lake``, ``keys`` 0700; ``vru.db``, key files 0600.

    Called whenever a home is opened (`connect`, `vru.lake.store.Store`), so a home made
    before this rule, or loosened by hand, is tightened: it is the owner's own home. Files
    inside ``lake`` keep the process umask; their folder's 0700 already shuts others out.

    Parameters
    ----------
    home
        The lake home.
    create
        Create the home (0700) when it does not exist; otherwise a missing home is left so.

    Returns
    -------
    list[pathlib.Path]
        The paths whose modes were changed (empty when the home was already tight).
    """
    home = Path(home)
    if create and not home.exists():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name != "posix" or not home.is_dir():
        return []
    changed = [p for p in (home, *(home / d for d in PRIVATE_DIRS)) if _tighten(p, 0o700)]
    keys = home / "keys"
    files = [home / (DB_FILE + end) for end in ("", *_SQLITE_SIDECARS)]
    files += sorted(p for p in keys.iterdir() if p.is_file()) if keys.is_dir() else []
    return changed + [p for p in files if _tighten(p, 0o600)]


def _tighten(path: Path, mode: int) -> bool:
    """chmod ``path`` to ``mode`` if it exists, is ours and is looser; say if it changed."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) == mode:
        return False  # a link's target, or another user's file, is not the home's to change
    os.chmod(path, mode)
    return True


def _sqlite_file(database: str | None) -> Path | None:
    """The file of a SQLite URL's database, or None for an in-memory or URI database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _create_private(file: Path) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use the umask)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    # Never open an existing database here: closing any descriptor of the file drops every
    # POSIX lock this process holds on it, so another session's SQLite connection would
    # lose its locks and a second process could corrupt the database under it.
    if not file.exists():
        with contextlib.suppress(FileExistsError):  # created meanwhile by another process
            os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    _owner_only(file, 0o600)


def _owner_only(file: Path, mode: int) -> None:
    """Tighten a SQLite file and the files SQLite keeps beside it."""
    if os.name == "posix":
        for p in (file, *(file.with_name(file.name + end) for end in _SQLITE_SIDECARS)):
            _tighten(p, mode)


def _sqlite_events(engine: Engine) -> None:
    """Make pysqlite honour transactions (SQLAlchemy's recipe); allow BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself: pysqlite's own handling skips it before DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("vru_sqlite_begin", "BEGIN"))


def _alembic_config() -> Config:
    from alembic.config import Config  # alembic (with Mako, Pygments) only when migrating

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


_REVISION = re.compile(r"""^(down_revision|revision)\s*=\s*["']([^"']+)["']""", re.M)


def head_revision() -> str:
    """The newest revision the package ships, read from the version files' headers.

    Read without alembic so that opening an up-to-date database costs no import of it; the
    head is the one revision no other revision names as its parent.
    """
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            if "down_revision" in found:
                parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise SettingsError(f"the migrations in {MIGRATIONS} have {len(heads)} heads: "
                            f"{sorted(heads)}; reinstall vru")
    return heads.pop()


#: A new SQLite database made by the migrations, as SQL statements (`sqlite_statements`):
#: replaying them creates the schema without importing alembic and running every revision,
#: which cost a new home's first command 0.2-0.4 s. tests/governance/test_db.py checks it
#: against the migrations; `python -m vru.governance.db` writes it again.
SQLITE_HEAD = MIGRATIONS / "sqlite_head.json"


def upgrade(db: Database) -> str:
    """Migrate ``db`` to the newest schema revision and return that revision."""
    head = head_revision()
    if current_revision(db) == head:
        return head
    if db.dialect == "sqlite":
        with db.begin(exclusive=True) as conn:  # a new home: replay the head's schema
            if _from_snapshot(conn, head):
                return head
    migrate(db)
    return head


def migrate(db: Database) -> None:
    """Run alembic's migrations up to the head."""
    from alembic import command

    config = _alembic_config()
    # Under a lock: another process may be migrating the same database right now; alembic
    # re-reads the revision inside the transaction, so the loser finds nothing left to do.
    with db.begin(exclusive=True) as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def sqlite_statements(db: Database) -> list[str]:
    """The statements that rebuild ``db`` (SQLite), schema and rows, in a stable order."""
    raw = db.engine.raw_connection()
    try:
        return [s for s in raw.driver_connection.iterdump()
                if s not in ("BEGIN TRANSACTION;", "COMMIT;")]
    finally:
        raw.close()


def _from_snapshot(conn: Connection, head: str) -> bool:
    """Create the head schema in an empty SQLite database from `SQLITE_HEAD`; False when
    the database is not empty or the snapshot is not of ``head`` (the migrations run)."""
    if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
        return False
    try:
        snap = json.loads(SQLITE_HEAD.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if snap.get("revision") != head:
        return False
    for statement in snap["statements"]:
        conn.exec_driver_sql(statement)
    return True


def migrated_sqlite(folder: Path) -> Database:
    """A new SQLite database in ``folder`` made by the migrations alone (no snapshot)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{Path(folder) / DB_FILE}"
    fresh = Database(Path(folder), url, create_engine(url))
    _sqlite_events(fresh.engine)
    migrate(fresh)
    return fresh


def current_revision(db: Database) -> str | None:
    """Return the schema revision the database is at (None before the first migration)."""
    with db.engine.connect() as conn:
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        except DBAPIError:  # no table yet: a new database
            return None
    return rows[0][0] if len(rows) == 1 else None


if __name__ == "__main__":  # python -m vru.governance.db: write SQLITE_HEAD from the migrations
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        made = migrated_sqlite(Path(tmp))
        SQLITE_HEAD.write_text(json.dumps({"revision": head_revision(),
                                           "statements": sqlite_statements(made)}, indent=1)
                               + "\n", encoding="utf-8")
        made.dispose()
    print(f"wrote {SQLITE_HEAD}")
