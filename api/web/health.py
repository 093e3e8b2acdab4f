"""GET /healthz: the process answers (Cloud Run's startup and liveness probes)."""

from __future__ import annotations

import flask

blueprint = flask.Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> flask.Response:
    return flask.jsonify(status="ok")
