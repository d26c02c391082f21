"""The vru command line: parse, show progress, call one function, print the result."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vru.lake.api import Lake, resolve_home

app = typer.Typer(
    name="vru",
    help=(
        "vru — the open data platform for Violence Reduction Units.\n\n"
        "A governed lake of police, health and partner data; analyses of where and when "
        "serious violence happens; reports for task forces, partners and the public.\n\n"
        "Start with `vru demo` (a synthetic Thames Valley plus real data.police.uk months), "
        "then `vru status` and `vru sql \"SELECT category, count(*) FROM incidents GROUP BY 1\"`."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
ingest_app = typer.Typer(help="Load partner data into the lake (validated, quarantined, "
                         "versioned).",
                         no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")

err = Console(stderr=True)
out = Console()


class State:
    home: Path
    user: str | None = None


state = State()

PURPOSE_HELP = ("Why you use the data (recorded in the audit log): violence_reduction, "
                "performance_reporting, research, operational_policing, public_information, "
                "administration.")


def _gov():
    """The home's metadata database and the actor: ``--user`` (signed in with a password), or
    on the embedded default the local OS user, who becomes the home's admin on first use."""
    return _open_gov(state.home, state.user)


@functools.cache
def _open_gov(home: Path, user: str | None):
    """Opened (and migrated) once per home, user and process."""
    import getpass

    from vru.governance import db as gdb
    from vru.governance import identity
    from vru.governance.errors import GovernanceError

    home.mkdir(parents=True, exist_ok=True)
    try:
        g = gdb.connect(home)
        if user:
            password = os.environ.get("VRU_PASSWORD")
            if password is None:
                password = typer.prompt(f"password for {user}", hide_input=True, err=True)
            me = identity.authenticate(g, user, password)
        else:
            me = identity.ensure_local_admin(g, getpass.getuser())
    except GovernanceError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(3) from None
    return g, me


def _lake(purpose: str = "violence_reduction") -> Lake:
    """The lake as the acting user sees it (every read governed and audited)."""
    g, me = _gov()
    lake = Lake.open(state.home, user=me, purpose=purpose)
    lake._db = g
    return lake


def _authorise(action: str, resource: str, purpose: str, versions: dict | None = None):
    """Ask the policy decision point; stop with its reason when it says no (it is audited)."""
    from vru.governance.policy import authorise

    g, me = _gov()
    d = authorise(g, me, action, resource, purpose, table_versions=versions)
    if not d.allowed:
        err.print(f"[red]denied:[/red] {d.reason}")
        raise typer.Exit(3)
    return g, me, d


@app.callback()
def main_options(
    home: Annotated[Path | None, typer.Option(
        "--home", envvar="VRU_HOME",
        help="The lake home folder (created on first use). Default: ./vru-home")] = None,
    user: Annotated[str | None, typer.Option(
        "--user", envvar="VRU_USER",
        help="Act as this user of the home (password from VRU_PASSWORD or a prompt). "
             "Default: the local OS user, who is the home's admin on the embedded default.")
    ] = None,
) -> None:
    """Global options."""
    state.home = resolve_home(home)
    state.user = user


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err,
                    transient=True, disable=not err.is_terminal)


