"""A stateful DoiT Invoices API simulator on loopback: tenants, tokens, filters, simulated time."""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import fnmatch
import hashlib
import hmac
import json
import random
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from api.simulators.doit_data import ApiProblem, SimInvoice, dumps, generate, matches, parse_filter
from api.simulators.http_server import Fault, Faults, LoopbackServer, RequestLog

DEMO_KEY = "demo-doit-key-not-a-secret"
INVOICE_VIEWER = "Invoice Viewer"
MAX_RESULTS_CAP = 500
_ULID = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _demo_keys() -> dict[str, dict[str, Any]]:
    return {DEMO_KEY: {"tenant": None, "permissions": [INVOICE_VIEWER],
                       "domain": "example.com", "email": "finance@example.com"}}  # fmt: skip


@dataclass(frozen=True)
class DoitSimConfig:
    today: dt.date = dt.date(2026, 11, 21)
    months: int = 12
    tenants: tuple[str, ...] = ("acme-inc",)
    seed: int = 7
    keys: Mapping[str, Mapping[str, Any]] = field(default_factory=_demo_keys)
    token_ttl: float = 600.0  # seconds a page token lives (real time + simulated advance)
    legacy_errors: bool = False  # the pre-2026-08 `{"error": "..."}` error bodies
    end_token: str | None = ""  # last page: "" (empty pageToken) or None (no pageToken)
    latency: float = 0.0
    port: int = 0


