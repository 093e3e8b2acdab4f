"""SecretManagerStore through google-cloud-secret-manager (REST) against the stateful fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.errors import SecretError
from api.secrets.secret_manager import SecretManagerStore, clean_labels, secret_id
from tests.fakes.secret_manager import DISABLED, ENABLED, FakeSecretManager


@pytest.fixture
def fake() -> Iterator[FakeSecretManager]:
    server = FakeSecretManager()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store(fake: FakeSecretManager) -> SecretManagerStore:
    from api.secrets.secret_manager import RETRY

    fast = RETRY.with_delay(initial=0.01, maximum=0.02).with_timeout(2.0)
    return SecretManagerStore("proj", endpoint=fake.server.url, retry_policy=fast)


def _paths(fake: FakeSecretManager) -> list[str]:
    return [f"{call.method} {call.path}" for call in fake.calls]


def test_put_creates_one_labelled_secret_and_get_reads_it(
    store: SecretManagerStore, fake: FakeSecretManager
) -> None:
    ref = store.put("digitalocean--cn_1", "dop_v1_secret", {"connection": "cn_1", "Kind": "DO"})

    assert ref == "projects/proj/secrets/billsync-digitalocean--cn_1"
    assert store.get(ref) == "dop_v1_secret"
    secret = fake.secrets[ref]
    assert secret.labels == {"app": "billsync", "connection": "cn_1", "kind": "do"}
    assert _paths(fake) == [
        "POST /v1/projects/proj/secrets",
        f"POST /v1/{ref}:addVersion",
        f"GET /v1/{ref}/versions/latest:access",
    ]


def test_a_second_put_rotates_new_version_enabled_older_ones_disabled(
    store: SecretManagerStore, fake: FakeSecretManager
) -> None:
    ref = store.put("google--user-1", "refresh-1")
    store.put("google--user-1", "refresh-2")
    store.put("google--user-1", "refresh-3")  # three versions: the listing takes two pages

    assert store.get(ref) == "refresh-3"
    assert [v.state for v in fake.secrets[ref].versions] == [DISABLED, DISABLED, ENABLED]
    disables = [p for p in _paths(fake) if p.endswith(":disable")]
    assert disables == [f"POST /v1/{ref}/versions/1:disable", f"POST /v1/{ref}/versions/2:disable"]


def test_delete_destroys_the_secret_and_a_second_delete_is_no_error(
    store: SecretManagerStore, fake: FakeSecretManager
) -> None:
    ref = store.put("doit--cn_2", "doit-token")

    store.delete(ref)
    store.delete(ref)

    assert ref not in fake.secrets
    with pytest.raises(SecretError, match="does not exist"):
        store.get(ref)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(
    store: SecretManagerStore, fake: FakeSecretManager, status: int
) -> None:
    fake.server.faults.add(status, ":addVersion", times=2)

    ref = store.put("doit--cn_3", "tok")

    assert store.get(ref) == "tok"
    assert [c.status for c in fake.calls if c.path.endswith(":addVersion")] == [status] * 2 + [200]


def test_a_lost_create_response_is_not_a_second_secret(
    store: SecretManagerStore, fake: FakeSecretManager
) -> None:
    # The create was applied but its answer lost (500): the retry meets 409 and rotates.
    fake.server.faults.add(500, "/secrets", times=1, applied_first=True)

    ref = store.put("doit--cn_4", "tok")

    assert list(fake.secrets) == [ref]
    assert store.get(ref) == "tok"


def test_persistent_errors_become_one_sentence_without_the_secret(
    store: SecretManagerStore, fake: FakeSecretManager
) -> None:
    fake.server.faults.add(403, "/secrets", times=1)
    with pytest.raises(SecretError, match="may not use Secret Manager") as raised:
        store.put("doit--cn_5", "very-secret-token")
    assert "very-secret-token" not in str(raised.value)

    fake.server.faults.add(500, "/secrets", times=100_000)
    with pytest.raises(SecretError, match="did not answer") as raised:
        store.put("doit--cn_5", "very-secret-token")
    assert "very-secret-token" not in str(raised.value)


def test_names_and_labels_fit_secret_managers_rules() -> None:
    assert secret_id("digitalocean--cn_1") == "billsync-digitalocean--cn_1"
    odd, other = secret_id("google--a@b.com"), secret_id("google--a.b@com")
    assert odd != other and all(c.isalnum() or c in "_-" for c in odd + other)
    assert clean_labels({"Connection": "CN 1", "9bad": "x"}) == {"connection": "cn_1"}
    with pytest.raises(SecretError):
        SecretManagerStore("p", endpoint="http://127.0.0.1:9").get("local:xyz")
