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
from typing import Any, Protocol

from ..config import get_settings
from ..domain.errors import PermanentError, TransientError


class EmailUnavailable(TransientError):
    pass


class EmailRejected(PermanentError):
    pass


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
    def __init__(self) -> None:
        self._client: Any = None
        self._lock = threading.Lock()

    def _ses(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3

                self._client = boto3.client("sesv2", region_name=get_settings().region)
            return self._client

    def send(self, message: EmailMessage, key: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._ses().send_email(Content={"Raw": {"Data": message.as_bytes()}})
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("TooManyRequestsException", "LimitExceededException", "InternalFailure",
                        "ServiceUnavailable", "ThrottlingException"):
                raise EmailUnavailable(f"SES: {code}") from exc
            raise EmailRejected(f"SES refused the message: {code}") from exc
        except BotoCoreError as exc:
            raise EmailUnavailable(f"SES unreachable: {type(exc).__name__}") from exc
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
