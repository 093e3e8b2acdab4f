"""Drive FileStore: <root>/<Provider>/<Account>/<YYYY>/<YYYY-MM> <Invoice ID>.<ext>, never twice."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from googleapiclient.http import MediaIoBaseUpload

from api.archive import EXPORT_KEY
from api.archive.drive_api import DriveApi, Sleep
from api.core.model import DocumentLink, Invoice
from api.core.pdf_ledger import UNKNOWN_SUPPLIER
from api.core.text import safe_file_name
from api.errors import SinkError
from api.ports import StateStore

FOLDER_MIME = "application/vnd.google-apps.folder"
EXPORTS_FOLDER = "Exports"  # bill import files for accounting products
MIME_TYPES = {"pdf": "application/pdf", "csv": "text/csv"}
# appProperties: private to our OAuth client, so the tags survive renames and moves.
KEY_PROPERTY = "billsyncKey"
KIND_PROPERTY = "billsyncKind"
SHA_PROPERTY = "sha256"
FILE_FIELDS = "id,name,mimeType,parents,appProperties,webViewLink,trashed,driveId"
_FILE_ID = re.compile(r"/(?:file/)?d/([A-Za-z0-9_-]+)|[?&]id=([A-Za-z0-9_-]+)")
_ID_BATCH = 20  # ids pre-allocated per generateIds call


@dataclass(frozen=True)
class DriveFile:
    id: str
    name: str
    link: str
    properties: dict[str, str]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> DriveFile:
        return cls(
            id=raw["id"],
            name=raw.get("name", ""),
            link=raw.get("webViewLink") or f"https://drive.google.com/file/d/{raw['id']}/view",
            properties=dict(raw.get("appProperties") or {}),
        )

    @property
    def sha256(self) -> str:
        return self.properties.get(SHA_PROPERTY, "")


def file_id_from_link(url: str) -> str | None:
    """The file id inside a Drive webViewLink (`.../file/d/<id>/view`), else None."""
    if not url.startswith(("https://drive.google.com/", "https://docs.google.com/")):
        return None  # e.g. a link recorded by the local folder archive
    match = _FILE_ID.search(url)
    return (match.group(1) or match.group(2)) if match else None


def quote(text: str) -> str:
    """A string literal for Drive's `q` language."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _ChunkBytes(MediaIoBaseUpload):
    """Send each chunk as bytes, not a stream slice: httplib2 re-sends a request whose
    connection dropped, and a consumed stream would re-send headers without a body."""

    def has_stream(self) -> bool:
        return False


