"""Signed JSON over HTTP(S): how the `webhook` provisioning module and registrar talk to the
systems that do the work (and WHM's JSON API, unsigned, with its token).

Each webhook request is a POST of a JSON object signed with the receiver's secret as `signing`
describes: timestamp, nonce, `Idempotency-Key` and body under one HMAC-SHA256. The key is the
same for every retry of one command; timestamp and nonce are new for every delivery. Without a
secret nothing is sent: a receiver could not tell the request from a forgery.

Where a request may go is `outbound`'s business: https only (plain http to loopback on the
local stack), no credentials in the URL, public addresses only, every address a name resolves
to checked and the connection pinned to it. Errors name a URL by scheme, host and path only
(`url_for_messages`), and URLs inside a quoted answer are cut the same way.

Connect and read timeouts are bounded. A timeout, a connection failure, a 429 or a 5xx is
`RemoteUnavailable` (transient: the workflow retries with backoff); any other non-2xx is
`RemoteRejected` (permanent). A 2xx whose body is not JSON (an HTML error page from a proxy, a
truncated answer) is not taken as success: it is `RemoteUnavailable` too, so the command is retried
under its idempotency key and, if the garbage goes on, the step fails saying so. Redirects are not
followed. Bodies may carry a password (module create); neither bodies nor errors built here carry
it: the caller names its secrets (`redact`) and they are cut from the answer quoted in an error,
where a receiver that echoes its request would otherwise put them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from ..config import get_settings
from ..domain.errors import PermanentError, TransientError
from ..domain.outbound import scrub_urls, url_for_messages
from . import outbound
from .signing import SIGNATURE_HEADER as SIGNATURE_HEADER
from .signing import TIMESTAMP_HEADER as TIMESTAMP_HEADER
from .signing import signed_headers
from .signing import verify_signature as verify_signature

CONNECT_TIMEOUT_SECONDS = 3.05


class RemoteUnavailable(TransientError):
    """The remote system did not answer, timed out, or answered 429/5xx: worth retrying."""


class RemoteRejected(PermanentError):
    """The remote system refused the command (a 4xx, or an answer that says it failed)."""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret cut out, as sent (plain, JSON-escaped or form-encoded)."""
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, json.dumps(secret)[1:-1], quote_plus(secret), quote(secret, safe="")}:
            text = text.replace(form, "[redacted]")
    return text


def request_json(method: str, url: str, *, form: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, redact_secrets: Iterable[str | None] = (),
                 read_timeout: float | None = None) -> dict[str, Any]:
    """One HTTP call that must be answered with a JSON object (a WHM API call, say).
    `read_timeout`: seconds, instead of REMOTE_TIMEOUT_SECONDS (a connection test waits less)."""
    return _send(method, url, form, headers or {}, require_json=True, secrets=tuple(redact_secrets),
                 read_timeout=read_timeout)


def post_signed(url: str, payload: dict[str, Any], secret: str | None, *, idempotency_key: str,
                redact_secrets: Iterable[str | None] = (), read_timeout: float | None = None) -> dict[str, Any]:
    """POST `payload` signed with `secret`; the answer's JSON object, or {} when it sent no body.
    `redact_secrets`: what the payload carries that no error may quote (the signing secret is
    always among them). Every call, a retry too, is a new delivery: new timestamp and nonce."""
    if not secret:
        raise PermanentError(f"{url_for_messages(url)}: no signing secret, so no request (a receiver could not "
                             "tell it from a forgery)")
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", **signed_headers(secret, idempotency_key=idempotency_key, body=body)}
    return _send("POST", url, body, headers, require_json=False, secrets=(secret, *redact_secrets),
                 read_timeout=read_timeout)


def _send(method: str, url: str, data: Any, headers: dict[str, str], *, require_json: bool,
          secrets: tuple[str | None, ...] = (), read_timeout: float | None = None) -> dict[str, Any]:
    import requests

    outbound.check_url(url)
    where = url_for_messages(url)
    timeout = (CONNECT_TIMEOUT_SECONDS, read_timeout or get_settings().remote_timeout_seconds)
    sent = {"User-Agent": "OrderDesk/1.0", "Accept": "application/json", **headers}
    try:
        response = outbound.session().request(method, url, data=data, headers=sent, timeout=timeout,
                                              allow_redirects=False)
    except requests.Timeout as exc:
        raise RemoteUnavailable(f"{where} timed out") from exc
    except requests.RequestException as exc:
        raise RemoteUnavailable(f"{where} is unreachable ({type(exc).__name__})") from exc
    status = response.status_code
    snippet = scrub_urls(redact(response.text or "", secrets))[:200].replace("\n", " ")
    if status == 429 or status >= 500:
        raise RemoteUnavailable(f"{where} answered {status}: {snippet}")
    if not 200 <= status < 300:
        raise RemoteRejected(f"{where} answered {status}: {snippet}")
    try:
        parsed = response.json() if response.content else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    if require_json:
        raise RemoteRejected(f"{where} answered {status} without a JSON object")
    if response.content.strip():
        # garbage is not a success: retried under the same idempotency key, then a clear failure
        raise RemoteUnavailable(f"{where} answered {status} with something that is not a JSON object: {snippet[:80]}")
    return {}
