"""DriveStore against the stateful fake Drive: folder tree, idempotent archive, faults, quotas."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from api.archive.drive import FOLDER_MIME, DriveStore, file_id_from_link
from api.core.model import DocumentLink, Invoice
from api.errors import ConfigError, RetriableSinkError, SinkError
from api.google.credentials import REVOKED_MESSAGE
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle

CONNECTION = "do-main"


class MemoryState:
    """A fake of the StateStore port: only the archived-document half is used here."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, DocumentLink]] = {}

    def documents(self, connection: str, key: str) -> dict[str, DocumentLink]:
        return dict(self.docs.get((connection, key), {}))

    def record_document(self, connection: str, key: str, link: DocumentLink) -> None:
        self.docs.setdefault((connection, key), {})[link.kind] = link


def invoice(number: str = "1001", period: str = "2024-03", account: str = "Acme Team") -> Invoice:
    return Invoice(
        provider="DigitalOcean", account=account, invoice_id=number,
        key=f"digitalocean:uuid-{number}", period=period, status="Issued", currency="USD",
        total=Decimal("12.34"),
    )  # fmt: skip


def document(tmp_path: Path, content: bytes, name: str = "doc.pdf") -> tuple[Path, str]:
    path = tmp_path / name
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def credentials(fake: FakeGoogle, token: str = "fake-access") -> Credentials:
    return Credentials(
        token=token, refresh_token="fake-refresh", token_uri=fake.url + "/token",
        client_id="cid", client_secret="cs",
    )  # fmt: skip


class Harness:
    def __init__(self, fake: FakeGoogle, tmp_path: Path) -> None:
        self.fake = fake
        self.tmp_path = tmp_path
        self.state = MemoryState()
        self.sleeps: list[float] = []
        self.root = fake.drive.add_folder("Bookkeeping")  # type: ignore[attr-defined]

    def store(self, **options: Any) -> DriveStore:
        options.setdefault("sleep", self.sleeps.append)
        return DriveStore(
            options.pop("root", self.root),
            options.pop("credentials", None) or credentials(self.fake),
            api_url=self.fake.url, state=self.state, connection=CONNECTION, **options,
        )  # fmt: skip

    def uploaded(self) -> list[dict[str, Any]]:
        return self.fake.drive.uploaded()  # type: ignore[attr-defined,no-any-return]

    def folders(self) -> list[str]:
        files = self.fake.drive.files.values()  # type: ignore[attr-defined]
        return sorted(f["name"] for f in files if f["mimeType"] == FOLDER_MIME)

    def ids(self) -> list[str]:
        return [call.method_id for call in self.fake.calls]


@pytest.fixture
def drive(fake_google: FakeGoogle, tmp_path: Path) -> Iterator[Harness]:  # noqa: F811
    yield Harness(fake_google, tmp_path)


def test_first_put_builds_the_tree_and_uploads_one_tagged_file(drive: Harness) -> None:
    path, sha = document(drive.tmp_path, b"%PDF-1.7 invoice 1001")
    link = drive.store().put(invoice(), "pdf", path, sha)

    [file] = drive.uploaded()
    assert file["name"] == "2024-03 1001.pdf"
    assert file["mimeType"] == "application/pdf"
    assert file["appProperties"] == {
        "billsyncKey": "digitalocean:uuid-1001",
        "billsyncKind": "pdf",
        "sha256": sha,
    }
    assert drive.fake.drive.content[file["id"]] == [b"%PDF-1.7 invoice 1001"]  # type: ignore[attr-defined]
    assert link == DocumentLink("pdf", file["webViewLink"], sha)
    assert file_id_from_link(link.url) == file["id"]
    assert drive.state.documents(CONNECTION, "digitalocean:uuid-1001") == {"pdf": link}
    assert drive.folders() == ["2024", "Acme Team", "Bookkeeping", "DigitalOcean"]
    year = drive.fake.drive.files[file["parents"][0]]  # type: ignore[attr-defined]
    assert year["name"] == "2024"
    # root check, 3 folder look-ups, one id reservation, 3 folder creates, 1 upload
    assert drive.ids() == ["drive.files.get"] + ["drive.files.list", "drive.files.generateIds",
        "drive.files.create"] + ["drive.files.list", "drive.files.create"] * 2 + [
        "drive.files.create"]  # fmt: skip
    upload = drive.fake.calls[-1]
    assert (upload.path, upload.query["uploadType"]) == ("/upload/drive/v3/files", ["multipart"])


