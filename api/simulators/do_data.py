"""Seeded, realistic DigitalOcean billing data: the account, invoice identities, monthly lines."""

from __future__ import annotations

import calendar
import datetime as dt
import random
import uuid as uuidlib
from dataclasses import dataclass
from decimal import Decimal

from api.simulators.do_fleet import ODD_RESOURCES, Resource, money

HOURS_CAP = 672  # DigitalOcean bills at most 672 hours (28 days) of a monthly price
TAX_RATE = Decimal("0.0625")
TAX_LABEL = "STATE SALES TAX (6.25%)"

# Summary buckets: these products are not "product charges".
OVERAGE_PRODUCTS = frozenset({"Bandwidth"})
TAX_PRODUCTS = frozenset({"Taxes"})
CREDIT_PRODUCTS = frozenset({"Credits"})

TEAMS = ("Acme Analytics", "Northwind Labs", "Globex Data", "Initech Cloud")


def month_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    year, month = int(period[:4]), int(period[5:7])
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    days = calendar.monthrange(year, month)[1]
    return start, start + dt.timedelta(days=days)


def shift_period(period: str, months: int) -> str:
    ordinal = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"


def period_ordinal(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:7]) - 1


@dataclass(frozen=True)
class Line:
    """One invoice line, in our terms; `item()` gives DigitalOcean's wire shape."""

    product: str
    description: str
    amount: Decimal
    start: dt.datetime
    end: dt.datetime
    hours: int | None
    group: str = ""
    project: str = ""
    resource_id: str = ""
    resource_uuid: str = ""
    kind: str = "iaas"

    def item(self) -> dict[str, str]:
        item = {"product": self.product}
        for key, value in (
            ("resource_uuid", self.resource_uuid),
            ("resource_id", self.resource_id),
            ("group_description", self.group),
        ):
            if value:
                item[key] = value
        item["description"] = self.description
        item["amount"] = f"{self.amount:.2f}"
        if self.hours is not None:
            item["duration"] = str(self.hours)
            item["duration_unit"] = "Hours"
        item["start_time"] = _iso(self.start)
        item["end_time"] = _iso(self.end)
        if self.project:
            item["project_name"] = self.project
        return item


@dataclass(frozen=True)
class Account:
    uuid: str
    email: str
    user_name: str
    company: str
    customer_number: str
    team_uuid: str
    team_name: str
    address: dict[str, str]


def make_account(seed: int) -> Account:
    rng = random.Random(f"{seed}:account")
    team = TEAMS[(seed + 1) % len(TEAMS)]  # the default seed (7) is Acme Analytics
    slug = team.split()[0].lower()
    return Account(
        uuid=f"{rng.getrandbits(160):040x}", email=f"billing@{slug}.example",
        user_name=rng.choice(("Sammy Shark", "Alex Moreau", "Dana Okafor", "Kim Lindqvist")),
        company=f"{team} Inc.", customer_number=str(rng.randrange(1_000_000, 9_999_999)),
        team_uuid=f"{rng.getrandbits(160):040x}", team_name=team,
        address={"address_line1": f"{rng.randrange(10, 999)} Harbor Street", "address_line2": "",
                 "city": "Boston", "region": "MA", "postal_code": "02110",
                 "country_iso2_code": "US", "created_at": "2016-03-01T12:00:00.000+00:00",
                 "updated_at": "2016-03-01T12:00:00.000+00:00"},
    )  # fmt: skip


def invoice_identity(seed: int, period: str, kind: str) -> tuple[str, str]:
    """(invoice_uuid, invoice_id) of the `kind` ("final" or "preview") invoice of a month."""
    rng = random.Random(f"{seed}:{kind}:{period}")
    uuid = str(uuidlib.UUID(int=rng.getrandbits(128), version=4))
    number = 300_000_000 + (period_ordinal(period) - 24_000) * 1_000_000 + rng.randrange(1_000_000)
    return uuid, str(number)


