"""`vru serve` and the demo's sign-ins, through the real command line."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request

import pytest
from tests.service.world import SRC
from tests.web.conftest import free_port

from vru.service import SignInError, open_session
from vru.service.demologins import DEMO_USERS, FILE, ensure_demo_logins


def test_demo_logins_one_per_role_in_an_owner_only_file(web_world):
    logins, path = ensure_demo_logins(web_world.owner)
    assert {d.role for d in logins} == {r for _, r in DEMO_USERS}
    assert path.name == FILE and stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for d in logins:
        assert d.password in text and len(d.password) >= 16
        s = open_session(web_world.home, user=d.name, password=d.password, environ={})
        assert s.role.value == d.role
        s.close()
    tf = next(d for d in logins if d.role == "task_force_member")
    assert tf.area == "A"
    again, _ = ensure_demo_logins(web_world.owner)  # a new demo run: new passwords
    old = {d.name: d.password for d in logins}
    assert all(d.password != old[d.name] for d in again)
    with pytest.raises(SignInError):
        open_session(web_world.home, user=tf.name, password=tf.password, environ={})


def test_demo_logins_are_for_admins_only(web_world):
    from vru.service import Denied

    with pytest.raises(Denied):
        ensure_demo_logins(web_world.session("ann"))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRU_")}
    env["PYTHONPATH"] = SRC
    return env


def _started(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(proc.stderr.read()) from None
            time.sleep(0.2)


@pytest.mark.slow
def test_vru_serve_answers_on_its_port(web_world):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vru.cli", "--home", str(web_world.home),
                             "serve", "--port", str(port)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _started(proc, port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as r:
            page = r.read().decode()
            assert 'name="username"' in page and 'name="password"' in page
            assert "csrf_token" in page
            assert "default-src 'self'" in r.headers["content-security-policy"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json") as r:
            assert b'"/api/map"' in r.read()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_two_worker_processes_share_sign_ins_and_sign_outs(web_world):
    import re

    import httpx
    from tests.service.world import PW

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vru.cli", "--home", str(web_world.home),
                             "serve", "--port", str(port), "--workers", "2"], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _started(proc, port)
        base = f"http://127.0.0.1:{port}"
        c = httpx.Client(base_url=base)
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        assert c.post("/login", data={"username": "ann", "password": PW,
                                      "csrf_token": token}).status_code in (200, 303)
        cookie = c.cookies["vru_session"]
        # fresh connections land on either process: every one knows the sign-in
        for _ in range(24):
            with httpx.Client(base_url=base, cookies={"vru_session": cookie}) as one:
                assert one.get("/api/me").json()["user"] == "ann"
        csrf = c.get("/api/me").json()["csrf_token"]
        assert c.post("/logout", headers={"x-csrf-token": csrf},
                      data={"csrf_token": csrf}).status_code in (200, 303)
        for _ in range(12):  # signed out in one process: refused by both
            with httpx.Client(base_url=base, cookies={"vru_session": cookie}) as one:
                assert one.get("/api/me").status_code == 401
    finally:
        proc.terminate()
        proc.wait(20)


def test_vru_serve_without_a_home_says_what_to_do(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(tmp_path / "none"),
                        "serve", "--port", "1"], env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "demo --no-serve" in r.stderr


def test_serve_and_demo_help_teach():
    r = subprocess.run([sys.executable, "-m", "vru.cli", "serve", "--help"], env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--port" in r.stdout and "/login" in r.stdout
    r = subprocess.run([sys.executable, "-m", "vru.cli", "demo", "--help"], env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert "--no-serve" in r.stdout
