"""Errors become HTTP in one place: `{"error": {"code", "message", "retryable"}}`.

The message is the error's own secret-free sentence (api/errors.py), without advice meant for
the command line (a `billsync ...` command or a --option, useless in the sidebar): the API gives
its own action for that error code, or none. An unexpected exception becomes a generic 500
whose details go only to the log (scrubbed), never to the caller.
"""

from __future__ import annotations

import re
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from api import errors, logs

# Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[errors.BillsyncError], int], ...] = (
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.InvalidRequest, 400),
    (errors.Conflict, 409),
    (errors.NotConfigured, 503),
    (errors.NotFoundError, 404),
    (errors.RunInProgress, 409),
    (errors.ConfigError, 422),
    (errors.SecretError, 409),
    (errors.AuthError, 422),
    (errors.PermissionError_, 422),
    (errors.ProviderNotFound, 422),
    (errors.RateLimited, 503),
    (errors.RetriableError, 503),
    (errors.MalformedResponse, 502),
    (errors.ProviderError, 502),
    (errors.RetriableSinkError, 503),
    (errors.SinkError, 502),
)

_CLI_ADVICE = re.compile(r"`billsync\b|(?<![\w-])--[a-z]")
# Command-line phrases the API says in its own words (the add-on's Server.js reads these).
API_WORDS = (
    (re.compile(r"[,:]?\s*(?:and |then )?run `billsync connect [a-z]+` again(?=[.;]|$)"),
     ", then disconnect this provider and add it again with the new token"),
    (re.compile(r"[,:]?\s*(?:and |then )?run `billsync google login` again", re.IGNORECASE),
     ", then reconnect your Google account from the sidebar"),
)  # fmt: skip
_CLI_SENTENCE = re.compile(r"\s*[^.!?]*`billsync [^`]*`[^.!?]*[.!?]?")
API_ACTIONS = {  # error code -> what a sidebar or API user can do instead
    "not_found": "Reload the sidebar to see what exists now.",
    "secret": "Reconnect your Google account from the sidebar, then try again.",
}

_HTTP_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed",
               413: "too_large", 415: "unsupported_media_type"}  # fmt: skip


def body(code: str, message: str, retryable: bool) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "retryable": retryable}}


def api_message(error: errors.BillsyncError) -> str:
    """The error's sentence for an API caller: a known command-line phrase in API_WORDS' words;
    any other command-line action replaced by API_ACTIONS' action for its code (or dropped)."""
    message, action = _api_words(error.message), _api_words(error.action or "")
    if action.startswith(", then "):  # the whole action was the command
        action = action[7].upper() + action[8:]
    if _CLI_ADVICE.search(action):
        action = API_ACTIONS.get(error.code, "")
    message = _CLI_SENTENCE.sub("", message)  # any other command inside the message
    return f"{errors.sentence(message)} {action}" if action else message


def _api_words(text: str) -> str:
    for phrase, words in API_WORDS:
        text = phrase.sub(words, text)
    return text


def status_of(error: errors.BillsyncError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500


def _billsync(error: errors.BillsyncError) -> flask.Response:
    response = flask.jsonify(body(error.code, api_message(error), error.retryable))
    response.status_code = status_of(error)
    if isinstance(error, errors.Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="billsync"'
    return response


def _http(error: HTTPException) -> flask.Response:
    status = error.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    message = {
        404: "There is no such address in this API; see /openapi.json.",
        405: "This address does not take that method; see /openapi.json.",
    }.get(status, "The request could not be served as sent.")
    response = flask.jsonify(body(code, message, False))
    response.status_code = status
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    return response


def _unexpected(error: Exception) -> flask.Response:
    if isinstance(error, HTTPException):
        return _http(error)
    if isinstance(error, errors.BillsyncError):
        return _billsync(error)
    logs.get("web").error("unexpected error", exc_info=error)
    response = flask.jsonify(
        body("internal", "Something went wrong on our side; try again in a minute.", True)
    )
    response.status_code = 500
    return response


def register(app: flask.Flask) -> None:
    """One handler for everything: billsync's tree, werkzeug's HTTP errors, the rest."""
    app.register_error_handler(Exception, _unexpected)
