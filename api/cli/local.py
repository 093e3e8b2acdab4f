"""The demo on bundled simulators, and the API served locally for the sidebar preview."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from api import connections, logs
from api.cli.app import Context, cli
from api.cli.syncing import sync_one
from api.core.model import DEMO_OPTION, RunRecord
from api.errors import ConfigError


@cli.command()
@click.option("--months", type=click.IntRange(1, 240), default=24, show_default=True)
@click.option(
    "--items",
    type=click.IntRange(3, 2000),
    default=40,
    show_default=True,
    help="Average line items per DigitalOcean invoice.",
)
@click.pass_obj
def demo(obj: Context, months: int, items: int) -> None:
    """Sync simulated DigitalOcean and DoiT accounts into the local ledger, twice."""
    from api.demo import demo_shape, demo_tokens, simulated, unmarked_demo

    shape = demo_shape(months, items)
    with simulated(obj.settings(), shape) as settings:
        services = obj.services(settings)
        tokens = demo_tokens()
        demos: list[tuple[str, str, dict[str, Any]]] = [
            ("demo-digitalocean", "digitalocean", {"include_preview": True}),
            ("demo-doit", "doit", {"window_days": 120}),
        ]
        known = {c.name: c for c in services.state.list_connections()}
        for name, provider, options in demos:
            if name in known:
                if unmarked_demo(known[name]):  # made before demos were marked
                    services.state.update_options(name, {DEMO_OPTION: shape})
                continue
            connection = connections.connect(
                state=services.state, secrets=services.secrets, providers=services.provider,
                provider=provider, name=name, token=tokens[provider],
                options={**options, DEMO_OPTION: shape},
            )  # fmt: skip
            click.echo(
                f"Connected '{name}' to the simulated account '{connection.account}' "
                f"(token {connection.fingerprint})."
            )
        runs: list[RunRecord] = []
        synced_before = any(services.state.list_runs(name, limit=1) for name, *_ in demos)
        first = (
            "Sync (only what is new or changed):"
            if synced_before
            else ("First sync (full history):")
        )
        for title in (first, "Second sync (should find nothing new):"):
            click.echo(title)
            runs += [sync_one(services, name, full=False) for name, *_ in demos]
    click.echo("")
    click.echo(f"Ledger workbook: {services.sink.location()}")
    click.echo(f"Archived PDFs and CSVs: {services.files.location()}")
    if any(run.status != "succeeded" for run in runs):
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")  # fmt: skip
@click.pass_obj
def serve(obj: Context, port: int) -> None:
    """Run the service API on this machine (127.0.0.1 only, a key per data folder)."""
    from werkzeug.serving import make_server

    from api.web import create_app
    from api.web.config import WebSettings

    web = WebSettings.from_env()
    if web.auth != "local":
        raise ConfigError(
            "`billsync serve` runs with local authentication only.",
            action="Unset BILLSYNC_AUTH, or run the service under gunicorn for Google sign-in.",
        )
    logs.configure(logging.DEBUG if obj.verbose else logging.INFO, stream=sys.stderr)
    app = create_app(obj.settings(), web)
    server = make_server("127.0.0.1", port, app, threaded=True)
    key = app.extensions["billsync"].local_key
    base = f"http://127.0.0.1:{server.server_port}"
    click.echo(f"billsync is serving {obj.settings().home} on {base} (Ctrl-C stops it).")
    click.echo(f"Open the sidebar preview: {base}/addon/?key={key}")
    click.echo(f"API calls take the header 'Authorization: Bearer {key}'; see {base}/openapi.json")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
    finally:
        server.server_close()
