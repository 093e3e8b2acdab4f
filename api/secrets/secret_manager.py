"""The production SecretStore: one Google Secret Manager secret per credential.

Secret Manager API v1 (cloud.google.com/secret-manager/docs/reference/rest): a secret holds
versions; `put` of a new name creates the secret (automatic replication, labels) and its first
version; `put` of a name that exists adds a version and disables the older enabled ones
(rotation); `get` reads the `latest` version; `delete` deletes the secret with all its versions.
The reference kept in the database is the secret's resource name, never its value.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator, Mapping

from google.api_core import exceptions, retry
from google.auth.credentials import Credentials
from google.cloud import secretmanager_v1 as sm

from api.errors import SecretError
from api.google.rest_clients import RETRY, client_kwargs

_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_LABEL_CHARS = re.compile(r"[^a-z0-9_-]")


class SecretManagerStore:
    """`SecretStore` on Secret Manager in `project` (an id, e.g. "billsync-prod")."""

    def __init__(
        self,
        project: str,
        *,
        endpoint: str | None = None,
        credentials: Credentials | None = None,
        retry_policy: retry.Retry = RETRY,
    ) -> None:
        self.project = project
        self._retry = retry_policy
        self._client = sm.SecretManagerServiceClient(**client_kwargs(endpoint, credentials))

    def put(self, name: str, value: str, labels: Mapping[str, str] | None = None) -> str:
        """Store `value` under `name`; return the secret's resource name (the reference).

        Labels (e.g. {"connection": id, "kind": "digitalocean"}) are lowercased and cut to
        Secret Manager's rules. A second put of the same name rotates: a new version, the old
        ones disabled. Raises SecretError when Secret Manager refuses.
        """
        ref = f"projects/{self.project}/secrets/{secret_id(name)}"
        secret = sm.Secret(
            replication=sm.Replication(automatic=sm.Replication.Automatic()),
            labels=clean_labels({"app": "billsync", **(labels or {})}),
        )
        with _translated(name):
            try:
                self._client.create_secret(
                    parent=f"projects/{self.project}",
                    secret_id=secret_id(name),
                    secret=secret,
                    retry=self._retry,
                )
                rotating = False
            except exceptions.Conflict:
                rotating = True
            payload = sm.SecretPayload(data=value.encode())
            added = self._client.add_secret_version(parent=ref, payload=payload, retry=self._retry)
            if rotating:
                self._disable_older(ref, keep=added.name)
        return ref

    def get(self, ref: str) -> str:
        _check(ref)
        with _translated(ref):
            answer = self._client.access_secret_version(
                name=f"{ref}/versions/latest", retry=self._retry
            )
        return bytes(answer.payload.data).decode()

    def delete(self, ref: str) -> None:
        """Delete the secret and every version (destroyed); an absent secret is no error."""
        _check(ref)
        try:
            with _translated(ref):
                self._client.delete_secret(name=ref, retry=self._retry)
        except _Missing:
            return

    def _disable_older(self, ref: str, *, keep: str) -> None:
        request = sm.ListSecretVersionsRequest(parent=ref, filter="state:ENABLED")
        pager = self._client.list_secret_versions(request=request, retry=self._retry)
        for version in pager:
            if version.name != keep and version.state == sm.SecretVersion.State.ENABLED:
                self._client.disable_secret_version(name=version.name, retry=self._retry)


def secret_id(name: str) -> str:
    """A valid secret id for `name` ([A-Za-z0-9_-], at most 255); names that needed changes
    get a short hash so two of them never meet."""
    cleaned = _ID_CHARS.sub("_", name)
    if cleaned != name or not cleaned:
        cleaned = f"{cleaned[:200]}_{hashlib.sha256(name.encode()).hexdigest()[:10]}"
    return f"billsync-{cleaned}"[:255]


def clean_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Label keys and values as Secret Manager takes them: lowercase, [a-z0-9_-], 63 chars."""
    out = {}
    for key, value in labels.items():
        k = _LABEL_CHARS.sub("_", key.lower())[:63]
        if k and k[0].isalpha():
            out[k] = _LABEL_CHARS.sub("_", str(value).lower())[:63]
    return out


def _check(ref: str) -> None:
    if not re.fullmatch(r"projects/[^/]+/secrets/[A-Za-z0-9_-]+", ref):
        raise SecretError("This secret reference is not a Secret Manager secret name.")


class _Missing(SecretError):
    pass


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Google API errors -> SecretError sentences (never the secret, never the server text)."""
    try:
        yield
    except exceptions.NotFound:
        raise _Missing(f"The secret {what} does not exist in Secret Manager.") from None
    except exceptions.Forbidden:  # REST maps 403 to Forbidden (PermissionDenied is its subclass)
        raise SecretError(
            "The service may not use Secret Manager.",
            action="Grant its service account roles/secretmanager.admin on the project.",
        ) from None
    except (exceptions.GoogleAPICallError, exceptions.RetryError) as exc:
        status = getattr(exc, "code", None)
        raise SecretError(
            f"Secret Manager did not answer as expected (HTTP {status}).",
            action="Try again in a minute.",
        ) from None
