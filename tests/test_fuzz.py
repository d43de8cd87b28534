"""Issue 14 item 11: no input gets a 500. Schemathesis fuzzes every route the live server's
`/openapi.json` describes (valid and invalid data, authenticated as a real user) and any 5xx
fails the test. Only the server-error check runs here: OpenAPI conformance is issue 15.

FUZZ_EXAMPLES sets the examples per operation (default 25, well under two minutes in all)."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error

from tests.support.clients import PASSWORD

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

# Hypothesis keeps caches in ./.hypothesis, which this project's pytest settings would then
# warn about (as an error); keep them outside the tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "messenger-core-hypothesis"))


LOGOUT_SESSIONS = 60  # sessions a generated logout may end (one each), made before fuzzing


@pytest.fixture
def fuzz_target(cluster: Any) -> dict[str, Any]:
    """The live API and a real user's sessions: one for every call, spares for logouts.
    All logins happen here, before generated logins with bad passwords could throttle them."""
    base_url = cluster.api.base_url
    name = f"fuzz_{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=base_url, timeout=15.0) as client:
        r = client.post("/auth/register", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})
        assert r.status_code == 201, r.text
        tokens = []
        for _ in range(1 + LOGOUT_SESSIONS):
            r = client.post("/auth/login", json={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens.append(str(r.json()["access_token"]))
    return {"base_url": base_url, "token": tokens[0], "spare": tokens[1:]}


@pytest.fixture
def api_schema(fuzz_target: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_target['base_url']}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


_session = requests.Session()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_fuzz_every_route_answers_without_a_server_error(case: Any, fuzz_target: dict[str, Any]) -> None:
    base_url, token = fuzz_target["base_url"], fuzz_target["token"]
    if case.path == "/auth/logout" and fuzz_target["spare"]:
        token = fuzz_target["spare"].pop()  # a logout ends this session, not the shared one
    headers = dict(case.headers or {})
    headers["Authorization"] = f"Bearer {token}"  # schemathesis fills in an empty one
    started = time.monotonic()
    response = case.call(base_url=base_url, headers=headers, session=_session)
    if os.environ.get("FUZZ_TRACE"):
        print(f"{case.method} {case.path} {response.status_code} {time.monotonic() - started:.3f}s {response.text[:80]}")
    case.validate_response(response, checks=[not_a_server_error], headers=headers)
