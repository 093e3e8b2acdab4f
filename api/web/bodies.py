"""Request bodies, checked against the OpenAPI document's own schemas (jsonschema, 2020-12).

A refused body gets one sentence naming the field and the rule, never the value sent (a
token may be in it).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import flask
import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from api.core.text import counted
from api.errors import InvalidRequest
from api.web.openapi import SCHEMAS


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = {"components": {"schemas": SCHEMAS}, "$ref": f"#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema)


def read(name: str, *, optional: bool = False) -> dict[str, Any]:
    """This request's JSON body, valid against components.schemas[`name`]."""
    request = flask.request
    if optional and not request.get_data(cache=True):
        return {}
    try:
        data = request.get_json(silent=True, force=True)
    except RecursionError:  # nesting deeper than the JSON decoder's stack
        data = None
    if not isinstance(data, dict):
        raise InvalidRequest(
            "The request body must be a JSON object.",
            action="Send Content-Type: application/json with an object body.",
        )
    error = best_match(_validator(name).iter_errors(data))
    if error is not None:
        raise InvalidRequest(describe(error), action="See /openapi.json for the body's shape.")
    return data


def describe(error: ValidationError) -> str:
    """A sentence about the failed rule that never quotes the value sent."""
    where = ".".join(str(part) for part in error.absolute_path) or "the body"
    rule = error.validator
    if rule == "required":
        missing = [k for k in error.validator_value if k not in (error.instance or {})]
        return f"'{missing[0] if missing else where}' is required in {where}."
    if rule == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        return f"{where} has a field this API does not know; allowed: {', '.join(known)}."
    if rule in ("enum", "const"):
        allowed = error.validator_value if rule == "enum" else [error.validator_value]
        return f"'{where}' must be one of: {', '.join(map(str, allowed))}."
    if rule == "type":
        kinds = error.validator_value
        kinds = " or ".join(kinds) if isinstance(kinds, list) else kinds
        return f"'{where}' must be of type {kinds}."
    limits = {"minimum": "at least", "maximum": "at most", "minLength": "at least",
              "maxLength": "at most"}  # fmt: skip
    if rule in limits:
        limit = error.validator_value
        if rule.endswith("Length"):
            limit = counted(limit, "character") + " long"
        return f"'{where}' must be {limits[rule]} {limit}."
    if rule == "pattern" and error.schema.get("description"):
        return f"'{where}' must be {error.schema['description']}."
    return f"'{where}' is not valid ({rule})."
