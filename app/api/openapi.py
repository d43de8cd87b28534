"""/openapi.json as the truth of the public contract's REST part.

quart-schema builds the document from the routes; this provider adds, in one place, what a
generator or fuzzer needs to trust it:
- each route's answers as declared by `responds` (app/api/validation.py), plus the error
  statuses every route of its kind can answer, each with the error envelope (`Error`);
- bearer security exactly on the routes that run `authenticate` (every other route says
  `security: []`);
- path ids as positive 64-bit integers, and the settings-dependent limit on message content
  (MAX_MESSAGE_LENGTH);
- operation ids unique per path, and the v1 alias paths marked deprecated.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter
from quart_schema.openapi import OpenAPIProvider
from werkzeug.routing.converters import BaseConverter, IntegerConverter
from werkzeug.routing.rules import Rule

from app.api import auth
from app.api.responses import Error
from app.api.validation import (
    ERRORS_ATTRIBUTE,
    FORM_ATTRIBUTE,
    OPTIONAL_BODY_ATTRIBUTE,
    RESPONSES_ATTRIBUTE,
    Binary,
    Streamed,
    authenticate,
)
from app.ids import MAX_ID

# The v1 paths the contract v1.1 keeps as aliases of the canonical ones.
ALIASES = {"/messages/{message_id}/edit", "/messages/{message_id}/delete", "/chats/search"}
_DESCRIPTIONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 206: "Partial content (a Range)",
    302: "Found: `Location` is a presigned URL of the file, valid at most 5 minutes (S3 storage)",
    416: "`range_not_satisfiable`: the Range starts past the end of the file",
    401: "`unauthorized`: missing, invalid or expired credentials",
    403: "`forbidden`", 404: "`not_found` (also for what the caller may not see)",
    409: "`conflict`", 413: "`payload_too_large`: the body is over 1 MiB (an upload: over UPLOAD_MAX_BYTES or the quota)",
    422: "`validation_error`: `details` lists each bad field",
    429: "`rate_limited`, with `Retry-After`",
    500: "`internal`", 503: "`unavailable`: PostgreSQL or Redis cannot serve now",
}  # fmt: skip
_SLUG = re.compile(r"[^a-z0-9]+")


def requires_auth(app: Any, endpoint: str) -> bool:
    """Whether the route runs `authenticate` before its handler (its blueprint's hook)."""
    blueprint = endpoint.rpartition(".")[0]
    if authenticate in app.before_request_funcs.get(blueprint, []):
        return True
    return endpoint in auth.AUTHENTICATED


class ContractOpenAPI(OpenAPIProvider):
    def schema(self) -> dict[str, Any]:
        document = super().schema()
        schemas = document["components"]["schemas"]
        schemas["Error"] = TypeAdapter(Error).json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        schemas.update(schemas["Error"].pop("$defs", {}))
        return document

    def build_request_body(self, model: Any, source: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        body, definitions = super().build_request_body(model, source)
        # Message content's upper bound is a setting; the request models state only what never changes.
        for media in body["content"].values():
            content = media["schema"].get("properties", {}).get("content")
            if content is not None:
                content["maxLength"] = self._app.extensions["settings"].max_message_length
        return body, definitions

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, IntegerConverter):
            parameter["schema"] = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
        elif name == "session_id":
            parameter["schema"] = {"type": "string", "format": "uuid"}
        elif name == "emoji":
            parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 32}
            parameter["description"] = "One emoji (a single grapheme cluster of Unicode emoji, at most 32 bytes), URL-encoded."
        return parameter

    def build_querystring_parameters(self, model: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        # quart-schema looks for `required` in each property; JSON Schema lists it on the model.
        parameters, definitions = super().build_querystring_parameters(model)
        required = set(TypeAdapter(model).json_schema().get("required", []))
        for parameter in parameters:
            if parameter["name"] in required:
                parameter["required"] = True
        return parameters, definitions

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        declared: dict[int, Any] = getattr(func, RESPONSES_ATTRIBUTE, {})
        errors = set(getattr(func, ERRORS_ATTRIBUTE, ()))
        errors.add(500)
        if rule.endpoint != "health.health":
            errors.add(503)  # everything else reads PostgreSQL or Redis
        secured = requires_auth(self._app, rule.endpoint)
        if secured:
            errors.add(401)
        for path, operations in paths.items():
            for operation in operations.values():
                if rule.arguments or any(p["in"] == "query" for p in operation["parameters"]):
                    errors.add(422)
                if "requestBody" in operation:
                    errors.update((413, 422))
                    request_body = operation["requestBody"]
                    request_body["required"] = not getattr(func, OPTIONAL_BODY_ATTRIBUTE, False)
                    if getattr(func, FORM_ATTRIBUTE, False):
                        form = request_body["content"]["application/json"]
                        request_body["content"]["application/x-www-form-urlencoded"] = form
                responses: dict[str, Any] = {}
                for status, model in sorted(declared.items()):
                    response: dict[str, Any] = {"description": _DESCRIPTIONS.get(status, "")}
                    if model is Binary:
                        if status != 302:
                            response["content"] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
                    elif model is not None:
                        body, defs = self._schema_of(model.model if isinstance(model, Streamed) else model)
                        components.update(defs)
                        response["content"] = {"application/json": {"schema": body}}
                    responses[str(status)] = response
                for status in sorted(errors):
                    responses[str(status)] = {
                        "description": _DESCRIPTIONS.get(status, ""),
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    }
                operation["responses"] = responses
                operation["security"] = [{"bearer": []}] if secured else []
                if path in ALIASES:
                    operation["deprecated"] = True
        return paths, components

    @staticmethod
    def _schema_of(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        defs = schema.pop("$defs", {})
        if "title" in schema and "properties" in schema:  # a model: refer to it by name
            defs[schema["title"]] = schema
            return {"$ref": f"#/components/schemas/{schema['title']}"}, defs
        return schema, defs

    def operation_id(self, method: str, path: str, func: Any) -> str | None:
        # Unique per path: an alias shares its canonical route's handler.
        return f"{method.lower()}_{_SLUG.sub('_', path.lower()).strip('_')}"
