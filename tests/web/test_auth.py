"""Signing in and out: cookies, CSRF, expiry, throttling, purposes — tried as an attacker."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.service.world import PW
from tests.web.conftest import csrf_of, login_csrf, sign_in

from vru.service.websessions import SessionStore


def test_login_sets_an_httponly_lax_cookie_and_reaches_the_overview(app, web_world):
    c = TestClient(app)
    r = sign_in(c, "ann")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "vru_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    page = c.get("/")
    assert page.status_code == 200 and "ann" in page.text and "Overview" in page.text
    entries = [e for e in web_world.entries("ann") if e.action == "login"]
    assert entries and entries[-1].decision == "allow"


def test_cookie_is_secure_over_https(app):
    c = TestClient(app, base_url="https://testserver")
    r = sign_in(c, "ann")
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
    assert c.get("/").headers["strict-transport-security"]


def test_wrong_password_is_refused_audited_and_leaks_nothing(app, web_world):
    c = TestClient(app)
    r = sign_in(c, "wes", "not the password")
    assert r.status_code == 401 and "vru_session" not in r.headers.get("set-cookie", "")
    r2 = sign_in(TestClient(app), "nobody-at-all", "x")
    assert r2.status_code == 401
    # the same words for an unknown name and a wrong password: no user enumeration
    msg = re.search(r'role="alert"><p>([^<]+)', r.text).group(1)
    msg2 = re.search(r'role="alert"><p>([^<]+)', r2.text).group(1)
    assert msg.split(";")[0] == msg2.split(";")[0]
    denied = [e for e in web_world.entries("wes") if e.action == "login"]
    assert denied and denied[-1].decision == "deny"
    assert "not the password" not in str([e.detail for e in denied])


def test_repeated_failures_are_throttled_even_with_the_right_password(app):
    c = TestClient(app)
    for _ in range(4):
        sign_in(c, "dan", "wrong")  # dan is disabled too; the throttle counts per name
    r = sign_in(c, "eve", "wrong")
    for _ in range(4):
        r = sign_in(c, "eve", "wrong")
    r = sign_in(c, "eve", PW)
    assert r.status_code == 401 and "wait" in r.text.lower()


def test_login_without_the_forms_token_is_refused(app):
    c = TestClient(app)
    r = c.post("/login", data={"username": "ann", "password": PW}, follow_redirects=False)
    assert r.status_code == 400
    token = login_csrf(c)
    c.cookies.set("vru_login", "attacker-chosen")
    r = c.post("/login", data={"username": "ann", "password": PW, "csrf_token": token},
               follow_redirects=False)
    assert r.status_code == 400


def test_pages_send_strangers_to_login_and_the_api_answers_401(app):
    c = TestClient(app)
    for path in ("/", "/map", "/times", "/near-repeats", "/areas", "/data", "/governance"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    for path in ("/api/me", "/api/map", "/api/counts?table=incidents&by=lsoa", "/api/times",
                 "/api/export?format=csv", "/api/audit"):
        assert c.get(path).status_code == 401, path
    c.cookies.set("vru_session", "forged-token")
    assert c.get("/api/me").status_code == 401


def test_state_changes_need_the_csrf_token(app):
    c = TestClient(app)
    assert sign_in(c, "ann").status_code == 303
    assert c.post("/purpose", data={"purpose": "research"}).status_code == 403
    assert c.post("/api/purpose", data={"purpose": "research"},
                  headers={"x-csrf-token": "guess"}).status_code == 403
    assert c.post("/logout", follow_redirects=False).status_code == 403
    assert c.get("/api/me").status_code == 200  # still signed in
    token = csrf_of(c)
    r = c.post("/api/purpose", data={"purpose": "research"}, headers={"x-csrf-token": token})
    assert r.status_code == 200 and r.json()["purpose"] == "research"
    r = c.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/api/me").status_code == 401


def test_a_purpose_the_role_may_not_declare_is_refused(app):
    c = TestClient(app)
    assert sign_in(c, "vic").status_code == 303
    assert c.get("/api/me").json()["purpose"] == "public_information"
    r = c.post("/api/purpose", data={"purpose": "research"},
               headers={"x-csrf-token": csrf_of(c)})
    assert r.status_code == 403
    r = sign_in(TestClient(app), "tia", purpose="research")
    assert r.status_code == 401 and "declares one of" in r.text


def test_idle_and_absolute_expiry(web_world):
    now = [1000.0]
    store = SessionStore(web_world.home, idle=60, absolute=300, environ={},
                         clock=lambda: now[0])
    token, _ = store.sign_in("ann", PW)
    now[0] += 59
    assert store.get(token) is not None  # the idle clock restarts
    now[0] += 59
    assert store.get(token) is not None
    now[0] += 61
    assert store.get(token) is None and len(store) == 0  # idle too long
    token, _ = store.sign_in("ann", PW)
    for _ in range(6):  # busy all along, but past the absolute limit
        now[0] += 55
        alive = store.get(token)
    assert alive is None
    store.close()


def test_the_store_keeps_no_token(web_world):
    store = SessionStore(web_world.home, environ={})
    token, _ = store.sign_in("ann", PW)
    assert token not in repr(store._by_hash) and token not in str(list(store._by_hash))
    store.close()


def test_signing_in_again_ends_the_old_session(app):
    c = TestClient(app)
    assert sign_in(c, "ann").status_code == 303
    old = c.cookies.get("vru_session")
    assert sign_in(c, "ann").status_code == 303
    new = c.cookies.get("vru_session")
    assert new != old
    stale = TestClient(app)
    stale.cookies.set("vru_session", old)
    assert stale.get("/api/me").status_code == 401


def test_the_menu_offers_what_the_role_may_see(clients):
    assert 'href="/times"' not in clients["vic"].get("/").text
    assert 'href="/times"' in clients["tia"].get("/").text
    r = clients["pat"].get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/data"


def test_two_stores_of_one_home_act_as_one(web_world):
    """What two worker processes see: one store signs in, the other knows the browser; a
    sign-out, a new purpose or a disabled account in one holds in the other at once."""
    from vru.service import admin

    a = SessionStore(web_world.home, environ={})
    b = SessionStore(web_world.home, environ={})
    try:
        token, web_a = a.sign_in("ann", PW)
        web_b = b.get(token)
        assert web_b is not None and web_b.session is not web_a.session
        assert (web_b.session.name, web_b.csrf, web_b.purpose) == ("ann", web_a.csrf,
                                                                  web_a.purpose)
        a.set_purpose(web_a, "research")
        assert b.get(token).purpose == "research" == b.get(token).session.purpose
        b.sign_out(token)
        assert a.get(token) is None and b.get(token) is None and len(a) == 0
        # a forged token, or one the attacker guessed from the table (only hashes are kept)
        assert b.get("x" * 43) is None
        row_hash = a._hash(token)
        assert a.get(row_hash) is None

        token, _ = a.sign_in("ann", PW)
        admin.add_user(web_world.owner, "gone-soon", "analyst", password=PW)
        token2, _ = a.sign_in("gone-soon", PW)
        admin.disable_user(web_world.owner, "gone-soon")
        assert b.get(token2) is None  # another process cannot resume a disabled account
        assert a.get(token2) is None  # and disabling signed it out where it was signed in
        assert b.get(token) is not None
    finally:
        a.close()
        b.close()


def test_resuming_needs_the_browsers_token(web_world):
    """Another process resumes a sign-in from the token the browser holds, never from a name
    or from what the table keeps."""
    from vru.service.session import resume_session

    store = SessionStore(web_world.home, environ={})
    try:
        token, _ = store.sign_in("ann", PW)
        now = store.clock()
        ages = {"now": now, "idle": store.idle, "absolute": store.absolute, "environ": {}}
        for forged in ("ann", store._hash(token), "x" * 43, ""):
            assert resume_session(web_world.home, forged, **ages) is None
        resumed = resume_session(web_world.home, token, **ages)
        assert resumed is not None and resumed[0].name == "ann"
        resumed[0].close()
        # past its idle time the token resumes nothing, even before a sweep deletes it
        late = {**ages, "now": now + store.idle + 1}
        assert resume_session(web_world.home, token, **late) is None
    finally:
        store.close()


def test_an_account_disabled_while_signed_in_is_refused_at_its_next_request(app, web_world):
    from vru.service import admin

    admin.add_user(web_world.owner, "short-lived", "analyst", password=PW)
    c = TestClient(app)
    assert sign_in(c, "short-lived").status_code == 303
    assert c.get("/api/times").status_code == 200
    admin.disable_user(web_world.owner, "short-lived")
    assert c.get("/api/times").status_code == 401
    assert c.get("/api/me").status_code == 401
