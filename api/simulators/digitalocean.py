"""A loopback simulator of DigitalOcean's Billing API, wire-exact to the official spec."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import signal
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from api.simulators.do_book import LRU, DOBook, InvoiceRecord
from api.simulators.http_server import (
    Faults,
    LoopbackServer,
    RequestLog,
    SlidingLogLimiter,
    Verdict,
)

# A fixed, obviously fake personal access token (dop_v1_ + 64 hex) the demo and tests share.
DEMO_TOKEN = "dop_v1_" + hashlib.sha256(b"billsync demo token").hexdigest()
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 20
LAST_PAGE_LINKS = ("full", "missing", "empty", "empty_pages")
CACHED_BODIES = 2048  # rendered 200 answers kept: every page and document of a 10-year account
INVOICES = "/v2/customers/my/invoices"

ERRORS = {
    400: ("bad_request", "The request was invalid."),
    401: ("unauthorized", "Unable to authenticate you."),
    403: ("forbidden", "You do not have access for the attempted action."),
    404: ("not_found", "The resource you were accessing could not be found."),
    405: ("method_not_allowed", "The HTTP method is not allowed for this resource."),
    429: ("too_many_requests", "API Rate limit exceeded."),
    500: ("server_error", "Unexpected server-side error"),
    502: ("bad_gateway", "Bad gateway."),
    503: ("service_unavailable", "The service is temporarily unavailable."),
}  # fmt: skip

ROUTES = Map([
    Rule("/v2/account", endpoint="account"),
    Rule("/v2/customers/my/balance", endpoint="balance"),
    Rule("/v2/customers/my/billing_history", endpoint="billing_history"),
    Rule("/v2/customers/my/invoices", endpoint="invoices"),
    Rule("/v2/customers/my/invoices/<invoice_uuid>", endpoint="invoice_items"),
    Rule("/v2/customers/my/invoices/<invoice_uuid>/summary", endpoint="summary"),
    Rule("/v2/customers/my/invoices/<invoice_uuid>/pdf", endpoint="pdf"),
    Rule("/v2/customers/my/invoices/<invoice_uuid>/csv", endpoint="csv"),
], strict_slashes=False)  # fmt: skip


@dataclass(frozen=True)
class DOSimConfig:
    months: int = 24  # final invoices of history, one per month, ending last month
    items_per_invoice: int = 40  # average; each month varies by ±25%, at least 3
    team: bool = True  # /v2/account has a team object
    preview: bool = True  # the listing includes the current month's invoice_preview
    seed: int = 7
    tokens: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({DEMO_TOKEN: "billing"})
    )
    per_minute: int = 250
    per_hour: int = 5000
    time_scale: float = 1.0  # < 1 compresses the rate-limit windows (and nothing else)
    latency: float = 0.0  # seconds added to every response
    today: dt.date | None = None  # "now" for the account (default: the real UTC date)
    last_page_links: str = "full"  # "full" | "missing" | "empty" | "empty_pages"

    def __post_init__(self) -> None:
        if self.last_page_links not in LAST_PAGE_LINKS:
            raise ValueError(f"last_page_links must be one of {LAST_PAGE_LINKS}")
        bad = {scope for scope in self.tokens.values()} - {"billing", "no_billing"}
        if bad:
            raise ValueError(f"token scopes are 'billing' or 'no_billing', not {sorted(bad)}")


class ApiError(Exception):
    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status)
        self.status, self.message = status, message


class DigitalOceanSimulator:
    """The Billing API of one simulated account, on 127.0.0.1 (a context manager)."""

    def __init__(
        self,
        config: DOSimConfig | None = None,
        *,
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config = config or DOSimConfig()
        today = config.today or dt.datetime.now(dt.UTC).date()
        self.book = DOBook(
            seed=config.seed,
            months=config.months,
            items_per_invoice=config.items_per_invoice,
            today=today,
            preview=config.preview,
            team=config.team,
        )
        scale = config.time_scale
        self.limiter = SlidingLogLimiter(
            [(config.per_minute, 60 * scale), (config.per_hour, 3600 * scale)], clock
        )
        self._server = LoopbackServer(
            self._wsgi, latency=config.latency, render_error=self._fault_error, port=port
        )
        self._bodies = LRU(CACHED_BODIES)
        self._bodies_lock = threading.Lock()

    # -- the public test surface -------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def faults(self) -> Faults:
        return self._server.faults

    @property
    def requests(self) -> RequestLog:
        return self._server.requests

    def start(self) -> str:
        return self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> DigitalOceanSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def invoices(self) -> list[dict[str, str]]:
        """The final invoices as the listing shows them, newest first."""
        return [self.book.entry(r) for r in list(self.book.finals)]

    def preview(self) -> dict[str, str] | None:
        return self.book.entry(self.book.preview_record()) if self.config.preview else None

    def items(self, uuid: str) -> list[dict[str, str]]:
        return [line.item() for line in self.book.lines(self._record(uuid))]

    def summary(self, uuid: str) -> dict[str, Any]:
        return self.book.summary(self._record(uuid))

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (a keep-alive client opens about one per worker)."""
        return self._server.connections

    def warm(self, per_page: int = MAX_PER_PAGE) -> int:
        """Render every answer a full sync at `per_page` asks for, before anyone asks.

        DigitalOcean's servers are not on the client's machine; a benchmark warms the
        simulator so its own PDF and JSON rendering does not compete with the client for CPU.
        Needs the server started (the next-page links carry its URL). Returns answers rendered.
        """
        if not self.url:
            raise RuntimeError("start the simulator before warming it")
        paths = [
            f"{INVOICES}?page={page}&per_page={per_page}"
            for page in range(1, max(1, math.ceil(len(self.book.finals) / per_page)) + 1)
        ]
        records = list(self.book.finals)
        if self.config.preview:
            records.append(self.book.preview_record())
        for record in records:
            base = f"{INVOICES}/{record.uuid if not record.preview else 'preview'}"
            pages = max(1, math.ceil(len(self.book.lines(record)) / per_page))
            paths += [f"{base}?page={page}&per_page={per_page}" for page in range(1, pages + 1)]
            paths += [f"{base}/summary"] + (
                [] if record.preview else [f"{base}/pdf", f"{base}/csv"]
            )
        for path in paths:
            request = Request(EnvironBuilder(path, base_url=self.url).get_environ())
            endpoint, args = ROUTES.bind_to_environ(request.environ).match()
            self._rendered(endpoint, args, request)
        return len(paths)

    def advance_month(self) -> None:
        self.book.advance_month()

    def touch_preview(self, extra: Decimal = Decimal("1.23")) -> None:
        self.book.touch_preview(extra)

    def _record(self, uuid: str) -> InvoiceRecord:
        record = self.book.find(uuid)
        if record is None:
            raise KeyError(uuid)
        return record

    # -- the HTTP app ------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except ApiError as error:
            response = _error(error.status, error.message)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        token = _bearer(request)
        scope = self.config.tokens.get(token) if token else None
        if scope is None:
            return self._with_limits(_error(401), self.limiter.check("", count=False))
        verdict = self.limiter.check(token)
        if not verdict.allowed:
            response = _error(429)
            response.headers["retry-after"] = self._seconds(verdict.retry_after)
            return self._with_limits(response, verdict)
        try:
            endpoint, args = ROUTES.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            return self._with_limits(_error(exc.code or 404), verdict)
        if request.method not in ("GET", "HEAD"):
            return self._with_limits(_error(405), verdict)
        if endpoint != "account" and scope != "billing":
            return self._with_limits(_error(403), verdict)
        try:
            response = self._rendered(endpoint, args, request)
        except ApiError as error:
            response = _error(error.status, error.message)
        return self._with_limits(response, verdict)

    def _rendered(self, endpoint: str, args: Mapping[str, str], request: Request) -> Response:
        """A 200 answer is a function of the URL and the account's state: render it once."""
        revision = self.book.revision  # read first: a change during rendering makes a new key
        key = (endpoint, tuple(sorted(args.items())), request.host_url, request.query_string,
               revision)  # fmt: skip
        with self._bodies_lock:
            hit = self._bodies.get(key)
        if hit is None:
            response = getattr(self, f"_get_{endpoint}")(request, **args)
            if response.status_code != 200:
                return response
            hit = (response.get_data(), list(response.headers.items()))
            with self._bodies_lock:
                self._bodies.put(key, hit)
        body, headers = hit
        return Response(body, 200, headers)

    def _get_account(self, request: Request) -> Response:
        account = self.book.account
        body: dict[str, Any] = {
            "droplet_limit": 25, "floating_ip_limit": 5, "email": account.email,
            "uuid": account.uuid,
            "email_verified": True, "status": "active", "status_message": "",
            "name": account.user_name,
        }  # fmt: skip
        if self.config.team:
            body["team"] = {"uuid": account.team_uuid, "name": account.team_name}
        return _json({"account": body})

    def _get_balance(self, request: Request) -> Response:
        return _json(self.book.balance())

    def _get_billing_history(self, request: Request) -> Response:
        return _json(self._page(request, "billing_history", self.book.billing_history()))

    def _get_invoices(self, request: Request) -> Response:
        finals = list(self.book.finals)
        page, per_page = _paging(request)
        shown = finals[(page - 1) * per_page : page * per_page]
        body = {"invoices": [self.book.entry(r) for r in shown]}
        if self.config.preview:
            body["invoice_preview"] = self.book.entry(self.book.preview_record())  # type: ignore
        return _json(self._paged(request, body, len(finals), page, per_page))

    def _get_invoice_items(self, request: Request, invoice_uuid: str) -> Response:
        lines = self.book.lines(self._found(invoice_uuid))
        return _json(self._page(request, "invoice_items", [line.item() for line in lines]))

    def _get_summary(self, request: Request, invoice_uuid: str) -> Response:
        return _json(self.book.summary(self._found(invoice_uuid)))

    def _get_pdf(self, request: Request, invoice_uuid: str) -> Response:
        record = self._found(invoice_uuid, final=True)
        return _attachment(
            self.book.pdf(record), "application/pdf", self.book.file_name(record, "pdf")
        )

    def _get_csv(self, request: Request, invoice_uuid: str) -> Response:
        record = self._found(invoice_uuid, final=True)
        return _attachment(
            self.book.csv(record).encode(),
            "text/csv; charset=utf-8",
            self.book.file_name(record, "csv"),
        )

    def _found(self, uuid: str, final: bool = False) -> InvoiceRecord:
        record = self.book.find(uuid)
        if record is None or (final and record.preview):  # no documents until it is issued
            raise ApiError(404)
        return record

    # -- pagination --------------------------------------------------------------------

    def _page(self, request: Request, key: str, rows: list[Any]) -> dict[str, Any]:
        page, per_page = _paging(request)
        body = {key: rows[(page - 1) * per_page : page * per_page]}
        return self._paged(request, body, len(rows), page, per_page)

    def _paged(
        self, request: Request, body: dict[str, Any], total: int, page: int, per_page: int
    ) -> dict[str, Any]:
        last = max(1, math.ceil(total / per_page))
        base = f"{request.host_url.rstrip('/')}{request.path}"
        pages: dict[str, str] = {}
        if page > 1:
            pages["first"] = f"{base}?page=1&per_page={per_page}"
            pages["prev"] = f"{base}?page={min(page, last + 1) - 1}&per_page={per_page}"
        if page < last:
            pages["next"] = f"{base}?page={page + 1}&per_page={per_page}"
            pages["last"] = f"{base}?page={last}&per_page={per_page}"
        style = self.config.last_page_links if page >= last else "full"
        if style == "full":
            body["links"] = {"pages": pages} if pages else {}
        elif style == "empty":
            body["links"] = {}
        elif style == "empty_pages":
            body["links"] = {"pages": {}}
        body["meta"] = {"total": total}
        return body

    # -- rate limits and errors --------------------------------------------------------

    def _with_limits(self, response: Response, verdict: Verdict) -> Response:
        response.headers["ratelimit-limit"] = str(self.config.per_hour)
        response.headers["ratelimit-remaining"] = str(verdict.remaining)
        response.headers["ratelimit-reset"] = self._epoch(verdict.reset)
        return response

    def _seconds(self, seconds: float) -> str:
        if self.config.time_scale == 1:
            return str(max(1, math.ceil(seconds)))
        return f"{max(0.01, math.ceil(seconds * 100) / 100):.2f}"

    def _epoch(self, moment: float) -> str:
        if self.config.time_scale == 1:
            return str(math.ceil(moment))
        return f"{moment:.2f}"

    def _fault_error(self, status: int, request: Request, headers: dict[str, str]) -> Response:
        response = _error(status)
        response.headers.update(headers)
        token = _bearer(request)
        return self._with_limits(response, self.limiter.check(token or "", count=False))


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _paging(request: Request) -> tuple[int, int]:
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", str(DEFAULT_PER_PAGE)))
    except ValueError:
        raise ApiError(400, "page and per_page must be integers.") from None
    if page < 1:
        raise ApiError(400, "page must be 1 or more.")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(400, f"per_page must be between 1 and {MAX_PER_PAGE}.")
    return page, per_page


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status, content_type="application/json; charset=utf-8"
    )


