"""Google credentials against the fake token endpoint: loopback login, refresh, revoked grants."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.archive.drive import DriveStore
from api.errors import ConfigError, SecretError, SinkError
from api.google.credentials import (
    REVOKED_MESSAGE,
    SCOPES,
    default_credentials,
    load_user_credentials,
    login_installed_app,
    refresh_credentials,
    service_account_credentials,
)
from tests.fakes.fixtures import fake_google  # noqa: F401 - the fixture
from tests.fakes.google import FakeGoogle
from tests.test_drive_store import MemoryState, document, invoice


class MemorySecrets:
    """A fake of the SecretStore port."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def put(self, name: str, value: str) -> str:
        self.values[f"mem:{name}"] = value
        return f"mem:{name}"

    def get(self, ref: str) -> str:
        if ref not in self.values:
            raise SecretError(f"No secret {ref}.")
        return self.values[ref]

    def delete(self, ref: str) -> None:
        self.values.pop(ref, None)


def token_forms(fake: FakeGoogle) -> list[dict[str, list[str]]]:
    return [parse_qs(call.body.decode()) for call in fake.calls.of("oauth2.token")]


def client_file(tmp_path: Path, fake: FakeGoogle) -> Path:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps({"installed": {
        "client_id": "cid", "client_secret": "cs", "auth_uri": fake.url + "/o/oauth2/auth",
        # Google's real endpoint on purpose: the token_uri setting must win over the file.
        "token_uri": "https://oauth2.googleapis.com/token",
        "redirect_uris": ["http://localhost"]}}))  # fmt: skip
    return path


def consent_in_browser(
    fake: FakeGoogle, capsys: pytest.CaptureFixture[str], *, deny: bool = False
) -> dict[str, Any]:
    """Play the user's browser: read the printed URL, consent, follow the loopback redirect."""
    seen: dict[str, Any] = {}

    def browser() -> None:
        deadline = time.monotonic() + 10
        printed = ""
        while "http" not in printed and time.monotonic() < deadline:
            printed += capsys.readouterr().out
            time.sleep(0.02)
        url = next(line for line in printed.splitlines() if line.startswith("http"))
        query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
        seen.update(query)
        if deny:
            answer = {"error": "access_denied", "state": query["state"]}
        else:
            code = fake.oauth.approve(  # type: ignore[attr-defined]
                query["client_id"], query["scope"], query["redirect_uri"],
                query.get("code_challenge"),
            )  # fmt: skip
            answer = {"code": code, "state": query["state"], "scope": query["scope"]}
        seen["redirect_status"] = httpx.get(query["redirect_uri"], params=answer).status_code

    thread = threading.Thread(target=browser, daemon=True)
    thread.start()
    seen["thread"] = thread
    return seen


