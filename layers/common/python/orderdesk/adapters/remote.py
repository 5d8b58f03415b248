"""Signed JSON over HTTP(S): how the `webhook` provisioning module and registrar talk to the
systems that do the work.

Each request is a POST of a JSON object with

* `X-OrderDesk-Timestamp`: Unix seconds when it was signed;
* `X-OrderDesk-Signature`: `sha256=` + hex HMAC-SHA256, keyed with the shared secret, of
  `<timestamp>.<body>` (the receiver recomputes it and refuses stale timestamps);
* `Idempotency-Key`: the same for every retry of one command, so a receiver can tell a retry
  from a new command.

Connect and read timeouts are bounded. A timeout, a connection failure, a 429 or a 5xx is
`RemoteUnavailable` (transient: the workflow retries with backoff); any other non-2xx is
`RemoteRejected` (permanent). A 2xx whose body is not JSON (an HTML error page from a proxy, a
truncated answer) is not taken as success: it is `RemoteUnavailable` too, so the command is retried
under its idempotency key and, if the garbage goes on, the step fails saying so. Redirects are not
followed. Bodies may carry a password (module create); neither bodies nor errors built here carry
it: the caller names its secrets (`redact`) and they are cut from the answer quoted in an error,
where a receiver that echoes its request would otherwise put them."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from ..config import get_settings
from ..domain.errors import PermanentError, TransientError

SIGNATURE_HEADER = "X-OrderDesk-Signature"
TIMESTAMP_HEADER = "X-OrderDesk-Timestamp"
CONNECT_TIMEOUT_SECONDS = 3.05


class RemoteUnavailable(TransientError):
    """The remote system did not answer, timed out, or answered 429/5xx: worth retrying."""


class RemoteRejected(PermanentError):
    """The remote system refused the command (a 4xx, or an answer that says it failed)."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, timestamp: str, body: bytes, header: str, *, tolerance_seconds: int = 300,
                     now: float | None = None) -> bool:
    """What a receiver does (used by tests and by anyone writing a receiver in Python)."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds and hmac.compare_digest(signature(secret, timestamp, body), header)


_session: Any = None
_session_lock = threading.Lock()


def _http() -> Any:
    """One pooled session per process, built on first use."""
    global _session
    with _session_lock:
        if _session is None:
            import requests

            _session = requests.Session()
        return _session


def _where(url: str) -> str:
    """Host and path for messages: never the query string (it may carry a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _check_url(url: str) -> None:
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise RemoteRejected(f"not an http(s) URL: {_where(url)}")


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret cut out, as sent (plain, JSON-escaped or form-encoded)."""
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, json.dumps(secret)[1:-1], quote_plus(secret), quote(secret, safe="")}:
            text = text.replace(form, "[redacted]")
    return text


def request_json(method: str, url: str, *, form: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, redact_secrets: Iterable[str | None] = ()) -> dict[str, Any]:
    """One HTTP call that must be answered with a JSON object (a WHM API call, say)."""
    return _send(method, url, form, headers or {}, require_json=True, secrets=tuple(redact_secrets))


def post_signed(url: str, payload: dict[str, Any], secret: str | None, *, idempotency_key: str,
                redact_secrets: Iterable[str | None] = ()) -> dict[str, Any]:
    """POST `payload` signed with `secret` (unsigned when the server has no secret); the answer's
    JSON object, or {} when it sent no body. `redact_secrets`: what the payload carries that no
    error may quote (the signing secret is always among them)."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key, TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return _send("POST", url, body, headers, require_json=False, secrets=(secret, *redact_secrets))


def _send(method: str, url: str, data: Any, headers: dict[str, str], *, require_json: bool,
          secrets: tuple[str | None, ...] = ()) -> dict[str, Any]:
    import requests

    _check_url(url)
    timeout = (CONNECT_TIMEOUT_SECONDS, get_settings().remote_timeout_seconds)
    sent = {"User-Agent": "OrderDesk/1.0", "Accept": "application/json", **headers}
    try:
        response = _http().request(method, url, data=data, headers=sent, timeout=timeout, allow_redirects=False)
    except requests.Timeout as exc:
        raise RemoteUnavailable(f"{_where(url)} timed out") from exc
    except requests.RequestException as exc:
        raise RemoteUnavailable(f"{_where(url)} is unreachable ({type(exc).__name__})") from exc
    status = response.status_code
    snippet = redact(response.text or "", secrets)[:200].replace("\n", " ")
    if status == 429 or status >= 500:
        raise RemoteUnavailable(f"{_where(url)} answered {status}: {snippet}")
    if not 200 <= status < 300:
        raise RemoteRejected(f"{_where(url)} answered {status}: {snippet}")
    try:
        parsed = response.json() if response.content else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    if require_json:
        raise RemoteRejected(f"{_where(url)} answered {status} without a JSON object")
    if response.content.strip():
        # garbage is not a success: retried under the same idempotency key, then a clear failure
        raise RemoteUnavailable(f"{_where(url)} answered {status} with something that is not a JSON object: "
                                f"{snippet[:80]}")
    return {}
