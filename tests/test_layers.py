"""The floors of docs/DESIGN.md, checked on the source: every import of a vru module, at the
top of a file or inside a function, goes down (or stays in its room), and faces ask only the
service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vru"

#: Room -> floor, as in docs/DESIGN.md's layout. ``data`` holds the shipped assets.
FLOORS = {
    "data": 0,
    "sources": 1, "governance": 1, "geo": 1,
    "lake": 2, "synth": 2,
    "analysis": 3,
    "service": 4,
    "cli": 5, "web": 5, "report": 5, "launch": 5, "__init__": 5, "__main__": 5,
}
#: Faces reach the lake, the analyses and governance only through the service.
FACES = {"cli", "web", "report", "launch", "__init__", "__main__"}
#: Rooms of one floor that may use each other, one way only (no circle): the CLI starts the
#: web server and writes the briefing, both faces over the same service; the script
#: (`launch`, and ``python -m vru``) starts the CLI.
SIDEWAYS = {("cli", "web"), ("cli", "report"), ("launch", "cli"), ("__main__", "launch"),
            ("sources", "geo"), ("sources", "governance"), ("governance", "geo")}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_of(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 2:
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, vru module) of every import in the file, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_of(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            # a bare `import vru` reads the package's version, not a room
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("vru.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this package
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == "vru":  # `from vru import x`: x is the room
                found += [(node.lineno, f"vru.{a.name}") for a in node.names]
            elif target.startswith("vru."):
                found.append((node.lineno, target))
    return found


def _violations() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:  # alembic scripts, run by alembic
            continue
        module = _module_of(path)
        room = _room(module)
        if room not in FLOORS:
            bad.append(f"{path.relative_to(SRC)}: room {room!r} has no floor in FLOORS")
            continue
        for line, target in _imports(path):
            other = _room(target)
            if other == room or other not in FLOORS:
                continue
            where = f"{path.relative_to(SRC)}:{line} imports {target}"
            if room in FACES:
                if other not in ("service", "data") and (room, other) not in SIDEWAYS:
                    bad.append(f"{where}: a face asks the service only")
            elif FLOORS[other] > FLOORS[room]:
                bad.append(f"{where}: floor {FLOORS[room]} imports floor {FLOORS[other]}")
            elif FLOORS[other] == FLOORS[room] and (room, other) not in SIDEWAYS:
                bad.append(f"{where}: sideways on floor {FLOORS[room]} not allowed")
    return bad


def test_every_import_goes_down_a_floor():
    assert _violations() == []


@pytest.mark.parametrize(("room", "other"), sorted(SIDEWAYS))
def test_sideways_imports_make_no_circle(room, other):
    """A pair allowed sideways is used one way, or the rooms import each other in a circle."""
    used = set()
    for path in SRC.rglob("*.py"):
        r = _room(_module_of(path))
        for _, target in _imports(path):
            used.add((r, _room(target)))
    if (room, other) in used and (other, room) in used:
        pytest.fail(f"{room} and {other} import each other")


def test_the_check_sees_a_face_that_reaches_past_the_service(tmp_path, monkeypatch):
    """The checker itself: a planted face import of the lake is reported."""
    face = SRC / "web"
    assert face.is_dir() or (SRC / "cli.py").is_file()
    planted = ast.parse("from vru.lake.store import Store\n")
    node = planted.body[0]
    assert isinstance(node, ast.ImportFrom) and node.module == "vru.lake.store"
    fake = tmp_path / "vru" / "cli.py"
    fake.parent.mkdir()
    fake.write_text("from vru.lake.store import Store\nfrom vru import service\n")
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path / "vru")
    assert _violations() == ["cli.py:1 imports vru.lake.store: a face asks the service only"]
