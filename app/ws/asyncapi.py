"""/asyncapi.json: the WebSocket protocol as an AsyncAPI 3.0 document, built from the models
the gateway decodes client frames with (app/ws/protocol.py) and describes its own frames with
(app/ws/frames.py). The document describes the server: it receives client frames and sends
server frames; frames that answer another (message_ack, read_ack) are that operation's reply
and echo its `ref`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.realtime.codes import MEANING
from app.ws.frames import REPLIES, SERVER_FRAMES
from app.ws.protocol import FRAME_DATA

CHANNEL = "gateway"
REF = {"type": "string", "maxLength": 128, "description": "Echoed on the reply or error that answers the frame."}
_DESCRIPTION = """Frames are JSON text: `{"type", "data", "ref"?}`. Handshake: `Authorization: Bearer
<access_token>`, or `?ticket=<ws-ticket>` for browsers; optional `?device_id=`. Bad or missing
credentials: HTTP 401; over WS_MAX_PER_USER sockets: HTTP 429. Invalid JSON, an unknown type or
bad data gets an `error` frame (`validation_error`) and the connection stays open.

Close codes: """ + "; ".join(f"{code} {text}" for code, text in MEANING.items())


def client_key(kind: str) -> str:
    return f"client.{kind}"


def server_key(kind: str) -> str:
    return f"server.{kind}"


def _schemas() -> tuple[dict[str, Any], dict[str, str]]:
    """Component schemas of every data model, and each model's schema name."""
    models: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in set(FRAME_DATA.values())]
    models += [(m, "serialization") for m in set(SERVER_FRAMES.values())]
    refs, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    names = {model.__name__: value["$ref"].rsplit("/", 1)[1] for (model, _), value in refs.items()}
    return definitions.get("$defs", {}), names


def _frame(kind: str, schema_name: str, *, ref: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "type": {"const": kind},
        "data": {"$ref": f"#/components/schemas/{schema_name}"},
    }
    if ref:
        properties["ref"] = REF
    return {"type": "object", "required": ["type", "data"], "properties": properties, "additionalProperties": False}


def document(host: str) -> dict[str, Any]:
    schemas, names = _schemas()
    answering = set(REPLIES.values()) | {"error"}
    messages: dict[str, Any] = {}
    for kind, model in FRAME_DATA.items():
        messages[client_key(kind)] = {
            "name": kind,
            "title": f"{kind} (client to server)",
            "summary": (model.__doc__ or "").strip() or None,
            # A client may always send a ref; the server echoes it on the reply or error.
            "payload": _frame(kind, names[model.__name__], ref=True),
        }
    for kind, model in SERVER_FRAMES.items():
        messages[server_key(kind)] = {
            "name": kind,
            "title": f"{kind} (server to client)",
            "summary": (model.__doc__ or "").strip() or None,
            "payload": _frame(kind, names[model.__name__], ref=kind in answering),
        }
    for message in messages.values():
        if message["summary"] is None:
            del message["summary"]
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}
    operations: dict[str, Any] = {}
    for kind in FRAME_DATA:
        operation: dict[str, Any] = {
            "action": "receive",
            "channel": channel_ref,
            "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{client_key(kind)}"}],
        }
        if kind in REPLIES:
            operation["reply"] = {
                "channel": channel_ref,
                "messages": [
                    {"$ref": f"#/channels/{CHANNEL}/messages/{server_key(REPLIES[kind])}"},
                    {"$ref": f"#/channels/{CHANNEL}/messages/{server_key('error')}"},
                ],
            }
        operations[f"receive_{kind}"] = operation
    for kind in SERVER_FRAMES:
        operations[f"send_{kind}"] = {
            "action": "send",
            "channel": channel_ref,
            "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{server_key(kind)}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Messenger Core WebSocket gateway", "version": "1.2", "description": _DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {"this": {"host": host, "protocol": "ws", "pathname": "/ws"}},
        "channels": {
            CHANNEL: {
                "address": "/ws",
                "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in messages},
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {
                                "ticket": {"type": "string", "description": "A ws-ticket (browsers)."},
                                "device_id": {"type": "string", "minLength": 1, "maxLength": 64},
                            },
                        },
                        "headers": {
                            "type": "object",
                            "properties": {"Authorization": {"type": "string", "pattern": "^Bearer "}},
                        },
                    }
                },
                "x-close-codes": {str(int(code)): text for code, text in MEANING.items()},
            }
        },
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
