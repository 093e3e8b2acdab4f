"""Invoice PDFs generated with fpdf2 in several layouts, each with its ground truth.

Layouts: `ruled` (English, USD, a ruled table), `eu` (French, EUR, '1.234,56 €', dd/mm/yyyy,
borderless columns), `multipage` (60 lines over several pages, header repeated), `credit`
(a credit note), `unlabelled` (the supplier printed as a letterhead with no label), `gross`
(unlabelled, and no subtotal: only the tax and the total), `scan`
(the ruled invoice as a picture only: no text layer).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fpdf import FPDF
from PIL import Image, ImageDraw

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Truth:
    invoice_id: str
    invoice_date: dt.date
    due_date: dt.date
    supplier: str
    currency: str
    lines: tuple[tuple[str, Decimal, Decimal], ...]  # description, quantity, unit price
    tax_rate: Decimal = Decimal("0.20")
    credit: bool = False
    labelled_supplier: bool = True
    net_printed: bool = True  # False: no "Subtotal" line, only the tax and the total
    extra: dict[str, str] = field(default_factory=dict)

    def amounts(self) -> list[Decimal]:
        return [(q * p).quantize(CENT) for _, q, p in self.lines]

    @property
    def net(self) -> Decimal:
        return sum(self.amounts(), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return (self.net * self.tax_rate).quantize(CENT)

    @property
    def total(self) -> Decimal:
        return self.net + self.tax

    def signed(self, value: Decimal) -> Decimal:
        return -value if self.credit else value


def us(value: Decimal) -> str:
    return f"${value:,.2f}"


def eu(value: Decimal) -> str:
    text = f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{text} €"


def _pdf() -> FPDF:
    pdf = FPDF()
    pdf.core_fonts_encoding = "windows-1252"  # the core fonts then print € and accents
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    return pdf


def _text(pdf: FPDF, *lines: str) -> None:
    for line in lines:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")


def ruled(truth: Truth) -> bytes:
    pdf = _pdf()
    title = "CREDIT NOTE" if truth.credit else "INVOICE"
    number = "Credit note no" if truth.credit else "Invoice no"
    head = [title] if truth.labelled_supplier else [truth.supplier, title]
    _text(pdf, *head)
    if truth.labelled_supplier:
        _text(pdf, f"From: {truth.supplier}")
    _text(
        pdf,
        "Bill to: Company ABC, 111 Main Street",
        f"{number}: {truth.invoice_id}",
        f"Invoice date: {truth.invoice_date:%B %d, %Y}",
        f"Due date: {truth.due_date:%B %d, %Y}",
    )
    pdf.ln(4)
    with pdf.table(col_widths=(90, 25, 35, 35)) as table:
        table.row(["Description", "Qty", "Unit price", "Amount"])
        for (description, qty, price), amount in zip(truth.lines, truth.amounts(), strict=True):
            table.row([description, f"{qty}", us(price), us(amount)])
    pdf.ln(4)
    subtotal = [f"Subtotal {us(truth.net)}"] if truth.net_printed else []
    _text(
        pdf,
        *subtotal,
        f"Tax ({truth.tax_rate * 100:.0f}%) {us(truth.tax)}",
        f"Total due {us(truth.total)} {truth.currency}",
    )
    return bytes(pdf.output())


def eu_plain(truth: Truth) -> bytes:
    pdf = _pdf()
    _text(
        pdf,
        "FACTURE",
        f"Fournisseur : {truth.supplier}",
        f"Facture N° {truth.invoice_id}",
        f"Date : {truth.invoice_date:%d/%m/%Y}",
        f"Échéance : {truth.due_date:%d/%m/%Y}",
        "",
        "Désignation                      Quantité     Prix      Montant",
    )
    for (description, qty, price), amount in zip(truth.lines, truth.amounts(), strict=True):
        _text(pdf, f"{description}      {qty}      {eu(price)}      {eu(amount)}")
    _text(
        pdf,
        f"Total HT {eu(truth.net)}",
        f"TVA {truth.tax_rate * 100:.0f}% {eu(truth.tax)}",
        f"Total TTC {eu(truth.total)}",
    )
    return bytes(pdf.output())


def scan(truth: Truth) -> bytes:
    """The invoice drawn into a picture: what a scanner or a phone camera gives."""
    image = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(image)
    rows = ["INVOICE", f"From: {truth.supplier}", f"Invoice no: {truth.invoice_id}",
            f"Total due {us(truth.total)}"]  # fmt: skip
    for n, row in enumerate(rows):
        draw.text((100, 100 + 40 * n), row, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(buffer.getvalue()), x=0, y=0, w=210)
    return bytes(pdf.output())


def sample(layout: str) -> Truth:
    if layout == "eu":
        return Truth("F-2024-031", dt.date(2024, 3, 5), dt.date(2024, 4, 4),
                     "Hébergement Dupont SARL", "EUR",
                     (("Serveur dédié", Decimal(1), Decimal("1234.56")),
                      ("Nom de domaine", Decimal(2), Decimal("12.50"))))  # fmt: skip
    if layout == "multipage":
        lines = tuple(
            (f"Storage bucket {n:02d}", Decimal(n), Decimal("1.25")) for n in range(1, 61)
        )
        return Truth("MP-7781", dt.date(2024, 6, 1), dt.date(2024, 7, 1), "Bucket Co", "USD",
                     lines)  # fmt: skip
    credit = layout == "credit"
    return Truth(
        "CN-0042" if credit else "INV-1001",
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 30),
        "Acme Hosting Ltd",
        "USD",
        (("VPS hosting (February)", Decimal(3), Decimal("20.00")),
         ("Backups", Decimal(1), Decimal("4.50"))),
        credit=credit,
        labelled_supplier=layout not in ("unlabelled", "gross"),
        net_printed=layout != "gross",
    )  # fmt: skip


LAYOUTS = ("ruled", "eu", "multipage", "credit", "unlabelled", "scan")


def render(layout: str, truth: Truth | None = None) -> bytes:
    truth = truth or sample(layout)
    if layout == "eu":
        return eu_plain(truth)
    if layout == "scan":
        return scan(truth)
    return ruled(truth)


def write(folder: Path, layout: str, name: str | None = None) -> tuple[Path, Truth]:
    truth = sample(layout)
    path = folder / (name or f"{layout}.pdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(layout, truth))
    return path, truth


SUPPLIERS = ("Acme Hosting Ltd", "Nordic Domains AB", "Hébergement Dupont SARL", "Bucket Co",
             "Mailgun Technologies Inc", "Zürich Cloud GmbH")  # fmt: skip
PRODUCTS = ("VPS hosting", "Managed database", "Domain renewal", "Backups", "Support plan",
            "Object storage", "Load balancer", "SSL certificate", "Bandwidth overage")  # fmt: skip


def random_truth(layout: str, rng: Any) -> Truth:
    """A ground truth of random numbers, dates and lines for `layout` (a `random.Random`)."""
    date = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(0, 700))
    count = rng.randrange(40, 90) if layout == "multipage" else rng.randrange(1, 12)
    lines = tuple(
        (f"{rng.choice(PRODUCTS)} #{n}", Decimal(rng.randrange(1, 40)),
         Decimal(rng.randrange(100, 250_000)) / 100)
        for n in range(1, count + 1)
    )  # fmt: skip
    prefix = {"eu": "F-", "credit": "CN-"}.get(layout, "INV-")
    return Truth(
        f"{prefix}{rng.randrange(1000, 99999)}", date, date + dt.timedelta(days=30),
        rng.choice(SUPPLIERS), "EUR" if layout == "eu" else "USD", lines,
        tax_rate=Decimal(rng.choice((0, 5, 10, 20))) / 100, credit=layout == "credit",
        labelled_supplier=layout != "unlabelled",
    )  # fmt: skip
