"""The embedded adapters pass the shared contracts: the .xlsx workbook and the folder archive."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import openpyxl
import pytest

from api.archive.folder import FolderStore
from api.core.model import DocumentLink
from api.ledger.workbook.ledger import WorkbookLedger
from tests.contract.filestore_contract import FileStoreContract
from tests.contract.ledger_contract import LedgerSinkContract


class TestWorkbookLedger(LedgerSinkContract):
    @pytest.fixture
    def sink(self, tmp_path: Path) -> WorkbookLedger:
        return WorkbookLedger(tmp_path / "ledger.xlsx")

    def reorder_columns(self, sink: WorkbookLedger, tab: str, new_order: list[str]) -> None:
        """What a user does in Excel: drag columns around, save (values, links and formats)."""
        book = openpyxl.load_workbook(sink.path)
        sheet = book[tab]
        columns = {cell.value: cell.column for cell in sheet[1]}
        cells = [[(c.value, c.hyperlink, c.number_format) for c in r] for r in sheet.iter_rows()]
        for row in sheet.iter_rows():
            for cell in row:
                cell.value, cell.hyperlink = None, None
        for r, row in enumerate(cells, 1):
            for c, name in enumerate(new_order, 1):
                value, link, number_format = row[columns[name] - 1]
                target = sheet.cell(row=r, column=c, value=value)
                target.number_format = number_format
                if isinstance(value, str):
                    target.data_type = "s"  # keep text text, as the sheet had it
                if link is not None:
                    target.hyperlink = link.target
        book.save(sink.path)


class TestFolderStore(FileStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> FolderStore:
        return FolderStore(tmp_path / "archive")

    def files(self, store: FolderStore) -> list[Path]:
        return [p for p in store.root.rglob("*") if p.is_file() and not p.name.startswith(".")]

    def count_files(self, store: FolderStore) -> int:
        return len(self.files(store))

    def read(self, store: FolderStore, link: DocumentLink) -> bytes:
        path = Path(url2pathname(urlsplit(link.url).path))
        assert path.is_relative_to(store.root.resolve())  # never outside the archive
        return path.read_bytes()

    def names(self, store: FolderStore) -> list[str]:
        return [p.name for p in self.files(store)]
