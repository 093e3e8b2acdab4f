"""Google consent routes: start (a signed-in user asks for the consent URL) and the callback."""

from __future__ import annotations

import html

import flask

from api.errors import BillsyncError
from api.web import context
from api.web.errors import status_of

blueprint = flask.Blueprint("oauth", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>billsync: {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto">
<h1>{title}</h1><p>{text}</p></body></html>
"""


def _redirect_uri() -> str:
    configured = context.current().web.oauth_redirect_uri
    return configured or flask.url_for("oauth.callback", _external=True)


@blueprint.post("/v1/oauth/google/start")
def start() -> flask.Response:
    caller = context.authenticate("user")
    url = context.current().consent.start(caller.subject, _redirect_uri())
    return flask.jsonify(url=url)


@blueprint.get("/oauth/google/callback")
def callback() -> tuple[str, int, dict[str, str]]:
    args = flask.request.args
    try:
        if args.get("error"):  # the person clicked Cancel: forget the state all the same
            context.current().accounts.take_state(args.get("state", ""))
            return _page("Google was not connected", "You did not allow access. Start again "
                         "from the sidebar whenever you like.", 200)  # fmt: skip
        context.current().consent.finish(args.get("code", ""), args.get("state", ""),
                                         _redirect_uri())  # fmt: skip
    except BillsyncError as error:
        return _page("Google was not connected", str(error), status_of(error))
    return _page("Google is connected", "You can close this tab and go back to your sheet.", 200)


def _page(title: str, text: str, status: int) -> tuple[str, int, dict[str, str]]:
    body = PAGE.format(title=html.escape(title), text=html.escape(text))
    headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
               "Referrer-Policy": "no-referrer"}  # fmt: skip
    return body, status, headers
