"""Who may call: Google ID tokens for users, OIDC tokens for tasks (real google-auth, PEM certs)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from api.web.openapi import document
from tests.web.conftest import bearer
from tests.web.tokens import SCHEDULER_SA, Issuer


def _error(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "retryable"}
    return dict(body["error"])


def test_a_valid_id_token_is_the_user(client: Any, issuer: Issuer) -> None:
    response = client.get("/v1/me", headers=bearer(issuer.user(email="ann@example.com")))
    assert response.status_code == 200
    assert response.get_json() == {"email": "ann@example.com", "google": {"connected": False}}


def now() -> int:
    return int(time.time())


REFUSED = [
    # (case, how to make the Authorization header, status, code)
    ("missing", lambda i: {}, 401, "unauthenticated"),
    ("not bearer", lambda i: {"Authorization": "Basic YTpi"}, 401, "unauthenticated"),
    ("malformed", lambda i: bearer("not.a.jwt"), 401, "unauthenticated"),
    ("garbage", lambda i: bearer("x" * 40), 401, "unauthenticated"),
    ("expired", lambda i: bearer(i.user(iat=now() - 7200, exp=now() - 3600)), 401,
     "unauthenticated"),
    ("not yet valid", lambda i: bearer(i.user(iat=now() + 3600, exp=now() + 7200)), 401,
     "unauthenticated"),
    ("wrong audience", lambda i: bearer(i.user(aud="someone-else")), 401, "unauthenticated"),
    ("wrong issuer", lambda i: bearer(i.user(iss="https://evil.example")), 401,
     "unauthenticated"),
    ("no issuer", lambda i: bearer(i.user(iss=None)), 401, "unauthenticated"),
    ("too long-lived", lambda i: bearer(i.user(exp=now() + 30 * 86400)), 401, "unauthenticated"),
    ("unverified email", lambda i: bearer(i.user(email_verified=False)), 403, "forbidden"),
    ("email_verified missing", lambda i: bearer(i.user(email_verified=None)), 403, "forbidden"),
    ("task token on a user endpoint", lambda i: bearer(i.task()), 403, "forbidden"),
    ("signed by another key", lambda i: bearer(Issuer(kid=i.kid).user()), 401,
     "unauthenticated"),
]  # fmt: skip


def _operations(kind: str) -> list[tuple[str, str]]:
    """Every documented operation that `kind` ("googleIdToken" or "googleOidc") may call, with
    its path parameters filled in."""
    found = []
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if any(kind in requirement for requirement in operation["security"]):
                found.append((method, re.sub(r"{[^}]+}", "someid0123456789", path)))
    return found


USER_OPERATIONS = _operations("googleIdToken")
TASK_OPERATIONS = _operations("googleOidc")


def test_the_matrix_covers_every_protected_route() -> None:
    assert len(USER_OPERATIONS) == 10 and len(TASK_OPERATIONS) == 2


@pytest.mark.parametrize(("method", "path"), USER_OPERATIONS)
@pytest.mark.parametrize(("case", "header", "status", "code"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_tokens_on_every_user_endpoint(
    client: Any, issuer: Issuer, case: str, header: Any, status: int, code: str, method: str,
    path: str,
) -> None:  # fmt: skip
    response = client.open(path, method=method.upper(), headers=header(issuer), json={})
    assert response.status_code == status, case
    assert _error(response)["code"] == code
    assert response.get_json()["error"]["retryable"] is False
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


TASK_REFUSED = [
    ("missing", lambda i: {}, 401),
    ("expired", lambda i: bearer(i.task(iat=now() - 7200, exp=now() - 3600)), 401),
    ("wrong audience", lambda i: bearer(i.task(aud="https://elsewhere.example")), 401),
    ("wrong issuer", lambda i: bearer(i.task(iss="https://evil.example")), 401),
    ("a user's ID token", lambda i: bearer(i.user()), 403),
    ("a service account not allowed", lambda i: bearer(i.task(email="x@y.iam.gserviceaccount.com")),
     403),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path"), TASK_OPERATIONS)
@pytest.mark.parametrize(
    ("case", "header", "status"), TASK_REFUSED, ids=[r[0] for r in TASK_REFUSED]
)
def test_refused_tokens_on_every_task_endpoint(
    client: Any, issuer: Issuer, case: str, header: Any, status: int, method: str, path: str
) -> None:
    response = client.open(path, method=method.upper(), headers=header(issuer))
    assert response.status_code == status, case
    assert _error(response)["code"] == ("unauthenticated" if status == 401 else "forbidden")


def test_certificates_are_fetched_once_per_max_age(client: Any, issuer: Issuer) -> None:
    for _ in range(5):
        assert client.get("/v1/me", headers=bearer(issuer.user())).status_code == 200
    assert issuer.hits == 1


def test_a_new_signing_key_refetches_the_certificates_at_most_every_30_s(issuer: Issuer) -> None:
    from api.web.certs import CertCache

    now = [0.0]
    cache = CertCache(issuer.url, clock=lambda: now[0])
    assert set(cache.get("test-key-1")) == {"test-key-1"}
    issuer.rotate("test-key-2")
    now[0] = 10.0
    assert "test-key-2" not in cache.get("test-key-2")  # a storm of unknown kids waits
    now[0] = 31.0
    assert set(cache.get("test-key-2")) == {"test-key-1", "test-key-2"}
    assert issuer.hits == 2


def test_no_max_age_means_no_caching_beyond_the_default(issuer: Issuer) -> None:
    from api.web.certs import CertCache

    now = [0.0]
    issuer.max_age = 60
    cache = CertCache(issuer.url, clock=lambda: now[0])
    cache.get()
    now[0] = 59.0
    cache.get()
    assert (cache.fetches, issuer.hits) == (1, 1)
    now[0] = 61.0
    cache.get()
    assert (cache.fetches, issuer.hits) == (2, 2)


def test_the_token_is_never_echoed(client: Any, issuer: Issuer, log_lines: list[str]) -> None:
    token = issuer.user(aud="someone-else")
    response = client.get("/v1/me?token=" + token, headers=bearer(token))
    assert response.status_code == 401
    assert token not in response.get_data(as_text=True)
    assert log_lines and not any(token in line or "token=" in line for line in log_lines)


def test_task_service_account_must_be_allowed(issuer: Issuer) -> None:
    from api.web.certs import CertCache
    from api.web.config import WebSettings
    from api.web.identity import GoogleVerifier
    from tests.web.tokens import SERVICE_URL

    web = WebSettings(auth="google", id_token_certs_url=issuer.url, tasks_audience=SERVICE_URL,
                      tasks_service_accounts=(SCHEDULER_SA,))  # fmt: skip
    verifier = GoogleVerifier(web, CertCache(issuer.url))
    assert verifier.caller(issuer.task(), "task").email == SCHEDULER_SA
    from api.errors import Forbidden

    with pytest.raises(Forbidden):
        verifier.caller(issuer.task(email="intruder@evil.iam.gserviceaccount.com"), "task")
