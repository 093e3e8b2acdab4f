"""The one exception tree of billsync.

    BillsyncError                      message is safe to show a user; never holds a secret
    ├── ConfigError                    a setting is missing or wrong (fatal)
    ├── NotFoundError                  a named connection, run or file does not exist (fatal)
    ├── RunInProgress                  one run per connection at a time; carries the running run id
    ├── SecretError                    the secret store cannot be opened or a secret is missing
    ├── ProviderError                  anything a provider API said or failed to say
    │   ├── AuthError                  401: token rejected -> create a new read-only token
    │   ├── PermissionError_           403: token lacks a scope / role -> fix the scope or role
    │   ├── ProviderNotFound           404 on a resource we expected to exist
    │   ├── MalformedResponse          a body that is not the documented shape
    │   └── RetriableError             429, 5xx, timeout, connection error (retried, then raised)
    │       └── RateLimited            429 after the retries were spent
    ├── SinkError                      the ledger or archive could not be written
    │   └── RetriableSinkError         quota / transient; the next run will complete it
    ├── RequestError                   the service cannot serve a caller's request as asked
    │   ├── Unauthenticated            401: no, a malformed, an expired or a wrong credential
    │   ├── Forbidden                  403: a valid caller that may not do this
    │   ├── InvalidRequest             400: the body or query does not fit the contract
    │   ├── Conflict                   409: a name already taken, a state that forbids it
    │   │   └── GoogleNotConnected     409: the user has not granted Google access yet
    │   └── NotConfigured              503: the service lacks a setting for this route
    └── ExtractionError                a PDF could not be read now; it stays in the inbox
        ├── RejectedDocument           not a PDF, encrypted or damaged -> inbox/rejected/
        └── BudgetExceeded             the month's extraction page cap is reached

`retryable` tells the service layer whether a caller should try again later. `action` is
the one thing a person should do about it.
"""

from __future__ import annotations


class BillsyncError(Exception):
    """Base class: `str(exc)` is a complete, human, secret-free sentence."""

    retryable = False
    code = "error"

    def __init__(self, message: str, *, action: str | None = None) -> None:
        self.message = message
        self.action = action
        super().__init__(message if not action else f"{sentence(message)} {action}")


def sentence(text: str) -> str:
    """`text` ending in a full stop (provider text often has none), so the action that follows
    reads as a second sentence: 'DoiT said: Invalid API key. Create a new API key...'."""
    text = text.rstrip()
    return text if not text or text.endswith((".", "!", "?", ":")) else text + "."


class ConfigError(BillsyncError):
    code = "config"


class NotFoundError(BillsyncError):
    code = "not_found"


class RunInProgress(BillsyncError):
    code = "run_in_progress"
    retryable = True

    def __init__(self, connection: str, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"A sync for connection '{connection}' is already running (run {run_id}).",
            action="Wait for it to finish, then try again.",
        )


class SecretError(BillsyncError):
    code = "secret"


class ProviderError(BillsyncError):
    """An error from a provider API; `provider` names it, `request_id` helps its support."""

    code = "provider"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        request_id: str | None = None,
        action: str | None = None,
    ) -> None:
        self.provider = provider
        self.status = status
        self.request_id = request_id
        if request_id:
            message = f"{message} (request id {request_id})"
        super().__init__(message, action=action)


class AuthError(ProviderError):
    code = "provider_auth"


class PermissionError_(ProviderError):  # noqa: N801 - avoid shadowing the builtin
    code = "provider_permission"


class ProviderNotFound(ProviderError):
    code = "provider_not_found"


class MalformedResponse(ProviderError):
    code = "provider_malformed"
    retryable = True


class RetriableError(ProviderError):
    code = "provider_unavailable"
    retryable = True


class RateLimited(RetriableError):
    code = "provider_rate_limited"


class SinkError(BillsyncError):
    code = "sink"


class RetriableSinkError(SinkError):
    code = "sink_unavailable"
    retryable = True


class RequestError(BillsyncError):
    """A caller's request the service refuses; the web layer maps each kind to a status."""

    code = "invalid_request"


class Unauthenticated(RequestError):
    code = "unauthenticated"


class Forbidden(RequestError):
    code = "forbidden"


class InvalidRequest(RequestError):
    code = "invalid_request"


class Conflict(RequestError):
    code = "conflict"

    def __init__(self, message: str, *, code: str = "conflict", action: str | None = None):
        self.code = code
        super().__init__(message, action=action)


class GoogleNotConnected(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "billsync cannot reach your Google Sheets yet.",
            code="google_not_connected",
            action="Connect your Google account from the sidebar, then try again.",
        )


class NotConfigured(RequestError):
    code = "not_configured"

    def __init__(self, message: str, *, code: str, action: str | None = None) -> None:
        self.code = code
        super().__init__(message, action=action)


class ExtractionError(BillsyncError):
    """Reading a PDF failed this time (quota, a 4xx from the extractor); retried next run."""

    code = "extraction"


class RejectedDocument(ExtractionError):
    """The file itself is unusable: not a PDF, encrypted, damaged. Retrying cannot help."""

    code = "rejected_document"


class BudgetExceeded(ExtractionError):
    code = "extraction_budget"