def _print_ingest(summary: dict, as_json: bool) -> None:
    if as_json:
        keep = {k: summary[k] for k in ("rows_in", "accepted", "quarantined", "duplicates",
                                        "added", "updated", "removed", "tables", "batch_id",
                                        "rejected_files")}
        keep["files"] = [{k: f[k] for k in ("name", "kind", "status", "message", "rows_in",
                                           "accepted", "quarantined", "duplicates", "added",
                                           "updated", "removed")} for f in summary["files"]]
        typer.echo(json.dumps(keep))
        return
    t = Table(title=f"ingest batch {summary['batch_id']}", show_lines=False)
    for c in ("file", "rows in", "accepted", "quarantined", "duplicates", "added", "updated",
              "removed"):
        t.add_column(c, justify="left" if c == "file" else "right")
    for f in summary["files"]:
        if f["status"] == "rejected":
            t.add_row(f["name"], "[red]rejected[/red]", "", "", "", "", "", "")
            continue
        t.add_row(Path(f["name"]).name, *(f"{f[k]:,}" for k in (
            "rows_in", "accepted", "quarantined", "duplicates", "added", "updated", "removed")))
    t.add_row("[bold]total", *(f"[bold]{summary[k]:,}" for k in (
        "rows_in", "accepted", "quarantined", "duplicates", "added", "updated", "removed")))
    out.print(t)
    for f in summary["files"]:
        for note in f["notes"]:
            err.print(f"[yellow]note:[/yellow] {note}")
    for r in summary["rejected_files"]:
        err.print(f"[red]rejected:[/red] {r['reason']}")
    if summary["quarantined"]:
        err.print(f"{summary['quarantined']:,} rows quarantined with reasons: see "
                  f"`vru quarantine --batch {summary['batch_id']}`")
    out.print("tables: " + ", ".join(f"{k} v{v}" for k, v in summary["tables"].items()))


def _run_ingest(fn, paths: list[Path], as_json: bool, tables: tuple[str, ...],
                purpose: str = "violence_reduction", **kwargs) -> None:
    from vru.governance import audit

    g, me = _gov()
    for t in tables:
        _authorise("write", t, purpose)
    with _progress() as prog:
        task = prog.add_task("reading", total=None, info="")

        def on_progress(what: str, done: int, total: int) -> None:
            prog.update(task, description=Path(what).name[:50], info=f"{done:,} rows",
                        total=total or None, completed=done)

        result = fn(state.home, paths, progress=on_progress, actor=me.name, **kwargs)
    summary = result.summary()
    audit.record(g, actor=me.name, action="write", resource=",".join(tables), purpose=purpose,
                 decision="allow", reason=f"ingest batch {summary['batch_id']}",
                 table_versions=summary["tables"],
                 detail={k: summary[k] for k in ("rows_in", "accepted", "quarantined",
                                                 "duplicates")})
    _print_ingest(summary, as_json)
    if summary["rejected_files"]:
        raise typer.Exit(1)


