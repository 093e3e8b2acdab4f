"""The Sheet's inbox: PDFs in a folder "Inbox" inside the connection's Drive folder.

With the `drive.file` scope Drive shows billsync only the files it created or was given
through the Picker, so files a person uploads into "Inbox" through drive.google.com stay
invisible to it; the inbox works with a service account in a Shared Drive, or with the
broader `drive` scope (see the README).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from api.archive.drive import quote
from api.archive.drive_api import DriveApi
from api.errors import SinkError
from api.ports import InboxItem

FOLDER_MIME = "application/vnd.google-apps.folder"
INBOX = "Inbox"
REJECTED = "rejected"


class DriveInbox:
    """`Inbox` on Drive. A processed file is trashed (its copy is in the archive; the trash
    keeps it 30 days); a rejected one moves to "Inbox/rejected" with the reason as its
    description."""

    def __init__(
        self,
        root_folder_id: str,
        credentials: Any,
        *,
        api_url: str,
        shared_drive: bool = False,
        api: DriveApi | None = None,
    ) -> None:
        self.root_folder_id = root_folder_id
        self.shared_drive = shared_drive
        self._api = api or DriveApi(credentials, api_url=api_url)
        self._folders: dict[tuple[str, str], str] = {}

    def location(self) -> str:
        return f"https://drive.google.com/drive/folders/{self._folder(self.root_folder_id, INBOX)}"

    def pending(self) -> list[InboxItem]:
        inbox = self._folder(self.root_folder_id, INBOX)
        q = f"{quote(inbox)} in parents and trashed = false and mimeType != '{FOLDER_MIME}'"
        files = sorted(self._list(q, "listing the Drive inbox"),
                       key=lambda f: (f.get("createdTime", ""), f["name"]))  # fmt: skip
        return [InboxItem(id=str(f["id"]), name=str(f["name"])) for f in files]

    def fetch(self, item: InboxItem, out: Path) -> None:
        content = self._api.call(
            lambda: self._api.files.get_media(fileId=item.id, supportsAllDrives=True),
            f"downloading {item.name} from the Drive inbox",
        )
        out.write_bytes(content)

    def done(self, item: InboxItem) -> None:
        self._api.call(
            lambda: self._api.files.update(
                fileId=item.id, body={"trashed": True}, fields="id", supportsAllDrives=True
            ),
            f"taking {item.name} out of the Drive inbox",
        )

    def reject(self, item: InboxItem, reason: str) -> None:
        inbox = self._folder(self.root_folder_id, INBOX)
        rejected = self._folder(inbox, REJECTED)
        self._api.call(
            lambda: self._api.files.update(
                fileId=item.id,
                addParents=rejected,
                removeParents=inbox,
                body={"description": f"Rejected by billsync: {reason}"},
                fields="id",
                supportsAllDrives=True,
            ),  # fmt: skip
            f"moving {item.name} to Inbox/rejected",
        )

    # -- internals ---------------------------------------------------------------------------

    def _folder(self, parent: str, name: str) -> str:
        if (parent, name) not in self._folders:
            q = (f"name = {quote(name)} and {quote(parent)} in parents and "
                 f"mimeType = '{FOLDER_MIME}' and trashed = false")  # fmt: skip
            found = sorted(self._list(q, f"looking up Drive folder {name}"), key=lambda f: f["id"])
            if found:
                self._folders[(parent, name)] = str(found[0]["id"])
            else:
                created = self._api.call(
                    lambda: self._api.files.create(
                        body={"name": name, "mimeType": FOLDER_MIME, "parents": [parent]},
                        fields="id",
                        supportsAllDrives=True,
                    ),  # fmt: skip
                    f"creating Drive folder {name}",
                )
                self._folders[(parent, name)] = str(created["id"])
        return self._folders[(parent, name)]

    def _list(self, q: str, what: str) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self._api.call(functools.partial(self._list_request, q, token), what)
            files += page.get("files", [])
            token = page.get("nextPageToken")
            if not token:
                return files
            if token in seen:
                raise SinkError(f"Google Drive repeated a page token while {what}.")
            seen.add(token)

    def _list_request(self, q: str, token: str | None) -> Any:
        return self._api.files.list(
            q=q, fields="nextPageToken,files(id,name,mimeType,createdTime)", pageSize=100,
            pageToken=token, supportsAllDrives=True,
            includeItemsFromAllDrives=self.shared_drive,
        )  # fmt: skip
