"""The DoiT Invoices API as a billsync Provider: windowed listing, invoice details, error table."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from api import logs
from api.core.model import FetchedInvoice, InvoiceRef
from api.errors import (
    AuthError,
    PermissionError_,
    ProviderError,
    ProviderNotFound,
    RateLimited,
    RetriableError,
)
from api.http import ApiClient, Sleep
from api.providers.doit_mapping import (
    DISPLAY_NAME,
    PROVIDER,
    Wire,
    epoch_ms,
    fetched_invoice,
    filter_expression,
    invoice_ref,
    malformed,
)
from api.settings import HttpSettings

log = logs.get("providers.doit")

INVOICES_PATH = "/billing/v1/invoices"
VALIDATE_PATH = "/auth/v1/validate"
PAGE_SIZE = 100
MIN_TIMEOUT = 125.0  # DoiT's own requests may take up to 120 s before its proxy answers 524

_RECONNECT = "run `billsync connect doit` again"
_KEY_ACTION = f"Create a new API key in the DoiT console (Profile > API) and {_RECONNECT}."
_STATUS_TABLE: dict[int, tuple[type[ProviderError], str, str]] = {
    401: (AuthError, "DoiT rejected the API key (invalid, revoked or expired).", _KEY_ACTION),
    403: (PermissionError_, "The DoiT user behind this API key lacks the Invoice Viewer "
          "permission.", "Ask a DoiT admin to give that user a role with Invoice Viewer "
          f"(Admin or Finance User), then {_RECONNECT}."),
    404: (ProviderNotFound, "DoiT found nothing at {path}.",
          "Run the sync again; if this persists, the invoice may have been withdrawn."),
    429: (RateLimited, "DoiT's rate limit was reached.",
          "Wait a few minutes, then run the sync again."),
}  # fmt: skip
_CODE_TABLE: dict[str, tuple[str, str]] = {
    "tenant_id_required": (
        "This DoiT API key can reach several customers (tenants), so DoiT needs to know which.",
        f"Find the customer id in the DoiT console and {_RECONNECT} with --tenant <id>."),
    "tenant_id_mismatch": (
        "The DoiT tenant id of this connection is not one this API key may access.",
        f"Check the customer id in the DoiT console and {_RECONNECT} with the right --tenant."),
    "pagination_token_expired": (
        "DoiT's page token expired while listing invoices.", "Run the sync again."),
    "pagination_token_invalid": (
        "DoiT did not accept its own page token while listing invoices.", "Run the sync again."),
    "validation_failed": (
        "DoiT refused the invoice query.", "Check the connection's DoiT filters."),
}  # fmt: skip
_RESTART_CODES = frozenset({"pagination_token_expired", "pagination_token_invalid"})


class PageTokenRejected(ProviderError):
    """DoiT refused a pageToken (expired or invalid): the listing must restart from page one."""

    code = "provider_page_token"


def parse_error(response: httpx.Response) -> ProviderError:
    """The one place DoiT error bodies are read: problem+json, legacy {"error"}, proxy HTML."""
    status = response.status_code
    code, detail, retryable = _error_body(response)
    request_id = response.headers.get("request-id") or None
    if code in _RESTART_CODES:
        message, action = _CODE_TABLE[code]
        return PageTokenRejected(message, provider=DISPLAY_NAME, status=status,
                                 request_id=request_id, action=action)  # fmt: skip
    if code in _CODE_TABLE:
        kind: type[ProviderError] = ProviderError
        message, action = _CODE_TABLE[code]
    elif status in _STATUS_TABLE:
        kind, message, action = _STATUS_TABLE[status]
        message = message.format(path=_path(response))
    elif status >= 500 or retryable:
        kind, message = RetriableError, f"DoiT had a server error (HTTP {status})."
        action = "This is usually temporary; run the sync again later."
    elif status == 400 and ("tenant" in detail.lower() or "customercontext" in detail.lower()):
        # a legacy body names no code, only a sentence about the tenant
        kind = ProviderError
        message, action = _CODE_TABLE["tenant_id_required"]
        message = "DoiT needs a valid tenant (customer) for this API key."
    else:
        kind, message = ProviderError, f"DoiT refused the request (HTTP {status})."
        action = "Please report this with the request id."
    if detail:
        message = f"{message} DoiT said: {detail}"
    elif code == "html":
        message = f"{message} The answer was an HTML page from a proxy in front of DoiT."
    return kind(message, provider=DISPLAY_NAME, status=status, request_id=request_id,
                action=action)  # fmt: skip


def _error_body(response: httpx.Response) -> tuple[str, str, bool]:
    """(code, detail, retryable) of an error body; ("html", "", False) for an HTML page."""
    text = response.text.strip() if response.content else ""
    if text.startswith("{"):
        try:
            body = response.json()
        except ValueError:
            return "", "", False
        if isinstance(body, dict):
            if isinstance(body.get("error"), str):  # legacy shape: {"error": "..."}
                return "", _shown(body["error"]), False
            code, detail, title = (_text(body, name) for name in ("code", "detail", "title"))
            return code[:60], _shown(detail or title), body.get("retryable") is True
    if text.startswith("<") or "html" in response.headers.get("content-type", ""):
        return "html", "", False
    return "", "", False


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    return value if isinstance(value, str) else ""


def _shown(detail: str) -> str:
    # A server sentence reaches a person: shorten it and scrub anything token-like.
    return logs.scrub(" ".join(detail.split()))[:300]


def _path(response: httpx.Response) -> str:
    try:
        return response.request.url.path
    except RuntimeError:  # a response built by hand has no request
        return "the requested path"


class DoitProvider:
    """One DoiT customer (tenant) reached with one API key."""

    name = PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        http: HttpSettings,
        tenant_id: str | None = None,
        window_days: int = 120,
        filters: Mapping[str, Sequence[str]] | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
        page_size: int = PAGE_SIZE,
        account: str | None = None,
    ) -> None:
        """`account` is the label saved at connect time; it saves a validate call per sync."""
        if window_days < 1:
            raise ValueError("window_days must be at least 1")
        self.tenant_id = tenant_id or None
        self.window_days = window_days
        self.page_size = page_size
        self._filter = filter_expression(filters)  # a bad filter fails now, not mid-sync
        self._clock = clock
        self._label: str | None = account or None
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        if self.tenant_id:
            headers["X-Tenant-Id"] = self.tenant_id
        self._api = ApiClient(
            provider=DISPLAY_NAME,
            base_url=base_url,
            headers=headers,
            error_for=parse_error,
            secret=api_key,
            http=replace(http, timeout=max(http.timeout, MIN_TIMEOUT)),
            backoff_initial=2.0,
            backoff_max=60.0,
            sleep=sleep,
            wall_clock=lambda: self._clock().timestamp(),  # for a Retry-After date
            transport=transport,
        )

    @property
    def calls(self) -> int:
        """HTTP calls made so far, retries included."""
        return self._api.calls

    def account_label(self) -> str:
        """Validates the key; the label is the tenant id, else the key's domain, else DoiT."""
        body = Wire(self._api.get_json(VALIDATE_PATH, self._base_params()), "the key validation")
        self._label = self.tenant_id or body.text("domain") or body.text("email") or DISPLAY_NAME
        return self._label

    def list_invoices(self, *, first_sync: bool) -> list[InvoiceRef]:
        """All invoices on a first sync; afterwards those created in the last `window_days`
        (DoiT invoices change after issue and are posted days after month end)."""
        account = self.tenant_id or self._label or self.account_label()
        params = self._base_params()
        params["maxResults"] = self.page_size
        if not first_sync:
            since = self._clock() - dt.timedelta(days=self.window_days)
            params["minCreationTime"] = epoch_ms(since)
        if self._filter:
            params["filter"] = self._filter
        try:
            items = list(self._walk(params))
        except PageTokenRejected:
            log.info("DoiT rejected a page token; restarting the invoice listing once")
            try:
                items = list(self._walk(params))
            except PageTokenRejected as again:
                raise ProviderError(
                    "DoiT's page tokens expired twice while listing invoices; the listing "
                    "is too slow for DoiT's token lifetime.", provider=DISPLAY_NAME,
                    status=again.status, request_id=again.request_id,
                    action="Run the sync again; if it persists, shorten the window or add "
                    "filters to the connection.",
                ) from None  # fmt: skip
        refs: dict[str, InvoiceRef] = {}
        for item in items:
            ref = invoice_ref(item, account)
            refs.setdefault(ref.key, ref)  # an invoice shifted across pages counts once
        return list(refs.values())

    def fetch_invoice(self, ref: InvoiceRef, account: str) -> FetchedInvoice:
        invoice_id = ref.handle.get("id")
        if not invoice_id:
            raise ValueError(f"{ref.key} is not a DoiT invoice reference")
        body = self._api.get_json(
            f"{INVOICES_PATH}/{quote(invoice_id, safe='')}", self._base_params(),
            parse_float=Decimal,
        )  # fmt: skip
        return fetched_invoice(ref, account, body)

    def download(self, ref: InvoiceRef, kind: str, out: BinaryIO) -> None:
        raise ProviderError(
            f"DoiT's API offers no {kind.upper()} for invoice {ref.invoice_id}.",
            provider=DISPLAY_NAME,
            action="Open the Source URL in the DoiT console to download the PDF.",
        )

    def close(self) -> None:
        self._api.close()

    def _base_params(self) -> dict[str, Any]:
        # Legacy API keys read the tenant from customerContext; newer tokens ignore it.
        return {"customerContext": self.tenant_id} if self.tenant_id else {}

    def _walk(self, params: Mapping[str, Any]) -> Iterator[object]:
        """Every invoice summary of the listing, page by page (tokens are opaque)."""
        token: str | None = None
        seen: set[str] = set()
        pages = 0
        while True:
            query = dict(params, pageToken=token) if token else dict(params)
            body = Wire(self._api.get_json(INVOICES_PATH, query, parse_float=Decimal),
                        "a page of invoices")  # fmt: skip
            invoices = body.data.get("invoices")
            if invoices is None:
                invoices = []  # DoiT omits the list when nothing matches
            if not isinstance(invoices, list):
                raise malformed("a page of invoices has an 'invoices' that is not a list")
            pages += 1
            yield from invoices
            token = body.text("pageToken") or None
            if token is None:
                log.debug("listed DoiT invoices in %d pages", pages)
                return
            if token in seen:
                raise malformed("the next page token pointed back to a page already read")
            seen.add(token)
