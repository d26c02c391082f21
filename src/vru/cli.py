"""The vru command line: parse, show progress, call one function, print the result."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

import numpy as np
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
    rich_markup_mode="markdown",
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


def _table(columns: Sequence[str], rows: Iterable[Iterable[str]] = (), title: str | None = None,
           numbers: bool = False) -> Table:
    """A table of ``columns`` and ``rows``; with ``numbers``, every column after the first
    is right-aligned."""
    t = Table(title=title)
    for k, c in enumerate(columns):
        t.add_column(c, justify="right" if numbers and k else "left")
    for row in rows:
        t.add_row(*row)
    return t

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
    from vru.governance.settings import Settings

    home.mkdir(parents=True, exist_ok=True)
    try:
        settings = Settings.from_env(home)  # refuses insecure defaults in a shared deployment
        g = gdb.connect(home)
        if settings.is_shared and not user:
            raise GovernanceError("a shared deployment has no local admin: sign in with --user "
                                  "NAME (or VRU_USER) and VRU_PASSWORD")
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


def _admin_change(resource: str, change, *args):
    """Authorise an admin change of ``resource`` (users, areas, agreements), then make it;
    a refusal or a bad file stops the command with the reason."""
    from vru.governance.errors import GovernanceError

    g, _, _ = _authorise("admin", resource, "administration")
    try:
        return change(g, *args)
    except (GovernanceError, OSError, ValueError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


def _lake(purpose: str = "violence_reduction") -> Lake:
    """The lake as the acting user sees it (every read governed and audited)."""
    g, me = _gov()
    lake = Lake.open(state.home, user=me, purpose=purpose)
    lake._db = g
    return lake


def _authorise(action: str, resource: str, purpose: str, versions: dict | None = None, *,
               area: str | None = None, inputs: tuple[str, ...] = ()):
    """Ask the policy decision point; stop with its reason when it says no (it is audited)."""
    from vru.governance.policy import authorise

    g, me = _gov()
    d = authorise(g, me, action, resource, purpose, table_versions=versions, area=area,
                  inputs=inputs)
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
    t = _table(["file", "rows in", "accepted", "quarantined", "duplicates", "added", "updated",
                "removed"], title=f"ingest batch {summary['batch_id']}", numbers=True)
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
        result = format_counts(result, counts)
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
        t = _table(result.column_names, (("" if v is None else str(v) for v in row.values())
                                         for row in result.slice(0, 200).to_pylist()))
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
    t = _table(["table", "version", "rows"], title=f"lake at {state.home}", numbers=True)
    from vru.lake.governed import AccessDenied

    for name, v in tables.items():
        try:
            q = f'SELECT count(*) AS n FROM "{name}"'
            n = f"{lake.sql(q).column(0)[0].as_py():,}"
        except AccessDenied as e:  # e.g. an agreement that does not cover administration
            n = f"not visible: {e.reason}"
        t.add_row(name, str(v), n)
    out.print(t)
    if "incidents" in tables:
        s = lake.sql("""SELECT source, min(month) AS first, max(month) AS last, count(*) AS n,
                        count(*) FILTER (geo_status = 'no_location') AS unmapped
                        FROM incidents GROUP BY 1 ORDER BY 1""")
        out.print(_table(["source", "from", "to", "rows", "without location"], (
            (r["source"], r["first"], r["last"], f"{r['n']:,}", f"{r['unmapped']:,}")
            for r in s.to_pylist()), title="incidents by source", numbers=True))


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


@ingest_app.command("partner")
def ingest_partner_cmd(
    paths: Annotated[list[Path], typer.Argument(help="The partner's CSV files.")],
    contract: Annotated[Path, typer.Option(
        help="The dataset's contract (TOML: columns, types, identifiers, retention; see "
             "docs/formats.md).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ingest a partner dataset (school exclusions, youth justice, social care...) under its
    contract. Needs an agreement in force (`vru agreement add`); identifier columns are
    pseudonymised before anything is written.
    """
    from vru.governance.errors import GovernanceError
    from vru.lake.loaders import ingest_partner
    from vru.sources.contract import ContractError, load_contract

    try:
        table = load_contract(contract).table_name
    except (ContractError, OSError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    try:
        _run_ingest(ingest_partner, paths, as_json, (table,), contract_path=contract,
                    command="ingest partner")
    except GovernanceError as e:
        err.print(f"[red]refused:[/red] {e}")
        raise typer.Exit(3) from None


retention_app = typer.Typer(help="Retention: delete data past its agreement's period.",
                            no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("apply")
def retention_apply(
    today: Annotated[str | None, typer.Option(
        help="Judge retention as on this day (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Delete every row past its data sharing agreement's retention period, for good: the
    Delta files are vacuumed and older log entries removed, so the values are physically
    gone from the lake home. Admins only; audited."""
    from datetime import date

    from vru.lake.retention import RetentionDenied, apply_retention
    from vru.lake.store import Store

    g, me = _gov()
    try:
        day = date.fromisoformat(today) if today else None
    except ValueError:
        err.print(f"[red]error:[/red] --today {today!r} is not YYYY-MM-DD")
        raise typer.Exit(2) from None
    try:
        report = apply_retention(Store(state.home), g, me, today=day)
    except RetentionDenied as e:
        err.print(f"[red]denied:[/red] {e}")
        raise typer.Exit(3) from None
    out.print(_table(
        ["dataset", "cutoff", "date column", "rows deleted", "quarantine deleted", "version",
         "note"],
        ((d.dataset, str(d.cutoff or ""), d.date_column or "", f"{d.rows_deleted:,}",
          f"{d.quarantine_deleted:,}",
          f"{d.version_before}→{d.version_after}" if d.rows_deleted else "", d.skipped or "")
         for d in report.datasets), title="retention"))
    out.print(f"{report.rows_deleted:,} rows deleted; {report.files_removed} data files and "
              f"{report.log_files_removed} log files removed")


hotspots_app = typer.Typer(help="Where and when: Gi* hot spots, emerging hot spots, near "
                                "repeats, times, density.", no_args_is_help=True)
app.add_typer(hotspots_app, name="hotspots")

CELL_HELP = ("Cells: h3:6..h3:10, grid:SIZE (BNG squares of SIZE metres, e.g. grid:250), "
             "lsoa, msoa, district.")
WEIGHTS_HELP = ("Neighbours: contiguity (the cell and its first ring; default), distance:M "
                "(within M metres), knn:K.")


def _analysis(name: str, purpose: str, area: str | None = None):
    """Authorise an analysis of incidents, optionally limited to a task-force area (a
    task-force member always gets their own); returns the decision and the area's LSOAs."""
    from vru.lake.store import Store

    version = Store(state.home).version("incidents")
    g, me, d = _authorise("analyse", f"analysis:{name}", purpose,
                          {"incidents": version} if version is not None else None,
                          area=area, inputs=("incidents",))
    lsoas = sorted(d.row_filter.values) if d.row_filter is not None else None
    return d, lsoas


def _released(frame, decision, counts: list[str]):
    """Counts below record level go through disclosure control before anyone sees them."""
    from vru.governance.disclosure import apply

    if str(decision.level) == "record":
        return frame
    return apply(frame, decision.disclosure_profile or "nhs", counts)


def _number(v) -> str:
    """Counts as whole numbers with separators, ratios and p-values to 3 figures."""
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() and abs(v) >= 10 else f"{v:.3g}"
    return str(v)


def _analysis_error(e: Exception) -> None:
    err.print(f"[red]error:[/red] {e}")
    raise typer.Exit(2) from None


@hotspots_app.command("gistar")
def hotspots_gistar(
    out_file: Annotated[Path, typer.Option("--out", help="Output: .parquet, .csv, .geojson or "
                                                         ".gpkg (one row per cell).")],
    category: Annotated[list[str] | None, typer.Option(
        help="data.police.uk crime type(s), e.g. 'Violence and sexual offences'.")] = None,
    cell: Annotated[str, typer.Option(help=CELL_HELP)] = "h3:9",
    weights: Annotated[str, typer.Option(help=WEIGHTS_HELP)] = "contiguity",
    start: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    source: Annotated[str | None, typer.Option(help="police_uk or force_extract.")] = None,
    permutations: Annotated[int, typer.Option(
        help="Conditional permutations for pseudo p-values (0: normal p).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the permutations.")] = 0,
    harm: Annotated[bool, typer.Option(help="Weight events by harm (see vru.analysis.harm).")
                    ] = False,
    png: Annotated[Path | None, typer.Option(help="Also draw a map of the classes.")] = None,
    area_name: Annotated[str | None, typer.Option(
        "--area", help="Only this task-force area (see `vru areas list`).")] = None,
    offence_group: Annotated[list[str] | None, typer.Option(
        help="Home Office offence group(s), e.g. 'Violence against the person'.")] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Getis-Ord Gi* hot spots as ArcGIS defines them, with FDR-corrected classes -3..3.

    Writes one row per cell of the study area (empty cells included): cell, n, z, p, class.

    Example: vru hotspots gistar --category "Violence and sexual offences" --cell h3:9
    --out hot.parquet --png hot.png
    """
    from vru.analysis.aggregate import AggregationError
    from vru.analysis.hotspots import gistar
    from vru.analysis.outputs import plot_classes, write_result

    d, area = _analysis("gistar", purpose, area_name)
    with _progress() as prog:
        prog.add_task("Gi*", total=None, info=cell)
        try:
            r = gistar(state.home, category=category, cell=cell, start=start, end=end,
                       weights=weights, permutations=permutations, seed=seed, source=source,
                       harm=harm, area=area, offence_group=offence_group)
        except (AggregationError, ValueError, KeyError) as e:
            _analysis_error(e)
    r.frame = _released(r.frame, d, ["n"])
    write_result(r, out_file)
    if png:
        plot_classes(r, png)
    hot = int((r.frame["class"] >= 2).sum())
    out.print(f"{len(r.frame):,} cells, {hot:,} hot at 95% or more after FDR → {out_file}")


@hotspots_app.command("emerging")
def hotspots_emerging(
    out_file: Annotated[Path, typer.Option("--out", help="Output: .parquet/.csv/.geojson/.gpkg")],
    category: Annotated[list[str] | None, typer.Option(help="Crime type(s).")] = None,
    cell: Annotated[str, typer.Option(help=CELL_HELP)] = "grid:500",
    time_bin: Annotated[str, typer.Option("--bin", help="month or week.")] = "month",
    time_window: Annotated[int, typer.Option(
        help="Previous time steps that count as neighbours.")] = 1,
    weights: Annotated[str, typer.Option(help=WEIGHTS_HELP)] = "contiguity",
    start: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    source: Annotated[str | None, typer.Option(help="police_uk or force_extract.")] = None,
    area_name: Annotated[str | None, typer.Option(
        "--area", help="Only this task-force area (see `vru areas list`).")] = None,
    offence_group: Annotated[list[str] | None, typer.Option(
        help="Home Office offence group(s), e.g. 'Violence against the person'.")] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Emerging Hot Spot Analysis by Esri's rules: new, consecutive, intensifying,
    persistent, diminishing, sporadic, oscillating, historical (hot and cold) or none; each
    cell's row explains its category (its series of classes and the trend test)."""
    from vru.analysis.aggregate import AggregationError
    from vru.analysis.hotspots import emerging
    from vru.analysis.outputs import write_result

    d, area = _analysis("emerging", purpose, area_name)
    try:
        r = emerging(state.home, category=category, cell=cell, time_bin=time_bin, start=start,
                     end=end, weights=weights, time_window=time_window, source=source,
                     area=area, offence_group=offence_group)
    except (AggregationError, ValueError, KeyError) as e:
        _analysis_error(e)
    r.frame = _released(r.frame, d, ["n"])
    write_result(r, out_file)
    counts = r.frame["pattern"].value_counts() if "pattern" in r.frame else {}
    out.print(", ".join(f"{k}: {v:,}" for k, v in counts.items()) + f" → {out_file}")


@hotspots_app.command("near-repeat")
def hotspots_near_repeat(
    category: Annotated[list[str] | None, typer.Option(help="Crime type(s).")] = None,
    distances: Annotated[str, typer.Option(
        help="Distance band edges in metres: bands [a, b), the last open-ended.")
    ] = "0,100,200,400",
    days: Annotated[str, typer.Option(help="Time band edges in days.")] = "0,7,14,28",
    permutations: Annotated[int, typer.Option(help="Monte Carlo permutations.")] = 999,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    start: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    source: Annotated[str | None, typer.Option(help="force_extract (needs event times).")
                      ] = "force_extract",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the table (.csv...).")
                        ] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Knox near-repeat analysis as the Near Repeat Calculator reports it, done right:
    half-open bands, a same-location band, seeded permutations of times across places,
    Knox ratio = observed / mean simulated and p = (#simulated >= observed + 1)/(R + 1).
    Refuses month-precision data (data.police.uk)."""
    from vru.analysis.aggregate import AggregationError
    from vru.analysis.hotspots import near_repeat
    from vru.analysis.near_repeat import MonthPrecisionError
    from vru.analysis.outputs import write_result

    _analysis("near_repeat", purpose)
    try:
        r = near_repeat(state.home, category=category,
                        spatial_edges=[float(x) for x in distances.split(",")],
                        temporal_edges=[float(x) for x in days.split(",")],
                        permutations=permutations, seed=seed, start=start, end=end,
                        source=source)
    except (AggregationError, MonthPrecisionError, ValueError) as e:
        _analysis_error(e)
    frame = r.frame
    if out_file:
        write_result(r, out_file)
    out.print(_table([str(c) for c in frame.columns],
                     ((_number(v) for v in row) for row in frame.itertuples(index=False)),
                     title=f"Knox ratios (p) — {permutations} permutations, seed {seed}"))


@hotspots_app.command("moran")
def hotspots_moran(
    out_file: Annotated[Path, typer.Option("--out", help="Output: .parquet/.csv/.geojson/.gpkg")],
    category: Annotated[list[str] | None, typer.Option(help="Crime type(s).")] = None,
    cell: Annotated[str, typer.Option(help=CELL_HELP)] = "lsoa",
    weights: Annotated[str, typer.Option(help=WEIGHTS_HELP)] = "contiguity",
    permutations: Annotated[int, typer.Option(help="Conditional permutations.")] = 999,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    start: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    source: Annotated[str | None, typer.Option(help="police_uk or force_extract.")] = None,
    area_name: Annotated[str | None, typer.Option(
        "--area", help="Only this task-force area (see `vru areas list`).")] = None,
    offence_group: Annotated[list[str] | None, typer.Option(
        help="Home Office offence group(s), e.g. 'Violence against the person'.")] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Local Moran's I: clusters (HH high among high, LL) and outliers (HL, LH), seeded."""
    from vru.analysis.aggregate import AggregationError
    from vru.analysis.hotspots import moran
    from vru.analysis.outputs import write_result

    d, area = _analysis("moran", purpose, area_name)
    try:
        r = moran(state.home, category=category, cell=cell, weights=weights,
                  permutations=permutations, seed=seed, start=start, end=end, source=source,
                  area=area, offence_group=offence_group)
    except (AggregationError, ValueError, KeyError) as e:
        _analysis_error(e)
    r.frame = _released(r.frame, d, ["n"])
    write_result(r, out_file)
    counts = r.frame["cluster"].value_counts()
    out.print(", ".join(f"{k}: {v:,}" for k, v in counts.items()) + f" → {out_file}")


@hotspots_app.command("density")
def hotspots_density(
    out_file: Annotated[Path, typer.Option("--out", help="Grid cells with their density "
                                                         "(.parquet/.csv).")],
    category: Annotated[list[str] | None, typer.Option(help="Crime type(s).")] = None,
    cell_size: Annotated[float, typer.Option(help="Grid cell size in metres.")] = 100.0,
    bandwidth: Annotated[float | None, typer.Option(
        help="Search radius in metres (default: ArcGIS's rule from the points' spread).")
    ] = None,
    kernel: Annotated[str, typer.Option(help="quartic (ArcGIS) or gaussian.")] = "quartic",
    start: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    source: Annotated[str | None, typer.Option(help="police_uk or force_extract.")] = None,
    png: Annotated[Path | None, typer.Option(help="Also draw the density surface.")] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Kernel density of events on a British National Grid raster (events per km²)."""
    from vru.analysis.aggregate import AggregationError
    from vru.analysis.hotspots import density

    d, _ = _analysis("density", purpose)
    if str(d.level) != "record":
        err.print("[red]denied:[/red] a density surface of individual points is record-level "
                  "output; ask for Gi* or counts by area instead")
        raise typer.Exit(3)
    try:
        r = density(state.home, category=category, cell_size=cell_size, bandwidth=bandwidth,
                    kernel=kernel, start=start, end=end, source=source)
    except (AggregationError, ValueError) as e:
        _analysis_error(e)
    xs, ys = r.grid.centres()
    x, y = np.meshgrid(xs, ys)  # values[row, col]: row 0 is the southern row
    values = r.grid.values
    frame = pa.table({"easting": x.ravel(), "northing": y.ravel(),
                      "density_per_km2": values.ravel()})
    floor = float(values.max()) * 1e-6  # below this is FFT round-off, not density
    frame = frame.filter(pa.compute.greater(frame["density_per_km2"], floor))
    meta = {b"vru": json.dumps(r.meta, default=str).encode()}
    if out_file.suffix.lower() == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(frame, out_file)
        out_file.with_name(out_file.name + ".meta.json").write_text(
            json.dumps(r.meta, default=str, indent=1))
    else:
        import pyarrow.parquet as pq

        pq.write_table(frame.replace_schema_metadata(meta), out_file)
    if png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 7))
        grid = np.asarray(values)
        # FFT leaves ±1e-12 noise where nothing is: show only what carries density
        ax.imshow(np.ma.masked_less_equal(grid, grid.max() * 1e-6), origin="lower",
                  cmap="magma_r",
                  extent=(float(np.min(x)), float(np.max(x)), float(np.min(y)),
                          float(np.max(y))))
        bw = r.meta["parameters"]["bandwidth"]
        ax.set_title(f"{kernel} kernel density, bandwidth {bw:.0f} m")
        ax.set_axis_off()
        fig.savefig(png, dpi=120, bbox_inches="tight")
        plt.close(fig)
    out.print(f"{frame.num_rows:,} cells with density > 0 → {out_file}")


@hotspots_app.command("accuracy")
def hotspots_accuracy(
    map_from: Annotated[str, typer.Option(help="First month the map is drawn from.")],
    map_to: Annotated[str, typer.Option(help="Last month the map is drawn from.")],
    start: Annotated[str, typer.Option("--from", help="First month it is tested on.")],
    end: Annotated[str, typer.Option("--to", help="Last month it is tested on.")],
    category: Annotated[list[str] | None, typer.Option(help="Crime type(s).")] = None,
    cell: Annotated[str, typer.Option(help=CELL_HELP)] = "lsoa",
    source: Annotated[str | None, typer.Option(help="police_uk or force_extract.")] = None,
    min_class: Annotated[int, typer.Option(help="Gi* class that makes a hotspot (2 = 95%).")
                         ] = 2,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """How well a Gi* hotspot map of one period predicted the next: PAI = (n/N)/(a/A), PEI and
    RRI, and how concentrated the later events were at repeat cells."""
    from vru.analysis.aggregate import AggregationError
    from vru.analysis.hotspots import accuracy, gistar

    _analysis("accuracy", purpose)
    try:
        hot = gistar(state.home, category=category, cell=cell, start=map_from, end=map_to,
                     source=source)
        r = accuracy(hot, state.home, start, end, min_class=min_class)
    except (AggregationError, ValueError, KeyError) as e:
        _analysis_error(e)
    out.print(_table(list(r.frame.columns), [(_number(v) for v in r.frame.iloc[0].tolist())],
                     title=f"hotspot map {map_from}..{map_to} tested on {start}..{end}"))


@hotspots_app.command("times")
def hotspots_times(
    category: Annotated[list[str] | None, typer.Option(help="Crime type(s).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    source: Annotated[str | None, typer.Option(help="force_extract (needs event times).")
                      ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the matrix (.csv...).")
                        ] = None,
    png: Annotated[Path | None, typer.Option(help="Draw the hour x weekday heat map.")] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """When: hour x weekday (each event spread over its from/to window, aoristic), the
    busiest calendar months, and the monthly trend (least squares and Mann-Kendall)."""
    from vru.analysis.aggregate import AggregationError
    from vru.analysis.hotspots import times
    from vru.analysis.outputs import plot_hour_weekday, write_result

    _analysis("times", purpose)
    try:
        r = times(state.home, category=category, start=start, end=end, source=source)
    except (AggregationError, ValueError) as e:
        _analysis_error(e)
    if r.matrix is not None and out_file:
        write_result(r, out_file)
    if r.matrix is not None and png:
        plot_hour_weekday(r, png)
    if r.matrix is not None:
        day, hour = r.peak()
        out.print(f"hour x weekday peak: {day} {hour:02d}:00 "
                  f"({r.meta.get('events', 0):,} events with a time)")
    else:
        out.print("no event has a time of day (data.police.uk gives months): no hour x weekday")
    if r.seasonality is not None:
        top = r.seasonality.sort_values("mean_per_year", ascending=False).iloc[0]
        out.print(f"busiest calendar month: {top['name']} ({top['share']:.1%} of events)")
    if r.trend is not None:
        out.print(f"trend: {r.trend.summary()}")


audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
users_app = typer.Typer(help="Users and roles of this home.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the HMAC chain: exit 0 and print `ok N entries`, or exit 1 naming the first bad
    entry (edited, deleted, inserted or reordered)."""
    from vru.governance import audit
    from vru.governance.errors import AuditError

    try:
        g, _, _ = _authorise("audit", "audit", "administration")
    except AuditError as e:  # a tampered head blocks new entries; verify must still report it
        err.print(f"[yellow]warning:[/yellow] {e}")
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
    out.print(_table(["seq", "time", "actor", "action", "resource", "purpose", "decision"],
                     ((str(e.seq), str(e.time)[:19], e.actor, e.action, e.resource, e.purpose,
                       e.decision) for e in audit.entries(g, limit=limit))))


@app.command()
def init(
    admin: Annotated[str, typer.Option(help="Name of the first admin.")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the admin's password from stdin.")] = False,
) -> None:
    """Create the first admin of a shared deployment (VRU_DATABASE_URL set); later commands
    sign in with --user. On the embedded default no init is needed: the local OS user is the
    home's admin."""
    from vru.governance import db as gdb
    from vru.governance import identity
    from vru.governance.errors import GovernanceError
    from vru.governance.settings import Settings

    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        f"password for {admin}", hide_input=True, confirmation_prompt=True, err=True)
    try:
        Settings.from_env(state.home)
        state.home.mkdir(parents=True, exist_ok=True)
        u = identity.init_admin(gdb.connect(state.home), admin, password)
    except (GovernanceError, ValueError) as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    typer.echo(f"created admin {u.name}")


areas_app = typer.Typer(help="Task-force areas: named sets of LSOAs.", no_args_is_help=True)
app.add_typer(areas_app, name="areas")


@areas_app.command("load")
def areas_load(file: Annotated[Path, typer.Argument(
        help="CSV with columns area,lsoa11cd, or TOML (see vru.governance.areas).")]) -> None:
    """Define or replace task-force areas (admins only; audited)."""
    from vru.governance.areas import load_areas_file

    areas = _admin_change("areas", load_areas_file, file)
    typer.echo(", ".join(f"{a.name} ({len(a.lsoa11cd)} LSOAs)" for a in areas))


@areas_app.command("list")
def areas_list() -> None:
    """The task-force areas and how many LSOAs each covers."""
    from vru.governance.areas import list_areas

    g, _, _ = _authorise("admin", "areas", "administration")
    out.print(_table(["area", "LSOAs", "description"],
                     ((a.name, str(len(a.lsoa11cd)), a.description or "") for a in list_areas(g))))


def _demo_areas(g) -> None:
    """The demo's nine task-force areas, built from the shipped boundaries."""
    import tomllib

    from vru.data import asset
    from vru.geo.boundaries import load_lsoa
    from vru.governance.areas import define_area, list_areas

    if list_areas(g):
        return
    lsoa = load_lsoa()
    config = tomllib.loads(asset("demo", "task-force-areas.toml").read_text(encoding="utf-8"))
    _authorise("admin", "areas", "administration")
    for a in config["areas"]:
        codes = lsoa.loc[lsoa["lad13cd"].isin(a["districts"]), "lsoa11cd"].tolist()
        define_area(g, a["name"], codes, description=a.get("description", ""))


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

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    u = _admin_change("users", lambda g: identity.add_user(
        g, name, role.replace("-", "_"), area=area, password=password,
        organisation=organisation))
    typer.echo(f"added {u.name} ({u.role})")


@users_app.command("list")
def users_list() -> None:
    """Users of this home and their roles."""
    from vru.governance import identity

    g, _, _ = _authorise("admin", "users", "administration")
    out.print(_table(["name", "role", "area", "enabled"],
                     ((u.name, str(u.role), u.area or "", "no" if u.disabled else "yes")
                      for u in identity.list_users(g))))


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a user (their history stays in the audit log)."""
    from vru.governance import identity

    _admin_change("users", identity.disable_user, name)
    typer.echo(f"disabled {name}")


agreement_app = typer.Typer(help="Data sharing agreements.", no_args_is_help=True)
app.add_typer(agreement_app, name="agreement")


@agreement_app.command("add")
def agreement_add(file: Annotated[Path, typer.Argument(
        help="Agreement TOML (shape in vru.governance.agreements).")]) -> None:
    """Register a data sharing agreement (admins only; audited)."""
    from vru.governance.agreements import load_agreement_file

    a = _admin_change("agreements", load_agreement_file, file)
    typer.echo(f"registered agreement {a.name!r} for {a.dataset}")


DEMO_ED_AGREEMENT = """
name = "Thames Valley ED assaults (ISTV) — synthetic demo"
dataset = "ed_assaults"
owner = "Thames Valley acute trusts (synthetic)"
parties = ["Thames Valley acute trusts (synthetic)", "Thames Valley VRU"]
purposes = ["violence_reduction", "performance_reporting", "research", "administration"]
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


def _demo_agreement(g, dataset: str, owner: str, folder: Path) -> None:
    """Register the demo's agreement for ``dataset`` unless one is in force."""
    from vru.governance.agreements import active_agreement, load_agreement_file

    if active_agreement(g, dataset) is not None:
        return
    text = (DEMO_ED_AGREEMENT.replace('dataset = "ed_assaults"', f'dataset = "{dataset}"')
            .replace("Thames Valley acute trusts (synthetic)", owner)
            .replace("Thames Valley ED assaults (ISTV) — synthetic demo",
                     f"{owner}: {dataset} — synthetic demo"))
    path = folder / f"{dataset}-agreement.toml"
    path.write_text(text, encoding="utf-8")
    _authorise("admin", "agreements", "administration")
    load_agreement_file(g, path)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic world.")] = 1,
    scale: Annotated[float, typer.Option(help="Volume of the synthetic world.")] = 1.0,
) -> None:
    """The main job on the embedded default: a synthetic Thames Valley (2015–2021) plus the real
    data.police.uk months vru ships, ingested into the lake at --home; then `status`."""
    from vru.data import police_uk_months
    from vru.lake.loaders import (
        ingest_force_extract,
        ingest_istv,
        ingest_partner,
        ingest_police_uk,
    )
    from vru.sources.contract import load_contract
    from vru.synth import Manifest, generate

    synth_dir = state.home / "synth"
    if not (synth_dir / "manifest.json").exists():
        out.print(f"[bold]1/5[/bold] generating the synthetic Thames Valley (seed {seed})")
        generate(synth_dir, seed=seed, scale=scale)
    m = Manifest.load(synth_dir)
    out.print("[bold]2/5[/bold] ingesting the real data.police.uk months")
    _run_ingest(ingest_police_uk, police_uk_months(), False, ("incidents",),
                command="demo: ingest police-uk")
    out.print("[bold]3/5[/bold] ingesting the synthetic force crime extract")
    _run_ingest(ingest_force_extract, sorted((m.root / "force-extract").glob("*.csv")), False,
                ("incidents",), command="demo: ingest force-extract")
    out.print("[bold]4/5[/bold] ingesting the synthetic ED assault data (ISTV)")
    g, _ = _gov()
    _demo_agreement(g, "ed_assaults", "Thames Valley acute trusts (synthetic)", synth_dir)
    _run_ingest(ingest_istv, sorted((m.root / "istv").glob("*.csv")), False, ("ed_assaults",),
                command="demo: ingest istv")
    _demo_areas(g)
    out.print("[bold]5/5[/bold] ingesting the synthetic partner datasets (pseudonymised)")
    for contract_path in sorted((m.root / "partners").glob("*.toml")):
        contract = load_contract(contract_path)
        _demo_agreement(g, contract.table_name, contract.owner, synth_dir)
        _run_ingest(ingest_partner, [contract_path.with_suffix(".csv")], False,
                    (contract.table_name,), contract_path=contract_path,
                    command="demo: ingest partner")
    status()


def main() -> None:
    """Entry point of the `vru` script."""
    app()


if __name__ == "__main__":
    main()
