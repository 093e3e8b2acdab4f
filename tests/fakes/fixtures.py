"""Pytest fixture `fake_google`: the fake Google with every service module that exists yet."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator

import pytest

from tests.fakes.google import FakeGoogle, make_fake_google

SERVICE_MODULES = (
    "tests.fakes.google_sheets",
    "tests.fakes.google_drive",
    "tests.fakes.google_oauth",
)


def service_registrations() -> list[Callable[[FakeGoogle], None]]:
    """`register` of each service module; a module not written yet is skipped."""
    found = []
    for name in SERVICE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but one of its imports is missing
                raise
            continue
        found.append(module.register)
    return found


def started_fake_google() -> FakeGoogle:
    fake = make_fake_google(service_registrations())
    fake.start()
    return fake


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    fake = started_fake_google()
    try:
        yield fake
    finally:
        fake.stop()
