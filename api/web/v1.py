"""The add-on API (/v1/...): the caller, connections of a spreadsheet, runs. Views delegate."""

from __future__ import annotations

import flask

from api.web import context

blueprint = flask.Blueprint("v1", __name__, url_prefix="/v1")


@blueprint.before_request
def _verify() -> None:
    context.authenticate("user")


@blueprint.get("/me")
def me() -> flask.Response:
    caller = context.caller()
    connected = context.current().google_connected(caller.subject)
    return flask.jsonify(email=caller.email, google={"connected": connected})
