"""The encrypted secret file: round trip, owner-only modes, ciphertext on disk, clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from api.errors import SecretError
from api.secrets.encrypted_file import FernetSecretStore

TOKEN = "dop_v1_" + "7f3a" * 16


def store(tmp_path: Path, key: str | None = None) -> FernetSecretStore:
    return FernetSecretStore(tmp_path / "secrets.json", key, tmp_path / "secret.key")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_with_a_key_file_created_owner_only(tmp_path: Path) -> None:
    secrets = store(tmp_path)
    ref = secrets.put("digitalocean--acme", TOKEN)

    assert ref == "local:digitalocean--acme"
    assert secrets.get(ref) == TOKEN
    assert store(tmp_path).get(ref) == TOKEN  # a new process finds the same key file
    assert mode(tmp_path / "secret.key") == 0o600 and mode(tmp_path / "secrets.json") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key", "secrets.json"]


def test_only_ciphertext_is_on_disk(tmp_path: Path) -> None:
    secrets = store(tmp_path)
    secrets.put("a", TOKEN)
    secrets.put("b", TOKEN[::-1])

    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert TOKEN.encode() not in on_disk and TOKEN[::-1].encode() not in on_disk
    assert TOKEN[-12:].encode() not in on_disk


def test_a_key_from_the_environment_writes_no_key_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    ref = store(tmp_path, key).put("x", TOKEN)

    assert store(tmp_path, key).get(ref) == TOKEN
    assert not (tmp_path / "secret.key").exists()


def test_the_wrong_key_is_a_clear_error_without_the_token_or_key(tmp_path: Path) -> None:
    right, wrong = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ref = store(tmp_path, right).put("digitalocean--acme", TOKEN)

    with pytest.raises(SecretError) as raised:
        store(tmp_path, wrong).get(ref)

    message = str(raised.value)
    assert "cannot be decrypted" in message and "BILLSYNC_SECRET_KEY" in message
    assert TOKEN not in message and wrong not in message and right not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "damaged"),
        (b'{"x": 1}', "expected format"),
        (b'{"x": "garbage"}', "decrypted"),
    ],  # fmt: skip
)
def test_a_corrupt_store_is_a_clear_error(tmp_path: Path, content: bytes, expected: str) -> None:
    secrets = store(tmp_path)
    secrets.put("other", TOKEN)
    (tmp_path / "secrets.json").write_bytes(content)

    with pytest.raises(SecretError, match=expected):
        secrets.get("local:x")


def test_a_bad_key_and_a_missing_key_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="not a valid Fernet key") as raised:
        store(tmp_path, "not-a-key").put("x", TOKEN)
    assert "not-a-key" not in str(raised.value)

    ref = store(tmp_path).put("x", TOKEN)
    (tmp_path / "secret.key").unlink()
    with pytest.raises(SecretError, match="key file .* is missing"):
        store(tmp_path).get(ref)


def test_delete_destroys_the_secret(tmp_path: Path) -> None:
    secrets = store(tmp_path)
    keep, gone = secrets.put("keep", "k-" + TOKEN), secrets.put("gone", TOKEN)

    secrets.delete(gone)
    secrets.delete(gone)  # twice is fine

    with pytest.raises(SecretError, match="does not exist"):
        secrets.get(gone)
    assert secrets.get(keep) == "k-" + TOKEN
    with pytest.raises(SecretError, match="not one of the local"):
        secrets.get("sm:projects/p/secrets/x")
