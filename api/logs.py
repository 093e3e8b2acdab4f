"""JSON-line logs in Cloud Logging's shape, with secrets scrubbed as a last line of defence."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from typing import Any

trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}

# Shapes of credentials we might ever hold: DigitalOcean tokens, bearer headers, Google
# refresh/access tokens, long opaque keys. Scrubbing is a backstop; code never logs them.
_SECRET_PATTERNS = (
    re.compile(r"\b(do[opr]_v1_)[0-9a-f]{16,}", re.I),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.I),
    re.compile(r"\b(1//)[0-9A-Za-z_-]{20,}"),
    re.compile(r"\b(ya29\.)[0-9A-Za-z._-]{20,}"),
)


def scrub(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": scrub(record.getMessage()),
            "logger": record.name,
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        current = trace_id.get()
        if current:
            entry["logging.googleapis.com/trace"] = current
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure(level: int = logging.INFO, stream: Any = None) -> None:
    """Route the `billsync` logger to JSON lines (stdout by default). Idempotent."""
    logger = logging.getLogger("billsync")
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if getattr(handler, "_billsync", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler._billsync = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = False


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"billsync.{name}")
