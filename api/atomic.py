"""Crash-safe file replacement shared by the local adapters: temp file, fsync, rename, fsync dir;
and the SHA-256 of a file, by which every archive and the inbox know content."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def replacing(target: Path, *, sync_dir: bool = True) -> Iterator[BinaryIO]:
    """Yield a hidden temp file beside `target`; on a clean exit it is fsynced and renamed over
    `target` (so readers see the old file or the new one, never half of one). On any error the
    temp file is removed and `target` is untouched. mkstemp creates it with mode 0600."""
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
        if sync_dir:
            fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` survive a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, 64 hex digits (read in chunks, never whole)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
