"""The two providers, each through its vendor's official SDK (`fal-client`, `runwayml`).

A provider does three things and says what happened in the same few words
for both: `submit` a request (its id, or `Busy` when the provider asks to be
asked again later, or `Refused`), `poll` a request by id (`Poll`: still
working, done with its video links, or failed and why) and `download` a link.

What is never done: submitting again after the provider has accepted a job.
A failed poll is polled again; a refusal that arrives when the result is
fetched (fal answers moderation and rejected arguments with a 422 there) is a
failure of that job, which was accepted and may be billed.

The SDKs are imported on first use, so that planning never needs them.  The
key is read from the environment by the caller and given to the SDK client;
it is never written anywhere, and every message from a provider is scrubbed
of it before it goes further (`scrub`).
"""

from __future__ import annotations

import email.utils
import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from .catalog import KEYS

MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is capped at this
DOWNLOAD_TIMEOUT = 300.0


class Busy(Exception):
    """The provider asked to be asked again later (429, or 5xx on a poll)."""

    def __init__(self, message: str, retry_after: float | None):
        super().__init__(message)
        self.retry_after = retry_after


class Refused(Exception):
    """The provider refused the request: a rejected argument, moderation, a bad key."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class Expired(Exception):
    """A result link no longer answers (links expire in hours): ask for fresh ones."""


@dataclass
class Poll:
    state: Literal["queued", "running", "done", "failed"]
    urls: list[str] = field(default_factory=list)
    failure: str | None = None
    code: str | None = None


def key_for(provider: str) -> str | None:
    return os.environ.get(KEYS[provider]) or None


def scrub(text: str) -> str:
    """`text` with every provider key that is set replaced by a mark."""
    for name in KEYS.values():
        secret = os.environ.get(name)
        if secret:
            text = text.replace(secret, f"<{name}>")
    return text


def retry_after(headers) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), capped."""
    value = (headers or {}).get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        seconds = parsed.timestamp() - time.time()
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


class Provider:
    name: str = ""
    uploads: bool = False  # has an upload call for pictures above a data URI's limit

    def submit(self, endpoint: str, body: dict) -> str:
        raise NotImplementedError

    def upload(self, name: str, data: bytes) -> str:
        """Upload a file for a request: the URI that stands for it in the body."""
        raise NotImplementedError(f"{self.name} takes no uploads here")

    def poll(self, endpoint: str, request_id: str) -> Poll:
        raise NotImplementedError

    def download(self, url: str, target: Path) -> None:
        """Fetch a result link without the key (it is a storage link, not the API)."""
        import httpx

        try:
            with httpx.stream("GET", url, timeout=DOWNLOAD_TIMEOUT, follow_redirects=True) as got:
                if got.status_code in (401, 403, 404, 410):
                    raise Expired(f"the result link answered {got.status_code}")
                if got.status_code == 429 or got.status_code >= 500:
                    raise Busy(f"the result link answered {got.status_code}",
                               retry_after(got.headers))  # fmt: skip
                got.raise_for_status()
                with target.open("wb") as handle:
                    for chunk in got.iter_bytes():
                        handle.write(chunk)
        except httpx.HTTPError as error:
            raise Busy(f"downloading the result failed: {scrub(str(error))}", None) from None


# --------------------------------------------------------------------- fal


class FalProvider(Provider):
    """fal's queue: submit, status, result.  Status and result go through the SDK's
    own calls by app id and request id (their URLs drop the endpoint's sub-path)."""

    name = "fal"

    def __init__(self, key: str):
        self._key = key

    @cached_property
    def client(self):
        return _fal_client(self._key)

    def submit(self, endpoint: str, body: dict) -> str:
        try:
            return self.client.submit(endpoint, arguments=body).request_id
        except Exception as error:
            raise _fal_error(error, "submitting") from None

    def poll(self, endpoint: str, request_id: str) -> Poll:
        import fal_client

        try:
            status = self.client.status(endpoint, request_id)
            if isinstance(status, fal_client.Queued):
                return Poll("queued")
            if isinstance(status, fal_client.InProgress):
                return Poll("running")
            if status.error:
                return Poll("failed", failure=scrub(str(status.error)), code=status.error_type)
            result = self.client.result(endpoint, request_id)
        except Exception as error:
            failure = _fal_error(error, "polling")
            if isinstance(failure, Refused):  # 422 from the result: that job's answer
                return Poll("failed", failure=str(failure), code=failure.code)
            raise failure from None
        return Poll("done", urls=_fal_urls(result))


def _fal_urls(result: dict) -> list[str]:
    video = result.get("video") or {}
    url = video.get("url") if isinstance(video, dict) else None
    return [url] if url else []


