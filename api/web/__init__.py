"""The billsync service: `create_app(settings, web)` builds the Flask app; nothing at import.

Blueprints: health (/healthz), the add-on API (/v1/...), Google consent (/v1/oauth/...,
/oauth/google/callback), tasks (/tasks/..., Cloud Scheduler and Cloud Tasks) and the OpenAPI
document (/openapi.json). One error handler shapes every error (api/web/errors.py).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import flask

from api.settings import Settings
from api.web.config import WebSettings


def create_app(
    settings: Settings,
    web: WebSettings | None = None,
    *,
    services: Any = None,
    queue: Any = None,
) -> flask.Flask:
    """The app on `settings` (state, secrets, ledgers) and `web` (callers, consent).

    `services` (api.factory.Services) and `queue` (api.ports.JobQueue) may be given by a
    caller that already built them; otherwise they are built here from `settings`.
    """
    from api.web import errors, health, oauth, openapi, requestlog, tasks, v1
    from api.web.wiring import build_context

    web = web or WebSettings()
    app = flask.Flask("billsync")
    app.config.update(JSON_SORT_KEYS=False, MAX_CONTENT_LENGTH=64 * 1024)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["billsync"] = build_context(settings, web, services=services, queue=queue)
    errors.register(app)
    requestlog.register(app, web.project)
    for blueprint in (health.blueprint, oauth.blueprint, v1.blueprint, tasks.blueprint,
                      openapi.blueprint):  # fmt: skip
        app.register_blueprint(blueprint)
    if web.auth == "local":
        _register_addon_preview(app)
    return app


def _register_addon_preview(app: flask.Flask) -> None:
    """The sidebar's local preview (/addon/, issue 11), once that module exists."""
    if importlib.util.find_spec("api.web.addon") is None:
        return
    addon = importlib.import_module("api.web.addon")
    app.register_blueprint(addon.create_addon_blueprint())
