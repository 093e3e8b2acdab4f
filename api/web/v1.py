"""The add-on API (/v1/...): the caller, connections of a spreadsheet, runs, bill exports.
Views delegate to api/web/operations.py; each checks the caller's access to the spreadsheet
first."""

from __future__ import annotations

import flask

from api.errors import InvalidRequest
from api.web import bodies, context, present
from api.web import operations as ops

blueprint = flask.Blueprint("v1", __name__, url_prefix="/v1")
TRIGGER = {"user": "sidebar", "local": "sidebar"}


@blueprint.before_request
def _verify() -> None:
    context.authenticate("user")


@blueprint.get("/me")
def me() -> flask.Response:
    caller = context.caller()
    connected = context.current().google_connected(caller.subject)
    return flask.jsonify(email=caller.email, google={"connected": connected})


@blueprint.get("/spreadsheets/<spreadsheet_id>/connections")
def list_connections(spreadsheet_id: str) -> flask.Response:
    ctx = context.current()
    ops.authorize_sheet(ctx, context.caller(), spreadsheet_id)
    return flask.jsonify(connections=ops.list_connections(ctx, spreadsheet_id))


@blueprint.post("/spreadsheets/<spreadsheet_id>/connections")
def create_connection(spreadsheet_id: str) -> tuple[flask.Response, int]:
    ctx, caller = context.current(), context.caller()
    body = bodies.read("ConnectionCreate")
    ops.authorize_sheet(ctx, caller, spreadsheet_id)
    connection = ops.create_connection(ctx, caller, spreadsheet_id, body)
    return flask.jsonify(connection=ops.connection_json(ctx, connection)), 201


@blueprint.patch("/connections/<connection_id>")
def update_connection(connection_id: str) -> flask.Response:
    ctx = context.current()
    body = bodies.read("ConnectionPatch")
    connection = ops.authorize_connection(ctx, context.caller(), connection_id)
    updated = ops.update_connection(ctx, connection, body)
    return flask.jsonify(connection=ops.connection_json(ctx, updated))


@blueprint.delete("/connections/<connection_id>")
def delete_connection(connection_id: str) -> tuple[str, int]:
    ctx = context.current()
    connection = ops.authorize_connection(ctx, context.caller(), connection_id)
    ops.delete_connection(ctx, connection)
    return "", 204


@blueprint.post("/connections/<connection_id>/sync")
def sync_now(connection_id: str) -> tuple[flask.Response, int]:
    ctx, caller = context.current(), context.caller()
    full = bool(bodies.read("SyncRequest", optional=True).get("full", False))
    connection = ops.authorize_connection(ctx, caller, connection_id)
    run = ops.sync_now(ctx, connection, TRIGGER[caller.kind], full)
    return flask.jsonify(run=ops.run_json(ctx, connection, run)), 202


@blueprint.post("/connections/<connection_id>/exports")
def export_bills(connection_id: str) -> flask.Response:
    ctx = context.current()
    body = bodies.read("ExportRequest")
    connection = ops.authorize_connection(ctx, context.caller(), connection_id)
    return flask.jsonify(export=present.export(ops.export_bills(ctx, connection, body)))


@blueprint.get("/connections/<connection_id>/runs")
def list_runs(connection_id: str) -> flask.Response:
    ctx = context.current()
    limit = _limit(flask.request.args.get("limit", "20"))
    connection = ops.authorize_connection(ctx, context.caller(), connection_id)
    runs = ops.list_runs(ctx, connection, limit)
    return flask.jsonify(runs=[ops.run_json(ctx, connection, run) for run in runs])


@blueprint.get("/runs/<run_id>")
def get_run(run_id: str) -> flask.Response:
    ctx = context.current()
    run = ctx.services.state.get_run(run_id)
    connection = ops.authorize_connection(ctx, context.caller(), run.connection)
    return flask.jsonify(run=ops.run_json(ctx, connection, run))


def _limit(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise InvalidRequest("'limit' must be a whole number from 1 to 100.")
    return int(raw)
