"""What the workflow tests share (imported by tests/integration/conftest.py and the tests, so
that every module sees the same classes): the Lambda runtime's view of a died invocation, and
loopback HTTP servers standing in for the remote systems the steps call."""

from __future__ import annotations

import importlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- loopback stand-ins for remote systems ----------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None = None  # the signature checked out (None: the stand-in checks none)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Received], tuple[int, Any]]


class _Server:
    """A threaded HTTP server on 127.0.0.1 answering POSTs through `answer(request)`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, request: Received) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def start(self) -> _Server:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                                   body=self.rfile.read(length))
                with outer._lock:
                    outer.received.append(request)
                status, body, headers = outer.answer(request)
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


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


class FakeStripe(_Server):
    """Stripe's POST /v1/refunds, honouring `Idempotency-Key` as Stripe does: a repeat of a key
    is answered with the first answer (`Idempotent-Replayed: true`), not a second refund.
    `fail_next` answers 503s (before any refund is made); `hold` blocks each call until set."""

    def __init__(self) -> None:
        super().__init__()
        self.refunds: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, dict[str, Any]] = {}
        self.fail_next = 0
        self.hold: threading.Event | None = None

    def answer(self, request: Received) -> tuple[int, Any, dict[str, str]]:
        if self.hold is not None:
            self.hold.wait(10)
        if not request.path.startswith("/v1/refunds"):
            return 404, {"error": {"type": "invalid_request_error", "message": "no such route"}}, {}
        if not request.headers.get("authorization", "").startswith("Bearer sk_test_"):
            return 401, {"error": {"type": "invalid_request_error", "message": "bad key"}}, {}
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"error": {"type": "api_error", "message": "try again"}}, {}
            key = request.headers.get("idempotency-key")
            if key and key in self.by_key:
                return 200, self.by_key[key], {"Idempotent-Replayed": "true"}
            form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            refund = {"id": f"re_{len(self.refunds) + 1:04d}", "object": "refund", "amount": int(form["amount"]),
                      "currency": "usd", "status": "succeeded", "payment_intent": form.get("payment_intent"),
                      "charge": form.get("charge")}
            self.refunds[refund["id"]] = refund
            if key:
                self.by_key[key] = refund
            return 200, refund, {}


