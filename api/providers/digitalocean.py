"""The DigitalOcean Billing API as a billsync Provider (invoices, items, summaries, documents)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

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
from api.http import ApiClient, Clock, Sleep, SlidingWindowLimiter
from api.providers.digitalocean_mapping import (
    DISPLAY_NAME,
    DOCUMENTS,
    PROVIDER,
    Wire,
    fetched_invoice,
    final_ref,
    malformed,
    preview_ref,
)
from api.settings import HttpSettings, RateLimits

log = logs.get("providers.digitalocean")

# Our windows are 2% longer than DO's: DO dates requests in whole seconds (ratelimit-reset is
# an integer), so one can stay counted up to a second past its minute.
PACING_MARGIN = 0.02
PER_PAGE = 200  # the documented maximum: fewest calls per listing
INVOICES_PATH = "/v2/customers/my/invoices"
ACCOUNT_PATH = "/v2/account"

_RECONNECT = "run `billsync connect digitalocean` again"
_STATUS_TABLE: dict[int, tuple[type[ProviderError], str, str]] = {
    401: (AuthError, "DigitalOcean rejected the token.",
          f"Create a new read-only token (scope billing:read) and {_RECONNECT}."),
    403: (PermissionError_,
          "The token lacks billing:read, or your team role has no billing access.",
          "Give the token the billing:read and account:read scopes, or ask a team owner for "
          f"billing access, then {_RECONNECT}."),
    404: (ProviderNotFound, "DigitalOcean found nothing at {path}.",
          "Run the sync again; if this persists, the invoice may have been withdrawn."),
    429: (RateLimited, "DigitalOcean's rate limit was reached.",
          "Wait a few minutes, then run the sync again."),
}  # fmt: skip


def parse_error(response: httpx.Response) -> ProviderError:
    """The one place DigitalOcean error bodies are read: DO JSON, a proxy's HTML, or nothing."""
    status = response.status_code
    error_id, detail, body_request_id = _error_body(response)
    request_id = body_request_id or response.headers.get("x-request-id") or None
    path = response.request.url.path if _has_request(response) else "the requested path"
    if status in _STATUS_TABLE:
        kind, message, action = _STATUS_TABLE[status]
        message = message.format(path=path)
    elif status >= 500:
        kind, message = RetriableError, f"DigitalOcean had a server error (HTTP {status})."
        action = "This is usually temporary; run the sync again later."
    else:
        kind, message = ProviderError, f"DigitalOcean refused the request (HTTP {status})."
        action = "Please report this with the request id."
    if detail:
        message = f"{message} DigitalOcean said: {detail}"
    elif error_id == "html":
        message = f"{message} The answer was an HTML page, probably from a proxy in between."
    return kind(message, provider=PROVIDER, status=status, request_id=request_id, action=action)


def _error_body(response: httpx.Response) -> tuple[str, str, str]:
    """(id, message, request_id) of a DO error body; ("html", "", "") for an HTML page."""
    text = response.text.strip() if response.content else ""
    if text.startswith("{"):
        try:
            body = response.json()
        except ValueError:
            return "", "", ""
        if isinstance(body, dict):
            fields = [body.get(name) for name in ("id", "message", "request_id")]
            error_id, detail, request_id = (v if isinstance(v, str) else "" for v in fields)
            # A server message is shown to a person: shorten it and scrub anything token-like.
            return error_id, logs.scrub(" ".join(detail.split()))[:300], request_id[:100]
    if text.startswith("<") or "html" in response.headers.get("content-type", ""):
        return "html", "", ""
    return "", "", ""


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 - raises when the response was built by hand
    except RuntimeError:
        return False
    return True


class Paginator:
    """Walks one DigitalOcean collection: `links.pages.next` first, else `meta.total`.

    A repeated next URL is an error (not an infinite loop); so is a `meta.total` that
    disagrees with what the pages held, or that changes between pages.
    """

    def __init__(self, path: str, label: str, *, base_url: str, per_page: int = PER_PAGE) -> None:
        self.path = path
        self.label = label
        self.per_page = per_page
        self.total: int | None = None
        self.collected = 0
        self.pages = 0
        self._origin = _origin(base_url)
        self._seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()

    def first(self) -> str:
        return self._page_url(1)

    def advance(self, body: Mapping[str, Any], count: int) -> str | None:
        """Record one page of `count` items; return the next URL to fetch, or None."""
        self.pages += 1
        self.collected += count
        total = _meta_total(body, self.label)
        if total is not None and self.total is not None and total != self.total:
            raise malformed(f"the number of {self.label} changed while listing them")
        self.total = total if total is not None else self.total
        link = _next_link(body, self.label)
        if link is None:
            # `links` missing, {} or {"pages": {}}: the count decides whether more pages exist.
            more = self.collected < self.total if self.total is not None else count >= self.per_page
            return self._page_url(self.pages + 1) if more and count else None
        if count == 0:
            raise malformed(f"an empty page of {self.label} linked to a further page")
        return self._remember(self._local(link))

    def finish(self) -> None:
        if self.total is not None and self.total != self.collected:
            raise malformed(
                f"meta.total is {self.total} but the pages of {self.label} held {self.collected}"
            )

    def _page_url(self, page: int) -> str:
        return self._remember(f"{self.path}?{urlencode({'page': page, 'per_page': self.per_page})}")

    def _remember(self, url: str) -> str:
        parts = urlsplit(url)
        seen = (parts.path, frozenset(parse_qsl(parts.query)))
        if seen in self._seen:
            raise malformed(
                f"the next-page link of {self.label} pointed back to a page already read"
            )
        self._seen.add(seen)
        return url

    def _local(self, link: str) -> str:
        # The bearer token only ever goes to the configured base URL: a next link on another
        # host (a proxy rewriting nothing, or a hostile body) is followed by path on our host.
        parts = urlsplit(link)
        if _origin(link) == self._origin:
            return link
        return parts.path + (f"?{parts.query}" if parts.query else "")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _meta_total(body: Mapping[str, Any], label: str) -> int | None:
    meta = body.get("meta")
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        raise malformed(f"a page of {label} has a 'meta' that is not an object")
    total = meta.get("total")
    if total is None:
        return None
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise malformed(f"a page of {label} has a 'meta.total' that is not a count")
    return total


