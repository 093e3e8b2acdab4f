"""Which inboxes a machine has, and the Extractor they use: chosen once, from Settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from api import logs
from api.core.model import Connection, DocumentLink, RunRecord
from api.destinations import destination_for, uses_google
from api.errors import BillsyncError
from api.extractors import ATTACHED_KIND
from api.factory import Services
from api.inbox import PdfInbox
from api.ports import Extractor, FileStore, Inbox, LedgerSink, StateStore

LOCAL_INBOX = "inbox"

log = logs.get("inbox")


def local_inbox(services: Services, extractor: Extractor) -> PdfInbox:
    """`$BILLSYNC_HOME/inbox/` into the workbook and the archive folder."""
    from api.archive.inbox_folder import FolderInbox

    settings = services.settings
    return _inbox(services, LOCAL_INBOX, FolderInbox(settings.inbox_dir), services.sink,
                  services.files, extractor)  # fmt: skip


def google_inboxes(services: Services, extractor: Extractor) -> Iterator[PdfInbox]:
    """The "Inbox" folder inside each Sheet connection's Drive folder."""
    for connection in services.state.list_connections():
        if uses_google(connection.options) and connection.options.get("drive_folder"):
            yield google_inbox(services, connection, extractor)


def google_inbox(services: Services, connection: Connection, extractor: Extractor) -> PdfInbox:
    from api.archive.inbox_drive import DriveInbox
    from api.destinations import google_credentials
    from api.engine import Destination

    settings = services.settings
    local = Destination(services.sink, services.files)
    destination = destination_for(settings, services.state, services.secrets, connection, local)
    credentials = google_credentials(settings, services.secrets, connection.options)
    inbox: Inbox = DriveInbox(
        str(connection.options["drive_folder"]), credentials,
        api_url=settings.google_drive_api_url,
        shared_drive=bool(connection.options.get("shared_drive", False)),
    )  # fmt: skip
    return _inbox(services, f"{LOCAL_INBOX}:{connection.name}", inbox, destination.sink,
                  destination.files, extractor)  # fmt: skip


def execute_with_inbox(services: Services, run_id: str) -> RunRecord:
    """A service run: the API sync (`SyncEngine.execute`), then the PDF inbox of the same
    ledger — the "Inbox" folder in a Sheet connection's Drive folder, or `$BILLSYNC_HOME/inbox/`
    for the spreadsheet "local". The inbox has its own Runs row and never changes the run's
    status; a file it cannot read stays in the inbox for the next run. Raises what `execute`
    raises."""
    run = services.engine.execute(run_id)
    if run.status not in ("succeeded", "partial"):  # a failed sync: its ledger may be unusable
        return run
    connection = services.state.get_connection(run.connection)
    extractor = services.extractor()
    try:
        if uses_google(connection.options) and connection.options.get("drive_folder"):
            google_inbox(services, connection, extractor).run(run.trigger)
        elif connection.spreadsheet_id == "local":
            local_inbox(services, extractor).run(run.trigger)
    except BillsyncError as exc:  # the inbox's own listing failed: the sync still stands
        log.warning("inbox after run %s: %s", run.id, exc)
    return run


def _inbox(services: Services, name: str, inbox: Inbox, sink: LedgerSink, files: FileStore,
           extractor: Extractor) -> PdfInbox:  # fmt: skip
    settings = services.settings
    return PdfInbox(
        name=name, inbox=inbox, sink=sink, files=files,
        extractor=extractor, workdir=settings.home / "tmp",
        threshold=settings.extract_confidence,
        documents=lambda key: _documents(services.state, key),
        remember=lambda key, link: _remember(services.state, key, link),
        after_change=services.engine.after_change,
    )  # fmt: skip


def _documents(state: StateStore, key: str) -> dict[str, DocumentLink]:
    """The archived documents of the API invoice `key`, from whichever connection holds it."""
    for connection in state.list_connections():
        found = state.documents(connection.id, key)
        if found:
            return found
    return {}


def _remember(state: StateStore, key: str, link: DocumentLink) -> None:
    for connection in state.list_connections():
        if key in state.index(connection.id):
            state.record_document(connection.id, key, link)
            # Marks the PDF as one a person attached: it is read again whenever the row updates.
            state.record_document(connection.id, key, replace(link, kind=ATTACHED_KIND))
            return
