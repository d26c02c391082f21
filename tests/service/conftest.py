"""Fixtures of the service tests: the small governed lake of `tests.service.world`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.service.world import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The small lake, built once per test module."""
    w = build_world(tmp_path_factory.mktemp("service"))
    yield w
    for s in w.sessions.values():
        s.close()
    w.owner.close()
