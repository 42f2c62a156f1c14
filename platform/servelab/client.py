"""A client of ServeLab's JSON API (/api/v1) for `servelab submit`: pack a folder the way the
server unpacks it, upload it with an API token, follow it to its result.

Everything the server sends is bounded before it is read (`MAX_RESPONSE_BYTES`, a deadline per
request) and validated with the API's own response models; every failure becomes a
`ClientError` whose message says what happened and what to do. The token goes only into the
Authorization header, never into a message, and redirects are not followed (a redirect to
another host would carry it there).
"""

from __future__ import annotations

import ipaddress
import json
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from servelab.grading.archive import ArchiveError, copy_tree, extract_zip
from servelab.grading.intake import submission_problem
from servelab.web.api_schemas import API_PREFIX, SubmissionPublic, UserPublic

MiB = 1024 * 1024
# The largest answer read: a result document is at most 1 MB (results.MAX_RESULT_BYTES), and a
# submission's other fields are bounded text; anything larger is not ServeLab's answer.
MAX_RESPONSE_BYTES = 4 * MiB
MAX_MESSAGE_CHARS = 2000  # of a server's error text shown
REQUEST_SECONDS = 60.0  # one request's deadline (upload included), within the total budget
POLL_SECONDS = 1.0
# How long polls may fail in a row while following (a web process restarting, a 503 while
# its database is briefly away) before the client gives up on following.
MAX_POLL_FAILURE_SECONDS = 30.0
_Model = TypeVar("_Model", bound=BaseModel)


class Failure(StrEnum):
    """What went wrong, for exit codes and `--json`."""

    REFUSED = "refused"  # the submission was not accepted (here or by the server)
    TOKEN = "token"  # the server did not accept the token
    UNREACHABLE = "unreachable"  # no connection, or none within the deadline
    SERVER = "server"  # the server failed, or answered something that is not its API
    TIMEOUT = "timeout"  # the total time ran out while following
    STOPPED = "stopped"  # the person stopped following (Ctrl-C)


