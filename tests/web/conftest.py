"""Fixtures of the dashboard tests: the small governed lake of `tests.service.world`, the app
on it, signed-in clients per user, and a real uvicorn server on a loopback port."""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from tests.service.world import PW, World, build_world

from vru.web import WebSettings, create_app

#: Screenshots and other artefacts of the browser tests (outside git).
ARTEFACTS = Path(os.environ.get("VRU_TEST_ARTEFACTS",
                                Path(tempfile.gettempdir()) / "vru-web-artefacts"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


@pytest.fixture(scope="session")
def web_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("web"))
    yield w
    for s in w.sessions.values():
        s.close()
    w.owner.close()


@pytest.fixture(scope="session")
def app(web_world: World):
    a = create_app(web_world.home, WebSettings(), environ={})
    yield a
    a.state.sessions.close()


def login_csrf(client: TestClient) -> str:
    """GET /login and return the hidden CSRF field (the cookie is kept by the client)."""
    r = client.get("/login")
    assert r.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)


def sign_in(client: TestClient, user: str, password: str = PW, **form: str):
    token = login_csrf(client)
    return client.post("/login", data={"username": user, "password": password,
                                       "csrf_token": token, **form}, follow_redirects=False)


@pytest.fixture(scope="session")
def clients(app) -> dict[str, TestClient]:
    """One signed-in client per user of the world (built lazily)."""

    class Clients(dict):
        def __missing__(self, user: str) -> TestClient:
            c = TestClient(app)
            r = sign_in(c, user)
            assert r.status_code == 303, r.text
            self[user] = c
            return c

    return Clients()


def csrf_of(client: TestClient) -> str:
    return client.get("/api/me").json()["csrf_token"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app served by uvicorn in a thread, on a free loopback port."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def live(app) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server
