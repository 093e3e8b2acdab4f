"""A fake Document AI `processors.process` endpoint on loopback, replaying real responses.

Wire: POST /v1/{processor name}:process with the REST JSON body (`rawDocument.content` base64,
`imagelessMode`), answered `{"document": {...}}` in camelCase, errors in Google's shape
`{"error": {"code", "message", "status"}}`. State: the documents to answer per content hash
(the two real Invoice Parser responses are preloaded for their PDFs), a call log, a queue of
faults, and the page limits (15, 30 in imageless mode) enforced like the service.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import flask
from pypdf import PdfReader
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

# The real responses live beside the checkout (../shared/reference), not in the repository.
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "documentai"
PROCESSOR = "projects/demo-project/locations/eu/processors/fake-invoice-parser"
STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED",
          500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip


def reference_path(name: str) -> Path:
    return REFERENCE / name


def have_reference() -> bool:
    return (REFERENCE / "google_invoice.pdf").is_file()


@cache
def google_invoice() -> dict[str, Any]:
    """The real REST response for google_invoice.pdf (camelCase), `document` only."""
    raw = json.loads(reference_path("invoice_parser_response_rest_camelcase.json").read_text())
    return dict(raw["document"])


@cache
def energy_invoice() -> dict[str, Any]:
    """The real snake_case Document of energy_invoice_stained.pdf, in REST camelCase."""
    from google.cloud import documentai

    text = reference_path("invoice_parser_document_snakecase_energy_invoice.json").read_text()
    document = documentai.Document.from_json(text, ignore_unknown_fields=True)
    return dict(json.loads(documentai.Document.to_json(document)))


def without_currency_codes(document: dict[str, Any]) -> dict[str, Any]:
    """A variant: money values carry no currencyCode (the currency entity must supply it)."""
    changed = copy.deepcopy(document)
    for entity in _walk(changed.get("entities", [])):
        money = entity.get("normalizedValue", {}).get("moneyValue")
        if money:
            money.pop("currencyCode", None)
            entity["normalizedValue"]["text"] = str(money.get("units", ""))
    return changed


def with_confidence(document: dict[str, Any], entity_type: str, value: float) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for entity in changed.get("entities", []):
        if entity.get("type") == entity_type:
            entity["confidence"] = value
    return changed


def _walk(entities: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for entity in entities:
        yield entity
        yield from _walk(entity.get("properties", []))


def paged_document(pages: int, first_page: int = 1) -> dict[str, Any]:
    """What the fake answers for content it has no recording of: one line item per page
    ("page N", 1.00 USD), a total equal to their count, and the page numbers."""
    lines = [
        {"type": "line_item", "mentionText": f"page {n} 1.00", "confidence": 1.0,
         "properties": [
             {"type": "line_item/description", "mentionText": f"page {n}", "confidence": 1.0},
             {"type": "line_item/amount", "mentionText": "1.00", "confidence": 1.0,
              "normalizedValue": {"text": "1", "moneyValue": {"units": "1",
                                                              "currencyCode": "USD"}}},
         ]}
        for n in range(first_page, first_page + pages)
    ]  # fmt: skip
    return {"text": "", "pages": [{"pageNumber": n} for n in range(1, pages + 1)],
            "entities": lines}  # fmt: skip


@dataclass
class ProcessCall:
    processor: str
    sha256: str
    pages: int
    imageless: bool
    status: int


@dataclass
class FakeDocumentAi:
    """Start with `with FakeDocumentAi() as fake:`; `fake.url` is the api endpoint."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[ProcessCall] = field(default_factory=list)
    faults: list[tuple[int, str]] = field(default_factory=list)  # (status, message), in order
    url: str = ""
    _server: BaseWSGIServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not have_reference():
            return
        for pdf, document in (("google_invoice.pdf", google_invoice),
                              ("energy_invoice_stained.pdf", energy_invoice)):  # fmt: skip
            self.documents[_sha(reference_path(pdf).read_bytes())] = document()

    def answer(self, content: bytes, document: dict[str, Any]) -> None:
        self.documents[_sha(content)] = document

    def fail_next(self, status: int, message: str) -> None:
        self.faults.append((status, message))

    def __enter__(self) -> FakeDocumentAi:
        app = flask.Flask("fake-documentai")
        app.add_url_rule("/v1/<path:name>", "process", self._process, methods=["POST"])
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- the route ---------------------------------------------------------------------------

    def _process(self, name: str) -> flask.Response:
        if not name.endswith(":process"):
            return _error(404, f"Method not found: {name}")
        body = flask.request.get_json(force=True, silent=True) or {}
        raw = body.get("rawDocument") or {}
        if raw.get("mimeType") != "application/pdf":
            return _error(400, "Unsupported input file format.")
        content = base64.b64decode(raw.get("content", ""))
        imageless = bool(body.get("imagelessMode", False))
        pages = len(PdfReader(io.BytesIO(content)).pages)
        with self._lock:
            status, response = self._answer(content, pages, imageless)
            self.calls.append(ProcessCall(name.removesuffix(":process"), _sha(content), pages,
                                          imageless, status))  # fmt: skip
        return response

    def _answer(self, content: bytes, pages: int, imageless: bool) -> tuple[int, flask.Response]:
        if self.faults:
            status, message = self.faults.pop(0)
            return status, _error(status, message)
        limit = 30 if imageless else 15
        if pages > limit:
            mode = "imageless" if imageless else "non-imageless"
            hint = "" if imageless else " Try using imageless mode to increase the limit to 30."
            message = f"Document pages in {mode} mode exceed the limit: {limit} got {pages}.{hint}"
            return 400, _error(400, message)
        document = self.documents.get(_sha(content)) or paged_document(pages)
        return 200, flask.jsonify({"document": document})


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        pass


def _error(status: int, message: str) -> flask.Response:
    body = {"error": {"code": status, "message": message, "status": STATUS.get(status, "")}}
    response = flask.jsonify(body)
    response.status_code = status
    return response


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
