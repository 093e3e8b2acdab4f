"""Shared fixtures: isolated settings per test, the DigitalOcean simulator, built services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from api.factory import Services, build
from api.settings import HttpSettings, Settings
from api.simulators.digitalocean import DigitalOceanSimulator, DOSimConfig
from tests.fakes.fixtures import fake_google  # noqa: F401 - a fixture for every test module

TODAY = dt.date(2026, 11, 21)

# Fast, bounded retries for tests: the same code paths, without real waiting.
TEST_HTTP = HttpSettings(
    timeout=2.0,
    max_attempts=3,
    max_retry_delay=0.02,
    max_total_delay=1.0,
    concurrency=4,
    quota_window=0.0,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.for_home(tmp_path / "home", http=TEST_HTTP)


@pytest.fixture
def do_config() -> DOSimConfig:
    return DOSimConfig(months=6, items_per_invoice=12, today=TODAY)


@pytest.fixture
def do_sim(do_config: DOSimConfig) -> Iterator[DigitalOceanSimulator]:
    with DigitalOceanSimulator(do_config) as simulator:
        yield simulator


@pytest.fixture
def services(settings: Settings, do_sim: DigitalOceanSimulator) -> Services:
    return build(replace(settings, digitalocean_api_url=do_sim.url))
