"""Check JSON bodies against the providers' official OpenAPI specs in ../shared/reference."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

# CI and every checkout keep the shared reference folder beside the repository.
REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
SPECS = {
    "digitalocean": REFERENCE / "digitalocean/bundle/digitalocean-billing.openapi.yaml",
    "doit": REFERENCE / "doit/bundle/doit-invoices.openapi.yaml",
}


@cache
def spec(name: str) -> dict[str, Any]:
    path = SPECS[name]
    if not path.exists():
        pytest.skip(f"the reference spec {path} is not beside this checkout")
    return yaml.safe_load(path.read_text())  # type: ignore[no-any-return]


def response_schema(name: str, path: str, status: str = "200") -> dict[str, Any]:
    response = spec(name)["paths"][path]["get"]["responses"][status]
    return response["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


def merged(schema: dict[str, Any]) -> dict[str, Any]:
    """One flat schema out of allOf/anyOf/oneOf: type, every declared property, allOf's required."""
    flat = {
        "type": schema.get("type"),
        "properties": dict(schema.get("properties", {})),
        "required": list(schema.get("required", [])),
        "items": schema.get("items", {}),
        "enum": schema.get("enum"),
        "open": bool(schema.get("additionalProperties")),
    }
    for combinator in ("allOf", "anyOf", "oneOf"):
        for branch in map(merged, schema.get(combinator, [])):
            flat["type"] = flat["type"] or branch["type"]
            flat["properties"].update(branch["properties"])
            flat["required"] += branch["required"] if combinator == "allOf" else []
            flat["open"] = flat["open"] or branch["open"]
    if flat["type"] is None and flat["properties"]:
        flat["type"] = "object"
    return flat


def conforms(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Type, required and undeclared-key errors of `value` against an OpenAPI schema."""
    flat = merged(schema)
    python: dict[str, Any] = {"object": dict, "array": list, "string": str, "boolean": bool,
                              "integer": int, "number": (int, float)}  # fmt: skip
    kind = flat["type"]
    if value is None and schema.get("nullable"):
        return []
    if kind and (not isinstance(value, python[kind]) or (kind != "boolean" and value is True)):
        return [f"{where}: {type(value).__name__} is not {kind}"]
    errors = []
    if flat["enum"] and value not in flat["enum"]:
        errors.append(f"{where}: {value!r} not in enum")
    if kind == "array":
        for i, item in enumerate(value):
            errors += conforms(item, flat["items"], f"{where}[{i}]")
    if kind == "object":
        props = flat["properties"]
        errors += [f"{where}: missing {key}" for key in flat["required"] if key not in value]
        for key, item in value.items():
            if props and key not in props and not flat["open"]:
                errors.append(f"{where}: undeclared key {key}")
            elif key in props:
                errors += conforms(item, props[key], f"{where}.{key}")
    return errors
