"""The email port: SES in AWS, `.eml` files in a directory locally (`EMAIL_OUTBOX_DIR`).

`send(message, key)` is idempotent per `key` for the outbox (one file per key); SES has no
idempotency key, so a retry after SES accepted a message but before the caller recorded it can
send it twice — the caller records a sent message at once to keep that window small."""

from __future__ import annotations

import os
import tempfile
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from ..config import get_settings
from ..domain.errors import PermanentError, TransientError
from . import aws


class EmailUnavailable(TransientError):
    """SES throttled us, failed on its side or could not be reached: retry."""


class EmailRejected(PermanentError):
    """SES refused the message (a 4xx other than a throttle): retrying will not help."""


class EmailPort(Protocol):
    def send(self, message: EmailMessage, key: str) -> str: ...


class OutboxEmail:
    """Writes each message to `<dir>/<key>.eml`, atomically; a repeat of a key is a no-op."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage, key: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        path = self.directory / f"{safe}.eml"
        if path.exists():
            return path.name
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".sending-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(message.as_bytes())
        os.replace(tmp, path)
        return path.name


class SesEmail:
    def send(self, message: EmailMessage, key: str) -> str:
        with aws.translated("SES", unavailable=EmailUnavailable, rejected=EmailRejected):
            answer = aws.client("sesv2").send_email(Content={"Raw": {"Data": message.as_bytes()}})
        return str(answer.get("MessageId", ""))


_port: EmailPort | None = None
_port_for: str | None = None
_port_lock = threading.Lock()


def email_port() -> EmailPort:
    """The outbox when `EMAIL_OUTBOX_DIR` is set (local stack, tests), SES otherwise."""
    global _port, _port_for
    outbox = get_settings().email_outbox_dir
    with _port_lock:
        if _port is None or _port_for != (outbox or ""):
            _port = OutboxEmail(outbox) if outbox else SesEmail()
            _port_for = outbox or ""
        return _port