@pytest.fixture
def insecure_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib insists on https for the token URL; the fake speaks plain http on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.mark.usefixtures("insecure_loopback")
def test_login_stores_an_offline_grant_that_loads_and_refreshes(
    fake_google: FakeGoogle,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secrets = MemorySecrets()
    browser = consent_in_browser(fake_google, capsys)

    ref = login_installed_app(
        client_file(tmp_path, fake_google), secrets, token_uri=fake_google.url + "/token",
        open_browser=False, timeout_seconds=10,
    )  # fmt: skip
    browser["thread"].join(5)

    assert browser["scope"].split() == list(SCOPES)
    assert (browser["access_type"], browser["prompt"]) == ("offline", "consent")
    assert browser["redirect_uri"].startswith("http://127.0.0.1:")
    assert browser["code_challenge_method"] == "S256"
    assert browser["redirect_status"] == 200
    stored = json.loads(secrets.get(ref))
    [issued] = fake_google.oauth.refresh_tokens()  # type: ignore[attr-defined]
    assert stored == {
        "type": "authorized_user", "client_id": "cid", "client_secret": "cs",
        "refresh_token": issued, "token_uri": fake_google.url + "/token", "scopes": list(SCOPES),
    }  # fmt: skip
    [exchange] = token_forms(fake_google)
    assert exchange["grant_type"] == ["authorization_code"]
    assert "code_verifier" in exchange

    credentials = load_user_credentials(secrets, ref, token_uri=fake_google.url + "/token")

    assert credentials.valid and credentials.token.startswith("ya29.")
    assert token_forms(fake_google)[-1]["grant_type"] == ["refresh_token"]
    assert issued not in capsys.readouterr().out


@pytest.mark.usefixtures("insecure_loopback")
def test_a_denied_consent_is_a_clear_error_and_stores_nothing(
    fake_google: FakeGoogle,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secrets = MemorySecrets()
    browser = consent_in_browser(fake_google, capsys, deny=True)

    with pytest.raises(ConfigError, match="Google sign-in did not complete"):
        login_installed_app(
            client_file(tmp_path, fake_google), secrets, token_uri=fake_google.url + "/token",
            open_browser=False, timeout_seconds=10,
        )  # fmt: skip
    browser["thread"].join(5)

    assert secrets.values == {}
    assert fake_google.calls.of("oauth2.token") == []


def test_a_missing_client_file_says_where_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Desktop app"):
        login_installed_app(tmp_path / "nope.json", MemorySecrets(), token_uri="http://x")


def stored_grant(secrets: MemorySecrets, refresh_token: str = "fake-refresh", **extra: Any) -> str:
    grant = {"type": "authorized_user", "client_id": "cid", "client_secret": "cs",
             "refresh_token": refresh_token, **extra}  # fmt: skip
    return secrets.put("google-oauth", json.dumps(grant))


def test_load_refreshes_at_the_configured_token_uri(fake_google: FakeGoogle) -> None:  # noqa: F811
    secrets = MemorySecrets()
    ref = stored_grant(secrets, token_uri="https://oauth2.googleapis.com/token")

    credentials = load_user_credentials(secrets, ref, token_uri=fake_google.url + "/token")

    assert credentials.token.startswith("ya29.") and credentials.token_uri.startswith(
        fake_google.url)  # fmt: skip
    assert credentials.scopes == list(SCOPES)
    [form] = token_forms(fake_google)
    assert form["grant_type"] == ["refresh_token"]
    assert (form["refresh_token"], form["client_id"]) == (["fake-refresh"], ["cid"])


@pytest.mark.parametrize(
    ("setup", "ref_options"),
    [
        ("revoke", {}),  # the user removed access, or a testing-mode grant expired
        ("none", {"client_secret": "rotated"}),  # the OAuth client secret was rotated
    ],
)
def test_a_dead_grant_asks_to_log_in_again(
    fake_google: FakeGoogle,  # noqa: F811
    setup: str,
    ref_options: dict[str, str],
) -> None:
    secrets = MemorySecrets()
    ref = stored_grant(secrets)
    if setup == "revoke":
        fake_google.oauth.revoke("fake-refresh")  # type: ignore[attr-defined]

    with pytest.raises(ConfigError) as raised:
        load_user_credentials(
            secrets, ref, token_uri=fake_google.url + "/token",
            client_id="cid", client_secret=ref_options.get("client_secret"),
        )  # fmt: skip

    assert str(raised.value) == REVOKED_MESSAGE
    assert raised.value.__suppress_context__  # google-auth's text (the body) is not chained
    [call] = fake_google.calls.of("oauth2.token")
    assert call.status in (400, 401)


@pytest.mark.parametrize("stored", ["not json", json.dumps({"client_id": "cid"})])
def test_an_unusable_stored_grant_is_a_secret_error(stored: str) -> None:
    secrets = MemorySecrets()
    ref = secrets.put("google-oauth", stored)

    with pytest.raises(SecretError, match="billsync google login"):
        load_user_credentials(secrets, ref, token_uri="http://127.0.0.1:9/token")


def service_account_file(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "billsync-test", "private_key_id": "k1",
        "private_key": pem, "client_email": "archiver@billsync-test.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}))  # fmt: skip
    return path


def test_a_service_account_cannot_archive_into_my_drive(
    fake_google: FakeGoogle,  # noqa: F811
    tmp_path: Path,
) -> None:
    credentials = service_account_credentials(
        service_account_file(tmp_path), token_uri=fake_google.url + "/token"
    )
    refresh_credentials(credentials)
    assert fake_google.oauth.service_accounts == [  # type: ignore[attr-defined]
        "archiver@billsync-test.iam.gserviceaccount.com"]  # fmt: skip
    # What Drive answers a service account uploading into a personal My Drive folder:
    fake_google.faults.add("403_storage_quota", "POST", r"^/upload/")
    store = DriveStore(
        fake_google.drive.add_folder("Personal"), credentials,  # type: ignore[attr-defined]
        api_url=fake_google.url, state=MemoryState(), connection="c", sleep=lambda _: None,
    )  # fmt: skip

    with pytest.raises(SinkError) as raised:
        store.put(invoice(), "pdf", *document(tmp_path, b"%PDF"))

    assert "service account" in str(raised.value).lower()
    assert "billsync google login" in str(raised.value)
    assert fake_google.drive.uploaded() == []  # type: ignore[attr-defined]


def test_a_broken_service_account_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "sa.json").write_text("{}")
    with pytest.raises(ConfigError, match="service account file"):
        service_account_credentials(tmp_path / "sa.json")


def test_default_credentials_follow_google_application_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path)))
    credentials = default_credentials()
    assert credentials.service_account_email == (  # type: ignore[attr-defined]
        "archiver@billsync-test.iam.gserviceaccount.com")  # fmt: skip

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="Application Default Credentials"):
        default_credentials()
