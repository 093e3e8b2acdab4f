"""Fake Drive v3: files.get/list/create/update/generateIds, multipart and resumable uploads.

State (DriveState) and the q-language subset (drive_query) are plain Python; the routes only
translate the wire format. Shared Drives follow the real rules: their items are invisible
without supportsAllDrives, and listings need includeItemsFromAllDrives + corpora.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import flask

from tests.fakes.drive_query import Query, QueryError, project
from tests.fakes.google import FakeGoogle, InvalidRequest, google_error

FOLDER_MIME = "application/vnd.google-apps.folder"
SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
UPLOAD = "/upload/drive/v3/files"
DEFAULT_FIELDS = "kind,id,name,mimeType"


@dataclass
class DriveState:
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    content: dict[str, list[bytes]] = field(default_factory=dict)  # id -> revisions
    issued_ids: set[str] = field(default_factory=set)
    drives: dict[str, str] = field(default_factory=dict)  # shared drive id -> name
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # resumable uploads

    def new_id(self) -> str:
        return "1" + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")[:32]

    def add_shared_drive(self, name: str) -> str:
        drive_id = "0A" + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
        self.drives[drive_id] = name
        return drive_id

    def add_folder(self, name: str, parent: str | None = None, drive_id: str | None = None) -> str:
        """A folder the user made (or picked) in the Drive UI; `parent=None` is their root."""
        parents = [parent] if parent else [drive_id or "root"]
        return self.insert({"name": name, "mimeType": FOLDER_MIME, "parents": parents})["id"]

    def insert(self, meta: dict[str, Any], data: bytes | None = None) -> dict[str, Any]:
        file_id = meta.get("id") or self.new_id()
        parents = list(meta.get("parents") or ["root"])
        drive_id = None
        parent = self.files.get(parents[0])
        if parent is not None:
            drive_id = parent.get("driveId")
        elif parents[0] in self.drives:
            drive_id = parents[0]
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        mime = meta.get("mimeType") or ("application/octet-stream" if data else "text/plain")
        record: dict[str, Any] = {
            "kind": "drive#file",
            "id": file_id,
            "name": meta.get("name", "Untitled"),
            "mimeType": mime,
            "parents": parents,
            "appProperties": dict(meta.get("appProperties") or {}),
            "trashed": False,
            "createdTime": now,
            "modifiedTime": now,
            "webViewLink": (
                f"https://drive.google.com/drive/folders/{file_id}"
                if mime == FOLDER_MIME
                else f"https://drive.google.com/file/d/{file_id}/view?usp=drivesdk"
            ),
        }
        if drive_id:
            record["driveId"] = drive_id
        self.files[file_id] = record
        if mime != FOLDER_MIME:
            self.set_content(file_id, data or b"")
        return record

    def set_content(self, file_id: str, data: bytes) -> None:
        self.content.setdefault(file_id, []).append(data)
        record = self.files[file_id]
        record["md5Checksum"] = hashlib.md5(data).hexdigest()  # noqa: S324 - Drive's field
        record["size"] = str(len(data))

    def children(self, parent: str) -> list[dict[str, Any]]:
        return [f for f in self.files.values() if parent in f["parents"] and not f["trashed"]]

    def uploaded(self) -> list[dict[str, Any]]:
        """Every non-folder file, in creation order."""
        return [f for f in self.files.values() if f["mimeType"] != FOLDER_MIME]


def not_found(file_id: str) -> flask.Response:
    message = f"File not found: {file_id}."
    return google_error(404, message, errors=[{
        "domain": "global", "reason": "notFound", "message": message,
        "locationType": "parameter", "location": "fileId"}])  # fmt: skip


def invalid(message: str, location: str) -> flask.Response:
    return google_error(400, message, errors=[{
        "domain": "global", "reason": "invalid", "message": message,
        "locationType": "parameter", "location": location}])  # fmt: skip


def _flag(name: str) -> bool:
    return flask.request.args.get(name, "false").lower() == "true"


def _visible(state: DriveState, file_id: str) -> dict[str, Any] | None:
    record = state.files.get(file_id)
    if record is None or (record.get("driveId") and not _flag("supportsAllDrives")):
        return None
    return record


def _answer(record: dict[str, Any], fields: str | None = None) -> Any:
    return project(record, fields or flask.request.args.get("fields") or DEFAULT_FIELDS)


def _parse_multipart(raw: bytes, content_type: str) -> tuple[dict[str, Any], bytes]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    parts = list(message.iter_parts()) if message.is_multipart() else []
    if len(parts) != 2:
        raise InvalidRequest("Multipart upload needs a metadata part and a media part.")
    metadata = json.loads(parts[0].get_payload(decode=True) or b"{}")
    return metadata, parts[1].get_payload(decode=True) or b""


def register(fake: FakeGoogle) -> None:  # noqa: C901 - one closure per route, on purpose
    state = DriveState()
    fake.drive = state  # type: ignore[attr-defined]

    def create(meta: dict[str, Any], data: bytes | None, fields: str | None = None) -> Any:
        fake.validate("drive", "drive.files.create", {}, meta)
        if "id" in meta:
            if meta["id"] in state.files:
                message = "A file already exists with the provided ID."
                return google_error(
                    409,
                    message,
                    errors=[{"domain": "global", "reason": "duplicate", "message": message}],
                )
            if meta["id"] not in state.issued_ids:
                return invalid("The provided file ID is not usable.", "file.id")
        for parent in meta.get("parents") or []:
            if parent not in state.drives and _visible(state, parent) is None:
                return not_found(parent)
        record = state.insert(meta, data)
        sheets = getattr(fake, "sheets", None)
        if record["mimeType"] == SPREADSHEET_MIME and sheets is not None:
            # A new Google Sheet: one tab "Sheet1" of 1000 x 26, as the Sheets UI makes it.
            sheets.create(record["id"], title=record["name"])
            record["webViewLink"] = f"https://docs.google.com/spreadsheets/d/{record['id']}/edit"
        return _answer(record, fields)

    def update(
        file_id: str, meta: dict[str, Any], data: bytes | None, fields: str | None = None
    ) -> Any:
        fake.validate("drive", "drive.files.update", {}, meta)
        record = _visible(state, file_id)
        if record is None:
            return not_found(file_id)
        if "appProperties" in meta:
            record["appProperties"].update(meta["appProperties"])
        for name in ("name", "description", "trashed"):
            if name in meta:
                record[name] = meta[name]
        args = flask.request.args
        removed = [p for p in args.get("removeParents", "").split(",") if p]
        added = [p for p in args.get("addParents", "").split(",") if p]
        if removed or added:  # a move: Drive keeps one parent per file
            record["parents"] = [p for p in record["parents"] if p not in removed] + added
        if data is not None:
            state.set_content(file_id, data)
        return _answer(record, fields)

    def start_session(target: str | None, meta: dict[str, Any]) -> Any:
        session = secrets.token_urlsafe(16)
        # The session URL carries the initial request's parameters (fields) on Google too.
        state.sessions[session] = {"target": target, "meta": meta, "data": b"", "done": None,
                                   "fields": flask.request.args.get("fields")}  # fmt: skip
        response = flask.make_response("", 200)
        location = f"{fake.url}{UPLOAD}?uploadType=resumable&upload_id={session}"
        response.headers["Location"] = location
        return response

    def receive(target: str | None) -> Any:
        upload_type = flask.request.args.get("uploadType", "")
        raw = flask.request.get_data(cache=True)
        if upload_type == "multipart":
            meta, data = _parse_multipart(raw, flask.request.headers.get("Content-Type", ""))
        elif upload_type == "resumable":
            return start_session(target, json.loads(raw) if raw else {})
        elif upload_type == "media":
            meta, data = {}, raw
        else:
            return invalid(f"Invalid upload type: {upload_type!r}", "uploadType")
        return create(meta, data) if target is None else update(target, meta, data)

    @fake.api_route("drive.files.list")
    def files_list() -> Any:
        args = flask.request.args
        try:
            query = Query.parse(args.get("q", ""))
        except QueryError:
            return invalid("Invalid Value", "q")
        corpora = args.get("corpora", "user")
        if corpora == "drive" and not (args.get("driveId") and _flag("includeItemsFromAllDrives")):
            return invalid("The driveId parameter must be specified if and only if corpora is "
                           "set to drive.", "driveId")  # fmt: skip
        shared = _flag("includeItemsFromAllDrives") and _flag("supportsAllDrives")
        found = [
            f for f in state.files.values()
            if query.matches(f)
            and (not f.get("driveId") or shared)
            and (corpora != "drive" or f.get("driveId") == args.get("driveId"))
        ]  # fmt: skip
        size = min(int(args.get("pageSize", "100")), 1000)
        token = args.get("pageToken") or "0"
        if not token.isdigit():
            return invalid("Invalid Value", "pageToken")
        start = int(token)
        page = found[start : start + size]
        answer: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False,
                                  "files": page}  # fmt: skip
        if start + size < len(found):
            answer["nextPageToken"] = str(start + size)
        return project(answer, args.get("fields") or "nextPageToken,kind,incompleteSearch,files("
                       + DEFAULT_FIELDS + ")")  # fmt: skip

    @fake.api_route("drive.files.generateIds")
    def generate_ids() -> Any:
        count = int(flask.request.args.get("count", "10"))
        if not 1 <= count <= 1000:
            return invalid("Invalid Value", "count")
        ids = [state.new_id() for _ in range(count)]
        state.issued_ids.update(ids)
        space = flask.request.args.get("space", "drive")
        return {"kind": "drive#generatedIds", "space": space, "ids": ids}

    @fake.api_route("drive.files.get")
    def files_get(fileId: str) -> Any:  # noqa: N803 - the discovery name
        record = _visible(state, fileId)
        if record is None:
            return not_found(fileId)
        if flask.request.args.get("alt") == "media":  # the download of the content itself
            if record["mimeType"] == FOLDER_MIME:
                return google_error(403, "Only files with binary content can be downloaded.")
            return flask.Response(state.content[fileId][-1], mimetype=record["mimeType"])
        return _answer(record)

    @fake.api_route("drive.files.create")
    def files_create() -> Any:
        body = flask.request.get_json(silent=True) or {}
        return create(body, None)

    @fake.api_route("drive.files.create", upload=True, methods=["POST"], check=False)
    def files_upload() -> Any:
        return receive(None)

    @fake.api_route("drive.files.update")
    def files_update(fileId: str) -> Any:  # noqa: N803
        return update(fileId, flask.request.get_json(silent=True) or {}, None)

    @fake.api_route("drive.files.update", rule=f"{UPLOAD}/<fileId>", methods=["PATCH"], check=False)
    def files_upload_update(fileId: str) -> Any:  # noqa: N803
        return receive(fileId)

    # The resumable session URL is Google's own, not a discovery method: no validation.
    @fake.api_route("drive.upload.session", rule=UPLOAD, methods=["PUT"])
    def upload_session() -> Any:
        session = state.sessions.get(flask.request.args.get("upload_id", ""))
        if session is None:
            return google_error(404, "Upload session not found.")
        if session["done"] is not None:  # a retried final chunk: the file already exists
            return session["done"]
        chunk = flask.request.get_data(cache=True)
        span, _, total_raw = flask.request.headers.get("Content-Range", "").rpartition("/")
        first = span.removeprefix("bytes ").partition("-")[0]
        if first.isdigit():  # a re-sent chunk overwrites from its own offset, as on Google
            session["data"] = session["data"][: int(first)] + chunk
        if total_raw.isdigit() and len(session["data"]) >= int(total_raw):
            meta, target, fields = session["meta"], session["target"], session["fields"]
            answer = create(meta, session["data"], fields) if target is None else update(
                target, meta, session["data"], fields)  # fmt: skip
            session["done"] = answer
            return answer
        response = flask.make_response("", 308)
        if session["data"]:
            response.headers["Range"] = f"bytes=0-{len(session['data']) - 1}"
        return response
