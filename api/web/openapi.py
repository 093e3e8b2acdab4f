"""GET /openapi.json: the contract (issue 10) as an OpenAPI 3.1 document.

The request-body schemas here are the ones the views validate against (api/web/bodies.py), and
a test compares the paths and methods with the app's url_map, so document and code cannot drift.
"""

from __future__ import annotations

from typing import Any

import flask

blueprint = flask.Blueprint("openapi", __name__)

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
SCHEDULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["frequency"],
    "properties": {
        "frequency": {"enum": ["off", "daily", "weekly", "monthly"]},
        "hour": {"type": "integer", "minimum": 0, "maximum": 23},
        "weekday": {"type": ["integer", "null"], "minimum": 0, "maximum": 6,
                    "description": "0 = Monday; weekly schedules"},
        "day": {"type": ["integer", "null"], "minimum": 1, "maximum": 28,
                "description": "day of the month; monthly schedules"},
        "time_zone": {"type": "string", "minLength": 1, "maxLength": 64,
                      "description": "IANA time zone, e.g. Europe/Paris"},
    },
}  # fmt: skip
NAME = {
    "type": "string",
    "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$",
    "maxLength": 63,  # Python's `$` also matches before a final newline: the length rules it out
    "description": "letters, digits, spaces, '.', '_', '-'",
}
FOLDER = {"type": ["string", "null"], "maxLength": 200}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "retryable"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "message": {"type": "string"},
                    "retryable": {"type": "boolean"},
                },
            }
        },
    },  # fmt: skip
    "Schedule": SCHEDULE,
    "Counts": {
        "type": "object",
        "required": ["new", "updated", "unchanged", "line_items"],
        "properties": {
            k: {"type": "integer"} for k in ("new", "updated", "unchanged", "line_items")
        },
    },  # fmt: skip
    "Run": {
        "type": "object",
        "required": [
            "id",
            "connection_id",
            "trigger",
            "status",
            "phase",
            "done",
            "total",
            "counts",
            "message",
            "queued_at",
            "started_at",
            "finished_at",
            "ledger_url",
        ],
        "properties": {
            "id": {"type": "string"},
            "connection_id": {"type": "string"},
            "trigger": {"enum": ["sidebar", "schedule", "cli"]},
            "status": {"enum": ["queued", "running", "succeeded", "partial", "failed"]},
            "phase": {"type": "string"},
            "done": {"type": "integer"},
            "total": {"type": "integer"},
            "counts": {"$ref": "#/components/schemas/Counts"},
            "message": {"type": "string"},
            "queued_at": NULLABLE_TIME,
            "started_at": NULLABLE_TIME,
            "finished_at": NULLABLE_TIME,
            "ledger_url": {"type": ["string", "null"]},
        },
    },  # fmt: skip
    "Connection": {
        "type": "object",
        "required": [
            "id",
            "spreadsheet_id",
            "name",
            "provider",
            "account",
            "fingerprint",
            "include_preview",
            "drive_folder_id",
            "schedule",
            "last_run",
        ],
        "properties": {
            "id": {"type": "string"},
            "spreadsheet_id": {"type": "string"},
            "name": {"type": "string"},
            "provider": {"enum": ["digitalocean", "doit"]},
            "account": {"type": "string"},
            "fingerprint": {"type": "string"},
            "include_preview": {"type": "boolean"},
            "drive_folder_id": FOLDER,
            "schedule": {"$ref": "#/components/schemas/Schedule"},
            "schedule_paused": {"type": "boolean"},
            "last_run": {"oneOf": [{"$ref": "#/components/schemas/Run"}, {"type": "null"}]},
        },
    },  # fmt: skip
    "ConnectionCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["provider", "name", "token"],
        "properties": {
            "provider": {"enum": ["digitalocean", "doit"]},
            "name": NAME,
            "token": {"type": "string", "minLength": 1, "maxLength": 4096, "writeOnly": True},
            "tenant": {"type": ["string", "null"], "maxLength": 200},
            "include_preview": {"type": "boolean"},
            "drive_folder_id": FOLDER,
            "schedule": {"$ref": "#/components/schemas/Schedule"},
        },
    },  # fmt: skip
    "ConnectionPatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": NAME,
            "include_preview": {"type": "boolean"},
            "drive_folder_id": FOLDER,
            "schedule": {"$ref": "#/components/schemas/Schedule"},
        },
    },  # fmt: skip
    "SyncRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"full": {"type": "boolean"}},
    },
    "ExportRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["format", "period"],
        "properties": {
            "format": {
                "enum": ["xero", "qbo"],
                "description": "Xero bills, or QuickBooks Online bills",
            },
            "period": {
                "type": "string",
                "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$",
                "maxLength": 7,  # "2026-09\n" matches the pattern in Python's re
                "description": "a month as YYYY-MM, e.g. 2026-01",
            },
            "date_format": {
                "enum": ["iso", "dmy", "mdy"],
                "description": "iso 2026-01-31, dmy 31/01/2026 (Xero's default), "
                "mdy 01/31/2026 (QuickBooks Online US, its default)",
            },
            "scope": {
                "enum": ["connection", "ledger"],
                "default": "connection",
                "description": "connection: this connection's invoices; ledger: every invoice "
                "in its ledger (other connections, PDF inbox included)",
            },
        },
    },  # fmt: skip
    "ExportFile": {
        "type": "object",
        "required": ["name", "url", "bills", "lines", "totals"],
        "properties": {
            "name": {
                "type": "string",
                "description": "what it holds: '2026-02 acme xero.csv' (scope connection), "
                "'2026-02 xero.csv' (ledger), '2026-02 xero 1 of 2.csv' (past 500 Xero bills)",
            },
            "url": {
                "type": "string",
                "description": "the archived file: a Drive link, or a file:// URL locally",
            },
            "bills": {"type": "integer"},
            "lines": {"type": "integer", "description": "bill lines (CSV rows)"},
            "totals": {
                "type": "object",
                "additionalProperties": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"},
                "description": "currency -> sum of the file's lines, tax included (decimal "
                "string); never summed across currencies",
            },
        },
    },  # fmt: skip
    "Export": {
        "type": "object",
        "required": ["format", "period", "date_format", "bills", "files", "notes", "message"],
        "properties": {
            "format": {"enum": ["xero", "qbo"]},
            "period": {"type": "string"},
            "date_format": {"enum": ["iso", "dmy", "mdy"]},
            "bills": {
                "type": "integer",
                "description": "bills the files hold (QuickBooks leaves credits out)",
            },
            "files": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ExportFile"},
                "description": "empty when the month has no invoice: nothing archived",
            },
            "notes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "what was left out, and why (credits, bad rule rows), each once",
            },
            "message": {
                "type": "string",
                "description": "what was exported, for a person; the notes are not repeated in it",
            },
        },
    },  # fmt: skip
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": "#/components/responses/Error"} for s in statuses}


