"""`billsync serve` over real HTTP on loopback: the printed URL, the key, a whole local sync."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator


@pytest.fixture
def served(tmp_path: Path, do_sim: DigitalOceanSimulator) -> Iterator[dict[str, Any]]:
    env = {**os.environ, "BILLSYNC_HOME": str(tmp_path / "home"),
           "DIGITALOCEAN_API_URL": do_sim.url}  # fmt: skip
    for name in ("BILLSYNC_AUTH", "BILLSYNC_LOCAL_KEY"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(3)]
    match = re.search(r"(http://127\.0\.0\.1:\d+)/addon/\?key=([A-Za-z0-9_-]+)", "".join(lines))
    assert match, lines
    try:
        yield {"url": match.group(1), "key": match.group(2), "home": tmp_path / "home",
               "process": process}  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_prints_the_url_with_the_home_key(served: dict[str, Any]) -> None:
    key_file = served["home"] / "serve.key"
    assert key_file.read_text().strip() == served["key"]
    assert httpx.get(served["url"] + "/healthz").json() == {"status": "ok"}
    assert httpx.get(served["url"] + "/v1/me").status_code == 401
    auth = {"Authorization": f"Bearer {served['key']}"}
    assert httpx.get(served["url"] + "/v1/me", headers=auth).status_code == 200
    rebound = httpx.get(served["url"] + "/v1/me", headers={**auth, "Host": "evil.example"})
    assert rebound.status_code == 403


def test_a_whole_sync_of_the_local_ledger(served: dict[str, Any]) -> None:
    base, auth = served["url"], {"Authorization": f"Bearer {served['key']}"}
    created = httpx.post(f"{base}/v1/spreadsheets/local/connections", headers=auth, json={
        "provider": "digitalocean", "name": "acme", "token": DEMO_TOKEN})  # fmt: skip
    assert created.status_code == 201, created.text
    connection = created.json()["connection"]
    started = time.perf_counter()
    queued = httpx.post(f"{base}/v1/connections/{connection['id']}/sync", headers=auth)
    assert queued.status_code == 202
    run = queued.json()["run"]
    deadline = time.monotonic() + 60
    while run["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        run = httpx.get(f"{base}/v1/runs/{run['id']}", headers=auth).json()["run"]
    assert run["status"] == "succeeded", run
    assert run["counts"]["new"] > 0 and run["finished_at"].endswith("Z")
    assert run["ledger_url"] == str(served["home"] / "ledger.xlsx")
    assert (served["home"] / "ledger.xlsx").is_file()
    assert time.perf_counter() - started < 60
    listed = httpx.get(f"{base}/v1/spreadsheets/local/connections", headers=auth).json()
    assert listed["connections"][0]["last_run"]["id"] == run["id"]
    served["process"].terminate()
    _, err = served["process"].communicate(timeout=10)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = [line for line in lines if "httpRequest" in line]
    assert requests and all("?" not in line["httpRequest"]["requestUrl"] for line in requests)
    assert not any(DEMO_TOKEN in line or served["key"] in line for line in err.splitlines())
