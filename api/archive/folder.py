"""The embedded archive: invoice documents in a folder tree on disk, one copy each."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from api.archive import EXPORT_KEY
from api.atomic import file_sha256, fsync_dir, replacing
from api.core.model import DocumentLink, Invoice
from api.core.pdf_ledger import UNKNOWN_SUPPLIER
from api.core.text import safe_file_name
from api.errors import SinkError

INDEX_NAME = ".billsync-index.json"  # the manifest: relative path -> {"key", "kind", "sha256"}
JOURNAL_NAME = ".billsync-index.jsonl"  # tags added since, one JSON object a line
LOCK_NAME = ".billsync-index.lock"
COMPACT_AT = 256 * 1024  # journal bytes (~1,200 tags) before it is folded into the manifest
# Folder names a person recognises; an unknown provider keeps its own name.
EXPORTS_FOLDER = "Exports"  # bill import files for accounting products
REMOVED = ""  # the sha256 of a journal entry that records a removal
PROVIDER_FOLDERS = {"digitalocean": "DigitalOcean", "doit": "DoiT", "pdf": "PDF inbox"}


class FolderStore:
    """`FileStore` on a local folder: `<root>/<Provider>/<Account>/<YYYY>/<YYYY-MM> <ID>.<kind>`.

    Each file is tagged with its invoice key and sha256 in `<root>/.billsync-index.json`.
    Extended attributes would be the closer match to Drive's appProperties, but they do not
    survive copying the folder to a USB stick, a zip or a cloud-synced folder; a JSON manifest
    beside the files does, and a person can read it.

    A put appends one line to a journal beside the manifest instead of rewriting it (which
    made every put O(archive) and serialized the engine's fetch workers behind one lock); the
    journal is folded into the manifest once it grows past `compact_at` bytes. Copying and fsyncing
    happen outside the lock; only the rename and the journal line are serialized, so a tag
    always describes the file that is on disk. Crash safety: the file is renamed into place
    before it is tagged, and tagged before put returns (so before the engine records it); a
    crash in between leaves an untagged file that the next put of the same content tags
    without copying it again. A line torn by a crash is skipped on reading.
    """

    def __init__(self, root: Path, *, compact_at: int = COMPACT_AT) -> None:
        self.root = Path(root)
        self.compact_at = compact_at
        self._lock = threading.Lock()

    def location(self) -> str:
        return str(self.root)

    def path_for(self, invoice: Invoice, kind: str) -> Path:
        year = invoice.period[:4] if invoice.period[:4].isdigit() else "undated"
        # The extension is added after cleaning, so an id like ".." cannot swallow it.
        name = f"{safe_file_name(f'{invoice.period} {invoice.invoice_id}')}.{safe_file_name(kind)}"
        account = invoice.account or UNKNOWN_SUPPLIER  # an inbox PDF no label named a supplier of
        parts = (PROVIDER_FOLDERS.get(invoice.provider, invoice.provider), account, year)
        return self.root.joinpath(*(safe_file_name(part) for part in parts), name)

    def put(self, invoice: Invoice, kind: str, source: Path, sha256: str) -> DocumentLink:
        target = self.path_for(invoice, kind)
        tag = {"file": target.relative_to(self.root).as_posix(), "key": invoice.key,
               "kind": kind, "sha256": sha256}  # fmt: skip
        try:
            self._archive(source, target, sha256, tag)
        except OSError as exc:
            raise SinkError(
                f"Could not archive the {kind.upper()} of invoice {invoice.invoice_id} in "
                f"{self.root} ({exc.strerror or type(exc).__name__}).",
                action="Check the disk space and that the folder is writable, then sync again.",
            ) from None
        return DocumentLink(kind=kind, url=target.resolve().as_uri(), sha256=sha256)

    def put_export(self, name: str, source: Path, sha256: str) -> DocumentLink:
        """Archive an export file as `<root>/Exports/<name>` (replacing an older export of the
        same name), tagged with the key `export:<name>`; returns its link."""
        target = self.root / EXPORTS_FOLDER / safe_file_name(name)
        tag = {"file": target.relative_to(self.root).as_posix(), "key": f"{EXPORT_KEY}{name}",
               "kind": "csv", "sha256": sha256}  # fmt: skip
        try:
            self._archive(source, target, sha256, tag)
        except OSError as exc:
            raise SinkError(
                f"Could not save the export {name} in {self.root} "
                f"({exc.strerror or type(exc).__name__}).",
                action="Check the disk space and that the folder is writable, then export again.",
            ) from None
        return DocumentLink(kind="csv", url=target.resolve().as_uri(), sha256=sha256)

    def export_names(self) -> list[str]:
        return sorted(tag["key"].removeprefix(EXPORT_KEY) for tag in self.index().values()
                      if tag["key"].startswith(EXPORT_KEY))  # fmt: skip

    def remove_export(self, name: str) -> None:
        """Delete `<root>/Exports/<name>` and journal its removal (an entry without content)."""
        target = self.root / EXPORTS_FOLDER / safe_file_name(name)
        tag = {"file": target.relative_to(self.root).as_posix(), "key": f"{EXPORT_KEY}{name}",
               "kind": "csv", "sha256": REMOVED}  # fmt: skip
        with self._lock, self._locked(fcntl.LOCK_EX):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            journal = self._append(tag)
        _sync_journal(journal)

    def index(self) -> dict[str, dict[str, str]]:
        """The manifest, journal applied: relative file path -> {"key", "kind", "sha256"}."""
        if not self.root.is_dir():
            return {}
        with self._locked(fcntl.LOCK_SH):
            return self._read_index()

    # -- internals ---------------------------------------------------------------------------

    def _archive(self, source: Path, target: Path, sha256: str, tag: dict[str, str]) -> None:
        # Missing, or re-issued with other content: stage a copy beside it (in parallel with
        # other puts), then rename it into place and tag it together, under the lock.
        staged = None if _holds(target, sha256) else _stage(source, target)
        try:
            with self._lock, self._locked(fcntl.LOCK_EX):
                if staged is None and not _holds(target, sha256):
                    staged = _stage(source, target)  # changed since we looked: rare, so inline
                if staged is not None:
                    os.replace(staged, target)
                    staged = None
                journal = self._append(tag)
        finally:
            if staged is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(staged)
        fsync_dir(target.parent)  # the rename survives a power cut before the engine records it
        _sync_journal(journal)

    def _append(self, tag: dict[str, str]) -> int | None:
        """Write one journal line (under the lock); return its fd to fsync after unlocking.

        Folds the journal into the manifest instead when it has grown past `compact_at` bytes.
        """
        path = self.root / JOURNAL_NAME
        line = json.dumps(tag, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a crash tore the last line: start on a fresh one
            os.write(fd, line)
            if size + len(line) < self.compact_at:
                return fd
            self._compact(fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return None

    def _compact(self, journal: int) -> None:
        """Manifest := manifest + journal (atomically), then empty the journal.

        A crash between the two replays the journal onto a manifest that already holds it:
        the same entries again, nothing lost.
        """
        entries = self._read_index()
        text = json.dumps(entries, indent=1, sort_keys=True, ensure_ascii=False)
        with replacing(self.root / INDEX_NAME) as out:
            out.write(text.encode("utf-8"))
        os.ftruncate(journal, 0)
        os.fsync(journal)

    def _read_index(self) -> dict[str, dict[str, str]]:
        entries = _read_manifest(self.root / INDEX_NAME)
        try:
            lines = (self.root / JOURNAL_NAME).read_bytes().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            tag = _journal_tag(line)
            if tag is not None:
                name = tag.pop("file")
                if tag["sha256"] == REMOVED:
                    entries.pop(name, None)
                else:
                    entries[name] = tag
        return entries

    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        """One writer (or any number of readers) at a time, across processes too."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_NAME, "a") as handle:
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _sync_journal(journal: int | None) -> None:
    """fsync and close the journal fd `_append` handed back (None: it was compacted)."""
    if journal is None:
        return
    try:
        os.fsync(journal)
    finally:
        os.close(journal)


def _read_manifest(path: Path) -> dict[str, dict[str, str]]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # a damaged manifest is rebuilt entry by entry as files are archived
    return data if isinstance(data, dict) else {}


def _journal_tag(line: bytes) -> dict[str, str] | None:
    """One journal line as a tag, or None for a blank or torn line."""
    try:
        tag = json.loads(line)
    except ValueError:
        return None
    fields = ("file", "key", "kind", "sha256")
    if not isinstance(tag, dict) or not all(isinstance(tag.get(f), str) for f in fields):
        return None
    return {field: tag[field] for field in fields}


def _holds(target: Path, sha256: str) -> bool:
    """True when `target` exists with exactly this content."""
    try:
        return file_sha256(target) == sha256
    except FileNotFoundError:
        return False


def _stage(source: Path, target: Path) -> str:
    """Copy (the engine deletes its temp file) to a hidden temp name beside target, fsynced."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as data:
            shutil.copyfileobj(data, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return temp