class DriveStore:
    """Archive documents in a Drive folder tree; a retry or rerun never makes a second copy.

    Idempotence rests on three things: the file id recorded in the StateStore (checked with
    files.get, because Drive search is not read-after-write consistent), the invoice key and
    sha256 tagged on every file (found again in its year folder), and ids pre-allocated with
    files.generateIds (a create retried after a lost answer hits the same id and gets 409).
    """

    def __init__(
        self,
        root_folder_id: str,
        credentials: Any,
        *,
        api_url: str,
        state: StateStore,
        connection: str,
        shared_drive: bool = False,
        sleep: Sleep = time.sleep,
        max_attempts: int = 5,
        resumable_threshold: int = 5 * 1024 * 1024,
        chunk_size: int = 8 * 1024 * 1024,
        timeout: float = 60.0,
        page_size: int = 1000,
    ) -> None:
        self.root_folder_id = root_folder_id
        self._api = DriveApi(
            credentials, api_url=api_url, sleep=sleep, max_attempts=max_attempts, timeout=timeout
        )
        self._state = state
        self._connection = connection
        self._shared_drive = shared_drive
        self._resumable_threshold = resumable_threshold
        self._chunk_size = chunk_size
        self._page_size = page_size
        self._drive_id: str | None = None
        self._root_checked = False
        self._folders: dict[tuple[str, ...], str] = {}
        self._contents: dict[str, dict[tuple[str, str], DriveFile]] = {}
        self._ids: list[str] = []
        self._lock = threading.RLock()  # folder tree and id pool; uploads run in parallel

    def location(self) -> str:
        return f"https://drive.google.com/drive/folders/{self.root_folder_id}"

    def put(self, invoice: Invoice, kind: str, source: Path, sha256: str) -> DocumentLink:
        archived = self._recorded(invoice, kind)
        if archived is None:
            folder = self._year_folder(invoice)
            archived = self._contents_of(folder).get((invoice.key, kind))
            if archived is None:
                archived = self._create(folder, invoice, kind, source, sha256)
        if archived.sha256 != sha256:
            # Same document, new content (a preview re-issued): a new revision of the same
            # file keeps one file and one link.
            archived = self._replace(archived, kind, source, sha256)
        link = DocumentLink(kind=kind, url=archived.link, sha256=sha256)
        self._state.record_document(self._connection, invoice.key, link)
        return link

    def put_export(self, name: str, source: Path, sha256: str) -> DocumentLink:
        """Archive an export file as `<root>/Exports/<name>`: a new revision of the same file
        when that export was made before (found by its tag `export:<name>`)."""
        key = f"{EXPORT_KEY}{name}"
        folder = self._exports_folder()
        archived = self._contents_of(folder).get((key, "csv"))
        if archived is None:
            body = {"id": self._new_id(), "name": safe_file_name(name), "parents": [folder],
                    "mimeType": MIME_TYPES["csv"],
                    "appProperties": {KEY_PROPERTY: key, KIND_PROPERTY: "csv",
                                      SHA_PROPERTY: sha256}}  # fmt: skip
            with source.open("rb") as content:
                files = self._api.files
                raw = self._api.call(
                    lambda: files.create(body=body, media_body=self._media(content, "csv"),
                                         fields=FILE_FIELDS, supportsAllDrives=True),
                    f"uploading {name}", allow=(409,),
                )  # fmt: skip
            archived = self._created(raw, body, f"uploading {name}")
            with self._lock:
                self._contents.setdefault(folder, {})[(key, "csv")] = archived
        elif archived.sha256 != sha256:
            archived = self._replace(archived, "csv", source, sha256)
        return DocumentLink(kind="csv", url=archived.link, sha256=sha256)

    # -- finding what is already there -------------------------------------------------------

    def export_names(self) -> list[str]:
        found = self._exports_folder()
        keys = (key for key, kind in self._contents_of(found) if kind == "csv")
        return sorted(key.removeprefix(EXPORT_KEY) for key in keys if key.startswith(EXPORT_KEY))

    def remove_export(self, name: str) -> None:
        """Move `Exports/<name>` to the Drive trash (drive.file lets the app trash what it
        made; the person can still restore it from the trash)."""
        found = self._exports_folder()
        key = (f"{EXPORT_KEY}{name}", "csv")
        archived = self._contents_of(found).get(key)
        if archived is None:
            return
        files = self._api.files
        self._api.call(
            lambda: files.update(fileId=archived.id, body={"trashed": True}, fields="id",
                                 supportsAllDrives=True),
            f"moving the older export {name} to the trash",
        )  # fmt: skip
        with self._lock:
            self._contents.get(found, {}).pop(key, None)

    def _exports_folder(self) -> str:
        """The Exports folder's id (found, else created, once per run)."""
        with self._lock:
            self._check_root()
            if (EXPORTS_FOLDER,) not in self._folders:
                self._folders[(EXPORTS_FOLDER,)] = self._folder(self.root_folder_id, EXPORTS_FOLDER)
            return self._folders[(EXPORTS_FOLDER,)]

    def _recorded(self, invoice: Invoice, kind: str) -> DriveFile | None:
        link = self._state.documents(self._connection, invoice.key).get(kind)
        file_id = file_id_from_link(link.url) if link else None
        if file_id is None:
            return None
        return self._get(file_id, f"checking archived file {file_id}")

    def _get(self, file_id: str, what: str) -> DriveFile | None:
        raw = self._api.call(
            lambda: self._api.files.get(fileId=file_id, fields=FILE_FIELDS, supportsAllDrives=True),
            what,
            allow=(404,),
        )
        if raw is None or raw.get("trashed"):
            return None
        return DriveFile.of(raw)

    def _list(self, q: str, what: str) -> Iterator[dict[str, Any]]:
        self._check_root()
        scope: dict[str, Any] = {"corpora": "user"}
        if self._drive_id:
            scope = {"corpora": "drive", "driveId": self._drive_id}
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self._api.call(functools.partial(self._list_request, q, token, scope), what)
            yield from page.get("files", [])
            token = page.get("nextPageToken")
            if not token:
                return
            if token in seen:
                raise SinkError(f"Google Drive repeated a page token while {what}.")
            seen.add(token)

    def _list_request(self, q: str, token: str | None, scope: dict[str, Any]) -> Any:
        return self._api.files.list(
            q=q,
            fields=f"nextPageToken,files({FILE_FIELDS})",
            pageSize=self._page_size,
            pageToken=token,
            supportsAllDrives=True,
            includeItemsFromAllDrives=True,
            **scope,
        )

    def _check_root(self) -> None:
        if self._root_checked:
            return
        raw = self._api.call(
            lambda: self._api.files.get(
                fileId=self.root_folder_id,
                fields="id,name,mimeType,driveId,trashed",
                supportsAllDrives=True,
            ),
            f"opening Drive folder {self.root_folder_id}",
            allow=(404,),
        )
        if raw is None or raw.get("trashed") or raw.get("mimeType") != FOLDER_MIME:
            raise SinkError(
                f"Drive folder {self.root_folder_id} not found or not shared.",
                action="Check --drive-folder, and share the folder with the Google account "
                "billsync uses (or let billsync create it with --create-folder).",
            )
        self._drive_id = raw.get("driveId") or None
        if self._shared_drive and not self._drive_id:
            raise SinkError(
                f"Drive folder {self.root_folder_id} is not in a Shared Drive.",
                action="Pick a folder inside a Shared Drive, or connect without --shared-drive.",
            )
        self._root_checked = True

    def _year_folder(self, invoice: Invoice) -> str:
        year = invoice.period[:4] if invoice.period[:4].isdigit() else "Undated"
        # An inbox PDF no label named a supplier of has an empty Account.
        names = (invoice.provider, invoice.account or UNKNOWN_SUPPLIER, year)
        with self._lock:
            self._check_root()
            parent = self.root_folder_id
            for depth in range(1, len(names) + 1):
                path = tuple(safe_file_name(name) for name in names[:depth])
                if path not in self._folders:
                    self._folders[path] = self._folder(parent, path[-1])
                parent = self._folders[path]
            return parent

    def _folder(self, parent: str, name: str) -> str:
        q = (
            f"name = {quote(name)} and {quote(parent)} in parents and "
            f"mimeType = '{FOLDER_MIME}' and trashed = false"
        )
        found = sorted(self._list(q, f"looking up Drive folder {name}"), key=lambda f: f["id"])
        if found:
            return str(found[0]["id"])
        created = self._create_metadata(
            {"name": name, "mimeType": FOLDER_MIME, "parents": [parent]},
            f"creating Drive folder {name}",
        )
        self._contents[created.id] = {}  # a folder we just made holds nothing yet
        return created.id

    def _contents_of(self, folder: str) -> dict[tuple[str, str], DriveFile]:
        """Our tagged files in `folder`, listed once per run (cheaper than one search a file)."""
        with self._lock:
            if folder not in self._contents:
                q = f"{quote(folder)} in parents and trashed = false"
                tagged: dict[tuple[str, str], DriveFile] = {}
                for raw in self._list(q, "listing an archive folder"):
                    file = DriveFile.of(raw)
                    key = file.properties.get(KEY_PROPERTY)
                    kind = file.properties.get(KIND_PROPERTY)
                    if key and kind:
                        tagged.setdefault((key, kind), file)
                self._contents[folder] = tagged
            return self._contents[folder]

    # -- writing -----------------------------------------------------------------------------

    def _new_id(self) -> str:
        with self._lock:
            if not self._ids:
                answer = self._api.call(
                    lambda: self._api.files.generateIds(count=_ID_BATCH, space="drive"),
                    "reserving Drive file ids",
                )
                self._ids.extend(answer.get("ids", []))
            if not self._ids:
                raise SinkError("Google Drive returned no file ids to reserve.")
            return self._ids.pop(0)

    def _create_metadata(self, body: dict[str, Any], what: str) -> DriveFile:
        body = {"id": self._new_id(), **body}
        raw = self._api.call(
            lambda: self._api.files.create(body=body, fields=FILE_FIELDS, supportsAllDrives=True),
            what,
            allow=(409,),
        )
        return self._created(raw, body, what)

    def _create(
        self, folder: str, invoice: Invoice, kind: str, source: Path, sha256: str
    ) -> DriveFile:
        name = safe_file_name(f"{invoice.period} {invoice.invoice_id}") + f".{kind}"
        body = {
            "id": self._new_id(),
            "name": name,
            "parents": [folder],
            "mimeType": MIME_TYPES.get(kind, "application/octet-stream"),
            "appProperties": {KEY_PROPERTY: invoice.key, KIND_PROPERTY: kind, SHA_PROPERTY: sha256},
        }
        what = f"uploading {name}"
        with source.open("rb") as content:
            raw = self._api.call(
                lambda: self._api.files.create(
                    body=body,
                    media_body=self._media(content, kind),
                    fields=FILE_FIELDS,
                    supportsAllDrives=True,
                ),
                what,
                allow=(409,),
            )
        created = self._created(raw, body, what)
        with self._lock:
            self._contents.setdefault(folder, {})[(invoice.key, kind)] = created
        return created

    def _created(self, raw: dict[str, Any] | None, body: dict[str, Any], what: str) -> DriveFile:
        if raw is not None:
            created = DriveFile.of(raw)
            # The answer may omit appProperties (a fields mask); they are what we just sent.
            return replace(created, properties=created.properties or body.get("appProperties", {}))
        # 409: the id is taken, so an earlier attempt whose answer was lost did create it.
        # Confirm it is ours (same tags) before trusting it.
        found = self._get(body["id"], what)
        expected = body.get("appProperties", {})
        if found is None or any(found.properties.get(k) != v for k, v in expected.items()):
            raise SinkError(f"Google Drive refused a reserved file id while {what}.")
        return found

    def _replace(self, file: DriveFile, kind: str, source: Path, sha256: str) -> DriveFile:
        properties = {**file.properties, SHA_PROPERTY: sha256}
        with source.open("rb") as content:
            raw = self._api.call(
                lambda: self._api.files.update(
                    fileId=file.id,
                    body={"appProperties": properties},
                    media_body=self._media(content, kind),
                    fields=FILE_FIELDS,
                    supportsAllDrives=True,
                ),
                f"updating {file.name}",
            )
        return DriveFile.of(raw)

    def _media(self, content: BinaryIO, kind: str) -> _ChunkBytes:
        """A fresh upload of `content` from its first byte (each retry starts over)."""
        content.seek(0, 2)
        resumable = content.tell() >= self._resumable_threshold
        content.seek(0)
        return _ChunkBytes(
            content,
            mimetype=MIME_TYPES.get(kind, "application/octet-stream"),
            chunksize=self._chunk_size,
            resumable=resumable,
        )
