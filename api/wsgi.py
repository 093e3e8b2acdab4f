"""The WSGI entry for gunicorn (Cloud Run): `api.wsgi:app_from_env()`, built when called."""

from __future__ import annotations

import logging
import os
from typing import Any


def app_from_env() -> Any:
    """The service app from the environment: Settings, WebSettings and the job queue (Cloud
    Tasks when BILLSYNC_TASKS_QUEUE is set, else in-process threads)."""
    from api import logs
    from api.factory import build, build_queue
    from api.inboxes import execute_with_inbox
    from api.settings import Settings
    from api.web import create_app
    from api.web.config import WebSettings

    # Request and sync logs as Cloud Logging JSON lines on stdout (Cloud Run collects them).
    level = os.environ.get("BILLSYNC_LOG_LEVEL", "INFO").upper()
    logs.configure(logging.getLevelNamesMapping().get(level, logging.INFO))
    settings = Settings.from_env()
    services = build(settings)
    return create_app(
        settings,
        WebSettings.from_env(),
        services=services,
        queue=build_queue(services, lambda run_id: execute_with_inbox(services, run_id)),
    )
