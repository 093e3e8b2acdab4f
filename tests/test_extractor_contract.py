"""One contract for both Extractor adapters: the local rules and Document AI (fake endpoint)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from pypdf import PdfReader, PdfWriter

from api.errors import RejectedDocument
from api.extract.documentai import DocumentAiExtractor, retry_policy
from api.extract.local import LocalExtractor
from api.ports import Extractor
from tests.fakes import documentai as fake_docai
from tests.fakes import invoice_pdfs


@pytest.fixture(params=["local", "documentai"])
def extractor(request: pytest.FixtureRequest) -> Iterator[Extractor]:
    if request.param == "local":
        yield LocalExtractor()
        return
    with fake_docai.FakeDocumentAi() as fake:
        yield DocumentAiExtractor(
            fake_docai.PROCESSOR, api_url=fake.url, credentials=AnonymousCredentials(),
            retry=retry_policy(deadline=0.2, initial=0.01, maximum=0.02),
        )  # fmt: skip


def test_a_pdf_gives_its_page_count_and_the_extractor_name(
    extractor: Extractor, tmp_path: Path
) -> None:
    path, _ = invoice_pdfs.write(tmp_path, "multipage")

    document = extractor.extract(path, sha256="", connection="c")

    assert document.pages == len(PdfReader(path).pages) > 1
    assert document.extractor == extractor.name


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"PK\x03\x04 a zip", "not a PDF"), (b"%PDF-1.4\n%%EOF", "damaged"), (b"", "not a PDF")],
)
def test_an_unusable_file_is_rejected_before_any_call(
    extractor: Extractor, tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)

    with pytest.raises(RejectedDocument, match=reason):
        extractor.extract(path, sha256="", connection="c")


def test_an_encrypted_pdf_is_rejected(extractor: Extractor, tmp_path: Path) -> None:
    plain, _ = invoice_pdfs.write(tmp_path, "ruled")
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="pw", owner_password="owner")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)

    with pytest.raises(RejectedDocument, match="encrypted"):
        extractor.extract(locked, sha256="", connection="c")
