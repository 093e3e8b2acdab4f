"""The Google adapters pass the contracts of the embedded ones: Sheets ledger, Drive archive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from api.archive.drive import DriveStore, file_id_from_link
from api.core.model import DocumentLink
from api.ledger.sheets.ledger import SheetsLedger
from tests.contract.filestore_contract import FileStoreContract
from tests.contract.ledger_contract import LedgerSinkContract
from tests.fakes.fixtures import started_fake_google
from tests.fakes.google import FakeGoogle


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    fake = started_fake_google()
    try:
        yield fake
    finally:
        fake.stop()


def credentials(fake: FakeGoogle) -> Credentials:
    return Credentials(
        token="fake-access",
        refresh_token="fake-refresh",
        token_uri=fake.url + "/token",
        client_id="cid",
        client_secret="cs",
    )


class MemoryDocuments:
    """The archived-document half of the StateStore port, in memory."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, DocumentLink]] = {}

    def documents(self, connection: str, key: str) -> dict[str, DocumentLink]:
        return dict(self.docs.get((connection, key), {}))

    def record_document(self, connection: str, key: str, link: DocumentLink) -> None:
        self.docs.setdefault((connection, key), {})[link.kind] = link


class TestSheetsLedger(LedgerSinkContract):
    @pytest.fixture
    def sink(self, google: FakeGoogle) -> SheetsLedger:
        book = google.sheets.create()  # type: ignore[attr-defined]
        ledger = SheetsLedger(
            book.id, credentials(google), api_url=google.url, sleep=lambda _: None
        )
        ledger.fake = google  # type: ignore[attr-defined]
        return ledger

    def reorder_columns(self, sink: Any, tab: str, new_order: list[str]) -> None:
        """What a user does in the Sheets UI: drag whole columns around."""
        sink.fake.sheets.reorder_columns(sink.spreadsheet_id, tab, new_order)


class TestDriveStore(FileStoreContract):
    @pytest.fixture
    def store(self, google: FakeGoogle) -> DriveStore:
        root = google.drive.add_folder("Bookkeeping")  # type: ignore[attr-defined]
        store = DriveStore(
            root,
            credentials(google),
            api_url=google.url,
            state=MemoryDocuments(),
            connection="c",
            sleep=lambda _: None,
        )
        store.fake = google  # type: ignore[attr-defined]
        return store

    def count_files(self, store: Any) -> int:
        return len(store.fake.drive.uploaded())

    def read(self, store: Any, link: DocumentLink) -> bytes:
        file_id = file_id_from_link(link.url)
        assert file_id is not None
        return bytes(store.fake.drive.content[file_id][-1])  # the newest revision

    def names(self, store: Any) -> list[str]:
        return [f["name"] for f in store.fake.drive.uploaded()]
