"""Rate limits and quotas (issue 9 §3): Retry-After as an HTTP-date in every client that retries,
and Google's per-minute quotas waited out for a full minute. Sleeps and clocks are injected, so
nothing here really waits."""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from pathlib import Path
from typing import Any

import pytest

from api.errors import RateLimited, RetriableSinkError
from api.google.session import GoogleHttp, sheets_error_for
from api.ledger.sheets.ledger import SheetsLedger
from api.providers.digitalocean import DigitalOceanProvider
from api.providers.doit import DoitProvider
from api.retry import parse_retry_after
from api.settings import HttpSettings, RateLimits
from api.simulators.digitalocean import DEMO_TOKEN, DigitalOceanSimulator, DOSimConfig
from api.simulators.doit import DEMO_KEY, DoitSimConfig, DoitSimulator
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle
from tests.test_drive_store import Harness, document
from tests.test_drive_store import invoice as drive_invoice
from tests.test_sheets_sink import SHEET, batch, credentials, invoice, make_sink

NOW = 1_800_000_000.0  # a fixed wall clock (unix seconds)
# The realistic defaults (60 s cap per wait, 300 s in all), only fewer attempts.
PATIENT = HttpSettings(timeout=2.0, max_attempts=3)


def http_date(at: float) -> str:
    """An IMF-fixdate, e.g. 'Sun, 06 Nov 1994 08:49:37 GMT' (RFC 9110 §5.6.7)."""
    return email.utils.formatdate(at, usegmt=True)


# -- the header itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        (http_date(NOW + 90), 90.0),  # IMF-fixdate
        ("Thursday, 15-Jan-2027 08:00:30 GMT", None),  # RFC 850, set below against its own now
        (http_date(NOW - 30), 0.0),  # already past: no wait, never negative
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(raw: str | None, seconds: float | None) -> None:
    if raw and raw.startswith("Thursday"):
        then = dt.datetime(2027, 1, 15, 8, 0, 0, tzinfo=dt.UTC).timestamp()
        assert parse_retry_after(raw, lambda: then) == 30.0
        assert parse_retry_after("Fri Jan 15 08:01:00 2027", lambda: then) == 60.0  # asctime
        return
    assert parse_retry_after(raw, lambda: NOW) == seconds


# -- DigitalOcean and DoiT -------------------------------------------------------------------


@pytest.fixture
def do_sim():
    sim = DigitalOceanSimulator(DOSimConfig(months=2, items_per_invoice=2))
    sim.start()
    yield sim
    sim.stop()


