"""The `vru` script as a user meets it: help that says only what is true, and a crash that
prints no variables (they may hold a password or rows about people)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from vru.cli import _hide_none_defaults, app

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _vru(code: str, *argv: str) -> subprocess.CompletedProcess:
    run = f"import sys; sys.argv = ['vru', *sys.argv[1:]]\n{code}\nfrom vru.cli import main\nmain()"
    return subprocess.run([sys.executable, "-c", run, *argv], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC, "COLUMNS": "100"})


def test_help_shows_no_default_of_none():
    got = _vru("", "hotspots", "gistar", "--help")
    assert got.returncode == 0, got.stderr
    assert "[required]" in got.stdout and "[default: h3:9]" in got.stdout
    assert "default: None" not in got.stdout


def test_no_command_shows_a_default_of_none():
    command = typer.main.get_command(app)
    _hide_none_defaults(command)
    shown = []

    def walk(cmd: click.Command, path: str) -> None:
        shown.extend(f"{path} {p.name}" for p in cmd.params
                     if p.default is None and p.show_default)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(command, "vru")
    assert shown == []
    # options with a real default still show it
    gistar = command.commands["hotspots"].commands["gistar"]
    assert next(p for p in gistar.params if p.name == "cell").show_default is not False


def test_a_crash_prints_no_local_variables():
    code = ("from vru import cli\n"
            "@cli.app.command('boom')\n"
            "def boom() -> None:\n"
            "    password = 'hunter2-' + 'secret'\n"
            "    raise RuntimeError('unexpected: ' + str(len(password)))\n")
    got = _vru(code, "boom")
    assert got.returncode != 0
    assert "RuntimeError: unexpected: 14" in got.stderr
    assert "hunter2-secret" not in got.stderr + got.stdout


def _help(cmd: click.Command, *path: str) -> str:
    ctx = click.Context(cmd, info_name="vru")
    for name in path:
        cmd = cmd.commands[name]
        ctx = click.Context(cmd, info_name=name, parent=ctx)
    return cmd.get_help(ctx)


def test_a_command_is_built_alone_and_reads_as_in_the_whole_app():
    from vru.cli import _narrowed

    full = typer.main.get_command(app)
    for name, cmd in full.commands.items():
        for argv in ([name], ["--home", "h", "--user", "ann", name, "x"], ["--home=h", name]):
            small = typer.main.get_command(_narrowed(app, argv))
            assert list(small.commands) == [name]
            assert [p.opts for p in small.params] == [p.opts for p in full.params]
            assert _help(small, name) == _help(full, name)
            for sub in getattr(cmd, "commands", {}):
                assert _help(small, name, sub) == _help(full, name, sub)
    # the options that take a value before the command are those the callback declares
    # (the script reads them too, before the CLI loads)
    from vru.cli import _GLOBAL_VALUES
    from vru.launch import _GLOBAL_VALUES as read_by_the_script
    declared = sorted(o for p in full.params if not p.is_flag for o in p.opts)
    assert declared == sorted(_GLOBAL_VALUES) == sorted(read_by_the_script)


@pytest.mark.parametrize("argv", [[], ["--help"], ["--home", "h"], ["ingets"], ["-h", "status"]])
def test_the_whole_app_where_no_command_is_named(argv):
    from vru.cli import _narrowed

    assert _narrowed(app, argv) is app


def test_a_misspelt_command_and_the_help_are_those_of_the_whole_app():
    got = _vru("", "ingets", "police-uk")
    assert got.returncode == 2 and "No such command 'ingets'" in got.stderr
    listed = _vru("", "--help").stdout
    assert all(name in listed for name in ("status", "ingest", "hotspots", "report"))
