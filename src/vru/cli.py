"""The vru command line: parse, show progress, ask the service, print what it released."""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pyarrow as pa
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

# the service (lake, governance, analyses) loads when a command first needs it, so that
# `vru ingest` can start reading its files while it does
from vru.service.errors import ServiceError
from vru.service.home import resolve_home

if TYPE_CHECKING:
    from vru.service import Session

app = typer.Typer(
    name="vru",
    help=(
        "vru — the open data platform for Violence Reduction Units.\n\n"
        "A governed lake of police, health and partner data; analyses of where and when "
        "serious violence happens; reports for task forces, partners and the public.\n\n"
        "Start with `vru demo` (a synthetic Thames Valley plus real data.police.uk months), "
        "then `vru status` and `vru counts incidents --by year,category`. Every request is "
        "authorised, released for your role and audited."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    # a crash must not print its frames' variables: passwords, rows about people
    pretty_exceptions_show_locals=False,
)
ingest_app = typer.Typer(help="Load partner data into the lake (validated, quarantined, "
                         "versioned).", no_args_is_help=True)
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


@contextlib.contextmanager
def _door() -> Iterator[None]:
    """Turn the service's refusals and bad requests into a message and an exit code."""
    try:
        yield
    except ServiceError as e:
        label = "denied" if e.exit_code == 3 else "error"
        # not wrapped: a message is one line a script or a person can search
        err.print(f"[red]{label}:[/red] {getattr(e, 'reason', None) or e}", soft_wrap=True)
        raise typer.Exit(e.exit_code) from None


def _session(purpose: str = "violence_reduction", area: str | None = None) -> Session:
    """The signed-in session: ``--user`` (password from VRU_PASSWORD or a prompt), or on the
    embedded default the local OS user, who becomes the home's admin on first use."""
    s = _signed_in(state.home, state.user)
    s.purpose, s.area = purpose, area
    return s


@functools.cache
def _signed_in(home: Path, user: str | None) -> Session:
    password = None
    if user:
        password = os.environ.get("VRU_PASSWORD")
        if password is None:
            password = typer.prompt(f"password for {user}", hide_input=True, err=True)
    from vru.service import open_session

    with _door():
        s = open_session(home, user=user, password=password)
    gc.freeze()  # the service's modules, loaded by now, out of the collector's sight too
    return s


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


def _ingest(kind: str, paths: list[Path], as_json: bool, **kwargs: Any) -> dict:
    from vru.service.readahead import start

    ahead = start(kind, paths)  # the files are read while the service loads and signs in
    try:
        from vru.service.ingest import ingest

        s = _session()
    except BaseException:
        if ahead is not None:
            ahead.close()
        raise
    with _door(), _progress() as prog:
        task = prog.add_task("reading", total=None, info="")

        def on_progress(what: str, done: int, total: int) -> None:
            prog.update(task, description=Path(what).name[:50], info=f"{done:,} rows",
                        total=total or None, completed=done)

        summary = ingest(s, kind, paths, progress=on_progress, ahead=ahead, **kwargs)
    _print_ingest(summary, as_json)
    if summary["rejected_files"]:
        raise typer.Exit(1)
    return summary


@ingest_app.command("police-uk")
def ingest_police_uk_cmd(
    paths: Annotated[list[Path], typer.Argument(
        help="data.police.uk files: the custom-download .zip, its folders, or the CSVs "
             "(*-street.csv, *-outcomes.csv, *-stop-and-search.csv; .gz accepted).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    force: Annotated[str | None, typer.Option(
        "--force", help="The force of rows whose file does not name it, e.g. 'Surrey "
                        "Police' (a force the file states wins).")] = None,
) -> None:
    """Ingest data.police.uk street, outcomes and stop-and-search files, recognised by their
    header under any name.

    A street file replaces its force-month (rows added, updated and removed are counted);
    an identical file changes nothing (its rows count as duplicates, no version is written).
    Unusable rows are quarantined with the file, line, field and reason.

    Example: vru ingest police-uk ~/Downloads/2024-05.zip --json
    """
    _ingest("police-uk", paths, as_json, force=force)


@ingest_app.command("force-extract")
def ingest_force_extract_cmd(
    paths: Annotated[list[Path], typer.Argument(
        help="Force crime extract CSVs (docs/formats.md).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ingest a police force crime extract (Home Office codes, times, knife flag, outcomes).

    Rows are keyed by crime reference: a later extract updates crimes held and adds new ones.
    """
    _ingest("force-extract", paths, as_json)


@ingest_app.command("istv")
def ingest_istv_cmd(
    paths: Annotated[list[Path], typer.Argument(help="ISTV (ISB 1594) ED assault CSVs.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ingest emergency-department assault data (NHS ISTV): no personal identifiers allowed."""
    _ingest("istv", paths, as_json)


@ingest_app.command("partner")
def ingest_partner_cmd(
    paths: Annotated[list[Path], typer.Argument(help="The partner's CSV files.")],
    contract: Annotated[Path, typer.Option(
        help="The dataset's contract (TOML: columns, types, identifiers and their kinds, "
             "retention; see docs/formats.md).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ingest a partner dataset (school exclusions, youth justice, social care...) under its
    contract. Needs an agreement in force (`vru agreement add`); identifier columns are
    pseudonymised (a key per kind of field) before anything is written.
    """
    _ingest("partner", paths, as_json, contract=contract)


def _emit(result: pa.Table, fmt: str, output: Path | None) -> None:
    from vru.service.formats import TABLE_FORMATS, shown, table_text

    fmt = fmt.lower()
    if fmt not in TABLE_FORMATS:
        err.print(f"[red]error:[/red] unknown format {fmt!r}: use {', '.join(TABLE_FORMATS)}")
        raise typer.Exit(2)
    if fmt == "parquet":
        if output is None:
            err.print("[red]error:[/red] --format parquet needs --out FILE")
            raise typer.Exit(2)
        output.write_bytes(table_text(result, "parquet"))  # type: ignore[arg-type]
        return
    if fmt == "table":
        view = shown(result) if result.num_rows else result
        t = _table(view.column_names, (("" if v is None else str(v) for v in row.values())
                                       for row in view.slice(0, 200).to_pylist()))
        if output is None:
            out.print(t)
            if result.num_rows > 200:
                err.print(f"{result.num_rows:,} rows; first 200 shown (use --format csv)")
            return
        text = result.to_pandas().to_string()
    else:
        with _door():
            text = str(table_text(shown(result) if fmt == "csv" else result, fmt))
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


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
    """Query the lake with DuckDB SQL (admins and analysts): read-only, sandboxed (no files,
    no catalog), every query authorised and audited with its full text. Other roles use
    `vru counts`.

    Example: vru sql "SELECT category, count(*) n FROM incidents GROUP BY 1 ORDER BY n DESC"
    """
    s = _session(purpose, area)
    with _door():
        result = s.sql(query)
    _emit(result, fmt, output)


@app.command()
def counts(
    table: Annotated[str, typer.Argument(help="A lake table of events: incidents, "
                                              "ed_assaults, partner_*.")],
    by: Annotated[str, typer.Option(
        help="Dimensions, comma-separated: month, quarter, year, financial_year, category, "
             "offence_group, lsoa, msoa, district, area, h3:RES, grid:SIZE, hour, weekday, "
             "source, age_band (ED: weapon, location_type, site).")],
    where: Annotated[list[str] | None, typer.Option(
        help="Filter DIM=VALUE; a|b for either, a..b for a range; repeat for more "
             "(e.g. --where category=Robbery --where month=2020-01..2020-12).")] = None,
    rate: Annotated[bool, typer.Option(
        help="Add rate_per_1000 residents (needs one of lsoa, msoa, district, area).")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | csv | json | parquet")
                   ] = "table",
    output: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")
                      ] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
    area: Annotated[str | None, typer.Option(help="Only this task-force area.")] = None,
) -> None:
    """Counts of a table's events by dimensions, for every role: built by vru (not SQL),
    limited to what you may see and released for your role (small counts as `*`, rounded or
    perturbed), every request audited.

    Example: vru counts incidents --by year,category --where category=Robbery
    """
    s = _session(purpose, area)
    with _door():
        result = s.counts(table, by, where, rate=rate)
    _emit(result.table, fmt, output)
    note = result.release.note
    if result.withheld:
        note += f"; {result.withheld:,} groups withheld (their released count is 0 or *)"
    if result.release.profile != "none":
        err.print(f"[dim]{note}[/dim]")


@app.command()
def status() -> None:
    """What the lake holds: tables, versions, rows, and the sources and months held."""
    s = _session("administration")
    tables = s.tables()
    if not tables:
        out.print(f"{state.home}: empty lake. Load data with `vru ingest police-uk FILES` or "
                  "run `vru demo`.")
        return
    t = _table(["table", "version", "rows"], title=f"lake at {state.home}", numbers=True)
    from vru.service import Denied

    for name, v in tables.items():
        if not s.free_sql:
            t.add_row(name, str(v), "use `vru counts`")
            continue
        try:
            n = f"{s.sql(f'SELECT count(*) AS n FROM {name}').column(0)[0].as_py():,}"
        except Denied as e:  # e.g. an agreement that does not cover administration
            n = f"not shown: {e.reason.split(';')[0]}"
        t.add_row(name, str(v), n)
    out.print(t)
    if "incidents" in tables:
        with _door():
            held = s.coverage("incidents").describe()
        out.print("[bold]coverage by force and month[/bold] (a month not held is missing, "
                  "never zero)")
        for line in held.split("; "):
            out.print(f"  {line}")
    if "incidents" in tables and s.free_sql:
        with contextlib.suppress(Denied):
            q = s.sql("""SELECT source, min(month) AS first, max(month) AS last, count(*) AS n,
                         count(*) FILTER (geo_status = 'no_location') AS unmapped
                         FROM incidents GROUP BY 1 ORDER BY 1""")
            out.print(_table(["source", "from", "to", "rows", "without location"], (
                (r["source"], r["first"], r["last"], f"{r['n']:,}", f"{r['unmapped']:,}")
                for r in q.to_pylist()), title="incidents by source", numbers=True))


@app.command()
def quarantine(
    batch: Annotated[str | None, typer.Option(help="Only this ingest batch.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
) -> None:
    """Rows that could not be used, with file, line, field and reason."""
    s = _session("administration")
    if "quarantine" not in s.tables():
        out.print("nothing quarantined")
        return
    where = f"WHERE batch_id = '{batch.replace(chr(39), '')}'" if batch else ""
    with _door():
        res = s.sql(f"SELECT source_file, line, field, reason, raw FROM quarantine {where} "
                    f"ORDER BY batch_id, source_file, line LIMIT {int(limit)}")
    _emit(res, "table", None)


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

    from vru.service import admin

    try:
        day = date.fromisoformat(today) if today else None
    except ValueError:
        err.print(f"[red]error:[/red] --today {today!r} is not YYYY-MM-DD")
        raise typer.Exit(2) from None
    s = _session("administration")
    with _door():
        report = admin.retention(s, day)
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
AREA_HELP = "Only this task-force area (see `vru areas list`); task-force members get theirs."


def _analyse(name: str, purpose: str, area: str | None, **params: Any) -> Any:
    """Run a registered analysis through the door, with a spinner."""
    s = _session(purpose, area)
    with _door(), _progress() as prog:
        prog.add_task(name, total=None, info="")
        return s.analyse(name, **params)


def _write(result: Any, path: Path | None) -> None:
    from vru.service.formats import write

    if path is not None:
        with _door():
            write(result, path)


def _note(result: Any) -> None:
    for warning in result.meta.get("warnings") or ():
        err.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    rel = result.meta.get("release") or {}
    if rel.get("profile") not in (None, "none"):
        err.print(f"[dim]{rel['note']}[/dim]")


def _number(v: Any) -> str:
    """Counts as whole numbers with separators, ratios and p-values to 3 figures."""
    if v is None or (isinstance(v, float) and v != v):
        return "*"
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() and abs(v) >= 10 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


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
    harm: Annotated[bool, typer.Option(help="Weight events by harm (record-level roles).")
                    ] = False,
    png: Annotated[Path | None, typer.Option(help="Also draw a map of the classes.")] = None,
    area_name: Annotated[str | None, typer.Option("--area", help=AREA_HELP)] = None,
    offence_group: Annotated[list[str] | None, typer.Option(
        help="Home Office offence group(s), e.g. 'Violence against the person'.")] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Getis-Ord Gi* hot spots as ArcGIS defines them, with FDR-corrected classes -3..3.

    Writes one row per cell of the study area (empty cells included): cell, n, z, p, class.
    Below record level the counts are released first and the statistics computed from them.

    Example: vru hotspots gistar --category "Violence and sexual offences" --cell h3:9
    --out hot.parquet --png hot.png
    """
    r = _analyse("gistar", purpose, area_name, category=category, cell=cell, start=start,
                 end=end, weights=weights, permutations=permutations, seed=seed,
                 source=source, harm=harm, offence_group=offence_group)
    _write(r, out_file)
    _write(r, png)
    hot = int((r.frame["class"] >= 2).sum())
    out.print(f"{len(r.frame):,} cells, {hot:,} hot at 95% or more after FDR → {out_file}")
    _note(r)


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
    area_name: Annotated[str | None, typer.Option("--area", help=AREA_HELP)] = None,
    offence_group: Annotated[list[str] | None, typer.Option(
        help="Home Office offence group(s), e.g. 'Violence against the person'.")] = None,
    gaps: Annotated[str, typer.Option(
        help="Months not held inside the period: skip (held months as consecutive steps, "
             "with a warning) or refuse.")] = "skip",
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Emerging Hot Spot Analysis by Esri's rules: new, consecutive, intensifying,
    persistent, diminishing, sporadic, oscillating, historical (hot and cold) or none; each
    cell's row explains its category (its series of classes and the trend test)."""
    r = _analyse("emerging", purpose, area_name, category=category, cell=cell,
                 time_bin=time_bin, start=start, end=end, weights=weights,
                 time_window=time_window, source=source, offence_group=offence_group,
                 gaps=gaps)
    _write(r, out_file)
    found = r.frame["pattern"].value_counts() if "pattern" in r.frame else {}
    out.print(", ".join(f"{k}: {v:,}" for k, v in found.items()) + f" → {out_file}")
    _note(r)


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
    area_name: Annotated[str | None, typer.Option("--area", help=AREA_HELP)] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Knox near-repeat analysis as the Near Repeat Calculator reports it, done right:
    half-open bands, a same-location band, seeded permutations of times across places,
    Knox ratio = observed / mean simulated and p = (#simulated >= observed + 1)/(R + 1).
    Refuses month-precision data (data.police.uk)."""
    try:
        spatial = [float(x) for x in distances.split(",")]
        temporal = [float(x) for x in days.split(",")]
    except ValueError:
        err.print("[red]error:[/red] --distances and --days are numbers separated by commas")
        raise typer.Exit(2) from None
    r = _analyse("near_repeat", purpose, area_name, category=category, spatial_edges=spatial,
                 temporal_edges=temporal, permutations=permutations, seed=seed, start=start,
                 end=end, source=source)
    frame = r.frame
    _write(r, out_file)
    out.print(_table([str(c) for c in frame.columns],
                     ((_number(v) for v in row) for row in frame.itertuples(index=False)),
                     title=f"Knox ratios (p) — {permutations} permutations, seed {seed}"))
    _note(r)


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
    area_name: Annotated[str | None, typer.Option("--area", help=AREA_HELP)] = None,
    offence_group: Annotated[list[str] | None, typer.Option(
        help="Home Office offence group(s), e.g. 'Violence against the person'.")] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Local Moran's I: clusters (HH high among high, LL) and outliers (HL, LH), seeded."""
    r = _analyse("moran", purpose, area_name, category=category, cell=cell, weights=weights,
                 permutations=permutations, seed=seed, start=start, end=end, source=source,
                 offence_group=offence_group)
    _write(r, out_file)
    found = r.frame["cluster"].value_counts()
    out.print(", ".join(f"{k}: {v:,}" for k, v in found.items()) + f" → {out_file}")
    _note(r)


@hotspots_app.command("density")
def hotspots_density(
    out_file: Annotated[Path, typer.Option("--out", help="Grid cells with their density "
                                                         "(.parquet/.csv).")],
    category: Annotated[list[str] | None, typer.Option(help="Crime type(s).")] = None,
    cell_size: Annotated[float, typer.Option(help="Grid cell size in metres.")] = 100.0,
    bandwidth: Annotated[float | None, typer.Option(
        help="Search radius in metres (default 300 m: the radius held-out months favour; "
             "ArcGIS's rule oversmooths, see docs/analysis.md).")] = None,
    kernel: Annotated[str, typer.Option(help="quartic (ArcGIS) or gaussian.")] = "quartic",
    start: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    source: Annotated[str | None, typer.Option(help="police_uk or force_extract.")] = None,
    png: Annotated[Path | None, typer.Option(help="Also draw the density surface.")] = None,
    area_name: Annotated[str | None, typer.Option("--area", help=AREA_HELP)] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Kernel density of events on a British National Grid raster (events per km²); a
    surface drawn from single points, so record-level roles only."""
    r = _analyse("density", purpose, area_name, category=category, cell_size=cell_size,
                 bandwidth=bandwidth, kernel=kernel, start=start, end=end, source=source)
    _write(r, out_file)
    _write(r, png)
    out.print(f"density surface, bandwidth {r.meta['parameters']['bandwidth']:.0f} m → "
              f"{out_file}")


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
    map_kind: Annotated[str, typer.Option(
        "--map", help="The map to score: gistar (Gi* of --map-from..--map-to); or, made "
                      "at --map-to (record-level roles; --from the month after --map-to; "
                      "--cell grid:SIZE): naive, promap, sepp, ensemble, density (300 m), or "
                      "a FILE.parquet/.csv with columns cell and score.")
    ] = "gistar",
    shares: Annotated[str, typer.Option(help="Shares of the area to score at, e.g. "
                                             "0.01,0.02,0.05,0.1.")] = "0.01,0.02,0.05,0.1",
    curve: Annotated[Path | None, typer.Option(
        help="Write the hit-rate-by-area curve: .csv or .png.")] = None,
    area_name: Annotated[str | None, typer.Option("--area", help=AREA_HELP)] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """How well a map of one period predicted the next, like with like: the map and naive
    counts (each cell's events over the map period's last three held months, the baseline
    to beat) scored at fixed shares of the area and at the map's own hot area: hit rate,
    PAI = (n/N)/(a/A), PEI (against perfect foresight at the same area), PEI* (the least
    area perfect foresight needs for the same hits, over the map's), RRI. Areas are true
    areas clipped to the study area (an LSOA counts by its size).

    Example: vru hotspots accuracy --category "Violence and sexual offences" --map-from
    2018-06 --map-to 2018-10 --from 2018-11 --to 2018-12 --cell grid:250 --map ensemble
    """
    try:
        at = [float(x) for x in shares.split(",")]
    except ValueError:
        err.print("[red]error:[/red] --shares are numbers separated by commas, e.g. 0.01,0.05")
        raise typer.Exit(2) from None
    if map_kind == "gistar":
        r = _analyse("accuracy", purpose, area_name, map_from=map_from, map_to=map_to,
                     start=start, end=end, category=category, cell=cell, source=source,
                     min_class=min_class, shares=at)
        out.print(_table(list(r.frame.columns),
                         [(_number(v) for v in r.frame.iloc[0].tolist())],
                         title=f"Gi* hot area of {map_from}..{map_to} tested on {start}..{end}"))
        table = r.table
    else:
        horizon = _months_between(map_to, start, end)
        is_file = Path(map_kind).suffix.lower() in (".parquet", ".csv")
        extra: dict[str, Any] = ({"map_file": str(Path(map_kind).resolve()), "models": []}
                                 if is_file else {"models": [map_kind]})
        r = _analyse("forecast", purpose, area_name, backtest=True, category=category,
                     start=map_from, end=end, origins=[map_to], horizon=horizon, cell=cell,
                     source=source, shares=at, **extra)
        table = r.frame.rename(columns={"model": "map"}).drop(columns=["origin"])
    if table is not None:
        cols = ["map", "at", "area_share", "hits", "events", "hit_rate", "PAI", "PEI",
                "PEI_star", "RRI"]
        table = table.assign(hits=table["hits"].round(0))  # a share of a tied cell: not news
        out.print(_table(cols, ((_number(v) for v in row) for row in
                                table[cols].itertuples(index=False)),
                         title=f"{map_kind} vs naive at fixed shares of the area, tested on "
                               f"{start}..{end}", numbers=True))
    if curve is not None:
        if getattr(r, "curve", None) is None:
            err.print("[yellow]warning:[/yellow] no curve: hit rates at every share are "
                      "exact counts, not released at your level")
        elif curve.suffix.lower() == ".png":
            from vru.service.formats import write

            with _door():
                write(r, curve)
        else:
            r.curve.to_csv(curve, index=False)
    _note(r)


def _months_between(map_to: str, start: str, end: str) -> int:
    """Months from ``start`` to ``end`` when ``start`` is the month after ``map_to``."""
    def idx(m: str) -> int:
        try:
            y, mm = m.split("-")
            return int(y) * 12 + int(mm) - 1
        except ValueError:
            err.print(f"[red]error:[/red] {m!r} is not a month written YYYY-MM")
            raise typer.Exit(2) from None

    if idx(start) != idx(map_to) + 1 or idx(end) < idx(start):
        err.print(f"[red]error:[/red] a forecast made at --map-to {map_to} is tested on the "
                  f"months right after it: --from must be the next month, not {start}")
        raise typer.Exit(2)
    return idx(end) - idx(start) + 1


@hotspots_app.command("forecast")
def hotspots_forecast(
    end: Annotated[str, typer.Option("--to", help="The forecast origin: the last month the "
                                                  "models may see (YYYY-MM).")],
    out_file: Annotated[Path, typer.Option("--out", help="The map: .parquet, .csv, .geojson, "
                                                         ".gpkg or .png (one row per cell).")],
    category: Annotated[list[str] | None, typer.Option(
        help="data.police.uk crime type(s), e.g. 'Violence and sexual offences'.")] = None,
    start: Annotated[str | None, typer.Option(
        "--from", help="First month the models may use (default: the first held).")] = None,
    horizon: Annotated[int, typer.Option(help="Months forecast, from the month after --to.")
                       ] = 1,
    cell: Annotated[str, typer.Option(help="Square cells grid:SIZE (metres).")] = "grid:250",
    model: Annotated[str, typer.Option(
        help="ensemble (default: naive counts plus smoothed, context and model terms weighted "
             "by rolling-origin validation), naive, promap or sepp.")] = "ensemble",
    source: Annotated[str | None, typer.Option(help="police_uk or force_extract.")] = None,
    offence_group: Annotated[list[str] | None, typer.Option(
        help="Home Office offence group(s).")] = None,
    backtest: Annotated[bool, typer.Option(
        "--backtest", help="Instead of one map, forecast from every held origin in "
                           "--from..--to and score each on the months after it, naive "
                           "beside; --out gets the scores (.csv/.parquet) or the hit-rate "
                           "curve (.png).")] = False,
    area_name: Annotated[str | None, typer.Option("--area", help=AREA_HELP)] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """Forecast where events will be in the --horizon months after --to: a predictive
    analysis (record-level roles; audited with its purpose and kind). Every model sees only
    months up to --to, and only months the lake holds (gaps are not zeros).

    Writes one row per cell: cell, easting, northing (cell centre, British National Grid),
    score (expected events in the window; higher means more expected), rank and the model's
    parts (they add up to the score). See docs/analysis.md for each model and its limits.

    Example: vru hotspots forecast --category "Violence and sexual offences" --to 2018-12
    --horizon 2 --cell grid:250 --out forecast.parquet
    """
    if backtest:
        r = _analyse("forecast", purpose, area_name, backtest=True, category=category,
                     start=start, end=end, horizon=horizon, cell=cell, source=source,
                     offence_group=offence_group)
        summary = r.summary()
        out.print(_table(["origin", *map(str, summary.columns)],
                         ((o, *(_number(float(v)) for v in row)) for o, row in
                          zip(summary.index, summary.to_numpy(), strict=True)),
                         title=f"PAI at 1% of the area, horizon {horizon} month(s)",
                         numbers=True))
        if out_file.suffix.lower() == ".png":
            _write(r, out_file)
        elif out_file.suffix.lower() == ".csv":
            r.frame.to_csv(out_file, index=False)
        else:
            r.frame.to_parquet(out_file, index=False)
        _note(r)
        return
    r = _analyse("forecast", purpose, area_name, category=category, start=start, end=end,
                 horizon=horizon, cell=cell, model=model, source=source,
                 offence_group=offence_group)
    _write(r, out_file)
    top = r.top(0.01)
    w = r.meta["window"]
    fitted = r.meta["fitted"]
    how = (", ".join(f"{k} {v:g}" for k, v in fitted["weights"].items())
           + f" ({fitted['weights_from']})") if "weights" in fitted else model
    out.print(f"{model} forecast of {w[0]}..{w[1]}: {len(r.frame):,} cells; the top 1% of "
              f"the area ({len(top):,} cells) expects {top['score'].sum():,.0f} of "
              f"{r.frame['score'].sum():,.0f} events; weights: {how} → {out_file}")
    _note(r)


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
    area_name: Annotated[str | None, typer.Option("--area", help=AREA_HELP)] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "violence_reduction",
) -> None:
    """When: hour x weekday (each event spread over its from/to window, aoristic), the
    busiest calendar months, and the monthly trend (least squares and Mann-Kendall)."""
    r = _analyse("times", purpose, area_name, category=category, start=start, end=end,
                 source=source)
    if r.matrix is not None:
        _write(r, out_file)
        _write(r, png)
        day, hour = r.peak()
        out.print(f"hour x weekday peak: {day} {hour:02d}:00 "
                  f"({_number(r.meta.get('events'))} events with a time)")
    else:
        out.print("no event has a time of day (data.police.uk gives months): no hour x weekday")
    if r.seasonality is not None:
        top = r.seasonality.sort_values("mean_per_year", ascending=False).iloc[0]
        out.print(f"busiest calendar month: {top['name']} ({top['share']:.1%} of events)")
    if r.trend is not None:
        out.print(f"trend: {r.trend.summary()}")
    _note(r)


audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
users_app = typer.Typer(help="Users and roles of this home.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the HMAC chain and its anchor outside the database: exit 0 and print
    `ok N entries`, or exit 1 naming the fault (an entry edited, deleted, inserted, forged or
    reordered; the log wiped or truncated; the anchor or key missing)."""
    from vru.service import admin

    s = _session("administration")
    with _door():
        r = admin.verify_audit(s)
    if r.ok:
        typer.echo(f"ok {r.entries} entries")
        return
    where = f"entry {r.first_bad}" if r.first_bad is not None else "the log head"
    typer.echo(f"TAMPERED at {where}: {r.problem}")
    raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    limit: Annotated[int, typer.Option(help="Entries to show.")] = 30,
    actor: Annotated[str | None, typer.Option(help="Only this user's entries.")] = None,
    dataset: Annotated[str | None, typer.Option(
        help="Only entries about this dataset (what its data owner may see).")] = None,
) -> None:
    """The latest audit entries: who did what, to which data, why, and the decision."""
    from vru.service import admin

    s = _session("administration")
    with _door():
        entries = admin.audit_entries(s, limit=limit, actor=actor, dataset=dataset)
    out.print(_table(["seq", "time", "actor", "action", "resource", "purpose", "decision",
                      "reason"],
                     ((str(e.seq), str(e.time)[:19], e.actor, e.action, e.resource, e.purpose,
                       e.decision, e.reason[:80]) for e in entries)))


@app.command()
def init(
    admin_name: Annotated[str, typer.Option("--admin", help="Name of the first admin.")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the admin's password from stdin.")] = False,
) -> None:
    """Create the first admin of a shared deployment (VRU_DATABASE_URL set); later commands
    sign in with --user. On the embedded default no init is needed: the local OS user is the
    home's admin."""
    from vru.service import admin

    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        f"password for {admin_name}", hide_input=True, confirmation_prompt=True, err=True)
    with _door():
        u = admin.init_admin(state.home, admin_name, password)
    typer.echo(f"created admin {u.name}")


areas_app = typer.Typer(help="Task-force areas: named sets of LSOAs.", no_args_is_help=True)
app.add_typer(areas_app, name="areas")


@areas_app.command("load")
def areas_load(file: Annotated[Path, typer.Argument(
        help="CSV with columns area,lsoa11cd, or TOML (see vru.governance.areas).")]) -> None:
    """Define or replace task-force areas (admins only; audited)."""
    from vru.service import admin

    s = _session("administration")
    with _door():
        loaded = admin.load_areas(s, file)
    typer.echo(", ".join(f"{a.name} ({len(a.lsoa11cd)} LSOAs)" for a in loaded))


@areas_app.command("list")
def areas_list() -> None:
    """The task-force areas and how many LSOAs each covers."""
    from vru.service import admin

    s = _session("administration")
    with _door():
        found = admin.areas(s)
    out.print(_table(["area", "LSOAs", "description"],
                     ((a.name, str(len(a.lsoa11cd)), a.description or "") for a in found)))


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
    from vru.service import admin

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    s = _session("administration")
    with _door():
        u = admin.add_user(s, name, role, area=area, password=password,
                           organisation=organisation)
    typer.echo(f"added {u.name} ({u.role})")


@users_app.command("list")
def users_list() -> None:
    """Users of this home and their roles."""
    from vru.service import admin

    s = _session("administration")
    with _door():
        found = admin.list_users(s)
    out.print(_table(["name", "role", "area", "enabled"],
                     ((u.name, str(u.role), u.area or "", "no" if u.disabled else "yes")
                      for u in found)))


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a user (their history stays in the audit log)."""
    from vru.service import admin

    s = _session("administration")
    with _door():
        admin.disable_user(s, name)
    typer.echo(f"disabled {name}")


boundaries_app = typer.Typer(help="LSOA boundaries: England and Wales ship with vru; load "
                                  "your own.", no_args_is_help=True)
app.add_typer(boundaries_app, name="boundaries")


@boundaries_app.command("load")
def boundaries_load(files: Annotated[list[Path], typer.Argument(
        help="GeoJSON (.geojson/.json, .gz), GeoPackage, Shapefile (.shp or zipped) with "
             "LSOA11CD or LSOA21CD fields (any case), in any CRS.")]) -> None:
    """Keep LSOA boundary files in the home (admins; audited): Gi*, emerging hot spots, Moran
    and accuracy then draw their study area from them instead of the shipped England and
    Wales set."""
    from vru.service import boundaries

    s = _session("administration")
    with _door():
        kept = boundaries.load(s, files)
    for b in kept:
        out.print(f"{b.name}: {b.areas:,} LSOAs ({b.year}) kept in {b.path.parent}")


@boundaries_app.command("list")
def boundaries_list() -> None:
    """The boundary files the home keeps; without any, the shipped set is used."""
    from vru.service import boundaries

    s = _session("administration")
    with _door():
        found = boundaries.listing(s)
    if not found:
        out.print("no boundaries of your own: the shipped LSOA 2011 boundaries of England and "
                  "Wales are used (the districts the data fall in)")
        return
    out.print(_table(["file", "year", "LSOAs", "bounds (BNG m)"],
                     ((b.name, str(b.year), f"{b.areas:,}",
                       " ".join(f"{v:,.0f}" for v in b.bounds)) for b in found)))


agreement_app = typer.Typer(help="Data sharing agreements.", no_args_is_help=True)
app.add_typer(agreement_app, name="agreement")


@agreement_app.command("add")
def agreement_add(file: Annotated[Path, typer.Argument(
        help="Agreement TOML (shape in vru.governance.agreements).")]) -> None:
    """Register a data sharing agreement (admins only; audited)."""
    from vru.service import admin

    s = _session("administration")
    with _door():
        a = admin.add_agreement(s, file)
    typer.echo(f"registered agreement {a.name!r} for {a.dataset}")


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
    from vru.service.demo import synthesise

    with _progress() as prog, _door():
        task = prog.add_task("synth", total=None, info="")

        def on_progress(what: str, done: int, total: int) -> None:
            prog.update(task, description=what, total=total or None, completed=done, info="")

        m = synthesise(out_dir, seed=seed, start=start, end=end, scale=scale,
                       progress=on_progress)
    out.print(f"wrote the synthetic world to {out_dir} (truth in {m.path})")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic world.")] = 1,
    scale: Annotated[float, typer.Option(help="Volume of the synthetic world.")] = 1.0,
    serve: Annotated[bool, typer.Option(
        "--serve/--no-serve", help="Serve the dashboard afterwards at http://127.0.0.1:8000 "
                                   "(--no-serve: build the home only).")] = True,
    port: Annotated[int, typer.Option(help="Port of the dashboard.")] = 8000,
) -> None:
    """The main job on the embedded default: a synthetic Thames Valley (2015–2021) plus the real
    data.police.uk months vru ships, ingested into the lake at --home; then `status`, one demo
    sign-in per role (random passwords, also kept in the home's demo-logins.txt, mode 0600) and
    the dashboard."""
    from vru.service import demo as demo_service
    from vru.service.demologins import ensure_demo_logins

    s = _session()
    with _door():
        demo_service.build(s, seed=seed, scale=scale,
                           say=lambda text: out.print(f"[bold]{text}[/bold]"),
                           report=lambda summary: _print_ingest(summary, False))
    status()
    with _door():
        logins, path = ensure_demo_logins(s)
    out.print(_table(["user", "password", "role", "area"],
                     ((d.name, d.password, d.role, d.area or "") for d in logins),
                     title=f"demo sign-ins (kept in {path}, readable by you only)"))
    if serve:
        _serve(state.home, "127.0.0.1", port)


def _serve(home: Path, host: str, port: int, workers: int = 0) -> None:
    import uvicorn

    from vru.web import create_app

    workers = workers or default_workers()
    with _door():
        app = create_app(home)  # built here too: a home that cannot be served fails once, here
    gc.freeze()  # the server's modules and app too: full collections then skip them
    where = f"http://{host}:{port}"
    out.print(f"[bold]the dashboard: {where}[/bold] (sign in at {where}/login; Ctrl+C stops it)")
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    # one process per core: a request is mostly Python, which one process runs on one core
    # at a time; sign-ins are in the metadata database, so any process serves any browser
    os.environ["VRU_SERVE_HOME"] = str(home)
    uvicorn.run("vru.web.app:app_from_env", factory=True, workers=workers, host=host,
                port=port, log_level="warning")


def default_workers() -> int:
    """Worker processes of `vru serve`: one on the embedded SQLite database, whose writers
    (every request writes the audit log) wait for each other's lock by sleeping, which
    under 20 clients made two processes slower than one (p95 95-239 ms against 75-86 ms);
    on a shared PostgreSQL deployment one per core, at most four."""
    if not os.environ.get("VRU_DATABASE_URL"):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cores or 1))


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(
        help="Address to listen on. The default serves this machine only; put a TLS proxy in "
             "front before serving others (cookies are then Secure).")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(
        min=0, help="Worker processes (0: one on the embedded SQLite database, one per core "
                    "up to 4 with VRU_DATABASE_URL). Each answers any signed-in browser: "
                    "sign-ins are kept in the metadata database.")] = 0,
) -> None:
    """Serve the dashboard of --home: maps, times, near repeats and trends for each role, every
    request authorised, released and audited as on the command line. Users sign in at /login
    (add them with `vru users add`); the JSON API is described at /openapi.json. Settings:
    VRU_WEB_IDLE_MINUTES, VRU_WEB_ABSOLUTE_HOURS, VRU_WEB_TILE_URL, VRU_WEB_SECURE_COOKIES
    (docs/dashboard.md)."""
    if not (state.home / "lake").exists() and not any(state.home.glob("*.db")):
        err.print(f"[red]error:[/red] no lake home at {state.home}: build one with `vru --home "
                  f"{state.home} demo --no-serve` or `vru ingest`", soft_wrap=True)
        raise typer.Exit(2)
    _serve(state.home, host, port, workers)


# -- performance reporting: KPIs and the briefing (issue 10) ---------------------------------

KPI_PERIOD_HELP = ("The period: 2020 (calendar year), 2020/21 (financial year, April-March), "
                   "rolling:2020-06 (12 months to June 2020), 28d:2020-12-31 (28 days to "
                   "that day; `28d` alone ends at the last day held), 2020-01..2020-06 (any "
                   "run of months).")


def _outcome_types(text: str | None) -> list[int] | None:
    """``"1-8"`` or ``"1,2,3,4,6,7,8"`` -> outcome type numbers."""
    if not text:
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            out += list(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        err.print(f"[red]error:[/red] --positive-outcomes {text!r}: give Home Office outcome "
                  "numbers such as 1-8 or 1,2,3,4,6,7,8")
        raise typer.Exit(2) from None
    return out


KPI_COLUMNS = ("measure", "group", "period", "previous_period", "current", "previous",
               "change_pct", "p_value", "significant", "lowest_since", "highest_since",
               "rate_per_1000", "previous_rate_per_1000", "population", "positive_outcomes",
               "previous_positive_outcomes", "positive_outcome_rate",
               "previous_positive_outcome_rate", "positive_outcome_rate_change_pct",
               "positive_outcome_p_value", "available", "partial", "missing_months", "source",
               "approximation", "note", "wording", "positive_outcome_wording", "table",
               "table_version")


@app.command()
def kpi(
    period: Annotated[str, typer.Option(help=KPI_PERIOD_HELP)],
    against: Annotated[str | None, typer.Option(
        help="Compare with this period instead of the one just before (same forms).")
    ] = None,
    measure: Annotated[list[str] | None, typer.Option(
        help="Only these measures (repeat; default all): knife_crime, personal_robbery, "
             "business_robbery, violence_with_injury, violence_without_injury, homicide, "
             "possession_of_weapons, serious_violence, serious_violence_under_25, "
             "ed_assaults, ed_sharp_instrument, or your own.")] = None,
    by: Annotated[str | None, typer.Option(
        help="Break down by `area` (task-force areas) or `district`.")] = None,
    measures_file: Annotated[Path | None, typer.Option(
        "--measures", help="A measures TOML adding to or replacing the shipped ones (a "
                           "home's own measures.toml applies too).")] = None,
    positive_outcomes: Annotated[str | None, typer.Option(
        help="Home Office outcome types counted as positive (default 1-8), e.g. "
             "1,2,3,4,6,7,8.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
    output: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")
                      ] = None,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "performance_reporting",
    area: Annotated[str | None, typer.Option(help=AREA_HELP)] = None,
) -> None:
    """Headline KPIs: count, rate per 1,000 residents, change against the period before with
    its test (exact Poisson test for counts, two-proportion test for the positive outcome
    rate), "lowest since", and a sentence that never calls noise a fall. The same figures as
    the briefing and the dashboard's tiles; released for your role, audited.

    Examples: vru kpi --period 2020 | vru kpi --period 2020/21 --by area --format csv |
    vru kpi --period 2020-01..2020-06 --against 2019-01..2019-06 --measure knife_crime
    """
    fmt = fmt.lower()
    if fmt not in ("table", "csv", "json"):
        err.print(f"[red]error:[/red] --format {fmt!r}: use table, csv or json")
        raise typer.Exit(2)
    types = _outcome_types(positive_outcomes)
    s = _session(purpose, area)
    with _door():
        report = s.kpis(period, against=against, measures=measure, by=by,
                        measures_file=str(measures_file) if measures_file else None,
                        positive_outcome_types=types)
    rows = report.to_list()
    if fmt == "json":
        text = json.dumps(rows, indent=1, default=str)
    elif fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(KPI_COLUMNS), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("|".join(r[k]) if isinstance(r[k], list) else
                            "" if r[k] is None else r[k]) for k in KPI_COLUMNS})
        text = buf.getvalue()
    else:
        meta = report.meta
        title = f"KPIs {meta['period']['label']} against {meta['previous']['label']}"
        t = _table(["measure", *(["group"] if by else []), "current", "previous", "change",
                    "p", "lowest since", "per 1,000", "positive outcomes"], title=title,
                   numbers=True)
        for r in rows:
            change = "" if r["change_pct"] is None else f"{r['change_pct']:+.1f}%"
            pos = ("" if r["positive_outcome_rate"] is None else
                   f"{100 * r['previous_positive_outcome_rate']:.1f}% → "
                   f"{100 * r['positive_outcome_rate']:.1f}%")
            if not r["available"]:
                cells = ["not available", "", "", "", "", "", ""]
            else:
                cells = [_number(r["current"]), _number(r["previous"]),
                         change + (" (partial)" if r["partial"] else ""),
                         "" if r["p_value"] is None else
                         "<0.001" if r["p_value"] < 0.001 else f"{r['p_value']:.3f}",
                         str(r["lowest_since"] or ""),
                         "" if r["rate_per_1000"] is None else f"{r['rate_per_1000']:.2f}", pos]
            t.add_row(r["label"], *([r["group"] or ""] if by else []), *cells)
        if output is None:
            out.print(t)
            for r in rows:
                out.print(f"• {r['wording']}", soft_wrap=True)
                if r["positive_outcome_wording"]:
                    out.print(f"  {r['positive_outcome_wording']}", soft_wrap=True)
            rel = meta.get("release") or {}
            err.print(f"[dim]tables read: {meta['table_versions']}; "
                      f"{rel.get('note', '')}[/dim]", soft_wrap=True)
            return
        text = "\n".join(r["wording"] for r in rows) + "\n"
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


report_app = typer.Typer(help="Reports: the briefing (HTML and PDF) of a period's KPIs, maps "
                              "and trends.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("briefing")
def report_briefing(
    period: Annotated[str, typer.Option(help=KPI_PERIOD_HELP)],
    out_dir: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder to write briefing.html and briefing.pdf into.")
    ] = Path("briefing"),
    audience: Annotated[str, typer.Option(
        help="`internal` (figures as your role may see them) or `public` (every figure "
             "released as for a viewer: cell-key perturbation).")] = "internal",
    against: Annotated[str | None, typer.Option(
        help="Compare with this period instead of the one just before.")] = None,
    measures_file: Annotated[Path | None, typer.Option(
        "--measures", help="A measures TOML adding to or replacing the shipped ones.")
    ] = None,
    positive_outcomes: Annotated[str | None, typer.Option(
        help="Home Office outcome types counted as positive (default 1-8).")] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write the PDF.")] = True,
    purpose: Annotated[str, typer.Option(help=PURPOSE_HELP)] = "performance_reporting",
    area: Annotated[str | None, typer.Option(help=AREA_HELP)] = None,
) -> None:
    """The briefing in the shape of a VRU's annual update: headline sentences from the KPIs
    (each change tested), a map of where violence concentrates (Gi* on the real LSOA
    boundaries), the hour x weekday heat map, trends with the change marked, a page per
    task-force area, then definitions, sources and the lake table versions read.

    Writes OUT/briefing.html (self-contained: inline SVG and CSS, a table behind every
    chart) and OUT/briefing.pdf (WeasyPrint). Example: vru report briefing --period 2020
    --out briefing-2020 --audience public
    """
    from vru.report.briefing import write_briefing

    types = _outcome_types(positive_outcomes)
    s = _session(purpose, area)
    with _door(), _progress() as prog:
        task = prog.add_task("briefing", total=None, info="")

        def on_step(what: str, done: int, total: int) -> None:
            prog.update(task, description=what, total=total, completed=done, info="")

        written = write_briefing(s, period, out_dir, audience=audience, against=against,
                                 measures_file=str(measures_file) if measures_file else None,
                                 positive_outcome_types=types, pdf=pdf, progress=on_step)
    for path in written:
        out.print(f"wrote {path}")


def main() -> None:
    """Entry point of the `vru` script."""
    # What is imported by now lives until exit: out of the collector's sight it costs no
    # scans while a command runs, and no final collection at exit (0.15-0.3 s of every
    # command's wall time, measured). Objects the command makes are collected as ever.
    gc.freeze()
    command = typer.main.get_command(_narrowed(app, sys.argv[1:]))
    _hide_none_defaults(command)
    command()


#: the options of `main_options` that take a value
_GLOBAL_VALUES = ("--home", "--user")


def _narrowed(full: typer.Typer, argv: list[str]) -> typer.Typer:
    """``full`` with only the group or command ``argv`` names (after the global options).

    Typer makes the click commands of every group and command at each start: 0.11 s, of
    which the one asked for takes 0.01. The rest are left out; they would only be listed
    by help or completion, and the whole app is kept for those: no command named, an
    unknown one (its error), help asked for before the command, and shell completion.
    """
    if any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return full
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] in ("--help", "-h") or argv[i].startswith("--install-completion") \
                or argv[i].startswith("--show-completion"):
            return full
        i += 2 if argv[i] in _GLOBAL_VALUES else 1
    if i >= len(argv):
        return full
    name = argv[i]
    groups = [g for g in full.registered_groups if g.name == name]
    commands = [c for c in full.registered_commands
                if (c.name or c.callback.__name__.replace("_", "-")) == name]
    if not groups and not commands:
        return full
    small = copy.copy(full)  # the same callback (global options), one group or command
    small.registered_groups, small.registered_commands = groups, commands
    return small


def _hide_none_defaults(command: Any) -> None:
    """No "[default: None]" in --help for options without a default (typer 0.15 prints
    one, even on required options)."""
    for param in command.params:
        if param.default is None:
            param.show_default = False
    for sub in getattr(command, "commands", {}).values():
        _hide_none_defaults(sub)


if __name__ == "__main__":
    main()
