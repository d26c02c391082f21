"""The vru command line: parse, show progress, call one function, print the result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

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


state = State()


@app.callback()
def main_options(
    home: Annotated[Path | None, typer.Option(
        "--home", envvar="VRU_HOME",
        help="The lake home folder (created on first use). Default: ./vru-home")] = None,
) -> None:
    """Global options."""
    state.home = resolve_home(home)


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


def _run_ingest(fn, paths: list[Path], as_json: bool, **kwargs) -> None:
    with _progress() as prog:
        task = prog.add_task("reading", total=None, info="")

        def on_progress(what: str, done: int, total: int) -> None:
            prog.update(task, description=Path(what).name[:50], info=f"{done:,} rows",
                        total=total or None, completed=done)

        result = fn(state.home, paths, progress=on_progress, **kwargs)
    summary = result.summary()
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

    _run_ingest(ingest_police_uk, paths, as_json, command="ingest police-uk")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query; tables are lake tables "
                                              "(incidents, outcomes, quarantine, ingest_log...).")],
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="table | csv | json | parquet")] = "table",
    output: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Query the lake with DuckDB SQL.

    Example: vru sql "SELECT category, count(*) n FROM incidents GROUP BY 1 ORDER BY n DESC"
    """
    import duckdb

    from vru.lake.engine import ReadOnlyQuery

    try:
        result = Lake.open(state.home).sql(query)
    except (ReadOnlyQuery, duckdb.Error) as e:
        err.print(f"[red]error:[/red] {e}")
        tables = ", ".join(Lake.open(state.home).tables()) or "none (run `vru ingest` first)"
        err.print(f"tables in {state.home}: {tables}")
        raise typer.Exit(2) from None
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
    """What the lake holds: tables, versions, rows, and the latest ingests."""
    lake = Lake.open(state.home)
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
    lake = Lake.open(state.home)
    if "quarantine" not in lake.tables():
        out.print("nothing quarantined")
        return
    where = f"WHERE batch_id = '{batch.replace(chr(39), '')}'" if batch else ""
    res = lake.sql(f"SELECT source_file, line, field, reason, raw FROM quarantine {where} "
                   f"ORDER BY batch_id, source_file, line LIMIT {int(limit)}")
    _emit(res, "table", None)


def main() -> None:
    """Entry point of the `vru` script."""
    app()


if __name__ == "__main__":
    main()
