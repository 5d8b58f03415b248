"""What the workflow tests share (imported by tests/integration/conftest.py and the tests, so
that every module sees the same classes): the Lambda runtime's view of a died invocation, and
loopback HTTP servers standing in for the remote systems the steps call."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.fake_stripe import FakeStripe as FakeStripe
from infra.local.fake_stripe import LoopbackServer as _Server
from infra.local.fake_stripe import Received
from infra.local.fake_stripe import free_port as free_port
from infra.local.moto_server import MotoServer
from orderdesk.adapters.signing import NonceLedger, verify_request

STEP_TIMEOUT_SECONDS = 1.0
# the signing secret of the webhook servers and registrar the tests set up (RemoteStub checks it)
WEBHOOK_SECRET = "whsec-test-0123456789"


class SandboxDied(BaseException):  # noqa: N818 - a death, not an error the code could handle
    """Raised by a test inside a step to kill the invocation as a timeout or a crash does: no
    `except Exception` in the step (nor Powertools) sees it, so nothing is cleaned up."""


# What the Lambda runtime reports for an invocation that timed out; the ASL retries it by name.
SandboxTimedout = type("Sandbox.Timedout", (Exception,), {})


def as_runtime(dotted: str) -> Callable[[Any, Any], Any]:
    """The handler as the Lambda runtime runs it: a died invocation is reported as
    `Sandbox.Timedout`, the error Step Functions sees when a function times out."""
    module_name, _, attr = dotted.rpartition(".")
    handler: Callable[[Any, Any], Any] | None = None

    def invoke(event: Any, context: Any) -> Any:
        nonlocal handler
        if handler is None:
            handler = getattr(importlib.import_module(module_name), attr)
        try:
            return handler(event, context)
        except SandboxDied as exc:
            raise SandboxTimedout(f"Task timed out after {STEP_TIMEOUT_SECONDS:.2f} seconds") from exc

    return invoke


@dataclass
class Workflows:
    server: MotoServer
    sfn: Any
    arns: dict[str, str]
    outbox: Path


def wait_for_action(api: Any, order_id: str, action_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until the action is no longer RUNNING (polling the table, cheaply), then GET it."""
    from orderdesk.domain.statuses import ActionStatus
    from orderdesk.services.ports import stores

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stores().actions.get_action(order_id, action_id).status is not ActionStatus.RUNNING:
            r = api.get(f"/orders/{order_id}/actions/{action_id}")
            assert r.status_code == 200, r.data
            return r.data  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"action {action_id} still RUNNING after {timeout}s")


# -- loopback stand-ins for remote systems (Stripe's is the local stack's own: infra.local.fake_stripe) --

Responder = Callable[[Received], tuple[int, Any]]


class RemoteStub(_Server):
    """A provisioning webhook, registrar or WHM: `responder(request) -> (status, json body)`.

    As a webhook receiver must, it checks every request's signature with `secret` (timestamp,
    nonce, Idempotency-Key and body; a replayed nonce or a stale timestamp fails) and answers a
    failed check 401 without calling the responder. `secret=None`: no check (WHM, unsigned)."""

    def __init__(self, responder: Responder | None = None, port: int | None = None, *,
                 secret: str | None = WEBHOOK_SECRET) -> None:
        super().__init__(port)
        self.responder: Responder = responder or (lambda r: (200, {"ok": True}))
        self.secret = secret
        self.nonces = NonceLedger()

    def answer(self, request: Received) -> tuple[int, Any, dict[str, str]]:
        if self.secret is not None:
            request.verified = verify_request(self.secret, request.headers, request.body, seen=self.nonces)
            if not request.verified:
                return 401, {"error": "bad or replayed signature"}, {}
        status, body = self.responder(request)
        return status, body, {}

    def commands(self) -> list[tuple[str, str]]:
        """(command, item id) of each JSON command received, in order."""
        out = []
        for r in self.received:
            data = r.json
            out.append((data.get("command"), (data.get("account") or data).get("item_id")))
        return out
