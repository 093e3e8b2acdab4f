"""`billsync serve`'s local mode: a random key per home, loopback Host headers only.

The key lives in `$BILLSYNC_HOME/serve.key` (created once, mode 0600) unless BILLSYNC_LOCAL_KEY
gives one. Refusing a Host that is not loopback stops DNS rebinding: a web page on
evil.example whose name re-resolves to 127.0.0.1 still sends `Host: evil.example`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from api.errors import Forbidden

KEY_FILE = "serve.key"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def local_key(home: Path, configured: str | None) -> str:
    """The configured key, or the home's key file's (created 0600 on first use)."""
    if configured:
        return configured
    path = home / KEY_FILE
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="ascii").strip()


def check_host(host: str | None) -> None:
    """Refuse a Host header that does not name the loopback interface."""
    name = (host or "").strip().lower()
    if name.startswith("["):  # [::1]:8080
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name not in LOOPBACK_HOSTS:
        raise Forbidden(
            "This local service answers only to 127.0.0.1 or localhost.",
            action="Open it through the URL `billsync serve` printed.",
        )
