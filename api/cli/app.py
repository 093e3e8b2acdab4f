"""The `billsync` command group, its context (settings and services, built once) and the
entry point that turns every failure into one human line and an exit status."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import click

from api import logs
from api.errors import BillsyncError
from api.factory import Services, build
from api.settings import Settings

QUIET = logging.CRITICAL + 1  # above every level: no log line at all


class Context:
    def __init__(self, home: str | None, verbose: bool) -> None:
        self.home = home
        self.verbose = verbose
        self._services: Services | None = None

    def settings(self) -> Settings:
        env = dict(os.environ)
        if self.home:
            env["BILLSYNC_HOME"] = self.home
        return Settings.from_env(env)

    def services(self, settings: Settings | None = None) -> Services:
        if self._services is None:
            self._services = build(settings or self.settings())
        return self._services


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="BILLSYNC_HOME", help="Data folder (default ./billsync-data).")
@click.option("-v", "--verbose", is_flag=True, help="Log every API call (JSON lines, stderr).")
@click.version_option(package_name="billsync")
@click.pass_context
def cli(ctx: click.Context, home: str | None, verbose: bool) -> None:
    """billsync: cloud invoices into your ledger and archive."""
    # Without -v nothing is logged: every failure reaches the person as one human line.
    logs.configure(logging.DEBUG if verbose else QUIET, stream=sys.stderr)
    # Libraries' own warnings (pypdf on a damaged inbox file, …) never reach the terminal raw.
    logging.getLogger().addHandler(logging.NullHandler())
    ctx.obj = Context(home, verbose)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one-line human errors on stderr, non-zero exit status."""
    try:
        # Outside standalone mode click hands back a raised Exit's code instead of exiting.
        status = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="billsync",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BillsyncError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing already written was lost. Run the sync again.", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one line for the person, the details in the log
        logs.get("cli").debug("unexpected error", exc_info=True)
        click.echo(
            f"error: unexpected {type(exc).__name__}; run again with -v for details.", err=True
        )
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)
