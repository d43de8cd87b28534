"""/openapi.json is the contract's truth (the contract, Conventions), and `responds`
catches a handler that drifts from its declared schema. In-process: the document is built
from the routes without PostgreSQL or Redis; the live fuzz run is tests/test_fuzz.py."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from app.api import errors
from app.api.responses import Message
from app.api.validation import responds
from app.config import Settings
from app.server import create_app

PUBLIC = {("post", "/auth/register"), ("post", "/auth/login"), ("post", "/auth/refresh"), ("get", "/health"), ("get", "/ready")}


def _settings(**overrides: Any) -> Settings:
    return Settings(
        database_url="postgres://nobody@127.0.0.1:1/none",
        redis_url="redis://127.0.0.1:1/0",
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        **overrides,
    )


async def _document(**overrides: Any) -> dict[str, Any]:
    app = create_app(_settings(**overrides))
    r = await app.test_client().get("/openapi.json")
    assert r.status_code == 200
    return await r.get_json()  # type: ignore[no-any-return]


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


async def test_openapi_every_route_documents_its_answers_and_the_error_envelope():
    doc = await _document()
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    for method, path, op in _operations(doc):
        statuses = {int(s) for s in op["responses"]}
        assert any(200 <= s < 300 for s in statuses), (method, path)
        assert 500 in statuses, (method, path)
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            elif int(status) == 302:
                assert "content" not in response, (method, path, status)
            elif int(status) != 204:
                media = "*/*" if path.startswith("/attachments/") else "application/json"
                assert "schema" in response["content"][media], (method, path, status)
    ops = {(m, p): op for m, p, op in _operations(doc)}
    assert {"404", "409", "422", "401"} <= set(ops[("patch", "/messages/{message_id}")]["responses"])
    assert {"201", "200", "429"} <= set(ops[("post", "/messages")]["responses"])
    assert "204" in ops[("post", "/auth/logout")]["responses"]
    assert ops[("post", "/auth/logout")]["requestBody"]["required"] is False
    login = ops[("post", "/auth/login")]["requestBody"]
    assert login["required"] is True
    assert set(login["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    assert len({op["operationId"] for _, _, op in _operations(doc)}) == len(_operations(doc))


async def test_openapi_bearer_security_exactly_where_the_contract_needs_it():
    doc = await _document()
    assert "security" not in doc  # each operation says its own
    for method, path, op in _operations(doc):
        expected = [] if (method, path) in PUBLIC else [{"bearer": []}]
        assert op["security"] == expected, (method, path)
    assert {p for p in doc["paths"]} >= {"/messages/{message_id}", "/users/search", "/chats/search"}
    for hidden in ("/docs", "/openapi.json", "/metrics"):
        assert hidden not in doc["paths"]


async def test_openapi_marks_required_parameters_and_states_the_server_limits():
    doc = await _document(max_message_length=777)
    ops = {(m, p): op for m, p, op in _operations(doc)}
    params = {p["name"]: p for p in ops[("get", "/messages")]["parameters"]}
    assert params["chat_id"]["required"] is True and params["chat_id"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["minimum"] == 1 and params["limit"]["schema"]["maximum"] == 200
    assert not params["cursor"].get("required")
    for path in ("/users/search", "/chats/search"):
        q = {p["name"]: p for p in ops[("get", path)]["parameters"]}["q"]
        assert q["required"] is True and q["schema"]["minLength"] == 1
    message_id = ops[("delete", "/messages/{message_id}")]["parameters"][0]["schema"]
    assert message_id == {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
    def body(method: str, path: str) -> dict[str, Any]:
        return ops[(method, path)]["requestBody"]["content"]["application/json"]["schema"]["properties"]  # type: ignore[no-any-return]

    for method, path in (("post", "/messages"), ("patch", "/messages/{message_id}"), ("patch", "/messages/{message_id}/edit")):
        # A send may be "" when it carries attachments (the service checks across the fields).
        assert body(method, path)["content"].get("minLength", 0) == (0 if method == "post" else 1)
        assert body(method, path)["content"]["maxLength"] == 777
    register = body("post", "/auth/register")
    assert (register["username"]["minLength"], register["username"]["maxLength"]) == (3, 32)
    assert register["username"]["pattern"] == "^[A-Za-z0-9_.-]+$"
    assert (register["password"]["minLength"], register["password"]["maxLength"]) == (8, 128)
    for v1 in ("/messages/{message_id}/edit", "/messages/{message_id}/delete", "/chats/search"):
        assert all(op["deprecated"] for op in doc["paths"][v1].values())


def _drifting_app(mode: str) -> Quart:
    app = Quart(__name__)
    app.config["RESPONSE_VALIDATION"] = mode
    errors.install(app)

    @app.get("/ok")
    @responds(Message)
    async def ok() -> dict[str, Any]:
        return {"id": 1, "chat_id": 1, "seq": 1, "sender_id": 1, "client_msg_id": None, "content": "x",
                "created_at": "2026-02-08T18:10:12.345Z", "edited_at": None, "is_deleted": False,
                "delivered_at": None, "read_at": None, "reply_to": None, "mentions": [], "reactions": [],
                "attachments": [], "pinned": False, "expires_at": None}  # fmt: skip

    @app.get("/extra")
    @responds(Message)
    async def extra() -> dict[str, Any]:
        return {**(await ok()), "secret": "leaked"}

    @app.get("/wrong-type")
    @responds(Message)
    async def wrong_type() -> dict[str, Any]:
        return {**(await ok()), "seq": "1"}

    @app.get("/undeclared-status")
    @responds(None, 204)
    async def undeclared_status() -> tuple[dict[str, Any], int]:
        return {"status": "ok"}, 200

    return app


@pytest.mark.parametrize("path", ["/extra", "/wrong-type", "/undeclared-status"])
async def test_responds_turns_a_drift_into_500_in_strict_mode_only(path):
    strict = await _drifting_app("strict").test_client().get(path)
    assert strict.status_code == 500
    assert (await strict.get_json())["error"]["code"] == "internal"
    for mode in ("log", "off"):
        assert (await _drifting_app(mode).test_client().get(path)).status_code in (200, 204)
    assert (await _drifting_app("strict").test_client().get("/ok")).status_code == 200
