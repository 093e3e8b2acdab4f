"""A stateful fake of Cloud Tasks v2's REST wire (what google-cloud-tasks sends with
transport="rest"): queues, named tasks refused twice (409, also after they ran: Cloud Tasks keeps
a name for about an hour), and delivery of a task's HTTP request to its target with a token,
retried like Cloud Tasks while the target fails or cannot be reached.

Reference: cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx

from tests.fakes.cloud_server import ApiError, CloudFake

METHODS = {1: "POST", 2: "GET", 3: "HEAD", 4: "PUT", 5: "DELETE", "POST": "POST"}


@dataclass
class Task:
    name: str
    http_request: dict[str, Any]
    dispatch_count: int = 0
    response_count: int = 0
    last_status: int | None = None

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "httpRequest": self.http_request,
            "dispatchCount": self.dispatch_count,
            "responseCount": self.response_count,
            "createTime": dt.datetime.now(dt.UTC).isoformat(),
        }


class FakeCloudTasks:
    def __init__(self) -> None:
        self.server = CloudFake("fake-cloud-tasks")
        self.queues: dict[str, dict[str, Task]] = {}
        self.used_names: set[str] = set()  # created once: refused again (tombstones)
        self._routes()

    @property
    def calls(self) -> list[Any]:
        return self.server.calls

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def add_queue(self, name: str) -> None:
        self.queues[name] = {}

    def tasks(self, queue: str) -> list[Task]:
        with self.server.lock:
            return list(self.queues[queue].values())

    def deliver(self, task: Task, token: str, timeout: float = 60.0) -> int | None:
        """POST the task's request to its target as Cloud Tasks would (Bearer `token` stands for
        the OIDC token). 2xx removes the task; anything else, or no answer, keeps it for a
        redelivery. Returns the status, or None when the target could not be reached."""
        request = task.http_request
        headers = dict(request.get("headers", {}))
        headers.update({
            "Authorization": f"Bearer {token}",
            "X-CloudTasks-TaskName": task.name.rsplit("/", 1)[-1],
            "X-CloudTasks-TaskRetryCount": str(task.dispatch_count),
        })  # fmt: skip
        body = base64.b64decode(request.get("body", ""))
        with self.server.lock:
            task.dispatch_count += 1
        try:
            answer = httpx.request(
                METHODS[request.get("httpMethod", 1)],
                request["url"],
                content=body,
                headers=headers,
                timeout=timeout,
            )
        except httpx.HTTPError:
            return None
        with self.server.lock:
            task.response_count += 1
            task.last_status = answer.status_code
            if 200 <= answer.status_code < 300:
                queue = task.name.split("/tasks/")[0]
                self.queues[queue].pop(task.name, None)
        return answer.status_code

    def _routes(self) -> None:
        route = self.server.route

        @route("/v2/projects/<project>/locations/<location>/queues/<queue>/tasks", ["POST"])
        def create(body: Any, project: str, location: str, queue: str) -> Any:
            parent = f"projects/{project}/locations/{location}/queues/{queue}"
            if parent not in self.queues:
                raise ApiError(404, f"Queue does not exist. {parent}")
            raw = (body or {}).get("task", {})
            name = raw.get("name") or f"{parent}/tasks/{len(self.used_names) + 1}"
            if not name.startswith(f"{parent}/tasks/"):
                raise ApiError(400, "Task name must be in the queue it is created in.")
            if name in self.used_names:
                raise ApiError(409, "Requested entity already exists")
            if "url" not in raw.get("httpRequest", {}):
                raise ApiError(400, "HttpRequest.url is required")
            self.used_names.add(name)
            task = Task(name, raw["httpRequest"])
            self.queues[parent][name] = task
            return task.json()
