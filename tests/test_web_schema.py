"""schemathesis against the console's own /openapi.json: generated requests to every
documented operation, over a database filled by ``monitor run --once``, find no
server error (a 5xx, or a response the app could not produce)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.webdata import WebData, context, webdata  # noqa: F401

EXAMPLES = 40  # per operation: the whole run stays well under a minute


@pytest.fixture(scope="module")
def api_schema(webdata: WebData) -> Iterator[Any]:  # noqa: F811
    from monitor.web.app import build_web_app
    from monitor.web.auth import policy_for

    local = policy_for("127.0.0.1", {})
    # schemathesis' ASGI client calls itself "testserver": a name this machine answers to
    policy = dataclasses.replace(local, allowed_hosts=local.allowed_hosts | {"testserver"})
    app = build_web_app(context(webdata, policy))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.slow
def test_no_server_error(api_schema: Any) -> None:
    """Every documented operation, a few generated requests each (schemathesis' pytest
    plugin is not used: its parametrisation does not follow this pytest)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 11
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call_and_validate(checks=[not_a_server_error])
            statuses[response.status_code] += 1

        check()
    # the requests did reach the handlers: answers, and refusals of bad input
    assert statuses[200] > 20 and sum(n for s, n in statuses.items() if 400 <= s < 500) > 20
