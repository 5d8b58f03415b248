"""A loopback stand-in for Stripe's refund API (`POST /v1/refunds`), for the local stack and the
tests: Cancel & Refund of a Stripe payment works with no Stripe account, and the tests see every
call Stripe would have received.

It honours `Idempotency-Key` as Stripe does (a repeat of a key is answered with the first answer
and `Idempotent-Replayed: true`, not a second refund) and takes only keys in Stripe's test form
(`sk_test_...`). `fail_next` answers that many 503s (before any refund is made); `hold` blocks
each call until the event is set. The local stack starts one and points `STRIPE_API_BASE` at it
with a dummy key (`infra.local.env.stripe_environment`); in AWS neither is set."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None = None  # the signature checked out (None: the stand-in checks none)
    method: str = "POST"

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 answering requests through `answer(request)` (POSTs;
    GETs too when `answers_get`)."""

    answers_get = False

    def __init__(self, port: int | None = None) -> None:
        self._port = port or None
        self.received: list[Received] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        """The port given, or the one the server was bound to. Read before start (a URL for a
        server that is not up yet), a free port is picked then; otherwise start binds port 0,
        so two test workers never pick the same port between a lookup and the bind."""
        if self._port is None:
            self._port = free_port()
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, request: Received) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def start(self) -> LoopbackServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                                   body=self.rfile.read(length))
                with outer._lock:
                    outer.received.append(request)
                self.reply(*outer.answer(request))

            def do_GET(self) -> None:  # noqa: N802
                if not outer.answers_get:
                    self.reply(405, None, {})
                    return
                request = Received(path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=b"",
                                   method="GET")
                self.reply(*outer.answer(request))

            def reply(self, status: int, body: Any, headers: dict[str, str]) -> None:
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

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port or 0), Handler)
        self._port = int(self._httpd.server_address[1])
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name=f"loopback-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


class FakeStripe(LoopbackServer):
    """Stripe's POST /v1/refunds, honouring `Idempotency-Key` as Stripe does, and GET /v1/refunds
    (the refunds made, newest first, as Stripe lists them): what was refunded, for whoever asks
    the running stack. GETs are not kept in `received` (only what the code under test sent)."""

    answers_get = True

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.refunds: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, dict[str, Any]] = {}
        self.fail_next = 0
        self.hold: threading.Event | None = None
        self.answer: Callable[[Received], tuple[int, Any, dict[str, str]]] = self.refund  # type: ignore[method-assign]

    def refund(self, request: Received) -> tuple[int, Any, dict[str, str]]:
        if not request.path.startswith("/v1/refunds"):
            return 404, {"error": {"type": "invalid_request_error", "message": "no such route"}}, {}
        if not request.headers.get("authorization", "").startswith("Bearer sk_test_"):
            return 401, {"error": {"type": "invalid_request_error", "message": "bad key"}}, {}
        if request.method == "GET":
            with self._lock:
                listed = list(reversed(self.refunds.values()))
            return 200, {"object": "list", "url": "/v1/refunds", "has_more": False, "data": listed}, {}
        if self.hold is not None:
            self.hold.wait(10)
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
