"""Task endpoints (/tasks/...): Cloud Scheduler's tick and Cloud Tasks' run deliveries (OIDC)."""

from __future__ import annotations

import flask

from api.web import context

blueprint = flask.Blueprint("tasks", __name__, url_prefix="/tasks")


@blueprint.before_request
def _verify() -> None:
    context.authenticate("task")
