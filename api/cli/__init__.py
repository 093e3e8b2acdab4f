"""The `billsync` command line: connect, sync, list, disconnect, demo, serve, inbox, usage,
runs, summary, export. One module per kind of command; importing them registers them."""

from api.cli import accounting, connecting, local, syncing  # noqa: F401 - registers commands
from api.cli.app import cli, main

__all__ = ["cli", "main"]
