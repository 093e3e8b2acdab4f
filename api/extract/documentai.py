"""The cloud Extractor: Document AI's Invoice Parser through google-cloud-documentai (REST).

Facts (cloud.google.com/document-ai/quotas, /docs/process-documents-client-libraries): an online
`process` request takes up to 15 pages, or 30 with `imageless_mode`; the endpoint is
`<location>-documentai.googleapis.com`; the processor is named
`projects/P/locations/L/processors/ID[/processorVersions/V]`. Longer PDFs are split into parts
of 30 pages, each sent in imageless mode, and the answers merged.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.api_core.retry import Retry, if_exception_type

from api.core.document import Entity, ExtractedDocument
from api.errors import ConfigError, ExtractionError
from api.extract.pdf_file import open_pdf, split

PROCESSOR = re.compile(
    r"^projects/[^/]+/locations/(?P<location>[a-z0-9-]+)/processors/[^/]+"
    r"(?:/processorVersions/[^/]+)?$"
)
_REQUEST_LINE = re.compile(r"^(?:GET|POST|PUT|PATCH|DELETE) \S+: ")
PAGES = 15  # per request
IMAGELESS_PAGES = 30  # per request with imageless_mode
REPEATED_TYPES = ("line_item", "vat")  # every part's are kept


def retry_policy(*, deadline: float = 120.0, initial: float = 1.0, maximum: float = 30.0) -> Retry:
    """Bounded, jittered retries of 503/504 only (api_core's Retry); a 429 is not retried
    here: the file waits for the next run instead of holding the run for minutes."""
    return Retry(
        predicate=if_exception_type(gexc.ServiceUnavailable, gexc.GatewayTimeout),
        initial=initial, maximum=maximum, multiplier=2.0, timeout=deadline,
    )  # fmt: skip


def endpoint_for(processor: str, api_url: str | None = None) -> str:
    """`api_url` when set (a private endpoint, a fake), else the processor location's host."""
    match = PROCESSOR.match(processor or "")
    if not match:
        raise ConfigError(
            f"DOCUMENTAI_PROCESSOR must look like projects/…/locations/…/processors/…, "
            f"not {processor!r}.",
            action="Copy the processor's full name from the Document AI console.",
        )
    if api_url:
        return api_url.rstrip("/")
    return f"{match['location']}-documentai.googleapis.com"


class DocumentAiExtractor:
    """`Extractor` on the Invoice Parser. `credentials` default to Application Default
    Credentials (resolved on the first call, not at construction)."""

    name = "documentai"

    def __init__(
        self,
        processor: str,
        *,
        api_url: str | None = None,
        credentials: Any = None,
        retry: Retry | None = None,
    ) -> None:
        self.processor = processor
        self.retry = retry or retry_policy()
        self.endpoint = endpoint_for(processor, api_url)
        self.credentials = credentials
        self._client: Any = None

    def extract(self, pdf: Path, *, sha256: str = "", connection: str = "") -> ExtractedDocument:
        """One call per ≤30-page part. Raises RejectedDocument (unreadable file) or
        ExtractionError (quota, a refused request) — the caller leaves the file for later."""
        pages = len(open_pdf(pdf).pages)
        if pages <= PAGES:
            documents = [self._process(pdf.read_bytes(), imageless=False)]
        elif pages <= IMAGELESS_PAGES:
            documents = [self._process(pdf.read_bytes(), imageless=True)]
        else:
            documents = [
                self._process(part, imageless=True) for part in split(pdf, IMAGELESS_PAGES)
            ]
        entities = _merge([_entities(doc) for doc in documents])
        text = "".join(doc.text for doc in documents)
        return ExtractedDocument(entities, pages, self.name, text=text)

    def _process(self, content: bytes, *, imageless: bool) -> Any:
        from google.cloud import documentai

        request = documentai.ProcessRequest(
            name=self.processor,
            raw_document=documentai.RawDocument(content=content, mime_type="application/pdf"),
            skip_human_review=True,
            imageless_mode=imageless,
        )
        try:
            service = self._service()
            return service.process_document(request=request, retry=self.retry, timeout=120).document
        except gexc.TooManyRequests as exc:  # 429 and RESOURCE_EXHAUSTED
            raise ExtractionError(
                f"Document AI quota is exhausted ({_reason(exc)}).",
                action="The PDF stays in the inbox; the next run tries it again.",
            ) from None
        except (gexc.Unauthorized, gexc.Forbidden) as exc:
            raise ExtractionError(
                f"Document AI refused the credentials ({_reason(exc)}).",
                action="Grant the Document AI API User role on its project; "
                "the PDF stays in the inbox.",
            ) from None
        except gexc.ClientError as exc:
            raise ExtractionError(
                f"Document AI refused the PDF ({_reason(exc)}).",
                action="The PDF stays in the inbox; check the processor and the file.",
            ) from None
        except gexc.GoogleAPIError as exc:
            raise ExtractionError(
                f"Document AI failed ({type(exc).__name__}).",
                action="The PDF stays in the inbox; the next run tries it again.",
            ) from None

    def _service(self) -> Any:
        if self._client is None:
            from google.cloud import documentai

            self._client = documentai.DocumentProcessorServiceClient(
                transport="rest",
                credentials=self.credentials,
                client_options=ClientOptions(api_endpoint=self.endpoint),
            )
        return self._client


def _reason(exc: gexc.GoogleAPIError) -> str:
    code = getattr(exc, "code", None)
    message = str(getattr(exc, "message", "") or "").split("\n")[0]
    message = _REQUEST_LINE.sub("", message)[:200]  # "POST <url>: " - the URL is noise
    return f"{int(code) if code else '?'}: {message}" if message else f"HTTP {code}"


def _entities(document: Any) -> list[Entity]:
    return [_entity(entity) for entity in document.entities]


def _entity(entity: Any) -> Entity:
    normalized = entity.normalized_value
    amount: Decimal | None = None
    code = ""
    date: dt.date | None = None
    if "money_value" in normalized:
        money = normalized.money_value
        amount = Decimal(money.units)
        if money.nanos:
            amount += Decimal(money.nanos).scaleb(-9)
        code = money.currency_code
    if "date_value" in normalized and normalized.date_value.year:
        value = normalized.date_value
        date = dt.date(value.year, value.month or 1, value.day or 1)
    return Entity(
        type=entity.type_, mention_text=entity.mention_text,
        confidence=float(entity.confidence), normalized_text=normalized.text,
        amount=amount, currency_code=code, date_value=date,
        properties=tuple(_entity(p) for p in entity.properties),
    )  # fmt: skip


def _merge(parts: list[list[Entity]]) -> tuple[Entity, ...]:
    """Header fields from whichever part is most confident; repeated ones from every part."""
    merged: list[Entity] = []
    best: dict[str, Entity] = {}
    for entities in parts:
        for entity in entities:
            if entity.type in REPEATED_TYPES:
                merged.append(entity)
            elif entity.type not in best or entity.confidence > best[entity.type].confidence:
                best[entity.type] = entity
    return tuple(list(best.values()) + merged)
