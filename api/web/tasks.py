"""Task endpoints (/tasks/...): Cloud Scheduler's tick and Cloud Tasks' run deliveries (OIDC)."""

from __future__ import annotations

import flask

from api.inboxes import execute_with_inbox
from api.jobs.tick import tick as schedule_tick
from api.web import context
from api.web import operations as ops

blueprint = flask.Blueprint("tasks", __name__, url_prefix="/tasks")


@blueprint.before_request
def _verify() -> None:
    context.authenticate("task")


@blueprint.post("/tick")
def tick() -> flask.Response:
    """Cloud Scheduler, hourly: queue each connection whose schedule is due, once per slot."""
    ctx = context.current()
    enqueued = schedule_tick(ctx.services.state, ctx.queue, ctx.clock())
    return flask.jsonify(enqueued=enqueued)


@blueprint.post("/runs/<run_id>")
def execute_run(run_id: str) -> flask.Response:
    """Cloud Tasks delivers a queued run: execute it here and answer when it has ended. A
    redelivery of a finished run answers at once with it; one still running elsewhere is 409
    (retryable), so Cloud Tasks tries again later."""
    ctx = context.current()
    run = execute_with_inbox(ctx.services, run_id)  # the sync, then its ledger's PDF inbox
    connection = ctx.services.state.get_connection(run.connection)
    return flask.jsonify(run=ops.run_json(ctx, connection, run))