class DoitFaults(Faults):
    """The shared fault registry plus DoiT's own: a 524 from its proxy, an expired page token.

    `token_expired` is answered by the simulator itself (only on a request with a pageToken);
    every other kind is answered by the loopback server before the request reaches DoiT.
    """

    OWN_KINDS = frozenset({"524", "token_expired"})

    def add(self, kind: str, path: str = "*", times: int = 1, *, delay: float = 5.0,
            retry_after: str = "") -> None:  # fmt: skip
        if kind not in self.OWN_KINDS:
            super().add(kind, path, times, delay=delay, retry_after=retry_after)
            return
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._pending.append(Fault(kind, path, times, delay, retry_after))

    def take(self, path: str) -> Fault | None:
        return self._take(path, lambda kind: kind != "token_expired")

    def take_app(self, kind: str, path: str) -> bool:
        return self._take(path, lambda candidate: candidate == kind) is not None

    def _take(self, path: str, wanted: Callable[[str], bool]) -> Fault | None:
        with self._lock:
            for fault in self._pending:
                if wanted(fault.kind) and fnmatch.fnmatchcase(path, fault.path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._pending.remove(fault)
                    return fault
        return None


class DoitSimulator:
    """`with DoitSimulator(DoitSimConfig()) as sim:` serves the DoiT API at `sim.url`."""

    def __init__(self, config: DoitSimConfig | None = None) -> None:
        self.config = config or DoitSimConfig()
        self.invoices: list[SimInvoice] = generate(
            self.config.tenants, self.config.today, self.config.months, self.config.seed
        )
        self._offset = 0.0  # simulated seconds added by advance()
        self._start = dt.datetime.combine(self.config.today, dt.time(12), dt.UTC)
        self._secret = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._routes = Map([
            Rule("/billing/v1/invoices", endpoint="list", methods=["GET"]),
            Rule("/billing/v1/invoices/<path:invoice_id>", endpoint="get", methods=["GET"]),
            Rule("/auth/v1/validate", endpoint="validate", methods=["GET"]),
        ])  # fmt: skip
        self.faults = DoitFaults()
        self.server = LoopbackServer(self._wsgi, latency=self.config.latency,
                                     render_error=self._fault_error, port=self.config.port,
                                     faults=self.faults)  # fmt: skip

    # -- lifecycle and time ----------------------------------------------------------------

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> DoitSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> RequestLog:
        return self.server.requests

    @property
    def now(self) -> dt.datetime:
        """Simulated time: statuses, balances and which invoices are posted depend on it."""
        with self._lock:
            return self._start + dt.timedelta(seconds=self._offset)

    @property
    def now_ms(self) -> int:
        return int(self.now.timestamp() * 1000)

    def advance(self, days: float = 0.0, *, seconds: float = 0.0) -> dt.datetime:
        with self._lock:
            self._offset += days * 86_400 + seconds
        return self.now

    def visible(self, tenant: str) -> list[SimInvoice]:
        """Invoices posted by now for `tenant`, newest first (the API's default order)."""
        now = self.now_ms
        shown = [inv for inv in self.invoices if inv.tenant == tenant and inv.created_ms <= now]
        return sorted(shown, key=lambda inv: (inv.invoice_ms, inv.id), reverse=True)

    # -- routes ----------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, args = self._routes.bind_to_environ(environ).match()
            if endpoint == "validate":
                response = self._validate(request)
            else:
                tenant = self._authorize(request)
                if endpoint == "list":
                    response = self._json(self._list(request, tenant))
                else:
                    response = self._json(self._get(tenant, args["invoice_id"]))
        except NotFound:
            response = self._problem(request, ApiProblem(404, "not_found", "no such route"))
        except ApiProblem as problem:
            response = self._problem(request, problem)
        return response(environ, start_response)

    def _validate(self, request: Request) -> Response:
        entry = self.config.keys.get(_bearer(request))
        if entry is None:
            return Response(json.dumps({"error": "Invalid API key"}), 401,
                            content_type="application/json")  # fmt: skip
        return self._json({"domain": entry.get("domain", "example.com"),
                           "email": entry.get("email", "api@example.com")})  # fmt: skip

    def _authorize(self, request: Request) -> str:
        entry = self.config.keys.get(_bearer(request))
        if entry is None:
            raise ApiProblem(401, "unauthorized", "missing or invalid bearer token")
        allowed = (
            [entry["tenant"]]
            if entry.get("tenant")
            else list(entry.get("tenants") or self.config.tenants)
        )
        asked = request.headers.get("X-Tenant-Id") or ""
        if not asked and entry.get("legacy"):  # customerContext only counts for legacy keys
            asked = request.args.get("customerContext", "")
        if asked and asked not in allowed:
            raise ApiProblem(
                400,
                "tenant_id_mismatch",
                "X-Tenant-Id does not match the tenant the credential is scoped to.",
            )
        if not asked and len(allowed) != 1:
            raise ApiProblem(400, "tenant_id_required", "X-Tenant-Id header is required when "
                             "the credential can access more than one tenant.")  # fmt: skip
        if INVOICE_VIEWER not in entry.get("permissions", ()):
            raise ApiProblem(403, "forbidden", "caller lacks the Invoice Viewer permission")
        return asked or allowed[0]

    def _list(self, request: Request, tenant: str) -> dict[str, Any]:
        args = request.args
        size = min(_integer(args, "maxResults", 50, minimum=1), MAX_RESULTS_CAP)
        low = _integer(args, "minCreationTime", None)
        high = _integer(args, "maxCreationTime", None)
        filters = parse_filter(args.getlist("filter"))
        query = f"{tenant}|{low}|{high}|{sorted(filters.items())}"
        offset = 0
        if args.get("pageToken"):
            if self.faults.take_app("token_expired", request.path):
                raise _expired()
            offset = self._read_token(args["pageToken"], query)
        now = self.now_ms
        rows = [inv for inv in self.visible(tenant)
                if (low is None or inv.created_ms >= low)
                and (high is None or inv.created_ms <= high)
                and matches(inv, filters, now)]  # fmt: skip
        page = rows[offset : offset + size]
        body: dict[str, Any] = {"invoices": [self._summary(inv) for inv in page],
                                "rowCount": len(page)}  # fmt: skip
        if offset + size < len(rows):
            body["pageToken"] = self._make_token(offset + size, query)
        elif self.config.end_token is not None:
            body["pageToken"] = self.config.end_token
        return body

    def _get(self, tenant: str, invoice_id: str) -> dict[str, Any]:
        for inv in self.visible(tenant):
            if inv.id == invoice_id:
                lines = [{"type": line.type, "description": line.description,
                          "details": line.details, "qty": line.qty, "price": line.price,
                          **({"currency": line.currency} if line.currency else {})}
                         for line in inv.lines]  # fmt: skip
                return {**self._summary(inv), "lineItems": lines}
        raise ApiProblem(404, "not_found", "invoice not found")

    def _summary(self, inv: SimInvoice) -> dict[str, Any]:
        now = self.now_ms
        return {"id": inv.id, "invoiceDate": inv.invoice_ms, "platform": inv.platform,
                "dueDate": inv.due_ms, "status": inv.status(now), "totalAmount": inv.total,
                "balanceAmount": inv.balance(now), "currency": inv.currency,
                "url": f"https://console.doit.com/customers/{inv.tenant}/invoices/"
                       f"{inv.currency.lower()}-profile/{inv.id}"}  # fmt: skip

    # -- page tokens: opaque, signed, bound to one query, expiring -------------------------

    def _clock(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def _make_token(self, offset: int, query: str) -> str:
        payload = json.dumps({"o": offset, "q": _digest(query), "t": self._clock(),
                              "n": secrets.token_hex(4)}).encode()  # fmt: skip
        signature = hmac.new(self._secret, payload, hashlib.sha256).digest()[:12]
        return _b64(payload) + "." + _b64(signature)

    def _read_token(self, token: str, query: str) -> int:
        try:
            payload_text, signature_text = token.split(".")
            payload = _unb64(payload_text)
            good = hmac.new(self._secret, payload, hashlib.sha256).digest()[:12]
            if not hmac.compare_digest(good, _unb64(signature_text)):
                raise ValueError("signature")
            data = json.loads(payload)
            if data["q"] != _digest(query):
                raise ValueError("another query")
        except (ValueError, KeyError, TypeError):
            raise ApiProblem(
                400,
                "pagination_token_invalid",
                "The pageToken cursor is structurally invalid (decode failure or tampering).",
            ) from None
        if self._clock() - float(data["t"]) > self.config.token_ttl:
            raise _expired()
        return int(data["o"])

    # -- wire format -----------------------------------------------------------------------

    def _json(self, body: object) -> Response:
        return Response(dumps(body), 200, {"Request-Id": _request_id(), "Content-Language": "en"},
                        content_type="application/json")  # fmt: skip

    def _problem(self, request: Request, problem: ApiProblem) -> Response:
        request_id = _request_id()
        headers = {"Request-Id": request_id, "Content-Language": "en"}
        if problem.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="api.doit.com"'
        if self.config.legacy_errors:
            return Response(json.dumps({"error": problem.detail}), problem.status, headers,
                            content_type="application/json")  # fmt: skip
        title = ApiProblem.TITLES_BY_CODE.get(problem.code) or ApiProblem.TITLES.get(
            problem.status, "Error"
        )
        body = {"type": f"https://developer.doit.com/errors/{problem.code}", "title": title,
                "status": problem.status, "detail": problem.detail,
                "instance": f"https://api.doit.com/requests/{request_id}", "code": problem.code,
                "retryable": problem.status in (429, 500, 502, 503)}  # fmt: skip
        return Response(json.dumps(body, ensure_ascii=False), problem.status, headers,
                        content_type="application/problem+json")  # fmt: skip

    def _fault_error(self, status: int, request: Request, headers: dict[str, str]) -> Response:
        # DoiT's own 429s carry no Retry-After (clients back off on their own); a fault given
        # one explicitly stands for a proxy in front of the API that adds it.
        if status == 524:  # Cloudflare in front of DoiT gave up waiting for the origin
            page = (
                "<!DOCTYPE html><html><head><title>api.doit.com | 524: A timeout occurred"
                "</title></head><body><h1>Error 524</h1></body></html>"
            )
            return Response(page, 524, content_type="text/html; charset=UTF-8")
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "rate_limited",
                 500: "internal_error", 502: "bad_gateway", 503: "unavailable"}  # fmt: skip
        detail = {429: "too many requests", 500: "an unexpected error occurred"}.get(
            status, codes.get(status, "error").replace("_", " ")
        )
        response = self._problem(request, ApiProblem(status, codes.get(status, "error"), detail))
        response.headers.update(headers)
        return response


def _integer(args: Any, name: str, default: int | None, *, minimum: int = 0) -> Any:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ApiProblem(400, "validation_failed", f"{name} must be an integer >= {minimum}")
    return value


def _bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def _expired() -> ApiProblem:
    return ApiProblem(400, "pagination_token_expired", "The pageToken cursor is no longer "
                      "valid; restart pagination from the beginning.")  # fmt: skip


def _request_id() -> str:
    return "req_" + "".join(random.choice(_ULID) for _ in range(26))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the DoiT Invoices API simulator.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--tenants", default="acme-inc", help="comma-separated tenant ids")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--token-ttl", type=float, default=600.0)
    parser.add_argument("--legacy-errors", action="store_true")
    opts = parser.parse_args(argv)
    config = DoitSimConfig(months=opts.months, tenants=tuple(opts.tenants.split(",")),
                           latency=opts.latency, token_ttl=opts.token_ttl,
                           legacy_errors=opts.legacy_errors, port=opts.port)  # fmt: skip
    simulator = DoitSimulator(config)
    url = simulator.start()
    print(f"serving {url}  (API key: {DEMO_KEY})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
