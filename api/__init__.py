"""billsync: cloud-provider invoices into a bookkeeper's ledger and archive."""

__version__ = "0.1.0"
