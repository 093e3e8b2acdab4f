"""The simulated DigitalOcean account's fleet: the resources its invoices bill, seeded."""

from __future__ import annotations

import math
import random
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
DROPLET_SIZES = (("s-1vcpu-1gb", "6.00"), ("s-1vcpu-2gb", "12.00"), ("s-2vcpu-2gb", "18.00"),
                 ("s-2vcpu-4gb", "24.00"), ("s-4vcpu-8gb", "48.00"), ("c-4", "84.00"),
                 ("g-2vcpu-8gb", "63.00"), ("m-2vcpu-16gb", "84.00"))  # fmt: skip
DB_SIZES = (("db-s-1vcpu-1gb", "15.00"), ("db-s-1vcpu-2gb", "30.00"), ("db-s-2vcpu-4gb", "60.00"))
ROLES = ("web", "api", "worker", "cache", "batch", "ci-runner", "vpn", "proxy", "etl", "search")
PROJECTS = ("Production", "Staging", "Internal Tools", "Client: Northwind", "Data Platform")
REGIONS = ("nyc3", "fra1", "ams3", "sfo3", "lon1")


def money(value: Decimal | float | str) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Resource:
    """One billable thing in the account's fleet, billed monthly (capped hourly) or by usage."""

    product: str
    description: str
    monthly: Decimal
    group: str = ""
    project: str = ""
    resource_id: str = ""
    resource_uuid: str = ""
    usage: bool = False
    kind: str = "iaas"  # DigitalOcean's CSV `category`


def _uuid(rng: random.Random) -> str:
    return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


# Each maker builds one fleet resource: (weight, maker(rng, index)).
def _droplet(rng: random.Random, i: int) -> Resource:
    slug, price = rng.choice(DROPLET_SIZES)
    return Resource(
        "Droplets",
        f"{rng.choice(ROLES)}-{i:02d} ({slug})",
        Decimal(price),
        project=rng.choice(PROJECTS),
        resource_id=str(rng.randrange(10**8, 10**9)),
        resource_uuid=_uuid(rng),
    )


def _backup(rng: random.Random, i: int) -> Resource:
    slug, price = rng.choice(DROPLET_SIZES)
    return Resource(
        "Backups",
        f"{rng.choice(ROLES)}-{i:02d} ({slug}) backups",
        money(Decimal(price) * Decimal("0.2")),
        project=rng.choice(PROJECTS),
        resource_id=str(rng.randrange(10**8, 10**9)),
    )


def _doks(rng: random.Random, i: int) -> Resource:
    slug, price = rng.choice(DROPLET_SIZES[:5])
    cluster = rng.choice(("my-doks-cluster", "prod-doks", "staging-doks"))
    return Resource(
        "Kubernetes Clusters",
        f"pool-{rng.getrandbits(24):06x}-{i} ({slug})",
        Decimal(price),
        group=cluster,
        project=rng.choice(PROJECTS[:2]),
        resource_uuid=_uuid(rng),
        kind="paas",
    )


def _database(rng: random.Random, i: int) -> Resource:
    slug, price = rng.choice(DB_SIZES)
    engine = rng.choice(("postgresql", "mysql", "redis"))
    group = f"db-{engine}-{rng.choice(REGIONS)}-{rng.randrange(10000, 99999)}"
    return Resource(
        "Database Clusters",
        f"{group} ({slug})",
        Decimal(price),
        group=group,
        project=rng.choice(PROJECTS),
        resource_uuid=_uuid(rng),
        kind="paas",
    )


def _volume(rng: random.Random, i: int) -> Resource:
    size = rng.choice((10, 50, 100, 250, 500))
    return Resource(
        "Volumes",
        f"volume-{rng.choice(REGIONS)}-{i:02d} ({size} GiB)",
        money(size * Decimal("0.10")),
        project=rng.choice(PROJECTS),
        resource_uuid=_uuid(rng),
    )


def _snapshot(rng: random.Random, i: int) -> Resource:
    size = Decimal(rng.randrange(20, 800)) / 10
    return Resource(
        "Snapshots",
        f"{rng.choice(ROLES)}-{i:02d}-snapshot ({size} GiB)",
        money(size * Decimal("0.06")),
        resource_id=str(rng.randrange(10**8, 10**9)),
    )


