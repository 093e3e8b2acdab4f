"""The StateStore: connections, runs, ledger index and archived documents, in SQL."""
