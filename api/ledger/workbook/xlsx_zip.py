"""A small zip writer for .xlsx packages: streamed deflate entries and raw copies of old ones."""

from __future__ import annotations

import os
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

# Level 1 deflate: a 48k-line sheet compresses ~6x at a fraction of level 6's cost.
LEVEL = 1
_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")
_LIMIT = 0xFFFFFFFF  # no zip64: a ledger is far below 4 GB


class ZipWriter:
    """Writes entries one after another to a seekable binary file, then the central directory.

    Each local header is patched in place once its data is written (no data descriptors),
    which is the layout every spreadsheet application reads.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._entries: list[tuple[bytes, int, int, int, int, int]] = []
        now = time.localtime()
        self._date = max(now.tm_year - 1980, 0) << 9 | now.tm_mon << 5 | now.tm_mday
        self._time = now.tm_hour << 11 | now.tm_min << 5 | now.tm_sec // 2

    def write(self, name: str, data: bytes) -> None:
        with self.stream(name) as out:
            out.write(data)

    def stream(self, name: str) -> EntryStream:
        return EntryStream(self, name)

    def copy_raw(self, name: str, source: int, info: zipfile.ZipInfo) -> None:
        """Copy an entry of another package (open file descriptor `source`) as it is stored:
        no inflating and deflating again."""
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise zipfile.BadZipFile(f"{info.filename} is stored in an unexpected way")
        offset = self._header(name, info.compress_type)
        size = 0
        for chunk in stored_chunks(source, info):
            self._file.write(chunk)
            size += len(chunk)
        self._patch(offset, info.CRC, size, info.file_size)

    def close(self) -> None:
        start = self._file.tell()
        for name, method, crc, packed, size, offset in self._entries:
            self._file.write(
                _CENTRAL.pack(
                    b"PK\x01\x02",
                    20,
                    20,
                    0x800,
                    method,
                    self._time,
                    self._date,
                    crc,
                    packed,
                    size,
                    len(name),
                    0,
                    0,
                    0,
                    0,
                    0,
                    offset,
                )  # fmt: skip
            )
            self._file.write(name)
        end = self._file.tell()
        count = len(self._entries)
        self._file.write(_END.pack(b"PK\x05\x06", 0, 0, count, count, end - start, start, 0))
        self._file.flush()

    # -- entry plumbing ---------------------------------------------------------------------

    def _header(self, name: str, method: int) -> int:
        encoded = name.encode()
        offset = self._file.tell()
        self._file.write(
            _LOCAL.pack(
                b"PK\x03\x04", 20, 0x800, method, self._time, self._date, 0, 0, 0, len(encoded), 0
            )  # fmt: skip
        )
        self._file.write(encoded)
        self._entries.append((encoded, method, 0, 0, 0, offset))
        return offset

    def _patch(self, offset: int, crc: int, packed: int, size: int) -> None:
        if max(packed, size, self._file.tell()) > _LIMIT:
            raise OSError("the workbook would exceed 4 GB")
        end = self._file.tell()
        self._file.seek(offset + 14)
        self._file.write(struct.pack("<3L", crc, packed, size))
        self._file.seek(end)
        name, method, *_ = self._entries[-1]
        self._entries[-1] = (name, method, crc, packed, size, offset)


class EntryStream:
    """One deflated entry being written: `write(bytes)` as often as needed, then close."""

    def __init__(self, owner: ZipWriter, name: str) -> None:
        self._owner = owner
        self._offset = owner._header(name, zipfile.ZIP_DEFLATED)
        self._deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        self._crc = self._packed = self._size = 0

    def write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._emit(self._deflate.compress(data))

    def close(self) -> None:
        self._emit(self._deflate.flush())
        self._owner._patch(self._offset, self._crc, self._packed, self._size)

    def __enter__(self) -> EntryStream:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.close()

    def _emit(self, packed: bytes) -> None:
        if packed:
            self._owner._file.write(packed)
            self._packed += len(packed)


def stored_chunks(source: int, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The stored (compressed) bytes of an entry, past its local header. Positional reads
    (pread) leave the descriptor's offset alone for the zipfile reading the same file."""
    header = os.pread(source, _LOCAL.size, info.header_offset)
    if len(header) != _LOCAL.size or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    fields = _LOCAL.unpack(header)
    position = info.header_offset + _LOCAL.size + fields[9] + fields[10]  # name, extra field
    left = info.compress_size
    while left:
        chunk = os.pread(source, min(left, 1 << 20), position)
        if not chunk:
            raise zipfile.BadZipFile(f"{info.filename} is truncated")
        left -= len(chunk)
        position += len(chunk)
        yield chunk
