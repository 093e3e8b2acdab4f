"""The deploy files agree with the code: app.yaml's environment selects the cloud adapters and
google auth; gunicorn.conf.py binds $PORT with threads and no worker timeout."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import yaml

from api.settings import Settings
from api.web.config import WebSettings

ROOT = Path(__file__).resolve().parents[1]


def _service_env() -> dict[str, str]:
    service = yaml.safe_load((ROOT / "app.yaml").read_text())
    (container,) = service["spec"]["template"]["spec"]["containers"]
    env = {}
    for item in container["env"]:
        # A value from Secret Manager is filled in by Cloud Run; any text stands for it here.
        env[item["name"]] = item.get("value", f"secret:{item['name']}")
    return env


def test_app_yaml_selects_cloud_tasks_secret_manager_and_google_auth() -> None:
    env = _service_env() | {"DATABASE_URL": "postgresql://u@/billsync"}

    cloud = Settings.from_env(env).cloud
    web = WebSettings.from_env(env)

    assert cloud.tasks_queue == "projects/PROJECT_ID/locations/REGION/queues/billsync-runs"
    assert cloud.secret_manager_project == "PROJECT_ID"
    assert cloud.tasks_invoker in web.tasks_service_accounts
    assert web.auth == "google" and web.tasks_audience == cloud.service_url
    assert web.oauth_client is not None


def test_app_yaml_lets_callers_reach_the_app_and_allows_a_whole_sync_per_request() -> None:
    service = yaml.safe_load((ROOT / "app.yaml").read_text())
    annotations = service["metadata"]["annotations"]
    spec = service["spec"]["template"]["spec"]

    assert annotations["run.googleapis.com/invoker-iam-disabled"] == "true"
    assert spec["timeoutSeconds"] == 1800  # Cloud Tasks' longest dispatch deadline


def test_gunicorn_binds_port_with_threads_and_no_worker_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "9123")

    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert config["bind"] == "0.0.0.0:9123"
    assert (config["worker_class"], config["timeout"]) == ("gthread", 0)
    assert config["threads"] > 1 and 0 < config["graceful_timeout"] < 10
    assert config["wsgi_app"] == "api.wsgi:app_from_env()"


def test_a_tasks_queue_without_its_target_is_refused_with_what_to_set() -> None:
    from api.errors import ConfigError

    with pytest.raises(ConfigError, match="BILLSYNC_SERVICE_URL and BILLSYNC_TASKS_INVOKER"):
        Settings.from_env({"BILLSYNC_TASKS_QUEUE": "projects/p/locations/l/queues/q"})
    assert Settings.from_env({}).cloud.tasks_queue is None  # the embedded default: threads
