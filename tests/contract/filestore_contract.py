"""The FileStore contract: the folder archive and Drive pass these same tests.

Subclass `FileStoreContract` with a fixture `store` (an empty archive) and the hooks
`count_files(store)` (documents archived), `read(store, link)` (a document's bytes) and
`names(store)` (every archived file's name, without folders).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from api.core.model import DocumentLink
from tests.contract.samples import invoice

HOSTILE_IDS = ["../../etc", "a/b:c*?", "..", 'x"<y>|z\\w']


def document(folder: Path, content: bytes, name: str = "download.tmp") -> tuple[Path, str]:
    path = folder / name
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


class FileStoreContract:
    def count_files(self, store: Any) -> int:
        raise NotImplementedError

    def read(self, store: Any, link: DocumentLink) -> bytes:
        raise NotImplementedError

    def names(self, store: Any) -> list[str]:
        raise NotImplementedError

    def test_put_returns_a_link_to_the_archived_copy(self, store: Any, tmp_path: Path) -> None:
        source, digest = document(tmp_path, b"%PDF-1.4 invoice one")
        link = store.put(invoice(1), "pdf", source, digest)
        source.unlink()  # the engine deletes its temp file: the archive holds a copy

        assert (link.kind, link.sha256) == ("pdf", digest) and link.url
        assert self.read(store, link) == b"%PDF-1.4 invoice one"
        assert self.names(store) == ["2026-01 INV-1001.pdf"]
        assert store.location()

    def test_the_same_content_twice_makes_no_second_copy(self, store: Any, tmp_path: Path) -> None:
        source, digest = document(tmp_path, b"a,b\n1,2\n")
        first = store.put(invoice(1), "csv", source, digest)
        again = store.put(invoice(1), "csv", source, digest)

        assert again == first
        assert self.count_files(store) == 1

    def test_changed_content_replaces_the_file_in_place(self, store: Any, tmp_path: Path) -> None:
        old, old_digest = document(tmp_path, b"%PDF first issue", "a.tmp")
        new, new_digest = document(tmp_path, b"%PDF re-issued, corrected", "b.tmp")
        first = store.put(invoice(1), "pdf", old, old_digest)
        second = store.put(invoice(1), "pdf", new, new_digest)

        assert second.sha256 == new_digest and second.url == first.url
        assert self.read(store, second) == b"%PDF re-issued, corrected"
        assert self.count_files(store) == 1

    def test_pdf_and_csv_of_many_invoices_each_get_a_file(self, store: Any, tmp_path: Path) -> None:
        for number in (1, 2, 3):
            for kind in ("pdf", "csv"):
                source, digest = document(tmp_path, f"{kind} {number}".encode())
                store.put(invoice(number), kind, source, digest)

        assert self.count_files(store) == 6
        assert sorted(self.names(store))[:2] == ["2026-01 INV-1001.csv", "2026-01 INV-1001.pdf"]

    @pytest.mark.parametrize("hostile", HOSTILE_IDS)
    def test_hostile_invoice_ids_get_safe_names(
        self, store: Any, tmp_path: Path, hostile: str
    ) -> None:
        source, digest = document(tmp_path, b"%PDF hostile")
        link = store.put(invoice(1, invoice_id=hostile, account="../.."), "pdf", source, digest)

        assert self.read(store, link) == b"%PDF hostile"
        (name,) = self.names(store)
        assert not any(char in name for char in '/\\:*?"<>|') and ".." not in name
        assert name.endswith(".pdf") and name.startswith("2026-01 ")

    def test_non_ascii_accounts_and_ids(self, store: Any, tmp_path: Path) -> None:
        source, digest = document(tmp_path, "Rechnung für Zürich".encode())
        inv = invoice(1, account="Société Générale — 東京", invoice_id="№ 42")
        link = store.put(inv, "pdf", source, digest)

        assert self.read(store, link) == "Rechnung für Zürich".encode()
        assert self.names(store) == ["2026-01 № 42.pdf"]
