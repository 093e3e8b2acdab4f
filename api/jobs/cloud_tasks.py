"""The production JobQueue: one Cloud Tasks task per run, delivered to POST /tasks/runs/{id}.

Cloud Tasks API v2, projects.locations.queues.tasks.create (cloud.google.com/tasks/docs/
reference/rest/v2/projects.locations.queues.tasks/create): a task named `<queue>/tasks/<id>`
cannot be created twice (409 ALREADY_EXISTS, also for about an hour after it ran), so naming
the task after the run makes a duplicate enqueue a no-op. The delivery carries an OIDC token
for `service_account` with `audience`, which the service checks.
"""

from __future__ import annotations

from google.api_core import exceptions, retry
from google.auth.credentials import Credentials
from google.cloud import tasks_v2
from google.protobuf import duration_pb2

from api.errors import BillsyncError
from api.google.rest_clients import RETRY, client_kwargs

DISPATCH_DEADLINE = 1800  # seconds: Cloud Tasks' maximum for HTTP targets


class CloudTasksQueue:
    """Enqueue runs as HTTP tasks on `queue` (projects/P/locations/L/queues/Q)."""

    def __init__(
        self,
        *,
        queue: str,
        service_url: str,
        service_account: str,
        audience: str | None = None,
        endpoint: str | None = None,
        credentials: Credentials | None = None,
        retry_policy: retry.Retry = RETRY,
    ) -> None:
        self.queue = queue
        self._service_url = service_url.rstrip("/")
        self._service_account = service_account
        self._audience = audience or self._service_url
        self._retry = retry_policy
        self._client = tasks_v2.CloudTasksClient(**client_kwargs(endpoint, credentials))

    def task_name(self, run_id: str) -> str:
        return f"{self.queue}/tasks/run-{run_id}"

    def enqueue(self, run_id: str) -> None:
        """Create the run's task; an existing task of that name means it is enqueued already.

        Raises BillsyncError (retryable) when Cloud Tasks still refuses after the retries.
        """
        task = tasks_v2.Task(
            name=self.task_name(run_id),
            dispatch_deadline=duration_pb2.Duration(seconds=DISPATCH_DEADLINE),
            http_request=tasks_v2.HttpRequest(
                http_method=tasks_v2.HttpMethod.POST,
                url=f"{self._service_url}/tasks/runs/{run_id}",
                headers={"Content-Type": "application/json"},
                body=b"{}",
                oidc_token=tasks_v2.OidcToken(
                    service_account_email=self._service_account, audience=self._audience
                ),
            ),
        )
        try:
            self._client.create_task(parent=self.queue, task=task, retry=self._retry)
        except exceptions.Conflict:
            return  # the same run was enqueued before: Cloud Tasks keeps one task per name
        except exceptions.GoogleAPICallError as exc:
            raise _QueueUnavailable(exc.code) from None
        except exceptions.RetryError:
            raise _QueueUnavailable(None) from None


class _QueueUnavailable(BillsyncError):
    code = "queue_unavailable"
    retryable = True

    def __init__(self, status: int | None) -> None:
        said = f" (HTTP {status})" if status else ""
        super().__init__(
            f"Cloud Tasks did not accept the run{said}; it stays queued and is retried on the "
            "next schedule tick.",
            action="Check the Cloud Tasks queue and the service account's roles.",
        )