def month_lines(
    seed: int,
    fleet: tuple[Resource, ...],
    items_per_invoice: int,
    period: str,
    cutoff: dt.datetime | None = None,
) -> list[Line]:
    """A month's lines; with a cutoff, only the usage up to it (the month-to-date preview).

    Every random draw happens before the cutoff is applied, so the preview of a month is a
    prefix in time of the final invoice of the same month.
    """
    rng = random.Random(f"{seed}:lines:{period}")
    start, end = month_bounds(period)
    stop = min(end, cutoff) if cutoff else end
    month_hours = int((end - start).total_seconds()) // 3600
    count = max(3, round(items_per_invoice * rng.uniform(0.75, 1.25)))
    credit = count >= 5 and rng.random() < 0.3
    regular = count - 2 - int(credit)
    chosen = sorted(rng.sample(range(len(fleet)), min(regular, len(fleet))))
    chosen += sorted(rng.choices(range(len(fleet)), k=regular - len(chosen)))
    odd = ODD_RESOURCES[period_ordinal(period) % len(ODD_RESOURCES)]
    picks = [fleet[i] for i in chosen]
    picks.insert(rng.randrange(len(picks) + 1), odd)
    draws = [(r, _span(rng, start, month_hours), rng.uniform(0.2, 2.5)) for r in picks]

    lines = []
    for resource, (first, hours), factor in draws:
        begin = start + dt.timedelta(hours=first)
        clipped = min(hours, int((stop - begin).total_seconds()) // 3600)
        if clipped <= 0:
            continue
        if resource.usage:
            amount = money(resource.monthly * Decimal(str(round(factor, 3))) * clipped / hours)
        else:
            amount = min(resource.monthly, money(resource.monthly * clipped / HOURS_CAP))
        lines.append(
            Line(
                resource.product,
                resource.description,
                amount,
                begin,
                begin + dt.timedelta(hours=clipped),
                clipped,
                resource.group,
                resource.project,
                resource.resource_id,
                resource.resource_uuid,
                resource.kind,
            )
        )
    subtotal = sum((line.amount for line in lines), Decimal(0))
    if credit and subtotal > 0:
        label = rng.choice(("Promo credit", "Promo credit", "Referral credit"))
        amount = -min(Decimal("10.00"), money(subtotal / 2))
        lines.append(Line("Credits", label, amount, start, stop, None, kind="credits"))
        subtotal += amount
    lines.append(Line("Taxes", TAX_LABEL, money(subtotal * TAX_RATE), start, stop, None))
    return lines


def _span(rng: random.Random, start: dt.datetime, month_hours: int) -> tuple[int, int]:
    """(first hour, hours billed): most resources run the whole month, some start or stop."""
    if rng.random() < 0.8:
        return 0, month_hours
    first = rng.randrange(0, month_hours - 24)
    return first, rng.randrange(24, month_hours - first + 1)


def summary_buckets(lines: list[Line]) -> dict[str, object]:
    """Product charges grouped per product, then overages, taxes, credits (as DO's summary)."""
    groups: dict[str, list[Decimal]] = {}
    overages = taxes = adjustments = Decimal("0.00")
    for line in lines:
        if line.product in OVERAGE_PRODUCTS:
            overages += line.amount
        elif line.product in TAX_PRODUCTS:
            taxes += line.amount
        elif line.product in CREDIT_PRODUCTS:
            adjustments += line.amount
        else:
            groups.setdefault(line.product, []).append(line.amount)
    items = [
        {"amount": f"{sum(v, Decimal(0)):.2f}", "name": k, "count": str(len(v))}
        for k, v in groups.items()
    ]
    charges = sum((sum(v, Decimal(0)) for v in groups.values()), Decimal(0))
    return {
        "product_charges": {"name": "Product usage charges", "amount": f"{charges:.2f}",
                            "items": items},
        "overages": {"name": "Overages", "amount": f"{overages:.2f}"},
        "taxes": {"name": "Taxes", "amount": f"{taxes:.2f}"},
        "credits_and_adjustments": {"name": "Credits & adjustments",
                                    "amount": f"{adjustments:.2f}"},
    }  # fmt: skip


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