def _load_balancer(rng: random.Random, i: int) -> Resource:
    return Resource(
        "Load Balancers",
        f"lb-{rng.choice(ROLES)}-{i:02d} (lb-small)",
        Decimal("12.00"),
        project=rng.choice(PROJECTS),
        resource_uuid=_uuid(rng),
    )


def _reserved_ip(rng: random.Random, i: int) -> Resource:
    return Resource(
        "Reserved IPs", f"Unused Reserved IP - 203.0.113.{rng.randrange(2, 254)}", Decimal("5.00")
    )


def _fixed(
    product: str, description: str, monthly: str, kind: str = "iaas", usage: bool = False
) -> Callable[[random.Random, int], Resource]:
    return lambda rng, i: Resource(
        product, description, Decimal(monthly), kind=kind, usage=usage, project=rng.choice(PROJECTS)
    )


def _app(rng: random.Random, i: int) -> Resource:
    return Resource(
        "App Platform",
        f"{rng.choice(ROLES)}-app-{i} (Professional, 1 GB RAM)",
        Decimal("12.00"),
        project=rng.choice(PROJECTS),
        resource_uuid=_uuid(rng),
        kind="paas",
    )


CATALOG: tuple[tuple[int, Callable[[random.Random, int], Resource]], ...] = (
    (30, _droplet), (8, _backup), (10, _doks), (6, _database), (8, _volume), (5, _snapshot),
    (4, _load_balancer), (2, _reserved_ip), (4, _app),
    (1, _fixed("Spaces Subscription", "Spaces ($5/mo 250GB storage & 1TB bandwidth)", "5.00")),
    (1, _fixed("Container Registry", "Container Registry (Basic)", "5.00", "paas")),
    (2, _fixed("Functions", "Functions (GiB-seconds)", "4.00", "paas", usage=True)),
    (3, _fixed("Bandwidth", "Bandwidth overage (outbound transfer)", "6.00", usage=True)),
    (2, _fixed("Monitoring", "Uptime checks (5 checks)", "1.00")),
)  # fmt: skip

# Awkward text for downstream safety: non-ASCII, non-Latin-1, and spreadsheet formula starts.
ODD_RESOURCES = (
    Resource("Droplets", "café-api (s-1vcpu-1gb)", Decimal("6.00"), project="Production",
             resource_id="381234567"),
    Resource("Backups", "Zürich backup", Decimal("1.20"), project="Production"),
    Resource("Snapshots", '=HYPERLINK("http://evil")', Decimal("0.60")),
    Resource("Droplets", "@sum droplet (s-1vcpu-1gb)", Decimal("6.00"), project="Staging"),
    Resource("Volumes", "+1 spare volume (10 GiB)", Decimal("1.00")),
    Resource("Droplets", "-tmp-worker (s-1vcpu-2gb)", Decimal("12.00"), project="Staging"),
    Resource("App Platform", "naïve-app — Basic (512 MB)", Decimal("5.00"), kind="paas"),
    Resource("Droplets", "東京-cache (s-1vcpu-1gb)", Decimal("6.00"), project="Data Platform"),
)  # fmt: skip


def make_fleet(seed: int, items_per_invoice: int) -> tuple[Resource, ...]:
    """The account's resources, in product order (an invoice lists them that way)."""
    rng = random.Random(f"{seed}:fleet")
    weights = [w for w, _ in CATALOG]
    size = max(8, math.ceil(items_per_invoice * 1.3))
    core = [0, 0, 1, 2, 3, 4]  # every team has Droplets, backups, DOKS, a database, volumes
    picks = sorted(core + rng.choices(range(len(CATALOG)), weights=weights, k=size - len(core)))
    fleet: list[tuple[int, Resource]] = []
    seen: set[str] = set()
    for i, k in enumerate(picks):
        resource = CATALOG[k][1](rng, i + 1)
        if resource.description in seen:  # one Spaces subscription, one registry, ...
            k, resource = 0, _droplet(rng, i + 1)
        seen.add(resource.description)
        fleet.append((k, resource))
    fleet.sort(key=lambda pair: pair[0])  # stable: product order, then creation order
    return tuple(resource for _, resource in fleet)
