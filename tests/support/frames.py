"""Every server frame a test client receives is checked against /asyncapi.json's schema for
its type (the document as app/ws/asyncapi.py builds it; tests/test_asyncapi.py shows the
served one is the same)."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema_rs

from app.ws.asyncapi import document, server_key


@cache
def _validator(kind: str) -> Any:
    components = document("localhost")["components"]
    if server_key(kind) not in components["messages"]:
        return None
    root = {"components": components, "$ref": f"#/components/messages/{server_key(kind)}/payload"}
    return jsonschema_rs.validator_for(root, validate_formats=True)


def frame_errors(frame: Any) -> list[str]:
    """Why `frame` is not a server frame of /asyncapi.json ([] when it is)."""
    kind = frame.get("type") if isinstance(frame, dict) else None
    validator = _validator(kind) if isinstance(kind, str) else None
    if validator is None:
        return [f"no server frame of type {kind!r} in /asyncapi.json"]
    return [f"{'/'.join(map(str, e.instance_path)) or '(frame)'}: {e.message}" for e in validator.iter_errors(frame)]


def check_frame(frame: Any) -> None:
    errors = frame_errors(frame)
    assert not errors, f"frame not in /asyncapi.json: {errors}: {str(frame)[:500]}"
