"""What the views reach: the app's built services, and the verified caller of this request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import flask

from api.destinations import login_ref
from api.factory import Services
from api.ports import utcnow
from api.web.access import SheetAccess
from api.web.accounts import AccountStore
from api.web.config import WebSettings
from api.web.consent import Consent
from api.web.identity import Caller, bearer
from api.web.local import check_host

EXTENSION = "billsync"


class Verifier(Protocol):
    def caller(self, token: str, wanted: str) -> Caller: ...


@dataclass
class WebContext:
    services: Services
    web: WebSettings
    verifier: Verifier
    accounts: AccountStore
    access: SheetAccess
    consent: Consent
    queue: Any  # api.ports.JobQueue
    local_key: str | None = None
    clock: Callable[[], dt.datetime] = utcnow  # the tick's "now" (aware UTC)

    @property
    def local(self) -> bool:
        return self.web.auth == "local"

    def google_connected(self, subject: str) -> bool:
        """Has this user granted Google access (locally: `billsync google login` counts)?"""
        if self.accounts.grant_ref(subject) is not None:
            return True
        return self.local and login_ref(self.services.settings) is not None


def current() -> WebContext:
    context: WebContext = flask.current_app.extensions[EXTENSION]
    return context


def authenticate(kind: str) -> Caller:
    """Verify this request's bearer token as a `kind` caller ("user" or "task"); kept in g."""
    context = current()
    if context.local:
        check_host(flask.request.host)
    caller = context.verifier.caller(bearer(flask.request.headers.get("Authorization")), kind)
    flask.g.caller = caller
    return caller


def caller() -> Caller:
    found: Caller = flask.g.caller
    return found