@ingest_app.command("police-uk")
def ingest_police_uk_cmd(
    paths: Annotated[list[Path], typer.Argument(
        help="data.police.uk files: the custom-download .zip, its folders, or the CSVs "
             "(*-street.csv, *-outcomes.csv, *-stop-and-search.csv; .gz accepted).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ingest data.police.uk street, outcomes and stop-and-search files.

    A street file replaces its force-month (rows added, updated and removed are counted);
    an identical file changes nothing (its rows count as duplicates, no version is written).
    Unusable rows are quarantined with the file, line, field and reason.

    Example: vru ingest police-uk ~/Downloads/2024-05.zip --json
    """
    from vru.lake.loaders import ingest_police_uk

    _run_ingest(ingest_police_uk, paths, as_json, ("incidents", "outcomes", "stop_search"),
                command="ingest police-uk")


@ingest_app.command("force-extract")
def ingest_force_extract_cmd(
    paths: Annotated[list[Path], typer.Argument(
        help="Force crime extract CSVs (docs/formats.md).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ingest a police force crime extract (Home Office codes, times, knife flag, outcomes).

    Rows are keyed by crime reference: a later extract updates crimes held and adds new ones.
    """
    from vru.lake.loaders import ingest_force_extract

    _run_ingest(ingest_force_extract, paths, as_json, ("incidents",),
                command="ingest force-extract")


@ingest_app.command("istv")
def ingest_istv_cmd(
    paths: Annotated[list[Path], typer.Argument(help="ISTV (ISB 1594) ED assault CSVs.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ingest emergency-department assault data (NHS ISTV): no personal identifiers allowed."""
    from vru.lake.loaders import ingest_istv

    _run_ingest(ingest_istv, paths, as_json, ("ed_assaults",), command="ingest istv")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query; tables are lake tables "
                                              "(incidents, outcomes, quarantine, ingest_log...).")],
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="table | csv | json | parquet")] = "table",
    output: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write to this file instead of stdout.")] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
    area: Annotated[str | None, typer.Option(help="Limit rows to this task-force area.")
                    ] = None,
) -> None:
    """Query the lake with DuckDB SQL, as you may see it: read-only, every table read
    authorised and audited; below record level only counts, after disclosure control.

    Example: vru sql "SELECT category, count(*) n FROM incidents GROUP BY 1 ORDER BY n DESC"
    """
    import duckdb

    from vru.governance.disclosure import format_counts
    from vru.lake.engine import ReadOnlyQuery
    from vru.lake.governed import AccessDenied, governed_query
    from vru.lake.store import Store

    g, me = _gov()
    try:
        result = governed_query(Store(state.home), g, me, query, purpose, area=area)
    except AccessDenied as e:
        err.print(f"[red]denied:[/red] {e.reason}")
        raise typer.Exit(3) from None
    except (ReadOnlyQuery, LookupError, duckdb.Error) as e:
        err.print(f"[red]error:[/red] {e}")
        tables = ", ".join(Lake.open(state.home).store.versions()) or "none (run `vru ingest`)"
        err.print(f"tables in {state.home}: {tables}")
        raise typer.Exit(2) from None
    meta = result.schema.metadata or {}
    if b"vru:disclosure_profile" in meta and fmt in ("table", "csv"):
        counts = [f.name for f in result.schema if pa.types.is_integer(f.type)]
        result = pa.Table.from_pandas(format_counts(result, counts), preserve_index=False)
        withheld = json.loads(meta.get(b"vru:withheld_rows", b"0"))
        if withheld:
            err.print(f"withheld {withheld} rows whose counts are all suppressed")
    _emit(result, fmt, output)


def _emit(result, fmt: str, output: Path | None) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    fmt = fmt.lower()
    if fmt == "parquet":
        if output is None:
            err.print("[red]error:[/red] --format parquet needs --out FILE")
            raise typer.Exit(2)
        pq.write_table(result, output)
        return
    if fmt == "csv":
        import io

        buf = io.BytesIO()
        pacsv.write_csv(result, buf)
        text = buf.getvalue().decode()
    elif fmt == "json":
        text = json.dumps(result.to_pylist(), default=str)
    elif fmt == "table":
        t = Table(show_lines=False)
        for c in result.column_names:
            t.add_column(c)
        for row in result.slice(0, 200).to_pylist():
            t.add_row(*("" if v is None else str(v) for v in row.values()))
        if output is None:
            out.print(t)
            if result.num_rows > 200:
                err.print(f"{result.num_rows:,} rows; first 200 shown (use --format csv)")
            return
        text = result.to_pandas().to_string()
    else:
        err.print(f"[red]error:[/red] unknown format {fmt!r}: use table, csv, json or parquet")
        raise typer.Exit(2)
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command()
def status() -> None:
    """What the lake holds: tables, versions, rows, and the sources and months held."""
    lake = _lake("administration")
    tables = lake.tables()
    if not tables:
        out.print(f"{state.home}: empty lake. Load data with `vru ingest police-uk FILES` or "
                  "run `vru demo`.")
        return
    t = Table(title=f"lake at {state.home}")
    for c in ("table", "version", "rows"):
        t.add_column(c, justify="left" if c == "table" else "right")
    for name, v in tables.items():
        n = lake.sql(f'SELECT count(*) FROM "{name}"').column(0)[0].as_py()
        t.add_row(name, str(v), f"{n:,}")
    out.print(t)
    if "incidents" in tables:
        s = lake.sql("""SELECT source, min(month) AS first, max(month) AS last, count(*) AS n,
                        count(*) FILTER (geo_status = 'no_location') AS unmapped
                        FROM incidents GROUP BY 1 ORDER BY 1""")
        t = Table(title="incidents by source")
        for c in ("source", "from", "to", "rows", "without location"):
            t.add_column(c, justify="left" if c == "source" else "right")
        for r in s.to_pylist():
            t.add_row(r["source"], r["first"], r["last"], f"{r['n']:,}", f"{r['unmapped']:,}")
        out.print(t)


@app.command()
def quarantine(
    batch: Annotated[str | None, typer.Option(help="Only this ingest batch.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
) -> None:
    """Rows that could not be used, with file, line, field and reason."""
    lake = _lake("administration")
    if "quarantine" not in lake.tables():
        out.print("nothing quarantined")
        return
    where = f"WHERE batch_id = '{batch.replace(chr(39), '')}'" if batch else ""
    res = lake.sql(f"SELECT source_file, line, field, reason, raw FROM quarantine {where} "
                   f"ORDER BY batch_id, source_file, line LIMIT {int(limit)}")
    _emit(res, "table", None)


audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
users_app = typer.Typer(help="Users and roles of this home.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the HMAC chain: exit 0 and print `ok N entries`, or exit 1 naming the first bad
    entry (edited, deleted, inserted or reordered)."""
    from vru.governance import audit

    g, _ = _gov()
    r = audit.verify(g)
    if r.ok:
        typer.echo(f"ok {r.entries} entries")
        return
    where = f"entry {r.first_bad}" if r.first_bad is not None else "the log head"
    typer.echo(f"TAMPERED at {where}: {r.problem}")
    raise typer.Exit(1)


@audit_app.command("show")
def audit_show(limit: Annotated[int, typer.Option(help="Entries to show.")] = 30) -> None:
    """The latest audit entries: who did what, to which data, why, and the decision."""
    from vru.governance import audit

    g, _ = _authorise("audit", "audit", "administration")[:2]
    t = Table()
    for c in ("seq", "time", "actor", "action", "resource", "purpose", "decision"):
        t.add_column(c)
    for e in audit.entries(g, limit=limit):
        t.add_row(str(e.seq), str(e.time)[:19], e.actor, e.action, e.resource, e.purpose,
                  e.decision)
    out.print(t)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="admin, analyst, partner_data_owner, "
                                           "task_force_member, ethics_board_member, viewer")],
    area: Annotated[str | None, typer.Option(help="Task-force area (task_force_member).")] = None,
    organisation: Annotated[str | None, typer.Option(
        help="Partner organisation (partner_data_owner).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from stdin.")] = False,
) -> None:
    """Add a user (admins only; audited)."""
    from vru.governance import identity
    from vru.governance.errors import GovernanceError

    g, _, _ = _authorise("admin", "users", "administration")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        u = identity.add_user(g, name, role.replace("-", "_"), area=area, password=password,
                              organisation=organisation)
    except (GovernanceError, ValueError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    typer.echo(f"added {u.name} ({u.role})")


@users_app.command("list")
def users_list() -> None:
    """Users of this home and their roles."""
    from vru.governance import identity

    g, _, _ = _authorise("admin", "users", "administration")
    t = Table()
    for c in ("name", "role", "area", "enabled"):
        t.add_column(c)
    for u in identity.list_users(g):
        t.add_row(u.name, str(u.role), u.area or "", "no" if u.disabled else "yes")
    out.print(t)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a user (their history stays in the audit log)."""
    from vru.governance import identity

    g, _, _ = _authorise("admin", "users", "administration")
    identity.disable_user(g, name)
    typer.echo(f"disabled {name}")


agreement_app = typer.Typer(help="Data sharing agreements.", no_args_is_help=True)
app.add_typer(agreement_app, name="agreement")


@agreement_app.command("add")
def agreement_add(file: Annotated[Path, typer.Argument(
        help="Agreement TOML (shape in vru.governance.agreements).")]) -> None:
    """Register a data sharing agreement (admins only; audited)."""
    from vru.governance.agreements import load_agreement_file
    from vru.governance.errors import GovernanceError

    g, _, _ = _authorise("admin", "agreements", "administration")
    try:
        a = load_agreement_file(g, file)
    except (GovernanceError, OSError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    typer.echo(f"registered agreement {a.name!r} for {a.dataset}")


DEMO_ED_AGREEMENT = """
name = "Thames Valley ED assaults (ISTV) — synthetic demo"
dataset = "ed_assaults"
owner = "Thames Valley acute trusts (synthetic)"
parties = ["Thames Valley acute trusts (synthetic)", "Thames Valley VRU"]
purposes = ["violence_reduction", "performance_reporting", "research"]
legal_basis = ["Crime and Disorder Act 1998 s115",
               "Police, Crime, Sentencing and Courts Act 2022 s16 (Serious Violence Duty)"]
retention_days = 3650
start_date = 2015-01-01
end_date = 2030-12-31
[levels]
analyst = "record"
task_force_member = "aggregate"
ethics_board_member = "aggregate"
viewer = "public"
"""


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the partner files into.")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 1,
    start: Annotated[str, typer.Option(help="First month, YYYY-MM.")] = "2015-01",
    end: Annotated[str, typer.Option(help="Last month, YYYY-MM.")] = "2021-12",
    scale: Annotated[float, typer.Option(help="Volume relative to real Thames Valley.")] = 1.0,
) -> None:
    """Generate a synthetic Thames Valley with known planted truth (manifest.json), written in
    the formats partners send: force crime extract, ISTV ED data, partner CSVs + contracts."""
    from vru.synth import generate

    with _progress() as prog:
        task = prog.add_task("synth", total=None, info="")

        def on_progress(what: str, done: int, total: int) -> None:
            prog.update(task, description=what, total=total or None, completed=done, info="")

        try:
            m = generate(out_dir, seed=seed, start=start, end=end, scale=scale,
                         progress=on_progress)
        except ValueError as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from None
    out.print(f"wrote the synthetic world to {out_dir} (truth in {m.path})")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic world.")] = 1,
    scale: Annotated[float, typer.Option(help="Volume of the synthetic world.")] = 1.0,
) -> None:
    """The main job on the embedded default: a synthetic Thames Valley (2015–2021) plus the real
    data.police.uk months vru ships, ingested into the lake at --home; then `status`."""
    from vru.data import police_uk_months
    from vru.lake.loaders import ingest_force_extract, ingest_istv, ingest_police_uk
    from vru.synth import Manifest, generate

    synth_dir = state.home / "synth"
    if not (synth_dir / "manifest.json").exists():
        out.print(f"[bold]1/4[/bold] generating the synthetic Thames Valley (seed {seed})")
        generate(synth_dir, seed=seed, scale=scale)
    m = Manifest.load(synth_dir)
    out.print("[bold]2/4[/bold] ingesting the real data.police.uk months")
    _run_ingest(ingest_police_uk, police_uk_months(), False, ("incidents",),
                command="demo: ingest police-uk")
    out.print("[bold]3/4[/bold] ingesting the synthetic force crime extract")
    _run_ingest(ingest_force_extract, sorted((m.root / "force-extract").glob("*.csv")), False,
                ("incidents",), command="demo: ingest force-extract")
    out.print("[bold]4/4[/bold] ingesting the synthetic ED assault data (ISTV)")
    from vru.governance.agreements import active_agreement, load_agreement_file

    g, _ = _gov()
    if active_agreement(g, "ed_assaults") is None:
        path = synth_dir / "ed-assaults-agreement.toml"
        path.write_text(DEMO_ED_AGREEMENT, encoding="utf-8")
        _authorise("admin", "agreements", "administration")
        load_agreement_file(g, path)
    _run_ingest(ingest_istv, sorted((m.root / "istv").glob("*.csv")), False, ("ed_assaults",),
                command="demo: ingest istv")
    status()


def main() -> None:
    """Entry point of the `vru` script."""
    app()


if __name__ == "__main__":
    main()
