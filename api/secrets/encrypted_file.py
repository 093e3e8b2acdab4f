"""The embedded secret store: provider tokens Fernet-encrypted in one 0600 file."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from api.atomic import replacing
from api.errors import SecretError

PREFIX = "local:"


class FernetSecretStore:
    """`SecretStore` on disk: `{name: Fernet token}` in a JSON file readable by its owner only.

    The key comes from BILLSYNC_SECRET_KEY (`key`), or else from a key file created on first
    use with mode 0600. Losing the key loses the tokens: they are meant to be re-entered.
    """

    def __init__(self, path: Path, key: str | None, key_path: Path) -> None:
        self.path = Path(path)
        self.key_path = Path(key_path)
        self._key = key
        self._lock = threading.Lock()

    def put(self, name: str, value: str, labels: Mapping[str, str] | None = None) -> str:
        """Encrypt `value` under `name` (replacing any earlier one); labels are not kept."""
        if not name or "\n" in name:
            raise SecretError("A secret needs a one-line name.")
        with self._lock:
            secrets = self._load()
            secrets[name] = self._fernet(create=True).encrypt(value.encode()).decode("ascii")
            self._store(secrets)
        return PREFIX + name

    def get(self, ref: str) -> str:
        name = _name(ref)
        with self._lock:
            token = self._load().get(name)
            if token is None:
                raise SecretError(
                    f"The stored token '{name}' does not exist.",
                    action="Connect the provider again to store a new token.",
                )
            try:
                return self._fernet(create=False).decrypt(token.encode("ascii")).decode()
            except (InvalidToken, UnicodeError, ValueError):
                raise SecretError(
                    f"The stored token '{name}' cannot be decrypted with the current key "
                    f"({self._key_source()}).",
                    action="Use the key it was stored with, or connect the provider again.",
                ) from None

    def delete(self, ref: str) -> None:
        name = _name(ref)
        with self._lock:
            secrets = self._load()
            if secrets.pop(name, None) is not None:
                self._store(secrets)

    # -- file and key ---------------------------------------------------------------------

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise SecretError(
                f"The secret store {self.path} is damaged or unreadable.",
                action="Move it away and connect the providers again.",
            ) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise SecretError(
                f"The secret store {self.path} is not in the expected format.",
                action="Move it away and connect the providers again.",
            )
        return data

    def _store(self, secrets: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # replacing() creates the temp file with mode 0600 before anything is written into it.
        with replacing(self.path) as out:
            out.write(json.dumps(secrets, indent=1, sort_keys=True).encode("utf-8"))

    def _fernet(self, *, create: bool) -> Fernet:
        key = self._key if self._key else self._key_file(create=create)
        try:
            return Fernet(key.strip().encode("ascii"))
        except (ValueError, UnicodeError):
            raise SecretError(
                f"The secret key ({self._key_source()}) is not a valid Fernet key.",
                action="Use a key made by `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`.",
            ) from None

    def _key_file(self, *, create: bool) -> str:
        try:
            return self.key_path.read_text(encoding="ascii")
        except FileNotFoundError:
            if not create:
                raise SecretError(
                    f"The key file {self.key_path} is missing, so stored tokens cannot be read.",
                    action="Restore the key file (or set BILLSYNC_SECRET_KEY), or connect the "
                    "providers again.",
                ) from None
        except (OSError, UnicodeError):
            raise SecretError(f"The key file {self.key_path} cannot be read.") from None
        self.key_path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        try:
            # O_EXCL: two processes creating it at once cannot both win; 0600 from the start.
            descriptor = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.key_path.read_text(encoding="ascii")
        with os.fdopen(descriptor, "wb") as out:
            out.write(key)
            out.flush()
            os.fsync(out.fileno())
        return key.decode("ascii")

    def _key_source(self) -> str:
        return "BILLSYNC_SECRET_KEY" if self._key else f"key file {self.key_path}"


def _name(ref: str) -> str:
    if not ref.startswith(PREFIX) or len(ref) == len(PREFIX):
        raise SecretError(
            "This secret reference is not one of the local secret store's.",
            action="Connect the provider again.",
        )
    return ref[len(PREFIX) :]
