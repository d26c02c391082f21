"""schemathesis against /openapi.json, in process: no generated request, signed in as an
analyst, a task-force member or not at all, makes the server fail (5xx)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from tests.service.world import PW

#: examples per operation and user: the whole fuzz stays well under a minute
EXAMPLES = 6


@pytest.fixture(scope="module")
def operations(app) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 15
    return ops


@pytest.mark.slow
@pytest.mark.parametrize("user", [None, "ann", "tia"])
def test_no_generated_request_fails_the_server(app, operations, user):
    headers = {}
    if user:
        token, _ = app.state.sessions.sign_in(user, PW)
        headers = {"Cookie": f"vru_session={token}"}
    seen: dict[int, int] = {}

    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:  # noqa: ANN001
            response = case.call(headers=headers)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            assert response.status_code < 500, (case.method, case.path, case.query,
                                                 response.text[:300])
            if user is None:  # only the sign-in answer, or a malformed request refused first
                assert response.status_code in (401, 422), (case.path, response.status_code)

        fuzz()
    if user:
        assert seen.get(200, 0) > 0  # the fuzz reached the service, not only its refusals
