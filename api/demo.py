"""The demo's simulated accounts: which connections are demos, and their simulators, started
again for every CLI sync of a demo connection (the simulators live only while a command runs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from api.core.model import DEMO_OPTION, Connection
from api.core.text import fingerprint
from api.settings import Settings

DEMO_NAMES = ("demo-digitalocean", "demo-doit")
DEFAULT_SHAPE = {"months": 24, "items": 40}  # `billsync demo`'s defaults


def demo_shape(months: int, items: int) -> dict[str, int]:
    """The connection option that marks a demo connection and how to start its simulator:
    {"months": history in months, "items": average line items per DigitalOcean invoice}."""
    return {"months": months, "items": items}


def demo_tokens() -> dict[str, str]:
    """Provider -> the simulators' demo token (never a real account's)."""
    from api.simulators.digitalocean import DEMO_TOKEN
    from api.simulators.doit import DEMO_KEY

    return {"digitalocean": DEMO_TOKEN, "doit": DEMO_KEY}


def unmarked_demo(connection: Connection) -> bool:
    """A demo connection made before demos carried DEMO_OPTION: its name and the fingerprint
    of the simulators' token give it away."""
    token = demo_tokens().get(connection.provider)
    return (
        not connection.is_demo
        and connection.name in DEMO_NAMES
        and token is not None
        and connection.fingerprint == fingerprint(token)
    )


def shape_of(connection: Connection) -> Mapping[str, int]:
    shape = connection.options.get(DEMO_OPTION)
    return shape if isinstance(shape, Mapping) else DEFAULT_SHAPE


@contextmanager
def simulated(settings: Settings, shape: Mapping[str, Any]) -> Iterator[Settings]:
    """`settings` with both provider URLs pointing at freshly started loopback simulators of
    the demo accounts (`shape` as from `demo_shape`; dated today, UTC). Seeded, so a restart
    serves the same invoices: a sync finds only what a real month would have added."""
    from api.simulators.digitalocean import DigitalOceanSimulator, DOSimConfig
    from api.simulators.doit import DoitSimConfig, DoitSimulator

    today = dt.datetime.now(dt.UTC).date()
    months, items = int(shape["months"]), int(shape["items"])
    do_config = DOSimConfig(months=months, items_per_invoice=items, today=today)
    doit_config = DoitSimConfig(months=min(months, 24), today=today)
    with DigitalOceanSimulator(do_config) as do_sim, DoitSimulator(doit_config) as doit_sim:
        yield replace(settings, digitalocean_api_url=do_sim.url, doit_api_url=doit_sim.url)
