"""SQS: send the bulk job's work, through `aws.client("sqs")`. The endpoint comes from botocore
(AWS_ENDPOINT_URL_SQS locally), never from code."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from ..domain.errors import PermanentError, TransientError
from . import aws

_BATCH = 10  # SendMessageBatch takes at most ten entries

class NotQueued(TransientError):
    """Some messages could not be sent; `unsent` are their positions in the bodies given."""

    def __init__(self, message: str, unsent: list[int]) -> None:
        super().__init__(message)
        self.unsent = unsent


def send_messages(queue_url: str | None, bodies: Sequence[dict[str, Any]], attempts: int = 3) -> None:
    """Send every body with SendMessageBatch, resending the entries SQS reports failed. Raises
    NotQueued naming the bodies that were not sent (every batch is still tried); a batch that SQS
    refuses for good (no such queue, access denied) is not sent again."""
    if not queue_url:
        raise PermanentError("no queue is configured (BULK_QUEUE_URL)")
    unsent: list[int] = []
    error = ""
    for start in range(0, len(bodies), _BATCH):
        entries = [{"Id": str(start + i), "MessageBody": json.dumps(body, separators=(",", ":"))}
                   for i, body in enumerate(bodies[start:start + _BATCH])]
        for attempt in range(attempts):
            try:
                resp = aws.client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
            except aws.sdk_errors() as exc:
                error = f"{type(exc).__name__}: {exc}"
                if not aws.is_transient(exc):
                    break
            else:
                failed = {f["Id"]: f.get("Message") or f.get("Code", "") for f in resp.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
                error = next(iter(failed.values()), error)
            if not entries:
                break
            if attempt < attempts - 1:
                time.sleep(0.05 * 2**attempt)
        unsent += [int(e["Id"]) for e in entries]
    if unsent:
        raise NotQueued(f"SQS did not take {len(unsent)} of {len(bodies)} message(s): {error}", unsent)
