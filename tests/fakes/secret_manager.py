"""A stateful fake of Secret Manager v1's REST wire (the paths and JSON google-cloud-secret-manager
sends with transport="rest"): secrets with labels, numbered versions with states, `latest`,
disable, delete; paginated version listing; faults from CloudFake.

Reference: cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import flask

from tests.fakes.cloud_server import ApiError, CloudFake

ENABLED, DISABLED, DESTROYED = 1, 2, 3  # SecretVersion.State (enum-encoding=int)
STATE_NAMES = {"ENABLED": ENABLED, "DISABLED": DISABLED, "DESTROYED": DESTROYED}


@dataclass
class Version:
    name: str
    data: bytes
    state: int = ENABLED
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "createTime": self.created}


@dataclass
class Secret:
    name: str
    labels: dict[str, str]
    versions: list[Version] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "labels": self.labels, "replication": {"automatic": {}}}


class FakeSecretManager:
    def __init__(self, page_size: int = 2) -> None:
        self.server = CloudFake("fake-secret-manager")
        self.secrets: dict[str, Secret] = {}
        self.page_size = page_size  # small, so listing really pages
        self._routes()

    @property
    def calls(self) -> list[Any]:
        return self.server.calls

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def _secret(self, project: str, secret: str) -> Secret:
        found = self.secrets.get(f"projects/{project}/secrets/{secret}")
        if found is None:
            raise ApiError(404, f"Secret [projects/{project}/secrets/{secret}] not found.")
        return found

    def _version(self, found: Secret, version: str) -> Version:
        if version == "latest":
            if not found.versions:
                raise ApiError(404, f"Secret Version [{found.name}/versions/latest] not found.")
            return found.versions[-1]
        for candidate in found.versions:
            if candidate.name.endswith(f"/versions/{version}"):
                return candidate
        raise ApiError(404, f"Secret Version [{found.name}/versions/{version}] not found.")

    def _routes(self) -> None:
        route = self.server.route

        @route("/v1/projects/<project>/secrets", ["POST"])
        def create(body: Any, project: str) -> Any:
            secret_id = flask.request.args.get("secretId", "")
            name = f"projects/{project}/secrets/{secret_id}"
            if not secret_id:
                raise ApiError(400, "secretId is required.")
            if name in self.secrets:
                raise ApiError(409, f"Secret [{name}] already exists.")
            self.secrets[name] = Secret(name, dict((body or {}).get("labels", {})))
            return self.secrets[name].json()

        @route("/v1/projects/<project>/secrets/<secret>:addVersion", ["POST"])
        def add_version(body: Any, project: str, secret: str) -> Any:
            found = self._secret(project, secret)
            data = base64.b64decode((body or {}).get("payload", {}).get("data", ""))
            version = Version(f"{found.name}/versions/{len(found.versions) + 1}", data)
            found.versions.append(version)
            return version.json()

        @route("/v1/projects/<project>/secrets/<secret>/versions/<version>:access", ["GET"])
        def access(body: Any, project: str, secret: str, version: str) -> Any:
            found = self._version(self._secret(project, secret), version)
            if found.state != ENABLED:
                raise ApiError(400, f"{found.name} is in DISABLED state.")
            payload = {"data": base64.b64encode(found.data).decode()}
            return {"name": found.name, "payload": payload}

        @route("/v1/projects/<project>/secrets/<secret>/versions/<version>:disable", ["POST"])
        def disable(body: Any, project: str, secret: str, version: str) -> Any:
            found = self._version(self._secret(project, secret), version)
            found.state = DISABLED
            return found.json()

        @route("/v1/projects/<project>/secrets/<secret>/versions", ["GET"])
        def list_versions(body: Any, project: str, secret: str) -> Any:
            found = self._secret(project, secret)
            wanted = flask.request.args.get("filter", "")
            versions = list(reversed(found.versions))  # newest first, as Secret Manager lists
            if wanted.startswith("state:"):
                versions = [v for v in versions if v.state == STATE_NAMES[wanted[6:]]]
            start = int(flask.request.args.get("pageToken") or 0)
            page = versions[start : start + self.page_size]
            answer: dict[str, Any] = {"versions": [v.json() for v in page]}
            answer["totalSize"] = len(versions)
            if start + self.page_size < len(versions):
                answer["nextPageToken"] = str(start + self.page_size)
            return answer

        @route("/v1/projects/<project>/secrets/<secret>", ["DELETE"])
        def delete(body: Any, project: str, secret: str) -> Any:
            found = self._secret(project, secret)
            del self.secrets[found.name]
            return {}
