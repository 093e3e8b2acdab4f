"""The cloud LedgerSink: a Google Sheet written with raw batchUpdate bodies, one read per write."""