def _obj(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: schema}}


def _op(summary: str, ok: dict[str, dict[str, Any]], errors: tuple[int, ...],
        *, security: str | None = "user", body: str | None = None,
        params: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {"summary": summary, "responses": {**ok, **_errors(*errors)}}
    if security == "user":
        operation["security"] = [{"googleIdToken": []}, {"localKey": []}]
    elif security == "task":
        operation["security"] = [{"googleOidc": []}, {"localKey": []}]
    else:
        operation["security"] = []
    if body:
        content = {"application/json": {"schema": _ref(body)}}
        operation["requestBody"] = {"required": body != "SyncRequest", "content": content}
    if params:
        operation["parameters"] = params
    return operation


def _path(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 200}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


AUTH = (401, 403)
GOOGLE = (502, 503)  # Google (the access check) or a provider did not answer
CONNECTION_OK = {"200": _json(_obj("connection", _ref("Connection")), "The connection.")}
RUN = _obj("run", _ref("Run"))
SHEET = _path("spreadsheet_id", r"^(local|[A-Za-z0-9_-]{10,200})$")
CONN = _path("connection_id")


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (a fresh dict each call)."""
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("The process answers.", {"200": _json(
            _obj("status", {"const": "ok"}), "Healthy.")}, (), security=None)},
        "/openapi.json": {"get": _op("This document.", {"200": _json(
            {"type": "object"}, "The OpenAPI document.")}, (), security=None)},
        "/v1/me": {"get": _op("The signed-in user.", {"200": _json({
            "type": "object", "required": ["email", "google"],
            "properties": {"email": {"type": "string"}, "google": _obj(
                "connected", {"type": "boolean"})}}, "Who you are.")}, AUTH)},
        "/v1/oauth/google/start": {"post": _op("The Google consent URL.", {"200": _json(
            _obj("url", {"type": "string"}), "Open it in a new tab.")}, (*AUTH, 503))},
        "/oauth/google/callback": {"get": _op(
            "Google sends the browser back here after consent.",
            {"200": {"description": "A page saying Google is connected.",
                     "content": {"text/html": {"schema": {"type": "string"}}}},
             "400": {"description": "A page saying what went wrong.",
                     "content": {"text/html": {"schema": {"type": "string"}}}}},
            (), security=None, params=[
                {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                for n in ("code", "state", "error")])},
        "/v1/spreadsheets/{spreadsheet_id}/connections": {
            "get": _op("The spreadsheet's connections.", {"200": _json(_obj("connections", {
                "type": "array", "items": _ref("Connection")}), "Connections.")},
                (400, *AUTH, 409, *GOOGLE), params=[SHEET]),
            "post": _op("Connect a provider account to the spreadsheet (token validated).",
                        {"201": _json(_obj("connection", _ref("Connection")), "Created.")},
                        (400, *AUTH, 409, 422, *GOOGLE), body="ConnectionCreate", params=[SHEET]),
        },
        "/v1/connections/{connection_id}": {
            "patch": _op("Rename, reschedule or change a connection.", CONNECTION_OK,
                         (400, *AUTH, 404, 409, *GOOGLE), body="ConnectionPatch", params=[CONN]),
            "delete": _op("Forget the connection; its token is destroyed.",
                          {"204": {"description": "Deleted."}}, (*AUTH, 404, 409, *GOOGLE),
                          params=[CONN]),
        },
        "/v1/connections/{connection_id}/sync": {"post": _op(
            "Sync now: 202 with the queued run, or with the run already active.",
            {"202": _json(RUN, "The run.")}, (400, *AUTH, 404, 409, *GOOGLE),
            body="SyncRequest", params=[CONN])},
        "/v1/connections/{connection_id}/exports": {"post": _op(
            "Export a month's bills as a Xero or QuickBooks Online import file, archived in "
            "the connection's Exports folder and linked from a Runs row: the connection's "
            "invoices, or with scope ledger every invoice of its ledger (PDF inbox included). "
            "A month without invoices is 200 with no files and a message.",
            {"200": _json(_obj("export", _ref("Export")), "What was exported.")},
            (400, *AUTH, 404, 409, 422, *GOOGLE), body="ExportRequest", params=[CONN])},
        "/v1/connections/{connection_id}/runs": {"get": _op(
            "Recent runs, newest first.", {"200": _json(_obj("runs", {
                "type": "array", "items": _ref("Run")}), "Runs.")}, (400, *AUTH, 404, 409, *GOOGLE),
            params=[CONN, {"name": "limit", "in": "query", "required": False, "schema": {
                "type": "integer", "minimum": 1, "maximum": 100, "default": 20}}])},
        "/v1/runs/{run_id}": {"get": _op("One run (poll it while it runs).", {"200": _json(
            RUN, "The run.")}, (*AUTH, 404, 409, *GOOGLE), params=[_path("run_id")])},
        "/tasks/tick": {"post": _op(
            "Cloud Scheduler (hourly): enqueue every connection whose schedule is due.",
            {"200": _json(_obj("enqueued", {"type": "integer"}), "How many were enqueued.")},
            AUTH, security="task")},
        "/tasks/runs/{run_id}": {"post": _op(
            "Cloud Tasks: execute this run; answers when it has ended.",
            {"200": _json(RUN, "The ended run.")}, (*AUTH, 404, 409), security="task",
            params=[_path("run_id")])},
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "billsync", "version": "1",
                 "description": "The API behind the billsync Sheets sidebar and scheduler."},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {"Error": _json(_ref("Error"), "An error a person can act on.")},
            "securitySchemes": {
                "googleIdToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                  "description": "A Google ID token (ScriptApp."
                                  "getIdentityToken()); aud = the add-on's OAuth client id."},
                "googleOidc": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "A Google OIDC token of Cloud Scheduler / Cloud "
                               "Tasks; aud = the service URL, email = an allowed account."},
                "localKey": {"type": "http", "scheme": "bearer",
                             "description": "`billsync serve`'s key ($BILLSYNC_HOME/serve.key)."},
            },
        },
    }  # fmt: skip


@blueprint.get("/openapi.json")
def openapi_json() -> flask.Response:
    return flask.jsonify(document())
