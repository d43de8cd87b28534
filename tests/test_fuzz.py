"""Schemathesis fuzzes every route the live server's
`/openapi.json` describes (valid and invalid data, authenticated as a real user) with all of
its checks (`--checks all`): no 5xx, every status, content type, body and header as
documented, schema-valid input accepted, invalid input rejected, auth enforced exactly where
documented, undocumented methods answered 405. The API it talks to runs with
RESPONSE_VALIDATION=strict, so a handler that drifts from its declared schema answers 500
here (and fails), never in production. Where a check cannot pass because of the contract
itself, SCHEMATHESIS_CONFIG below narrows it for that route and says why.

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

from tests.support.clients import PASSWORD
from tests.support.processes import Proc, start_api

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

# Hypothesis keeps caches in ./.hypothesis, which this project's pytest settings would then
# warn about (as an error); keep them outside the tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "messenger-core-hypothesis"))


LOGOUT_SESSIONS = 60  # sessions a generated logout may end (one each), made before fuzzing


# Narrowed checks, each for a reason of the contract's, not of the implementation:
SCHEMATHESIS_CONFIG: dict[str, Any] = {
    "operations": [
        {
            # Every /admin route is 403 to anyone but a server administrator, which the fuzzing
            # user is not (the contract, Users). First, as the first entry that matches applies.
            "include-path-regex": "^/admin/",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "422"]}},
        },
        {
            # A bot's username shares the users' namespace (409 when taken, as at registration),
            # a user owns at most BOTS_PER_USER bots (409), and a webhook URL whose host resolves
            # to a private address is 422 (the contract, Bots and webhooks). Before the
            # entries naming a method: an entry's filters are OR'ed.
            "include-path-regex": "^/bots",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "409", "422", "429"]}},
        },
        {
            # A wrong `current_password` is a schema-valid body the contract refuses with 422
            # `validation_error` naming that field (the fuzzer cannot know the password).
            "include-path": "/users/me/password",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "422", "429"]}},
        },
        {
            # "email: a valid address": email-validator (behind pydantic's EmailStr) refuses
            # special-use domains (RFC 6761: `.test`, `.invalid`, `.localhost`, ...) that JSON
            # Schema's `format: email` cannot exclude, so a generated address may get 422.
            "include-path": "/auth/register",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "409", "422", "429"]}},
        },
        {
            # `cursor` is opaque: only a value this server issued is valid, which no schema
            # can say; any other string is 422 naming `cursor` (the contract, Conventions: pages).
            "include-path-regex": "^/(chats|users/search|chats/search|messages|chats/[^/]+/pins|users/me/blocked)$",
            "include-method": "GET",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "422", "429"]}},
        },
        {
            # A direct chat with oneself is 422 (the contract, Chats), and the caller's own id is a
            # schema-valid member id (the fuzzing user is often id 1, the smallest one).
            "include-path": "/chats",
            "include-method": "POST",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "422", "429"]}},
        },
        {
            # "One emoji" is Unicode's emoji data, which no JSON Schema pattern carries: any
            # other string is 422 naming `emoji` (the contract, Messages).
            "include-path-regex": "^/messages/[^/]+/reactions/",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "409", "422", "429"]}},
        },
        {
            # `reply_to_id` must name an earlier message of the same chat: any other id is 422.
            "include-path": "/messages",
            "include-method": "POST",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "422", "429"]}},
        },
        {
            # Erasing the account needs its password (the contract, Users): a wrong one is 422
            # naming `password`, counted as a failed login (429 past the throttle). A profile's
            # avatar must be an image the caller uploaded that no message carries: any other id
            # is 422 naming `avatar_attachment_id`. (One regex: filters of one entry are OR'ed.)
            "include-path-regex": "^/users/me$",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "422", "429"]}},
        },
        {
            # Blocking oneself is 422 (the fuzzing user's own id is a schema-valid user id).
            "include-path-regex": "^/users/[^/]+/block$",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "422"]}},
        },
    ],
}


@pytest.fixture(scope="module")
def strict_api(cluster: Any, backing: Any) -> Any:
    """An API instance of its own that answers 500 on any response drifting from its schema
    (the cluster's worker delivers for it as for the others)."""
    api: Proc = start_api({**backing.env, "RESPONSE_VALIDATION": "strict"})
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def fuzz_target(strict_api: Any) -> dict[str, Any]:
    """The strict API and a real user's sessions: one for every call, spares for logouts.
    All logins happen here, before generated logins with bad passwords could throttle them."""
    base_url = strict_api.base_url
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
    config = schemathesis.Config.from_dict(SCHEMATHESIS_CONFIG)
    return schemathesis.openapi.from_url(f"{fuzz_target['base_url']}/openapi.json", config=config)


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
def test_fuzz_every_route_passes_every_schemathesis_check(case: Any, fuzz_target: dict[str, Any]) -> None:
    base_url, token = fuzz_target["base_url"], fuzz_target["token"]
    if case.path == "/auth/logout" and fuzz_target["spare"]:
        token = fuzz_target["spare"].pop()  # a logout ends this session, not the shared one
    headers = dict(case.headers or {})
    headers["Authorization"] = f"Bearer {token}"  # schemathesis fills in an empty one
    started = time.monotonic()
    response = case.call(base_url=base_url, headers=headers, session=_session)
    if os.environ.get("FUZZ_TRACE"):
        print(f"{case.method} {case.path} {response.status_code} {time.monotonic() - started:.3f}s {response.text[:80]}")
    # No `checks=`: every check schemathesis has, as configured above (`--checks all`).
    case.validate_response(response, headers=headers)