def _error(status: int, message: str | None = None) -> Response:
    error_id, default = ERRORS.get(status, ("unexpected_error", "An unexpected error occurred."))
    request_id = str(uuidlib.uuid4())
    response = _json(
        {"id": error_id, "message": message or default, "request_id": request_id}, status
    )
    response.headers["x-request-id"] = request_id
    return response


def _attachment(data: bytes, content_type: str, file_name: str) -> Response:
    return Response(
        data,
        200,
        content_type=content_type,
        headers={"content-disposition": f'attachment; filename="{file_name}"'},
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--items", type=int, default=40, help="average line items per invoice")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--per-minute", type=int, default=250)
    parser.add_argument("--per-hour", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--token", action="append", default=[], help="another billing token")
    parser.add_argument("--no-preview", action="store_true")
    parser.add_argument("--personal", action="store_true", help="no team on /v2/account")
    parser.add_argument(
        "--warm", action="store_true", help="render every page and document before serving"
    )
    args = parser.parse_args(argv)
    tokens = {DEMO_TOKEN: "billing", **{t: "billing" for t in args.token}}
    config = DOSimConfig(
        months=args.months,
        items_per_invoice=args.items,
        team=not args.personal,
        preview=not args.no_preview,
        seed=args.seed,
        tokens=tokens,
        per_minute=args.per_minute,
        per_hour=args.per_hour,
        time_scale=args.time_scale,
        latency=args.latency,
    )
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with DigitalOceanSimulator(config, port=args.port) as simulator:
        if args.warm:
            simulator.warm()
        print(f"serving {simulator.url}  (token: {DEMO_TOKEN})", flush=True)
        while not done.wait(0.5):  # short waits keep signal handling prompt
            pass


if __name__ == "__main__":
    main()