def _fal_error(error: Exception, doing: str) -> Exception:
    import fal_client
    import httpx

    if isinstance(error, fal_client.FalClientHTTPError):
        status = error.status_code
        message = scrub(f"fal answered {status} while {doing}: {error.message}")
        if status in (408, 409, 429) or status >= 500:
            return Busy(message, retry_after(error.response_headers))
        return Refused(message, status, error.error_type)
    if isinstance(error, httpx.HTTPError):
        return Busy(scrub(f"fal could not be reached while {doing}: {error}"), None)
    return error


def _fal_client(key: str):
    """fal's SyncClient, with a transport that waits as long as a 429 or 503 says.

    The SDK retries a 429 itself but ignores Retry-After; wrapped this way each
    of its requests first honours the header (fal-client 1.0.x builds its httpx
    client in the `_client` property; the version is pinned in the extra)."""
    import fal_client
    import httpx
    from fal_client import client as sdk

    class Client(fal_client.SyncClient):
        @cached_property
        def _client(self) -> httpx.Client:
            return httpx.Client(
                transport=RetryAfterTransport(sdk.BackupDomainTransport()),
                headers={"Authorization": self._auth.header_value, "User-Agent": sdk.USER_AGENT},
                timeout=self.default_timeout,
                follow_redirects=True,
            )

    return Client(key=key)


class RetryAfterTransport:
    """An httpx transport that, on 429 or 503 with Retry-After, waits and asks again
    (a refused request was not accepted, so asking again cannot pay twice)."""

    ATTEMPTS = 5

    def __init__(self, inner):
        self.inner = inner

    def handle_request(self, request):
        for _ in range(self.ATTEMPTS - 1):
            response = self.inner.handle_request(request)
            wait = retry_after(response.headers)
            if response.status_code not in (429, 503) or wait is None:
                return response
            response.close()
            time.sleep(wait)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# ------------------------------------------------------------------ Runway


class RunwayProvider(Provider):
    """Runway's tasks: `POST /v1/<resource>` gives a task id, `GET /v1/tasks/{id}` its state.

    Submissions are made with the SDK's retries off (it would retry a 5xx,
    which may have been accepted); polls keep them (a GET is safe to repeat)."""

    name = "runway"
    uploads = True  # POST /v1/uploads, then the file to the URL it answers with

    def __init__(self, key: str):
        self._key = key

    @cached_property
    def client(self):
        import runwayml

        return runwayml.RunwayML(api_key=self._key)

    def submit(self, endpoint: str, body: dict) -> str:
        resource = getattr(self.client.with_options(max_retries=0), endpoint)
        try:
            return resource.create(**body).id
        except Exception as error:
            raise _runway_error(error, "submitting", submitting=True) from None

    def upload(self, name: str, data: bytes) -> str:
        """An ephemeral upload (the SDK's `uploads.create_ephemeral`): its `runway://`
        URI.  The file itself goes to a storage URL, without the key.  Uploading again
        costs nothing, so a failed upload is a Busy one (asked again)."""
        try:
            return self.client.uploads.create_ephemeral(file=(name, data)).uri
        except Exception as error:
            raise _runway_error(error, "uploading a picture", submitting=False) from None

    def poll(self, endpoint: str, request_id: str) -> Poll:
        try:
            task = self.client.tasks.retrieve(request_id)
        except Exception as error:
            raise _runway_error(error, "polling", submitting=False) from None
        if task.status == "SUCCEEDED":
            return Poll("done", urls=list(task.output))
        if task.status in ("FAILED", "CANCELLED"):
            failure = scrub(getattr(task, "failure", None) or task.status.lower())
            return Poll("failed", failure=failure, code=getattr(task, "failure_code", None))
        return Poll("queued" if task.status in ("PENDING", "THROTTLED") else "running")


def _runway_error(error: Exception, doing: str, *, submitting: bool) -> Exception:
    import runwayml

    if isinstance(error, runwayml.APIStatusError):
        status = error.status_code
        message = scrub(f"Runway answered {status} while {doing}: {error.message}")
        # A 500 to a submission may or may not have made a task: never sent again.
        if status == 429 or status == 503 or (status >= 500 and not submitting):
            return Busy(message, retry_after(error.response.headers))
        return Refused(message, status)
    if isinstance(error, runwayml.APIConnectionError) and not submitting:
        return Busy(scrub(f"Runway could not be reached while {doing}: {error}"), None)
    if isinstance(error, runwayml.APIError):
        return Refused(scrub(f"Runway failed while {doing}: {error}"))
    return error


PROVIDER_CLASSES: dict[str, type[Provider]] = {"fal": FalProvider, "runway": RunwayProvider}