def _next_link(body: Mapping[str, Any], label: str) -> str | None:
    links = body.get("links")
    links = {} if links is None else links
    if not isinstance(links, Mapping):
        raise malformed(f"a page of {label} has a 'links' that is not an object")
    pages = links.get("pages")
    pages = {} if pages is None else pages
    if not isinstance(pages, Mapping):
        raise malformed(f"a page of {label} has a 'links.pages' that is not an object")
    link = pages.get("next")
    if link is not None and not isinstance(link, str):
        raise malformed(f"a page of {label} has a 'links.pages.next' that is not a URL")
    return link or None


class DigitalOceanProvider:
    """One DigitalOcean account (team) reached with one read-only token.

    Pacing: the limiter dates each request when its answer arrives, so network and
    scheduling delays need no allowance (see SlidingWindowLimiter); the 2% margin covers
    DO's whole-second bookkeeping only.
    """

    name = PROVIDER

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        http: HttpSettings,
        limits: RateLimits,
        include_preview: bool = True,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.include_preview = include_preview
        self._base_url = base_url
        self._api = ApiClient(
            provider=PROVIDER,
            display_name=DISPLAY_NAME,
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            error_for=parse_error,
            secret=token,
            http=http,
            limiter=SlidingWindowLimiter(limits, margin=PACING_MARGIN, clock=clock, sleep=sleep),
            sleep=sleep,
            wall_clock=wall_clock,
            transport=transport,
        )

    @property
    def calls(self) -> int:
        """HTTP calls made so far, retries included."""
        return self._api.calls

    def account_label(self) -> str:
        body = Wire(self._api.get_json(ACCOUNT_PATH), "the account")
        account = Wire(body.data.get("account"), "the account's 'account'")
        team = account.data.get("team")
        if team is not None:
            name = Wire(team, "the account's 'team'").text("name")
            if name:
                return name
        label = account.text("email") or account.text("name")
        if not label:
            raise malformed("the account has neither a team name nor an email")
        return label

    def list_invoices(self, *, first_sync: bool) -> list[InvoiceRef]:
        """Every final invoice, and the month-to-date preview; DO always lists them all."""
        del first_sync  # the listing is complete and cheap (200 per page)
        refs: list[InvoiceRef] = []
        preview: object = None
        for body, items in self._walk(INVOICES_PATH, "invoices", "invoices"):
            refs.extend(final_ref(item) for item in items)
            preview = preview or body.get("invoice_preview")
        if self.include_preview and preview:
            refs.append(preview_ref(preview))
        return refs

    def fetch_invoice(self, ref: InvoiceRef, account: str) -> FetchedInvoice:
        uuid = _handle_uuid(ref)
        path = f"{INVOICES_PATH}/{quote(uuid, safe='')}"
        label = "preview items" if ref.is_preview else f"items of invoice {uuid}"
        summary = self._api.get_json(f"{path}/summary")
        items = [item for _, page in self._walk(path, "invoice_items", label) for item in page]
        return fetched_invoice(ref, account, summary, items)

    def download(self, ref: InvoiceRef, kind: str, out: BinaryIO) -> None:
        if kind not in DOCUMENTS:
            raise ValueError(f"DigitalOcean offers {' and '.join(DOCUMENTS)}, not {kind!r}")
        if ref.is_preview:
            raise ValueError("DigitalOcean has no documents for the month-to-date preview")
        uuid = quote(_handle_uuid(ref), safe="")
        self._api.download(f"{INVOICES_PATH}/{uuid}/{kind}", out)

    def close(self) -> None:
        self._api.close()

    def _walk(
        self, path: str, collection: str, label: str
    ) -> Iterator[tuple[Mapping[str, Any], list[object]]]:
        """Yield (page body, its items) for every page of one collection."""
        pager = Paginator(path, label, base_url=self._base_url)
        url: str | None = pager.first()
        while url is not None:
            body = Wire(self._api.get_json(url), f"a page of {label}").data
            items = body.get(collection)
            if not isinstance(items, list):
                raise malformed(f"a page of {label} has no '{collection}' list")
            yield body, items
            url = pager.advance(body, len(items))
        pager.finish()
        log.debug("listed %d %s in %d pages", pager.collected, label, pager.pages)


def _handle_uuid(ref: InvoiceRef) -> str:
    uuid = ref.handle.get("uuid")
    if not uuid:
        raise ValueError(f"{ref.key} is not a DigitalOcean invoice reference")
    return uuid
