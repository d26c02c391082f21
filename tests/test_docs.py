"""Documentation stays true: every command of the CLI is shown in the README's tour."""

from __future__ import annotations

from pathlib import Path

import typer

from vru.cli import app

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(t: typer.Typer, prefix: str = "vru") -> list[str]:
    found = [f"{prefix} {c.name or c.callback.__name__.replace('_', '-')}"
             for c in t.registered_commands]
    for g in t.registered_groups:
        found += _commands(g.typer_instance, f"{prefix} {g.name}")
    return found


def test_every_command_is_in_the_readme():
    commands = _commands(app)
    assert len(commands) > 15
    missing = [c for c in commands if c.split(" ", 1)[1] not in README]
    assert missing == [], f"document these in README.md: {missing}"
