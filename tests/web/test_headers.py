"""Security headers on every response, and a strict Content-Security-Policy with no outside
host (the optional tile host only, for images only)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from vru.service import BadRequest
from vru.web import WebSettings, create_app
from vru.web.app import csp

PATHS = ("/login", "/", "/map", "/times", "/api/me", "/api/map", "/openapi.json",
         "/static/app.css", "/static/map.js", "/static/vendor/maplibre-gl-csp.js",
         "/no-such-page")


def _directives(policy: str) -> dict[str, list[str]]:
    return {p.split()[0]: p.split()[1:] for p in policy.split(";") if p.strip()}


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_headers(clients, path):
    r = clients["ann"].get(path)
    assert r.status_code in (200, 404), (path, r.status_code)
    h = r.headers
    d = _directives(h["content-security-policy"])
    assert d["default-src"] == ["'self'"] and d["script-src"] == ["'self'"]
    assert d["object-src"] == ["'none'"] and d["frame-ancestors"] == ["'none'"]
    assert d["base-uri"] == ["'none'"] and d["form-action"] == ["'self'"]
    for sources in d.values():  # no other host, no inline code, no eval
        for s in sources:
            assert s in ("'self'", "'none'", "data:", "blob:"), (path, s)
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    if not path.startswith("/static/"):
        assert h["cache-control"] == "no-store"


def test_a_tile_url_allows_its_host_for_images_only():
    s = WebSettings(tile_url="https://tiles.example.org/{z}/{x}/{y}.png")
    d = _directives(csp(s))
    assert "https://tiles.example.org" in d["img-src"]
    others = [v for k, vs in d.items() if k != "img-src" for v in vs]
    assert not any("example.org" in v for v in others)
    with pytest.raises(BadRequest):
        WebSettings(tile_url="http://tiles.example.org/{z}/{x}/{y}.png")
    with pytest.raises(BadRequest):
        WebSettings(tile_url="https://tiles.example.org/x.png")


def test_the_tile_url_reaches_the_map_page(web_world):
    from tests.web.conftest import sign_in

    app = create_app(web_world.home, WebSettings(
        tile_url="https://tiles.example.org/{z}/{x}/{y}.png"), environ={})
    c = TestClient(app)
    assert sign_in(c, "ann").status_code == 303
    page = c.get("/map")
    assert "tiles.example.org" in page.text
    assert "tiles.example.org" in page.headers["content-security-policy"]
    app.state.sessions.close()


def test_settings_from_the_environment():
    s = WebSettings.from_env({"VRU_WEB_IDLE_MINUTES": "5", "VRU_WEB_ABSOLUTE_HOURS": "1",
                              "VRU_WEB_SECURE_COOKIES": "always"})
    assert (s.idle_minutes, s.absolute_hours, s.secure_cookies) == (5.0, 1.0, "always")
    with pytest.raises(BadRequest):
        WebSettings.from_env({"VRU_WEB_IDLE_MINUTES": "soon"})
    with pytest.raises(BadRequest):
        WebSettings.from_env({"VRU_WEB_SECURE_COOKIES": "maybe"})


def test_idle_setting_takes_effect(web_world):
    app = create_app(web_world.home, WebSettings(idle_minutes=0.5), environ={})
    assert app.state.sessions.idle == 30.0
    app.state.sessions.close()


def test_secure_cookie_setting_always(web_world):
    app = create_app(web_world.home, WebSettings(secure_cookies="always"), environ={})
    r = TestClient(app).get("/login")  # even over http (behind a TLS proxy)
    assert "Secure" in r.headers["set-cookie"]
    auto = create_app(web_world.home, WebSettings(), environ={})
    assert "Secure" not in TestClient(auto).get("/login").headers["set-cookie"]
    app.state.sessions.close()
    auto.state.sessions.close()