class ClientError(Exception):
    """A failure with a message for the person running the command, as is; `submission` is
    the last state seen when it happened while following an accepted submission."""

    def __init__(
        self,
        kind: Failure,
        message: str,
        status_code: int | None = None,
        *,
        submission: SubmissionPublic | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.submission = submission


@dataclass(frozen=True)
class PackedSubmission:
    """A folder as the .zip the server accepts, and the files in it."""

    data: bytes
    files: list[str]


def pack_folder(folder: Path) -> PackedSubmission:
    """Zip `folder` under the server's own rules, here, so a refusal costs no upload: reading
    the folder is `archive.copy_tree` (names, links, counts, sizes, UTF-8, junk skipped), the
    required files and requirements.txt are `intake.submission_problem`, and the .zip made is
    unpacked once with `archive.extract_zip` (the archive's size limit included). Raises
    ArchiveError, its message for the learner."""
    with tempfile.TemporaryDirectory(prefix="servelab-submit-") as work:
        checked, unpacked, archive_path = (Path(work, n) for n in ("checked", "unpacked", "zip"))
        files = copy_tree(folder, checked)
        problem = submission_problem(checked)
        if problem:
            raise ArchiveError(problem)
        with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in files:
                archive.write(checked / name, name)
        with archive_path.open("rb") as handle:
            extract_zip(handle, unpacked)  # checks the size before it reads anything
            handle.seek(0)
            return PackedSubmission(handle.read(), files)


def checked_server_url(url: str, *, allow_http: bool) -> httpx.URL:
    """The server's base URL; refuses a token's trip in clear text beyond this machine."""
    try:
        parsed = httpx.URL(url.strip().rstrip("/"))
    except httpx.InvalidURL:
        parsed = httpx.URL("")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ClientError(
            Failure.REFUSED,
            f"--server must be the server's address, such as https://servelab.example.org "
            f"(got {url[:200]!r}).",
        )
    if parsed.userinfo:
        raise ClientError(Failure.REFUSED, "--server must not hold a user name or password.")
    if parsed.scheme == "http" and not allow_http and not _is_loopback(parsed.host):
        raise ClientError(
            Failure.REFUSED,
            f"{parsed.host} is reached over plain http://, which would send your token "
            "unencrypted. Use its https:// address (or --allow-http on a network you trust).",
        )
    return parsed


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_token(token: str | None) -> str:
    """The token as sent in the header; never quoted back, even when it is refused."""
    token = (token or "").strip()
    if not token:
        raise ClientError(
            Failure.TOKEN,
            "No API token. Create one on your account page (/account, API tokens) and set "
            "SERVELAB_TOKEN (or pass --token).",
        )
    if len(token) > 500 or not token.isascii() or not token.isprintable() or " " in token:
        raise ClientError(
            Failure.TOKEN,
            "The API token holds characters a ServeLab token never has. Copy it again from "
            "your account page.",
        )
    return token


class ServeLabClient:
    """The submissions API of one server, as one person (their API token), every request
    and the following within `total_seconds` from now."""

    def __init__(
        self,
        server: httpx.URL,
        token: str,
        *,
        total_seconds: float,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        request_seconds: float = REQUEST_SECONDS,
    ) -> None:
        self.server = server
        self.total_seconds = total_seconds
        self.deadline = time.monotonic() + total_seconds
        self.max_response_bytes = max_response_bytes
        self.request_seconds = request_seconds
        self._http = httpx.Client(
            base_url=server,
            headers={"authorization": f"Bearer {token}", "accept": "application/json"},
            follow_redirects=False,
            timeout=request_seconds,
        )

    def __enter__(self) -> ServeLabClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def me(self) -> UserPublic:
        """Whose token this is; also proves the server is there and speaks the API."""
        return self._call("GET", f"{API_PREFIX}/me", UserPublic)

    def submit(self, exercise: str, packed: PackedSubmission) -> SubmissionPublic:
        """Upload a packed folder; the server's refusal is a ClientError(REFUSED)."""
        return self._call(
            "POST",
            f"{API_PREFIX}/submissions",
            SubmissionPublic,
            data={"exercise": exercise},
            files={"archive": ("submission.zip", packed.data, "application/zip")},
        )

    def submission(self, submission_id: int) -> SubmissionPublic:
        return self._call("GET", f"{API_PREFIX}/submissions/{submission_id}", SubmissionPublic)

    def follow(
        self, submission: SubmissionPublic, *, on_update: Callable[[SubmissionPublic], None]
    ) -> SubmissionPublic:
        """Poll until the submission is final, calling on_update with each answer. Out of
        time: ClientError(TIMEOUT); the submission goes on on the server."""
        failing_since: float | None = None
        while not submission.final:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise ClientError(
                    Failure.TIMEOUT,
                    f"Still {submission.status} after {self.total_seconds:g} s (--timeout); "
                    f"the submission goes on on the server. Follow it at "
                    f"{self.page_url(submission)}.",
                    submission=submission,
                )
            time.sleep(min(POLL_SECONDS, remaining))
            try:
                submission = self.submission(submission.id)
            except ClientError as exc:
                if exc.kind == Failure.TIMEOUT:
                    continue  # the loop's own check words it
                failing_since = failing_since or time.monotonic()
                transient = exc.kind in (Failure.UNREACHABLE, Failure.SERVER)
                if not transient or time.monotonic() - failing_since > MAX_POLL_FAILURE_SECONDS:
                    raise ClientError(
                        exc.kind,
                        f"{exc.message} The submission was accepted; follow it at "
                        f"{self.page_url(submission)}.",
                        exc.status_code,
                        submission=submission,
                    ) from None
                continue
            failing_since = None
            on_update(submission)
        return submission

    def page_url(self, submission: SubmissionPublic) -> str:
        """The submission's page in the browser (built here: the server's `page` is not
        trusted to point anywhere)."""
        return f"{str(self.server).rstrip('/')}/submissions/{submission.id}"

    def _call(self, method: str, path: str, model: type[_Model], **kwargs: Any) -> _Model:
        status, body = self._send(method, path, **kwargs)
        if status >= 400:
            raise self._refusal(status, body)
        if not 200 <= status < 300:
            raise ClientError(
                Failure.SERVER,
                f"{self.server} answered {path} with HTTP {status}, not with ServeLab's API. "
                "Check --server (the address you log in at).",
                status,
            )
        try:
            return model.model_validate_json(body)
        except ValidationError:
            raise ClientError(
                Failure.SERVER,
                f"{self.server} answered {path} with something that is not ServeLab's API "
                "(or a newer version of it). Check --server.",
                status,
            ) from None

    def _send(self, method: str, path: str, **kwargs: Any) -> tuple[int, bytes]:
        """Status and body, read at most `max_response_bytes` of it; transport failures
        become ClientError(UNREACHABLE), or TIMEOUT once the total time has run out."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ClientError(
                Failure.TIMEOUT, f"The {self.total_seconds:g} s of --timeout ran out."
            )
        seconds = min(self.request_seconds, remaining)
        answer_by = time.monotonic() + seconds
        try:
            with self._http.stream(
                method,
                path,
                timeout=seconds,
                **kwargs,
            ) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_response_bytes:
                    raise self._too_large(path)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_response_bytes:
                        raise self._too_large(path)
                    if time.monotonic() > answer_by:  # a trickle resets httpx's read timeout
                        raise httpx.ReadTimeout("the answer came too slowly")
                return response.status_code, bytes(body)
        except httpx.TimeoutException:
            if seconds < self.request_seconds:
                raise ClientError(
                    Failure.TIMEOUT, f"The {self.total_seconds:g} s of --timeout ran out."
                ) from None
            raise ClientError(
                Failure.UNREACHABLE,
                f"{self.server} did not answer within {seconds:g} s. Try again later, or "
                "check --server.",
            ) from None
        except httpx.ConnectError as exc:
            raise ClientError(
                Failure.UNREACHABLE,
                f"Cannot reach ServeLab at {self.server} ({_reason(exc)}). Check --server and "
                "that the server is running.",
            ) from None
        except httpx.HTTPError as exc:
            raise ClientError(
                Failure.UNREACHABLE,
                f"The connection to {self.server} broke ({_reason(exc)}). Try again.",
            ) from None

    def _too_large(self, path: str) -> ClientError:
        return ClientError(
            Failure.SERVER,
            f"{self.server} answered {path} with more than "
            f"{self.max_response_bytes // MiB} MiB, which ServeLab never sends. "
            "Check --server.",
        )

    def _refusal(self, status: int, body: bytes) -> ClientError:
        detail = _detail(body)
        if status == 401:
            return ClientError(
                Failure.TOKEN,
                f"{self.server} did not accept the API token ({detail or 'HTTP 401'}). Create "
                "a new one on your account page (/account) and set SERVELAB_TOKEN.",
                status,
            )
        if status == 503:  # busy, or its database briefly away: nothing was saved
            return ClientError(
                Failure.SERVER,
                f"{self.server} cannot take it now (HTTP 503): {detail or 'no explanation given'}",
                status,
            )
        if status >= 500:
            return ClientError(
                Failure.SERVER,
                f"{self.server} failed (HTTP {status}): "
                f"{detail or 'no explanation given'}. Try again later.",
                status,
            )
        return ClientError(
            Failure.REFUSED, detail or f"The server refused the request (HTTP {status}).", status
        )


def _detail(body: bytes) -> str:
    """The API's `detail` (a text, or 422's list of fields at fault) as one bounded line of
    text; empty when the body is not the API's error shape."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return ""
    if isinstance(detail, list):
        parts = [
            f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg', '')}"
            for item in detail[:20]
            if isinstance(item, dict)
        ]
        detail = "; ".join(parts)
    return str(detail)[:MAX_MESSAGE_CHARS] if detail else ""


def _reason(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__)[:200]
