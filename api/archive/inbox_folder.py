"""The embedded inbox: PDFs a person drops into `$BILLSYNC_HOME/inbox/`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from api.atomic import fsync_dir
from api.errors import SinkError
from api.ports import InboxItem

REJECTED = "rejected"


class FolderInbox:
    """`Inbox` on a local folder. Rejected files move to `rejected/` with a `<name>.reason.txt`;
    processed files are deleted (their copy lives in the archive). Hidden and partial files
    (".name", "~$name", "*.part", "*.crdownload") are left alone while they are being written."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def location(self) -> str:
        return str(self.root)

    def pending(self) -> list[InboxItem]:
        self.root.mkdir(parents=True, exist_ok=True)
        files = [
            path for path in self.root.iterdir()
            if path.is_file() and not _partial(path.name)
        ]  # fmt: skip
        files.sort(key=lambda path: (path.stat().st_mtime, path.name))
        return [InboxItem(id=str(path), name=path.name) for path in files]

    def fetch(self, item: InboxItem, out: Path) -> None:
        shutil.copyfile(item.id, out)

    def done(self, item: InboxItem) -> None:
        path = Path(item.id)
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)

    def reject(self, item: InboxItem, reason: str) -> None:
        folder = self.root / REJECTED
        try:
            folder.mkdir(exist_ok=True)
            target = _free_name(folder / item.name)
            (folder / f"{target.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
            os.replace(item.id, target)
            fsync_dir(folder)
        except OSError as exc:
            raise SinkError(
                f"Could not move {item.name} to {folder} ({exc.strerror or type(exc).__name__}).",
                action="Check that the inbox folder is writable.",
            ) from None


def _partial(name: str) -> bool:
    return name.startswith((".", "~$")) or name.endswith((".part", ".crdownload", ".tmp"))


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate
