"""What the add-on API does, one function per route, over the StateStore and the JobQueue.

Authorization first, always: a connection is reached through its spreadsheet, and the caller
must be able to open that spreadsheet with their own Google account (api/web/access.py); in
local mode the key holder owns every connection. Tokens go in and never come back out.
"""

from __future__ import annotations

from typing import Any

from api import connections, exports
from api.core.model import Connection, RunRecord
from api.core.schedule import Schedule, ScheduleError
from api.engine import FULL_REQUESTED
from api.errors import Conflict, Forbidden, InvalidRequest, NotFoundError, RunInProgress
from api.web import present
from api.web.access import LOCAL_SHEET, check_sheet_id
from api.web.context import WebContext
from api.web.identity import Caller


def authorize_sheet(ctx: WebContext, caller: Caller, spreadsheet_id: str) -> None:
    check_sheet_id(spreadsheet_id, local_allowed=ctx.local)
    if ctx.local:
        return
    ctx.access.require(caller.subject, spreadsheet_id)


def authorize_connection(ctx: WebContext, caller: Caller, connection_id: str) -> Connection:
    """The connection, if the caller may reach it: NotFoundError in the API's own words (the
    store's message lists local names and gives command-line advice)."""
    try:
        connection = ctx.services.state.get_connection(connection_id)
    except NotFoundError:
        raise NotFoundError(
            f"There is no connection '{connection_id}'; it may have been removed.",
            action="Reload the sidebar to see the connections this spreadsheet has.",
        ) from None
    if ctx.local is False and connection.spreadsheet_id == LOCAL_SHEET:
        raise Forbidden("This connection belongs to a local ledger.")
    authorize_sheet(ctx, caller, connection.spreadsheet_id)
    return connection


def connection_json(ctx: WebContext, connection: Connection) -> dict[str, Any]:
    last = ctx.services.state.list_runs(connection.id, limit=1)
    location = ctx.services.sink.location()
    return present.connection(connection, last[0] if last else None, location)


def run_json(ctx: WebContext, connection: Connection, run: RunRecord) -> dict[str, Any]:
    location = ctx.services.sink.location()
    return present.run(run, present.ledger_url(connection.spreadsheet_id, location))


def list_connections(ctx: WebContext, spreadsheet_id: str) -> list[dict[str, Any]]:
    found = ctx.services.state.list_connections(spreadsheet_id)
    return [connection_json(ctx, c) for c in sorted(found, key=lambda c: c.name.lower())]


def create_connection(
    ctx: WebContext, caller: Caller, spreadsheet_id: str, body: dict[str, Any]
) -> Connection:
    """Validate the token with one provider call, store it, save the connection."""
    options: dict[str, Any] = {"include_preview": bool(body.get("include_preview", True))}
    if body["provider"] == "doit":
        options = {"tenant": body.get("tenant") or None, "window_days": 120}
    if spreadsheet_id != LOCAL_SHEET:
        options.update(_google_options(ctx, caller, spreadsheet_id, body))
    services = ctx.services
    return connections.connect(
        state=services.state, secrets=services.secrets, providers=services.provider,
        provider=body["provider"], name=body["name"], token=body["token"], options=options,
        spreadsheet_id=spreadsheet_id, schedule=_schedule(body.get("schedule")),
    )  # fmt: skip


def _google_options(
    ctx: WebContext, caller: Caller, spreadsheet_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The Sheet is the ledger; the archive is the given Drive folder, or a new one."""
    from api.destinations import create_google_file, folder_id

    options: dict[str, Any] = {"sheet": spreadsheet_id, "google_credentials": "user"}
    grant = ctx.accounts.grant_ref(caller.subject)
    if ctx.local:
        from api.destinations import login_ref

        grant = grant or login_ref(ctx.services.settings)
    else:
        options["granted_in"] = "sidebar"  # a dead grant says "reconnect in the sidebar"
    options["google_ref"] = grant
    folder = body.get("drive_folder_id")
    if folder:
        options["drive_folder"] = folder_id(folder)
    else:
        credentials = ctx.access.credentials(caller.subject)
        options["drive_folder"] = create_google_file(
            ctx.services.settings, credentials, name=f"billsync archive ({body['name']})",
            mime="application/vnd.google-apps.folder", parent=None,
        )  # fmt: skip
    return options


def update_connection(ctx: WebContext, connection: Connection, body: dict[str, Any]) -> Connection:
    options: dict[str, Any] | None = None
    if "include_preview" in body or "drive_folder_id" in body:
        options = dict(connection.options)
        if "include_preview" in body:
            options["include_preview"] = bool(body["include_preview"])
        if "drive_folder_id" in body and body["drive_folder_id"]:
            from api.destinations import folder_id

            options["drive_folder"] = folder_id(body["drive_folder_id"])
    if "name" in body:
        connections.check_name(body["name"])
        siblings = ctx.services.state.list_connections(connection.spreadsheet_id)
        if any(c.name == body["name"] and c.id != connection.id for c in siblings):
            raise Conflict(f"A connection named '{body['name']}' already exists.",
                           code="name_taken", action="Pick another name.")  # fmt: skip
    schedule = _schedule(body["schedule"]) if "schedule" in body else None
    return ctx.services.state.update_connection(
        connection.id, name=body.get("name"), schedule=schedule, options=options
    )


def delete_connection(ctx: WebContext, connection: Connection) -> None:
    connections.disconnect(state=ctx.services.state, secrets=ctx.services.secrets,
                           name=connection.id)  # fmt: skip


def sync_now(ctx: WebContext, connection: Connection, trigger: str, full: bool) -> RunRecord:
    """Queue a run (or find the active one) and hand it to the JobQueue; never waits for it.
    `full`: the run that executes next fetches every invoice again (still no duplicates)."""
    state = ctx.services.state
    if full and not connection.options.get(FULL_REQUESTED):
        state.update_connection(connection.id, options={**connection.options, FULL_REQUESTED: True})
    run, created = state.enqueue_run(connection.id, trigger)
    if created:
        ctx.queue.enqueue(run.id)
    return run


def export_bills(ctx: WebContext, connection: Connection, body: dict[str, Any]) -> exports.Export:
    """Export a month of the connection's bills (body: format, period, date_format?, scope?)
    from its own ledger to its own archive, as `billsync export` does; scope "ledger" takes
    every invoice of that ledger (other connections', the PDF inbox's). Answers when the file
    is archived. RunInProgress while a sync of the connection is queued or running (it would
    read a ledger being written)."""
    active = ctx.services.state.list_runs(connection.id, limit=1)
    if active and active[0].status in ("queued", "running"):
        raise RunInProgress(connection.name, active[0].id)
    destination = ctx.services.engine.destinations(connection)
    return exports.export_month(
        destination.sink, destination.files, body["format"], body["period"],
        connection=connection, date_format=body.get("date_format"),
        whole_ledger=body.get("scope") == "ledger", workdir=ctx.services.settings.home / "tmp",
    )  # fmt: skip


def list_runs(ctx: WebContext, connection: Connection, limit: int) -> list[RunRecord]:
    return ctx.services.state.list_runs(connection.id, limit=limit)


def _schedule(raw: dict[str, Any] | None) -> Schedule | None:
    if raw is None:
        return None
    try:
        return Schedule(**raw)
    except ScheduleError as exc:
        raise InvalidRequest(str(exc)) from None
    except TypeError:
        raise InvalidRequest("The schedule has a field this API does not know.") from None
