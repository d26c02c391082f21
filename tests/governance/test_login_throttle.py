"""Sign-in throttling: growing waits, a lock, the same for unknown names, every try audited."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from vru.governance import audit
from vru.governance._common import dumps
from vru.governance.db import Database
from vru.governance.errors import AuthenticationError, LoginThrottled
from vru.governance.identity import (
    FREE_FAILURES,
    LOCK_AFTER,
    LOCK_SECONDS,
    MAX_DELAY_SECONDS,
    authenticate,
    init_admin,
    throttle_delay,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
RIGHT = "correct horse battery"
WRONG = "hunter2-wrong-guess"


@pytest.fixture
def ada(db: Database) -> Database:
    init_admin(db, "ada", RIGHT)
    return db


def attempt(db: Database, name: str, password: str, at: datetime) -> tuple[str, int | None]:
    """Try to sign in; say how it went: ("ok"|"failed"|"throttled", retry_after)."""
    try:
        authenticate(db, name, password, now=at)
    except LoginThrottled as exc:
        return "throttled", exc.retry_after
    except AuthenticationError:
        return "failed", None
    return "ok", None


def test_thirty_rapid_wrong_passwords_then_the_right_one_is_refused(ada: Database) -> None:
    outcomes = [attempt(ada, "ada", WRONG, T0)[0] for _ in range(30)]
    assert outcomes == ["failed"] * FREE_FAILURES + ["throttled"] * (30 - FREE_FAILURES)
    assert attempt(ada, "ada", RIGHT, T0) == ("throttled", 1)  # the password is not checked
    assert attempt(ada, "ada", RIGHT, T0 + timedelta(seconds=1))[0] == "ok"


def test_thirty_patient_wrong_passwords_lock_the_name(ada: Database) -> None:
    at = T0
    for _ in range(30):  # each one waits out the growing delay, so none is merely throttled
        at += timedelta(seconds=MAX_DELAY_SECONDS + 1)
        outcome, _ = attempt(ada, "ada", WRONG, at)
        assert outcome in ("failed", "throttled")
    at += timedelta(seconds=MAX_DELAY_SECONDS + 1)
    outcome, retry_after = attempt(ada, "ada", RIGHT, at)
    assert outcome == "throttled" and MAX_DELAY_SECONDS < retry_after <= LOCK_SECONDS
    with pytest.raises(LoginThrottled, match=r"try again in \d+ minutes \(at \d\d:\d\d:\d\d UTC\)"):
        authenticate(ada, "ada", RIGHT, now=at)
    assert attempt(ada, "ada", RIGHT, at + timedelta(seconds=retry_after)) == ("ok", None)


def test_delays_grow_then_the_name_locks(ada: Database) -> None:
    at, waits = T0, []
    assert attempt(ada, "ada", WRONG, at) == ("failed", None)
    for n in range(1, LOCK_AFTER + 1):  # after the n-th consecutive failure, at once:
        outcome, retry_after = attempt(ada, "ada", WRONG, at)
        if outcome == "failed":  # no wait: that was failure n + 1
            waits.append(0)
            continue
        waits.append(retry_after)
        at += timedelta(seconds=retry_after)
        if n < LOCK_AFTER:
            assert attempt(ada, "ada", WRONG, at) == ("failed", None)  # failure n + 1
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, LOCK_SECONDS]
    assert waits[:-1] == [throttle_delay(n) for n in range(1, LOCK_AFTER)]
    # one second before the wait ends is still too early, and says so
    assert attempt(ada, "ada", RIGHT, at - timedelta(seconds=1)) == ("throttled", 1)
    # the lock has ended: one more failure locks the name again at once
    assert attempt(ada, "ada", WRONG, at) == ("failed", None)
    assert attempt(ada, "ada", RIGHT, at) == ("throttled", LOCK_SECONDS)


def test_locked_name_refuses_the_right_password(ada: Database) -> None:
    at = T0
    for _ in range(LOCK_AFTER):
        assert attempt(ada, "ada", WRONG, at)[0] == "failed"
        at += timedelta(seconds=MAX_DELAY_SECONDS)
    assert attempt(ada, "ada", RIGHT, at)[0] == "throttled"
    assert attempt(ada, "ada", RIGHT, T0 + timedelta(days=1))[0] == "ok"


def test_success_resets_the_count(ada: Database) -> None:
    at = T0
    for _ in range(5):
        assert attempt(ada, "ada", WRONG, at)[0] == "failed"
        at += timedelta(seconds=MAX_DELAY_SECONDS)
    assert attempt(ada, "ada", RIGHT, at)[0] == "ok"
    assert [attempt(ada, "ada", WRONG, at)[0] for _ in range(FREE_FAILURES + 1)] == \
        ["failed"] * FREE_FAILURES + ["throttled"]


def test_unknown_names_are_throttled_the_same_way(ada: Database) -> None:
    def story(name: str) -> list[tuple[str, int | None, str]]:
        seen, at = [], T0
        for step in range(14):
            try:
                authenticate(ada, name, WRONG, now=at)
            except LoginThrottled as exc:
                seen.append(("throttled", exc.retry_after, str(exc)))
            except AuthenticationError as exc:
                seen.append(("failed", None, str(exc)))
            at += timedelta(seconds=step * 7)
        return seen

    real, ghost = story("ada"), story("nobody")
    assert real == ghost
    assert {s[0] for s in real} == {"failed", "throttled"}
    assert all("ada" not in s[2] for s in real)


def test_each_attempt_is_audited_and_the_password_never_is(ada: Database) -> None:
    assert attempt(ada, "ada", WRONG, T0)[0] == "failed"
    assert attempt(ada, "nobody", WRONG, T0)[0] == "failed"
    for _ in range(FREE_FAILURES):
        attempt(ada, "ada", WRONG + "!", T0)
    assert attempt(ada, "ada", RIGHT, T0 + timedelta(hours=1))[0] == "ok"
    logins = [e for e in audit.entries(ada) if e.action == "login"]
    assert [(e.actor, e.decision, e.detail["stage"]) for e in logins] == [
        ("ada", "deny", "login"), ("nobody", "deny", "login"),
        ("ada", "deny", "login"), ("ada", "deny", "login"), ("ada", "deny", "throttle"),
        ("ada", "allow", "login")]
    assert {(e.resource, e.purpose) for e in logins} == {("session", "administration")}
    assert "wrong password" in logins[0].reason and "no such user" in logins[1].reason
    assert logins[4].detail["retry_after"] >= 1
    everything = dumps([e.__dict__ for e in audit.entries(ada)])
    assert WRONG not in everything and RIGHT not in everything
    assert audit.verify(ada).ok


def test_parallel_guesses_cannot_slip_past_the_count(ada: Database) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: attempt(ada, "ada", WRONG, T0)[0], range(16)))
    assert outcomes.count("failed") == FREE_FAILURES
    assert outcomes.count("throttled") == 16 - FREE_FAILURES
    assert audit.verify(ada).ok


def test_names_no_user_can_have_are_throttled_too(ada: Database) -> None:
    huge = "x" * 10_000
    outcomes = [attempt(ada, huge, WRONG, T0)[0] for _ in range(FREE_FAILURES + 1)]
    assert outcomes == ["failed"] * FREE_FAILURES + ["throttled"]
    assert attempt(ada, huge[:64], WRONG, T0)[0] == "failed"  # a different name, its own count
    last = audit.entries(ada)[-2]
    assert len(last.actor) == 64 and last.detail["name_length"] == 10_000
    assert audit.verify(ada).ok