def test_rerun_with_the_same_content_writes_nothing(drive: Harness) -> None:
    path, sha = document(drive.tmp_path, b"%PDF same")
    first = drive.store().put(invoice(), "pdf", path, sha)
    drive.fake.calls.clear()

    again = drive.store().put(invoice(), "pdf", path, sha)  # a new run, new instance

    assert again == first
    assert len(drive.uploaded()) == 1
    assert drive.fake.calls.writes() == []
    assert drive.ids() == ["drive.files.get"]  # the recorded id, verified


def test_folders_are_found_again_and_looked_up_once_per_run(drive: Harness) -> None:
    drive.store().put(invoice("1"), "pdf", *document(drive.tmp_path, b"one"))
    drive.fake.calls.clear()

    store = drive.store()
    for number in ("2", "3", "4"):
        store.put(invoice(number), "pdf", *document(drive.tmp_path, number.encode()))

    assert drive.folders() == ["2024", "Acme Team", "Bookkeeping", "DigitalOcean"]
    assert len(drive.uploaded()) == 4
    lists = drive.fake.calls.of("drive.files.list")
    assert len(lists) == 4  # 3 folder levels + one listing of the year folder's files
    assert len(drive.fake.calls.of("drive.files.create")) == 3  # one per new file only


def test_changed_content_becomes_a_new_revision_of_the_same_file(drive: Harness) -> None:
    store = drive.store()
    store.put(invoice(), "csv", *document(drive.tmp_path, b"a,b\n1,2\n", "x.csv"))
    path, sha = document(drive.tmp_path, b"a,b\n1,3\n", "x.csv")

    link = drive.store().put(invoice(), "csv", path, sha)

    [file] = drive.uploaded()
    assert drive.fake.drive.content[file["id"]] == [b"a,b\n1,2\n", b"a,b\n1,3\n"]  # type: ignore[attr-defined]
    assert file["appProperties"]["sha256"] == sha
    assert link.sha256 == sha and file_id_from_link(link.url) == file["id"]
    assert drive.fake.calls.writes()[-1].method == "PATCH"


def test_a_lost_record_finds_the_tagged_file_instead_of_uploading(drive: Harness) -> None:
    path, sha = document(drive.tmp_path, b"%PDF crash between upload and record")
    first = drive.store().put(invoice(), "pdf", path, sha)
    drive.state.docs.clear()  # the crash: Drive has the file, the state does not
    drive.fake.calls.clear()

    again = drive.store().put(invoice(), "pdf", path, sha)

    assert again == first and len(drive.uploaded()) == 1
    assert drive.fake.calls.writes() == []


def test_folder_listings_follow_page_tokens(drive: Harness) -> None:
    for number in range(5):
        drive.store().put(invoice(str(number)), "pdf", *document(drive.tmp_path, b"%d" % number))
    drive.state.docs.clear()  # force the look-up through the year folder's listing
    drive.fake.calls.clear()

    store = drive.store(page_size=2)
    for number in range(5):
        store.put(invoice(str(number)), "pdf", *document(drive.tmp_path, b"%d" % number))

    assert len(drive.uploaded()) == 5 and drive.fake.calls.writes() == []
    tokens = [c.query.get("pageToken") for c in drive.fake.calls.of("drive.files.list")][3:]
    assert tokens == [None, ["2"], ["4"]]  # 3 folder levels, then 3 pages of the year folder