def lifting_after(faults: Any, minute: float = 60.0) -> tuple[list[float], Any]:
    """A sleep that records waits and lifts every fault once `minute` seconds were waited."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if sum(slept) >= minute:
            faults.clear()

    return slept, sleep


def do_provider(sim: DigitalOceanSimulator, slept: list[float], sleep: Any = None) -> Any:
    return DigitalOceanProvider(
        DEMO_TOKEN, base_url=sim.url, http=PATIENT, limits=RateLimits(),
        sleep=sleep or slept.append, clock=lambda: NOW + sum(slept),
        wall_clock=lambda: NOW + sum(slept),
    )  # fmt: skip


@pytest.mark.parametrize(("ahead", "waited"), [(30, 30.0), (90, 60.0), (-10, None)])
def test_digitalocean_waits_until_the_retry_after_date(do_sim, ahead, waited) -> None:
    do_sim.faults.add("429", path="/v2/customers/my/invoices", retry_after=http_date(NOW + ahead))
    slept: list[float] = []
    provider = do_provider(do_sim, slept)

    assert len(provider.list_invoices(first_sync=False)) == 3
    if waited is None:  # a date already past: no negative wait, only the short backoff
        assert len(slept) == 1 and 0.5 <= slept[0] <= 1.0
    else:  # until the date, capped like the seconds form (max_retry_delay 60 s)
        assert slept == [waited]
    provider.close()


def test_digitalocean_429s_are_retried_for_a_full_quota_minute(do_sim) -> None:
    # Retry-After: 1 on every 429 until 60 s have passed; 3 attempts alone would give up at 2 s.
    do_sim.faults.add("429", path="/v2/customers/my/invoices", times=1000, retry_after="1")
    slept, sleep = lifting_after(do_sim.faults)
    provider = do_provider(do_sim, slept, sleep)

    assert len(provider.list_invoices(first_sync=False)) == 3
    assert sum(slept) >= 60 and max(slept) <= 60
    provider.close()


def test_doit_waits_until_the_retry_after_date() -> None:
    with DoitSimulator(DoitSimConfig()) as sim:
        now = sim.now
        sim.faults.add("429", retry_after=http_date(now.timestamp() + 45))
        slept: list[float] = []
        provider = DoitProvider(
            DEMO_KEY, base_url=sim.url, http=PATIENT, clock=lambda: now, sleep=slept.append
        )
        assert provider.account_label()
        assert slept == [45.0]
        provider.close()


def test_doit_429s_without_retry_after_are_retried_for_a_full_quota_minute() -> None:
    with DoitSimulator(DoitSimConfig()) as sim:
        sim.faults.add("429", times=1000)  # DoiT's 429s carry no Retry-After
        slept, sleep = lifting_after(sim.faults)
        provider = DoitProvider(DEMO_KEY, base_url=sim.url, http=PATIENT, sleep=sleep)
        assert provider.account_label()
        assert sum(slept) >= 60 and max(slept) <= 60
        provider.close()


# -- Google Sheets and Drive -----------------------------------------------------------------


@pytest.fixture
def fake(fake_google: FakeGoogle) -> FakeGoogle:  # noqa: F811
    fake_google.sheets.create(SHEET)  # type: ignore[attr-defined]
    return fake_google


def assert_google_backoff(slept: list[float]) -> None:
    """At least a full quota minute, each wait doubling up to 32-64 s, within the 180 s cap."""
    assert sum(slept) >= 60 and sum(slept) <= 180
    assert max(slept) <= 64 and max(slept) >= 16
    assert all(later >= earlier / 2 for earlier, later in zip(slept, slept[1:], strict=False))


@pytest.mark.parametrize("retry_after", [None, "1"])
def test_sheets_write_quota_is_waited_out_for_a_full_minute(fake, retry_after) -> None:
    slept, sleep = lifting_after(fake.faults)
    sink = SheetsLedger(SHEET, credentials(fake), api_url=fake.url, sleep=sleep)
    sink.rows("Runs")  # the tabs exist: the faults hit the ledger write
    fake.faults.add("429", "POST", r":batchUpdate$", times=1000, retry_after=retry_after)

    sink.write(batch(invoice(1), invoice(2)))

    assert [r["Invoice Key"] for r in sink.rows("Invoices")] == ["doit:acme:1", "doit:acme:2"]
    assert_google_backoff(slept)


def test_sheets_quota_that_never_refills_gives_up_within_the_cap(fake) -> None:
    slept: list[float] = []
    google = GoogleHttp(credentials(fake), error_for=sheets_error_for(SHEET), sleep=slept.append)
    fake.faults.add("429", "POST", r":batchUpdate$", times=1000, retry_after=None)

    with pytest.raises(RetriableSinkError, match="busy"):
        google.call("POST", f"{fake.url}/v4/spreadsheets/{SHEET}:batchUpdate",
                    body={"requests": []}, idempotent=False)  # fmt: skip
    assert 60 <= sum(slept) <= 180  # past the 5 attempts for the quota minute, within the cap
    assert len(fake.faults.fired) == len(slept) + 1 > 5


def test_sheets_waits_until_the_retry_after_date(fake) -> None:
    slept: list[float] = []
    sink = make_sink(fake, slept)
    sink.rows("Runs")
    fake.faults.add("429", "POST", r":batchUpdate$", retry_after=http_date(time.time() + 40))

    sink.write(batch(invoice(1)))

    [wait] = slept
    assert 38 <= wait <= 40  # the date has whole seconds and the real clock moved on a little


@pytest.fixture
def drive(fake_google: FakeGoogle, tmp_path: Path) -> Harness:  # noqa: F811
    return Harness(fake_google, tmp_path)


@pytest.mark.parametrize("retry_after", [None, "1"])
def test_drive_upload_quota_is_waited_out_for_a_full_minute(drive, retry_after) -> None:
    slept, sleep = lifting_after(drive.fake.faults)
    drive.fake.faults.add("429", "POST", r"^/upload/", times=1000, retry_after=retry_after)
    path, sha = document(drive.tmp_path, b"%PDF quota")

    drive.store(sleep=sleep).put(drive_invoice(), "pdf", path, sha)

    assert len(drive.uploaded()) == 1
    assert_google_backoff(slept)


def test_drive_waits_until_the_retry_after_date(drive) -> None:
    drive.fake.faults.add("429", "POST", r"^/upload/", retry_after=http_date(time.time() + 50))
    path, sha = document(drive.tmp_path, b"%PDF dated")

    drive.store().put(drive_invoice(), "pdf", path, sha)

    [wait] = drive.sleeps
    assert 48 <= wait <= 50


def test_a_provider_quota_that_never_refills_gives_up_within_the_cap(do_sim) -> None:
    do_sim.faults.add("429", path="/v2/customers/my/invoices", times=1000, retry_after="0")
    slept: list[float] = []
    provider = DigitalOceanProvider(
        DEMO_TOKEN, base_url=do_sim.url, http=PATIENT, limits=RateLimits(), sleep=slept.append
    )
    with pytest.raises(RateLimited):
        provider.list_invoices(first_sync=False)
    assert 60 <= sum(slept) <= 300  # past the 3 attempts for the quota minute, within the cap
    provider.close()
