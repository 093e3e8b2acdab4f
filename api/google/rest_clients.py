"""What the google-cloud-* clients we use (Cloud Tasks, Secret Manager) share: the REST
transport, an endpoint override for a loopback fake, and one bounded retry policy."""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions, retry
from google.auth.credentials import AnonymousCredentials, Credentials

# The clients' default retries skip 429 (TooManyRequests) and create calls have none; these
# statuses are worth a few tries, bounded in time (seconds).
RETRY = retry.Retry(
    predicate=retry.if_exception_type(
        exceptions.TooManyRequests,
        exceptions.InternalServerError,
        exceptions.BadGateway,
        exceptions.ServiceUnavailable,
        exceptions.GatewayTimeout,
    ),
    initial=0.5,
    maximum=8.0,
    multiplier=2.0,
    timeout=30.0,
)


def client_kwargs(endpoint: str | None, credentials: Credentials | None) -> dict[str, Any]:
    """Keyword arguments for a google-cloud client: REST (no gRPC channel to keep), and with
    `endpoint` ("http://127.0.0.1:8085" or "tasks.example:443") the calls go there; a plain
    http:// endpoint is a loopback fake, which takes anonymous credentials."""
    options: dict[str, Any] = {"api_endpoint": endpoint} if endpoint else {}
    if endpoint and credentials is None and endpoint.startswith("http://"):
        credentials = AnonymousCredentials()
    return {"transport": "rest", "credentials": credentials, "client_options": options}