def test_a_link_recorded_by_the_folder_archive_is_not_mistaken_for_a_drive_id(
    drive: Harness,
) -> None:
    path, sha = document(drive.tmp_path, b"%PDF")
    local = DocumentLink("pdf", "file:///home/me/archive/d/2024/x.pdf", sha)
    drive.state.record_document(CONNECTION, "digitalocean:uuid-1001", local)

    link = drive.store().put(invoice(), "pdf", path, sha)

    assert link.url.startswith("https://drive.google.com/file/d/")
    assert len(drive.uploaded()) == 1
    [get] = drive.fake.calls.of("drive.files.get")  # the root check; no bogus id looked up
    assert get.path.endswith(drive.root)


def test_a_trashed_archive_is_uploaded_again(drive: Harness) -> None:
    path, sha = document(drive.tmp_path, b"%PDF trashed")
    first = drive.store().put(invoice(), "pdf", path, sha)
    drive.fake.drive.files[file_id_from_link(first.url)]["trashed"] = True  # type: ignore[attr-defined]

    again = drive.store().put(invoice(), "pdf", path, sha)

    assert again.url != first.url
    assert [f["trashed"] for f in drive.uploaded()] == [True, False]


@pytest.mark.parametrize(
    ("size", "chunks_mb", "method", "answers"),
    [
        (10, 1, "POST", [200, 409]),  # multipart: the re-sent create hits the reserved id
        # resumable, one chunk: the re-sent chunk gets the finished session's answer
        (600_000, 4, "PUT", [200, 200, 200]),
        (700_000, 1, "PUT", [200, 308, 308, 308, 200]),  # the first of 3 chunks re-sent
    ],
)
def test_a_dropped_answer_after_the_write_leaves_one_file(
    drive: Harness, size: int, chunks_mb: int, method: str, answers: list[int]
) -> None:
    content = bytes(i % 251 for i in range(size))
    path, sha = document(drive.tmp_path, content)
    store = drive.store(resumable_threshold=500_000, chunk_size=chunks_mb * 256 * 1024)
    drive.fake.faults.add("drop_after_apply", method, r"^/upload/")

    link = store.put(invoice(), "pdf", path, sha)

    [file] = drive.uploaded()
    assert drive.fake.drive.content[file["id"]] == [content]  # type: ignore[attr-defined]
    assert file_id_from_link(link.url) == file["id"]
    assert drive.state.documents(CONNECTION, "digitalocean:uuid-1001") == {"pdf": link}
    # The fake logs a dropped call after cutting the connection: the client's re-sent request
    # can be answered first, so wait for the log to settle before reading it.
    deadline = time.monotonic() + 3
    while len(_uploads(drive)) < len(answers) and time.monotonic() < deadline:
        time.sleep(0.02)
    uploads = _uploads(drive)
    assert sorted(c.status for c in uploads) == sorted(answers)
    assert [c.dropped for c in uploads].count(True) == 1
    assert drive.fake.faults.pending == []


