"""The embedded archive: invoice documents in a folder tree on disk, one copy each."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from api.core.model import DocumentLink, Invoice
from api.core.text import safe_file_name
from api.errors import SinkError

INDEX_NAME = ".billsync-index.json"
# Folder names a person recognises; an unknown provider keeps its own name.
PROVIDER_FOLDERS = {"digitalocean": "DigitalOcean", "doit": "DoiT", "pdf": "PDF inbox"}


class FolderStore:
    """`FileStore` on a local folder: `<root>/<Provider>/<Account>/<YYYY>/<YYYY-MM> <ID>.<kind>`.

    Each file is tagged with its invoice key and sha256 in `<root>/.billsync-index.json`.
    Extended attributes would be the closer match to Drive's appProperties, but they do not
    survive copying the folder to a USB stick, a zip or a cloud-synced folder; a JSON manifest
    beside the files does, and a person can read it.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def location(self) -> str:
        return str(self.root)

    def path_for(self, invoice: Invoice, kind: str) -> Path:
        year = invoice.period[:4] if invoice.period[:4].isdigit() else "undated"
        # The extension is added after cleaning, so an id like ".." cannot swallow it.
        name = f"{safe_file_name(f'{invoice.period} {invoice.invoice_id}')}.{safe_file_name(kind)}"
        parts = (PROVIDER_FOLDERS.get(invoice.provider, invoice.provider), invoice.account, year)
        return self.root.joinpath(*(safe_file_name(part) for part in parts), name)

    def put(self, invoice: Invoice, kind: str, source: Path, sha256: str) -> DocumentLink:
        target = self.path_for(invoice, kind)
        with self._lock, self._locked():
            try:
                if not (target.exists() and _sha256(target) == sha256):
                    # Missing, or re-issued with other content: replace it in place, atomically.
                    _copy_atomically(source, target)
                self._tag(target, invoice.key, kind, sha256)
            except OSError as exc:
                raise SinkError(
                    f"Could not archive the {kind.upper()} of invoice {invoice.invoice_id} in "
                    f"{self.root} ({exc.strerror or type(exc).__name__}).",
                    action="Check the disk space and that the folder is writable, then sync again.",
                ) from None
        return DocumentLink(kind=kind, url=target.resolve().as_uri(), sha256=sha256)

    def index(self) -> dict[str, dict[str, str]]:
        """The manifest: relative file path -> {"key", "kind", "sha256"}."""
        path = self.root / INDEX_NAME
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a damaged manifest is rebuilt entry by entry as files are archived
        return data if isinstance(data, dict) else {}

    def _tag(self, target: Path, key: str, kind: str, sha256: str) -> None:
        entries = self.index()
        name = target.relative_to(self.root).as_posix()
        entry = {"key": key, "kind": kind, "sha256": sha256}
        if entries.get(name) == entry:
            return
        entries[name] = entry
        text = json.dumps(entries, indent=1, sort_keys=True, ensure_ascii=False)
        _write_atomically(self.root / INDEX_NAME, text.encode("utf-8"))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The manifest is read-modify-written: one writer at a time, across processes too."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".billsync-index.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_atomically(source: Path, target: Path) -> None:
    """Copy (the engine deletes its temp file) to a hidden temp name, fsync, rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as data:
            shutil.copyfileobj(data, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
