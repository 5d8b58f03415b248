"""How OrderDesk signs the webhooks it sends, how a receiver checks one, and how OrderDesk checks
the events a registrar sends it (`event_refusal`, at the end).

Every webhook request (a provisioning command, a domain for the registrar) carries

    Idempotency-Key:        the same for every retry of one command
    X-OrderDesk-Timestamp:  Unix seconds when this delivery was signed
    X-OrderDesk-Nonce:      32 random hex digits, new for every delivery (retries included)
    X-OrderDesk-Signature:  sha256=<hex HMAC-SHA256, keyed with the server's signing secret, of
                            "<timestamp>\\n<nonce>\\n<idempotency key>\\n<body>">

The body is the raw bytes received. The newlines keep the parts apart (no header value can
hold one, and the body comes last), so no signed request can be re-cut into another.

A receiver recomputes the signature and compares it in constant time, refuses a timestamp more
than 5 minutes from its clock, then refuses a nonce it has already seen within that window: a
captured request replayed as is fails on the nonce, an old one on the timestamp, and one with
another command's key or body on the signature. `verify_signature` does all of it; its nonce
memory (`NonceLedger`) is one process's, so a receiver running several processes passes a
shared one (any object with `first_use(nonce, expires_at, now)`, say a conditional put in a
table with a TTL). The Idempotency-Key, not the nonce, is what tells a retry of a command from a
new command: act on a key once."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Protocol

SIGNATURE_HEADER = "X-OrderDesk-Signature"
TIMESTAMP_HEADER = "X-OrderDesk-Timestamp"
NONCE_HEADER = "X-OrderDesk-Nonce"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_SECONDS = 300

_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_KEY = re.compile(r"[\x20-\x7e]{1,256}")


class NonceStore(Protocol):
    def first_use(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record `nonce` until `expires_at`; False when it is already recorded (a replay)."""
        ...


class NonceLedger:
    """The nonces one process has accepted, each kept until its timestamp is too old anyway."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def first_use(self, nonce: str, expires_at: float, now: float) -> bool:
        with self._lock:
            while self._queue and self._queue[0][0] < now:
                _, old = heapq.heappop(self._queue)
                if self._expiry.get(old, now) < now:
                    del self._expiry[old]
            if nonce in self._expiry:
                return False
            self._expiry[nonce] = expires_at
            heapq.heappush(self._queue, (expires_at, nonce))
            return True

    def __len__(self) -> int:
        return len(self._expiry)


_seen_here = NonceLedger()


def new_nonce() -> str:
    return secrets.token_hex(16)


def signature(secret: str, *, timestamp: str, nonce: str, idempotency_key: str, body: bytes) -> str:
    signed = "\n".join((timestamp, nonce, idempotency_key)).encode() + b"\n" + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, *, idempotency_key: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The four headers of one delivery of `body` (a new nonce and timestamp each time)."""
    timestamp = str(int(now if now is not None else time.time()))
    nonce = new_nonce()
    return {
        IDEMPOTENCY_HEADER: idempotency_key,
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, timestamp=timestamp, nonce=nonce, idempotency_key=idempotency_key,
                                    body=body),
    }


def verify_signature(secret: str, *, timestamp: str, nonce: str, idempotency_key: str, body: bytes, header: str,
                     seen: NonceStore | None = None, tolerance_seconds: int = TOLERANCE_SECONDS,
                     now: float | None = None) -> bool:
    """Whether a receiver should act on this delivery: well-formed, fresh, signed with `secret`
    over exactly these parts, and its nonce not seen before (it is recorded now). `seen`: where
    nonces are remembered (this process's ledger by default)."""
    now = now if now is not None else time.time()
    if not (timestamp.isascii() and timestamp.isdigit() and _NONCE.fullmatch(nonce)
            and _KEY.fullmatch(idempotency_key) and secret):
        return False
    if abs(now - int(timestamp)) > tolerance_seconds:
        return False
    wanted = signature(secret, timestamp=timestamp, nonce=nonce, idempotency_key=idempotency_key, body=body)
    if not hmac.compare_digest(wanted.encode(), header.encode("utf-8", "replace")):
        return False
    # only a genuine delivery uses up its nonce: noise cannot fill the ledger
    ledger = seen if seen is not None else _seen_here  # not `or`: an empty ledger is falsy
    return ledger.first_use(nonce, int(timestamp) + tolerance_seconds, now)


def verify_request(secret: str, headers: Mapping[str, str], body: bytes, *, seen: NonceStore | None = None,
                   tolerance_seconds: int = TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """`verify_signature` for a request's headers as received (any letter case)."""
    lower = {k.lower(): v for k, v in headers.items()}

    def get(name: str) -> str:
        return lower.get(name.lower(), "")

    return verify_signature(secret, timestamp=get(TIMESTAMP_HEADER), nonce=get(NONCE_HEADER),
                            idempotency_key=get(IDEMPOTENCY_HEADER), body=body, header=get(SIGNATURE_HEADER),
                            seen=seen, tolerance_seconds=tolerance_seconds, now=now)


# -- events sent to OrderDesk (a registrar's news of a domain: POST /registrar/events) -------------
#
# A simpler scheme than the webhooks above, the one the registrar side signs with:
#
#     X-OrderDesk-Timestamp:  Unix seconds when the event was signed
#     X-OrderDesk-Signature:  sha256=<hex HMAC-SHA256, keyed with the shared secret, of "<timestamp>.<body>">
#
# The dot cannot be part of the timestamp (digits only), so the body cannot be re-cut. A
# timestamp more than 5 minutes from OrderDesk's clock is refused (so an old capture fails); a
# capture replayed within those minutes fails on its `event_id`, which OrderDesk acts on once.


def event_signature(secret: str, *, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def event_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The two headers a sender puts on one event (what a registrar does; tests do it too)."""
    timestamp = str(int(now if now is not None else time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: event_signature(secret, timestamp=timestamp, body=body)}


def event_refusal(secret: str | None, headers: Mapping[str, str], body: bytes, *,
                  tolerance_seconds: int = TOLERANCE_SECONDS, now: float | None = None) -> str | None:
    """Why an event received with `headers` and the raw `body` is not to be trusted, or None when
    it is signed with `secret` and fresh. The reasons name headers and rules, never a value."""
    if not secret:
        return "events are not accepted: no signing secret is configured"
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    given = lower.get(SIGNATURE_HEADER.lower(), "")
    if not given:
        return f"the {SIGNATURE_HEADER} header is missing"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return f"the {TIMESTAMP_HEADER} header must be Unix seconds"
    now = now if now is not None else time.time()
    if abs(now - int(timestamp)) > tolerance_seconds:
        return f"the {TIMESTAMP_HEADER} is more than {tolerance_seconds // 60} minutes from OrderDesk's clock"
    wanted = event_signature(secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(wanted.encode(), given.encode("utf-8", "replace")):
        return f"the {SIGNATURE_HEADER} does not match the timestamp and body"
    return None