def test_a_timed_out_create_arriving_late_makes_no_second_copy(drive: Harness) -> None:
    # Our first attempt times out and is retried; the first request then lands late.
    drive.fake.faults.add("slow", "POST", r"^/upload/", delay=0.6)
    path, sha = document(drive.tmp_path, b"%PDF slow")

    link = drive.store(timeout=0.3).put(invoice(), "pdf", path, sha)
    deadline = time.monotonic() + 3
    while len(_uploads(drive)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    [file] = drive.uploaded()
    assert file_id_from_link(link.url) == file["id"]
    assert [c.status for c in _uploads(drive)] == [200, 409]  # the late one hit the same id
    assert len(drive.sleeps) == 1


def _uploads(drive: Harness) -> list[Any]:
    return [c for c in drive.fake.calls if c.path.startswith("/upload/")]


def test_large_files_use_a_resumable_upload_at_the_configured_url(drive: Harness) -> None:
    content = bytes(range(256)) * 3000  # 768 kB: three 256 kB chunks
    path, sha = document(drive.tmp_path, content)

    drive.store(resumable_threshold=500_000, chunk_size=256 * 1024).put(
        invoice(), "pdf", path, sha)  # fmt: skip

    [file] = drive.uploaded()
    assert drive.fake.drive.content[file["id"]] == [content]  # type: ignore[attr-defined]
    uploads = [c for c in drive.fake.calls if c.path == "/upload/drive/v3/files"]
    assert [(c.method, c.query["uploadType"]) for c in uploads] == [
        ("POST", ["resumable"])] + [("PUT", ["resumable"])] * 3  # fmt: skip
    assert file["appProperties"]["sha256"] == sha


def test_quota_and_server_errors_are_retried_with_retry_after(drive: Harness) -> None:
    drive.fake.faults.add("429", "POST", r"^/upload/", retry_after="7")
    drive.fake.faults.add("500", "POST", r"^/upload/")
    path, sha = document(drive.tmp_path, b"%PDF retried")

    drive.store().put(invoice(), "pdf", path, sha)

    assert len(drive.uploaded()) == 1
    assert drive.sleeps[0] == 7.0  # Retry-After honoured
    assert 0 <= drive.sleeps[1] <= 2.0  # then jittered exponential backoff
    statuses = [c.status for c in drive.fake.calls if c.path == "/upload/drive/v3/files"]
    assert statuses == [429, 500, 200]


def test_retries_are_bounded(drive: Harness) -> None:
    drive.fake.faults.add("500", "POST", r"^/upload/", times=100)
    path, sha = document(drive.tmp_path, b"%PDF never")

    with pytest.raises(RetriableSinkError, match="Google Drive is busy"):
        drive.store(max_attempts=3).put(invoice(), "pdf", path, sha)

    assert len([c for c in drive.fake.calls if c.path.startswith("/upload/")]) == 3
    assert len(drive.sleeps) == 2
    assert drive.state.docs == {}


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        ("403_storage_quota", SinkError, "service account"),
        ("403_permission", SinkError, "denied access"),
        ("404", SinkError, "not found or not shared"),
        ("429", RetriableSinkError, "busy"),
        ("500", RetriableSinkError, "busy"),
    ],
)
def test_status_to_error_table(
    drive: Harness, fault: str, error: type[Exception], text: str
) -> None:
    drive.fake.faults.add(fault, "POST", r"^/upload/", times=10)
    path, sha = document(drive.tmp_path, b"%PDF")

    with pytest.raises(error, match=text) as raised:
        drive.store(max_attempts=2).put(invoice(), "pdf", path, sha)

    assert type(raised.value) is error
    assert drive.uploaded() == [] and drive.state.docs == {}


def test_storage_quota_error_says_what_to_do(drive: Harness) -> None:
    drive.fake.faults.add("403_storage_quota", "POST", r"^/upload/")

    with pytest.raises(SinkError) as raised:
        drive.store().put(invoice(), "pdf", *document(drive.tmp_path, b"%PDF"))

    message = str(raised.value)
    assert "billsync google login" in message and "Shared Drive" in message
    assert len([c for c in drive.fake.calls if c.path.startswith("/upload/")]) == 1  # not retried


def test_missing_root_folder_is_a_clear_error(drive: Harness) -> None:
    with pytest.raises(SinkError, match="Drive folder nope-123 not found or not shared"):
        drive.store(root="nope-123").put(invoice(), "pdf", *document(drive.tmp_path, b"x"))
    assert drive.fake.calls.writes() == []


def test_shared_drive_folders_are_listed_in_their_drive(drive: Harness) -> None:
    state = drive.fake.drive  # type: ignore[attr-defined]
    shared = state.add_shared_drive("Finance")
    root = state.add_folder("Invoices", drive_id=shared)
    store = drive.store(root=root, shared_drive=True)
    store.put(invoice("1"), "pdf", *document(drive.tmp_path, b"one"))
    drive.fake.calls.clear()

    drive.store(root=root, shared_drive=True).put(
        invoice("2"), "pdf", *document(drive.tmp_path, b"two"))  # fmt: skip

    assert [f["driveId"] for f in drive.uploaded()] == [shared, shared]
    for call in drive.fake.calls.of("drive.files.list"):
        assert call.query["corpora"] == ["drive"] and call.query["driveId"] == [shared]
        assert call.query["includeItemsFromAllDrives"] == ["true"]
    assert drive.folders().count("2024") == 1


