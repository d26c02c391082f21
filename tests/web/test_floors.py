"""The web is a face: it imports the service and nothing below it (lake, analysis,
governance, geo, sources), so no route can go round a rule."""

from __future__ import annotations

import ast
from pathlib import Path

import vru.web

BELOW = ("vru.lake", "vru.analysis", "vru.governance", "vru.geo", "vru.sources", "vru.synth",
         "vru.data", "vru.linkage", "vru.report", "vru.cli")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_web_imports_only_the_service():
    files = list(Path(vru.web.__file__).parent.rglob("*.py"))
    assert len(files) >= 6
    for path in files:
        for name in _imports(path):
            if name.startswith("vru."):
                assert name.startswith(("vru.service", "vru.web")), (path.name, name)
            assert not name.startswith(BELOW), (path.name, name)
