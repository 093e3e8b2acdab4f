"""A tiny threaded loopback HTTP server for simulators: latency, fault injection, request log.

It speaks HTTP/1.1 with keep-alive, as the real APIs do: werkzeug's development handler closes
every connection (it cannot drain a request body safely), which would make every simulated call
pay a TCP connect and a new server thread, and hide whether a client reuses its connections.
"""

from __future__ import annotations

import bisect
import contextlib
import fnmatch
import io
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

FAULT_KINDS = frozenset(
    {"500", "502", "503", "429", "timeout", "malformed", "html", "drop", "401", "403", "404"}
)
DROPPED = 0  # the status recorded for a request whose connection was closed without an answer
DROPPED_KEY = "billsync.dropped"  # set in the environ when a fault cut the connection
IDLE_TIMEOUT = 30.0  # seconds a kept-alive connection may sit idle before the server hangs up

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Renders a provider's own error body for an injected fault: (status, request, extra headers).
ErrorRenderer = Callable[[int, Request, dict[str, str]], Response]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int


class RequestLog(list[RecordedRequest]):
    """The requests a server answered, in order; safe to append from handler threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, item: RecordedRequest) -> None:
        with self._lock:
            super().append(item)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self]


@dataclass
class Fault:
    kind: str
    path: str
    times: int
    delay: float
    retry_after: str


class Faults:
    """Switchable faults, matched by fnmatch on the request path; each fires `times` times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def add(
        self,
        kind: str,
        path: str = "*",
        times: int = 1,
        *,
        delay: float = 5.0,
        retry_after: str = "1",
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._pending.append(Fault(kind, path, times, delay, retry_after))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.times for f in self._pending)

    def take(self, path: str) -> Fault | None:
        """The first fault matching `path`, consuming one of its shots."""
        with self._lock:
            for fault in self._pending:
                if fnmatch.fnmatchcase(path, fault.path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._pending.remove(fault)
                    return fault
        return None


def default_error(status: int, request: Request, headers: dict[str, str]) -> Response:
    return Response(
        f'{{"error": {{"code": {status}}}}}', status, headers, content_type="application/json"
    )


class _KeepAliveHandler(WSGIRequestHandler):
    """Werkzeug's environ, our own response writing: HTTP/1.1, Content-Length, keep-alive.

    The request body is read in full before the app runs, so the next request on the same
    connection starts exactly where this one ended. No log line per request.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK
    timeout = IDLE_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def run_wsgi(self) -> None:
        environ = self.make_environ()
        if self.headers.get("Transfer-Encoding"):  # no chunked uploads here: read to the end
            self.close_connection = True
        else:
            length = int(self.headers.get("Content-Length") or 0)
            environ["wsgi.input"] = io.BytesIO(self.rfile.read(length) if length > 0 else b"")
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [status, headers]
            return None

        chunks = self.server.app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if environ.get(DROPPED_KEY):  # the app cut the connection: nothing more to say
            self.close_connection = True
            return
        self._respond(started[0], started[1], b"" if environ["REQUEST_METHOD"] == "HEAD" else body)

    def _respond(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in _FRAMING:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})


class _Server(ThreadedWSGIServer):
    """Werkzeug's threaded server that counts the connections it accepted and can close them."""

    def __init__(self, host: str, port: int, app: WSGIApp) -> None:
        super().__init__(host, port, app, handler=_KeepAliveHandler)
        self.connections = 0  # accepted since start: a keep-alive client opens few
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def opened(self, connection: socket.socket) -> None:
        with self._open_lock:
            self.connections += 1
            self._open.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(connection)

    def close_connections(self) -> None:
        """Hang up on idle keep-alive clients so their handler threads end with the server."""
        with self._open_lock:
            live = list(self._open)
        for connection in live:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


@dataclass
class LoopbackServer:
    """Serves a WSGI app on 127.0.0.1 in a daemon thread, with a fault and latency layer."""

    app: WSGIApp
    latency: float = 0.0
    render_error: ErrorRenderer = default_error
    host: str = "127.0.0.1"
    port: int = 0
    faults: Faults = field(default_factory=Faults)
    requests: RequestLog = field(default_factory=RequestLog)
    url: str = ""
    _server: _Server | None = None
    _thread: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> str:
        if self._server is not None:
            return self.url
        self._stopping.clear()
        self._server = _Server(self.host, self.port, self._wsgi)
        self.url = f"http://{self.host}:{self._server.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-{self._server.port}",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a "timeout" fault
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def connections(self) -> int:
        """TCP connections accepted since start (a client that keeps them alive opens few)."""
        return self._server.connections if self._server is not None else 0

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if self.latency > 0:
            self._stopping.wait(self.latency)
        fault = self.faults.take(request.path)
        if fault is not None and fault.kind == "timeout":
            self._stopping.wait(fault.delay)  # then answer normally, long after the client gave up
            fault = None
        if fault is not None and fault.kind == "drop":
            self._record(request, DROPPED)
            _drop(environ)
            start_response("200 OK", [])  # never sent: the handler sees DROPPED_KEY
            return []
        if fault is not None:
            response = self._fault_response(fault, request)
        else:
            response = Response.from_app(self.app, environ)
        self._record(request, response.status_code)
        return response(environ, start_response)

    def _fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "malformed":  # a 200 whose JSON body was cut short
            return Response(
                '{"invoices": [{"invoice_uuid": "', 200, content_type="application/json"
            )
        if fault.kind == "html":  # what a proxy in front of the API sends
            page = (
                "<html><head><title>502 Bad Gateway</title></head><body><center><h1>"
                "502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
            )
            return Response(page, 502, content_type="text/html")
        # An empty retry_after leaves the header out (DoiT's 429s carry none).
        headers = (
            {"retry-after": fault.retry_after} if fault.kind == "429" and fault.retry_after else {}
        )
        return self.render_error(int(fault.kind), request, headers)

    def _record(self, request: Request, status: int) -> None:
        query = {k: v for k, v in request.args.items()}
        self.requests.append(RecordedRequest(request.method, request.path, query, status))


def _drop(environ: dict[str, Any]) -> None:
    """Close the client connection without any response bytes (a reset proxy or crash)."""
    environ[DROPPED_KEY] = True
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int  # in the longest window, after this request
    reset: float  # epoch seconds when the oldest counted request leaves the longest window
    retry_after: float  # seconds until a slot frees (0 when allowed)


class SlidingLogLimiter:
    """Per-key limits where each accepted request counts for one full window (a sliding log).

    Refused requests are not logged, so a client hammering through a 429 does not extend it.
    """

    def __init__(
        self, windows: Iterable[tuple[int, float]], clock: Callable[[], float] = time.time
    ) -> None:
        self.windows = sorted(windows, key=lambda w: w[1])  # the longest window last
        self.clock = clock
        self._logs: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, *, count: bool = True) -> Verdict:
        """Count one request for `key` if every window has room; `count=False` only peeks."""
        with self._lock:
            now = self.clock()
            log = self._logs.setdefault(key, [])
            longest_limit, longest = self.windows[-1]
            del log[: bisect.bisect_right(log, now - longest)]
            waits = []
            for limit, span in self.windows:
                inside = len(log) - bisect.bisect_right(log, now - span)
                if inside >= limit:
                    waits.append(log[len(log) - limit] + span - now)
            allowed = not waits
            if allowed and count:
                log.append(now)
            reset = log[0] + longest if log else now
            remaining = max(0, longest_limit - len(log)) if allowed else 0
            return Verdict(allowed, remaining, reset, max(waits, default=0.0))