def test_shared_drive_option_refuses_a_my_drive_folder(drive: Harness) -> None:
    with pytest.raises(SinkError, match="not in a Shared Drive"):
        drive.store(shared_drive=True).put(invoice(), "pdf", *document(drive.tmp_path, b"x"))


def test_unsafe_names_are_made_safe(drive: Harness) -> None:
    odd = invoice("INV/7:'x'", account="R&D / Ops: 'EU'")
    drive.store().put(odd, "pdf", *document(drive.tmp_path, b"%PDF"))

    assert "R&D _ Ops_ 'EU'" in drive.folders()
    assert drive.uploaded()[0]["name"] == "2024-03 INV_7_'x'.pdf"
    drive.fake.calls.clear()
    drive.store().put(odd, "csv", *document(drive.tmp_path, b"a,b"))  # quotes escaped in q
    assert drive.folders().count("R&D _ Ops_ 'EU'") == 1


def test_parallel_puts_share_one_folder_tree(drive: Harness) -> None:
    store = drive.store()
    errors: list[BaseException] = []

    def put(number: int) -> None:
        try:
            path, sha = document(drive.tmp_path, f"doc {number}".encode(), f"{number}.pdf")
            store.put(invoice(str(number)), "pdf", path, sha)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(drive.uploaded()) == 8
    assert drive.folders() == ["2024", "Acme Team", "Bookkeeping", "DigitalOcean"]


def test_an_expired_access_token_is_refreshed(drive: Harness) -> None:
    drive.fake.oauth.expire_access_tokens()  # type: ignore[attr-defined]

    drive.store().put(invoice(), "pdf", *document(drive.tmp_path, b"%PDF"))

    assert len(drive.uploaded()) == 1
    assert [c.status for c in drive.fake.calls][:3] == [401, 200, 200]
    assert drive.fake.calls[1].method_id == "oauth2.token"


def test_a_revoked_grant_asks_to_reconnect_without_leaking_tokens(
    drive: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    drive.fake.oauth.revoke("fake-refresh")  # type: ignore[attr-defined]

    with pytest.raises(ConfigError) as raised:
        drive.store().put(invoice(), "pdf", *document(drive.tmp_path, b"%PDF"))

    assert str(raised.value) == REVOKED_MESSAGE
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert drive.uploaded() == []
    for secret in ("fake-access", "fake-refresh", "cs"):
        assert secret not in str(raised.value)
    assert "/drive/v3/files" in caplog.text  # calls are logged ...
    assert "fake-access" not in caplog.text and "fake-refresh" not in caplog.text  # ... tokens not


def test_an_older_export_goes_to_the_trash_and_is_listed_no_more(drive: Harness) -> None:
    store = drive.store()
    for name, content in (("2026-10 xero 1 of 2.csv", b"a,b\r\n"),
                          ("2026-10 xero 2 of 2.csv", b"c,d\r\n"),
                          ("2026-10 qbo.csv", b"e,f\r\n")):  # fmt: skip
        path, sha = document(drive.tmp_path, content)
        store.put_export(name, path, sha)
    assert store.export_names() == [
        "2026-10 qbo.csv", "2026-10 xero 1 of 2.csv", "2026-10 xero 2 of 2.csv"]  # fmt: skip

    store.remove_export("2026-10 xero 2 of 2.csv")
    store.remove_export("2026-10 nothing.csv")  # none of that name: nothing happens

    files = drive.fake.drive.files.values()  # type: ignore[attr-defined]
    trashed = [f["name"] for f in files if f.get("trashed")]
    assert trashed == ["2026-10 xero 2 of 2.csv"]
    assert store.export_names() == ["2026-10 qbo.csv", "2026-10 xero 1 of 2.csv"]
    assert drive.store().export_names() == ["2026-10 qbo.csv", "2026-10 xero 1 of 2.csv"]
