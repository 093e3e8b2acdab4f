"""The simulated DigitalOcean account's state: its invoices, the preview, and cached renderings."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from api.simulators.do_data import (
    CREDIT_PRODUCTS,
    TAX_PRODUCTS,
    Line,
    invoice_identity,
    make_account,
    month_bounds,
    month_lines,
    shift_period,
    summary_buckets,
)
from api.simulators.do_fleet import make_fleet
from api.simulators.documents import (
    DocumentLine,
    InvoiceDocument,
    money_text,
    render_csv,
    render_pdf,
)

PREVIEW = "preview"  # the spec's {invoice_uuid} may be literally "preview"
CSV_HEADER = ("product", "group_description", "description", "hours", "start", "end", "USD",
              "project_name", "category")  # fmt: skip
DO_ADDRESS = ("DigitalOcean, LLC", "101 6th Ave", "New York, NY 10013", "United States")
PREVIEW_CLOCK = dt.time(6, 31, 50)  # the month-to-date preview was last refreshed at this time


@dataclass(frozen=True)
class InvoiceRecord:
    uuid: str
    invoice_id: str
    period: str
    preview: bool = False


class LRU(OrderedDict[Any, Any]):
    """A size-bounded mapping that forgets the least recently stored entry first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> Any:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return value


class DOBook:
    """Final invoices (newest first) and the month-to-date preview; lines generated lazily."""

    def __init__(
        self,
        *,
        seed: int,
        months: int,
        items_per_invoice: int,
        today: dt.date,
        preview: bool,
        team: bool,
    ) -> None:
        self.seed, self.items_per_invoice, self.team = seed, items_per_invoice, team
        self.has_preview = preview
        self.account = make_account(seed)
        self.fleet = make_fleet(seed, items_per_invoice)
        self.today = today
        self.preview_period = f"{today.year:04d}-{today.month:02d}"
        self.finals = [
            self._final(shift_period(self.preview_period, -k)) for k in range(1, months + 1)
        ]
        self._touches = 0
        self._extra = Decimal(0)
        self._lock = threading.RLock()
        self._amounts: dict[str, Decimal] = {}
        self.revision = 0  # bumped on every state change: cached renderings of older ones are stale
        # Big enough for the whole account: a full sync must not regenerate what it just listed.
        self._lines = LRU(max(64, months + 2))
        self._documents = LRU(max(256, 2 * months + 4))

    # -- identity ------------------------------------------------------------------------

    def _final(self, period: str) -> InvoiceRecord:
        uuid, number = invoice_identity(self.seed, period, "final")
        return InvoiceRecord(uuid, number, period)

    def preview_record(self) -> InvoiceRecord:
        uuid, number = invoice_identity(self.seed, self.preview_period, "preview")
        return InvoiceRecord(uuid, number, self.preview_period, preview=True)

    def find(self, uuid: str) -> InvoiceRecord | None:
        with self._lock:
            preview = self.preview_record() if self.has_preview else None
            if preview and uuid in (PREVIEW, preview.uuid):
                return preview
            return next((r for r in self.finals if r.uuid == uuid), None)

    def cutoff(self) -> dt.datetime:
        """The moment the month-to-date usage runs up to."""
        return dt.datetime.combine(self.today, PREVIEW_CLOCK, tzinfo=dt.UTC)

    def updated_at(self) -> dt.datetime:
        return self.cutoff() + dt.timedelta(hours=self._touches)  # each touch is a later refresh

    # -- lines and amounts ---------------------------------------------------------------

    def lines(self, record: InvoiceRecord) -> list[Line]:
        with self._lock:
            key = (record.uuid, self._touches)
            if key in self._lines:
                self._lines.move_to_end(key)
                return self._lines[key]
            cutoff = self.cutoff() if record.preview else None
            lines = month_lines(
                self.seed, self.fleet, self.items_per_invoice, record.period, cutoff
            )
            if record.preview and self._extra:
                lines = _with_extra(lines, self._extra)
            return self._lines.put(key, lines)

    def amount(self, record: InvoiceRecord) -> Decimal:
        with self._lock:
            key = f"{record.uuid}:{self._touches}"
            if key not in self._amounts:
                self._amounts[key] = sum((line.amount for line in self.lines(record)), Decimal(0))
            return self._amounts[key]

    def entry(self, record: InvoiceRecord) -> dict[str, str]:
        """The invoice_preview shape (a listing element)."""
        entry = {
            "invoice_uuid": record.uuid,
            "invoice_id": record.invoice_id,
            "amount": f"{self.amount(record):.2f}",
            "invoice_period": record.period,
        }
        if record.preview:
            entry["updated_at"] = self.updated_at().strftime("%Y-%m-%dT%H:%M:%SZ")
        return entry

    def summary(self, record: InvoiceRecord) -> dict[str, Any]:
        account = self.account
        return {
            "invoice_uuid": record.uuid, "invoice_id": record.invoice_id,
            "billing_period": record.period, "amount": f"{self.amount(record):.2f}",
            "user_name": account.user_name, "user_billing_address": dict(account.address),
            "user_company": account.company, "user_email": account.email,
            **summary_buckets(self.lines(record)),
        }  # fmt: skip

    # -- state changes -------------------------------------------------------------------

    def advance_month(self) -> None:
        with self._lock:
            self.finals.insert(0, self._final(self.preview_period))
            self.preview_period = shift_period(self.preview_period, 1)
            start, end = month_bounds(self.preview_period)
            days = (end - start).days
            self.today = start.date().replace(day=min(self.today.day, days))
            self._touches, self._extra = 0, Decimal(0)
            self.revision += 1

    def touch_preview(self, extra: Decimal) -> None:
        with self._lock:
            self._touches += 1
            self._extra += extra
            self.revision += 1

    # -- documents -----------------------------------------------------------------------

    def file_name(self, record: InvoiceRecord, extension: str) -> str:
        start, _ = month_bounds(record.period)
        return (
            f"DigitalOcean Invoice {start:%Y %b} "
            f"({self.account.customer_number}-{record.invoice_id}).{extension}"
        )

    def pdf(self, record: InvoiceRecord) -> bytes:
        key = (record.uuid, "pdf")
        with self._lock:
            cached = self._documents.get(key)
        if cached is None:  # rendered outside the lock: other requests need not wait for it
            cached = render_pdf(self._document(record))
            with self._lock:
                self._documents.put(key, cached)
        return bytes(cached)

    def csv(self, record: InvoiceRecord) -> str:
        rows = ([line.product, line.group, line.description,
                 "" if line.hours is None else str(line.hours), _csv_time(line.start),
                 _csv_time(line.end, closing=True), money_text(line.amount), line.project,
                 line.kind] for line in self.lines(record))  # fmt: skip
        return render_csv(CSV_HEADER, rows)

    def _document(self, record: InvoiceRecord) -> InvoiceDocument:
        start, end = month_bounds(record.period)
        summary = summary_buckets(self.lines(record))
        charges: Any = summary["product_charges"]
        sections = [
            (
                "Product usage charges",
                tuple(
                    DocumentLine(i["name"], Decimal(i["amount"]), f"{i['count']} items")
                    for i in charges["items"]
                ),
            )
        ]
        for key in ("overages", "taxes", "credits_and_adjustments"):
            bucket: Any = summary[key]
            sections.append(
                (bucket["name"], (DocumentLine(bucket["name"], Decimal(bucket["amount"])),))
            )
        account = self.account
        who = account.team_name if self.team else account.user_name
        details = tuple(DocumentLine(f"{line.product}: {line.description}", line.amount,
                                     line.group or ("" if line.hours is None else
                                                    f"{line.hours} h"))
                        for line in self.lines(record))  # fmt: skip
        return InvoiceDocument(
            issuer="DigitalOcean", issuer_address=DO_ADDRESS, number=record.invoice_id,
            period_label=f"{start:%B %Y} ({start:%b %d} - {end - dt.timedelta(days=1):%b %d})",
            issued=end.date(), due=end.date(),
            bill_to=(who, account.company, account.email, account.address["address_line1"],
                     f"{account.address['city']}, {account.address['region']} "
                     f"{account.address['postal_code']}", account.address["country_iso2_code"]),
            sections=tuple(sections), total=self.amount(record), details=details,
            notes=(f"Customer number {account.customer_number}. Amounts in USD.",),
        )  # fmt: skip

    # -- other endpoints -----------------------------------------------------------------

    def billing_history(self) -> list[dict[str, str]]:
        """An Invoice entry on the 1st after each month and its card Payment two days later."""
        history: list[dict[str, str]] = []
        for record in self.finals:
            _, end = month_bounds(record.period)
            amount = self.amount(record)
            history.append(
                {
                    "description": f"Payment ({record.period})",
                    "amount": f"{-amount:.2f}",
                    "date": _iso(end + dt.timedelta(days=2, hours=8)),
                    "type": "Payment",
                }
            )
            history.append(
                {
                    "description": f"Invoice for {end - dt.timedelta(days=1):%B %Y}",
                    "amount": f"{amount:.2f}",
                    "invoice_id": record.invoice_id,
                    "invoice_uuid": record.uuid,
                    "date": _iso(end + dt.timedelta(hours=8)),
                    "type": "Invoice",
                }
            )
        return history

    def balance(self) -> dict[str, str]:
        usage = self.amount(self.preview_record()) if self.has_preview else Decimal(0)
        return {
            "month_to_date_balance": f"{usage:.2f}",
            "account_balance": "0.00",
            "month_to_date_usage": f"{usage:.2f}",
            "generated_at": _iso(self.updated_at()),
        }


def _with_extra(lines: list[Line], extra: Decimal) -> list[Line]:
    """The preview grew: the first usage line carries the extra amount."""
    for index, line in enumerate(lines):
        if line.product not in TAX_PRODUCTS | CREDIT_PRODUCTS:
            return lines[:index] + [replace(line, amount=line.amount + extra)] + lines[index + 1 :]
    first = lines[0]  # only tax (and credit) so far: the growth is new bandwidth
    return [
        Line(
            "Bandwidth", "Bandwidth overage (outbound transfer)", extra, first.start, first.end, 1
        ),
        *lines,
    ]


def _csv_time(moment: dt.datetime, closing: bool = False) -> str:
    if closing and moment.day == 1 and moment.time() == dt.time(0):
        moment -= dt.timedelta(seconds=1)  # DigitalOcean closes a month at 23:59:59
    return moment.strftime("%Y-%m-%d %H:%M:%S +0000")


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
