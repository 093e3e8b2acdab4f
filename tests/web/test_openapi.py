"""/openapi.json describes exactly the routes the app serves (paths, methods, path parameters)."""

from __future__ import annotations

import re
from typing import Any

import flask

IGNORED_ENDPOINTS = ("static", "addon.")  # Flask's static files; the local add-on preview
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def served(app: flask.Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(IGNORED_ENDPOINTS):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method.lower() in HTTP_METHODS:
                found.add((path, method.lower()))
    return found


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items()
            for method in item if method in HTTP_METHODS}  # fmt: skip


def test_the_document_and_the_url_map_agree(client: Any, app: flask.Flask) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert documented(document) == served(app)


def test_path_parameters_are_declared(client: Any) -> None:
    document = client.get("/openapi.json").get_json()
    for path, item in document["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_every_operation_documents_the_error_shape_and_security(client: Any) -> None:
    document = client.get("/openapi.json").get_json()
    schemes = set(document["components"]["securitySchemes"])
    assert {"googleIdToken", "googleOidc", "localKey"} <= schemes
    for path, item in document["paths"].items():
        for operation in item.values():
            for requirement in operation["security"]:
                assert set(requirement) <= schemes
            if operation["security"]:
                assert {"401", "403"} <= set(operation["responses"]), path


def test_the_contract_routes_are_all_there(client: Any) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    contract = {
        ("/healthz", "get"), ("/v1/me", "get"), ("/v1/oauth/google/start", "post"),
        ("/oauth/google/callback", "get"),
        ("/v1/spreadsheets/{spreadsheet_id}/connections", "get"),
        ("/v1/spreadsheets/{spreadsheet_id}/connections", "post"),
        ("/v1/connections/{connection_id}", "patch"), ("/v1/connections/{connection_id}", "delete"),
        ("/v1/connections/{connection_id}/sync", "post"), ("/v1/runs/{run_id}", "get"),
        ("/v1/connections/{connection_id}/runs", "get"),
        ("/v1/connections/{connection_id}/exports", "post"), ("/tasks/tick", "post"),
        ("/tasks/runs/{run_id}", "post"),
    }  # fmt: skip
    assert contract <= documented({"paths": paths})
