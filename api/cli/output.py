"""How the command line shows things: tables, times, run outcomes, a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from api.core.model import RunRecord


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    widths[-1] = len(headers[-1])  # the last column is free text: never pad it
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def started(run: RunRecord) -> str:
    return run.started.strftime("%Y-%m-%d %H:%M UTC")


def shell_quoted(name: str) -> str:
    return f"'{name}'" if " " in name else name


def say_outcome(name: str, run: RunRecord) -> None:
    """One line per run: stdout when it succeeded, else stderr ("partial:" names each invoice
    and document still missing, and that the next sync retries them)."""
    if run.status == "succeeded":
        click.echo(f"  {name}: {run.message}")
    else:
        click.echo(f"{'partial' if run.status == 'partial' else 'error'}: {name}: {run.message}",
                   err=True)  # fmt: skip


class _ProgressBar:
    """A progress bar on stderr while invoices are fetched (a plain line when not a terminal)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.bar: Any = None
        self.shown = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != "fetching" or total == 0:
            return
        if self.bar is None:
            self.bar = click.progressbar(
                length=total,
                label=f"  {self.name}: fetching invoices",
                file=sys.stderr,
                show_pos=True,
            )
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@contextmanager
def progress(name: str) -> Iterator[Callable[[str, int, int], None]]:
    bar = _ProgressBar(name)
    try:
        yield bar
    finally:
        bar.close()
