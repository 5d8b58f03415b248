"""Faults of a provisioning webhook: one that hangs (its answer outlives the client's timeout) and
one that answers garbage (an HTML page, a truncated body, a JSON array) — through the real Accept
workflow (moto's Step Functions running the ASL, the real step handlers). Each must give a clear
step error, be retried under one idempotency key, and leave no half state: the order Pending and
unlocked, each item either done once or Pending with its error, the invoice untouched, no welcome
email, and a rerun that finishes the job once the webhook behaves."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from orderdesk.adapters.remote import RemoteRejected, RemoteUnavailable, post_signed
from orderdesk.config import reset_settings
from tests.integration.workflow_support import free_port, wait_for_action

pytestmark = pytest.mark.timeout(180)

TIMEOUT = 0.4  # the webhook client's read timeout in these tests (REMOTE_TIMEOUT_SECONDS)
SECRET = "whsec-faults-0123456789"

# (status, raw body bytes, seconds to wait before answering)
Answer = tuple[int, bytes, float]


class RawWebhook:
    """A webhook answering raw bytes, possibly late: `answers(n)` gives the n-th call's answer."""

    def __init__(self, answers: Callable[[int], Answer]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.port = free_port()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    n = len(outer.calls)
                    outer.calls.append({"key": self.headers.get("Idempotency-Key"), "body": json.loads(body)})
                status, raw, delay = outer.answers(n)
                if delay:
                    outer.release.wait(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if raw[:1] == b"<" else "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up waiting: that was the point

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[int], Answer]], RawWebhook]]:
    monkeypatch.setenv("REMOTE_TIMEOUT_SECONDS", str(TIMEOUT))
    reset_settings()
    made: list[RawWebhook] = []

    def make(answers: Callable[[int], Answer]) -> RawWebhook:
        hook = RawWebhook(answers)
        made.append(hook)
        return hook

    yield make
    for hook in made:
        hook.stop()
    reset_settings()


OK: Answer = (200, b'{"ok": true}', 0)
HANG: Answer = (200, b'{"ok": true}', 5.0)  # answers only long after the client's timeout
HTML: Answer = (200, b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>", 0)


# -- the adapter alone ---------------------------------------------------------------------------


@pytest.mark.parametrize("answer,error,text", [
    (HANG, RemoteUnavailable, "timed out"),
    (HTML, RemoteUnavailable, "not a JSON object"),
    ((200, b'{"ok": tr', 0), RemoteUnavailable, "not a JSON object"),
    ((200, b"[1, 2, 3]", 0), RemoteUnavailable, "not a JSON object"),
    ((200, b"\xff\xfe\x00garbage", 0), RemoteUnavailable, "not a JSON object"),
    ((502, b"<html>upstream</html>", 0), RemoteUnavailable, "answered 502"),
    ((404, b"<html>no such hook</html>", 0), RemoteRejected, "answered 404"),
])
def test_the_webhook_client_says_what_went_wrong(webhook, answer, error, text):
    # GIVEN a webhook that hangs or answers garbage
    hook = webhook(lambda n: answer)
    # WHEN a command is posted THEN it raises the transient or permanent error, saying why
    started = time.monotonic()
    with pytest.raises(error) as raised:
        post_signed(hook.url, {"command": "create"}, SECRET, idempotency_key="k1")
    assert text in raised.value.message, raised.value.message
    assert time.monotonic() - started < TIMEOUT + 3


def test_an_empty_or_json_answer_is_a_success(webhook):
    hook = webhook(lambda n: [(204, b"", 0), (200, b"", 0), (200, b'{"ref": "A1"}', 0)][n])
    assert post_signed(hook.url, {}, SECRET, idempotency_key="k") == {}
    assert post_signed(hook.url, {}, SECRET, idempotency_key="k") == {}
    assert post_signed(hook.url, {}, SECRET, idempotency_key="k") == {"ref": "A1"}


# -- through the Accept workflow ---------------------------------------------------------------------


def new_order(api: Any, url: str, products: int = 2) -> dict[str, Any]:
    client = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                   "country": "GB"}).data
    server = api.post("/servers", {"name": "hook", "module": "webhook", "url": url, "credentials": SECRET})
    assert server.status_code == 201, server.data
    items = [{"kind": "product", "description": f"Hosting {n}", "amount": "10.00", "server_id": server.data["id"]}
             for n in range(products)]
    r = api.post("/orders", {"client_id": client["id"], "payment_method": "manual", "items": items,
                             "skip_fraud_check": True})
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


def accept(api: Any, order_id: str) -> dict[str, Any]:
    r = api.post(f"/orders/{order_id}/accept", {}, role="support")
    assert r.status_code == 202, r.data
    return wait_for_action(api, order_id, r.data["action"]["id"], timeout=90)


def assert_no_half_state(api: Any, order: dict[str, Any], workflows: Any, *, provisioned: set[str]) -> dict[str, Any]:
    """The order is Pending and unlocked; the items in `provisioned` Active (with one history entry
    each), the others Pending with an error; the invoice untouched; no welcome email."""
    got = api.get(f"/orders/{order['id']}").data
    assert got["status"] == "Pending" and got["pending_action"] is None, got
    assert "accept" in got["available_actions"]
    for item in got["items"]:
        if item["id"] in provisioned:
            assert item["status"] == "Active" and item["last_error"] is None, item
        else:
            assert item["status"] == "Pending" and item["last_error"], item
    done = [h for h in got["history"] if h["action"] == "item provisioned"]
    assert sorted(h["detail"].split("(")[1].split(")")[0] for h in done) == sorted(provisioned)
    assert got["invoice"]["status"] == order["invoice"]["status"] and got["invoice"]["balance"] == order["total"]
    assert not list(workflows.outbox.glob(f"welcome-{order['id']}*"))
    return got


def test_a_webhook_that_hangs_is_retried_then_succeeds_once(api, workflows, webhook):
    # GIVEN a webhook whose first two answers come long after the client has given up
    hook = webhook(lambda n: HANG if n < 2 else OK)
    order = new_order(api, hook.url, products=1)
    # WHEN the order is accepted
    done = accept(api, order["id"])
    # THEN the step was retried under one idempotency key until an answer came; the item was
    # provisioned once; the order is Active
    assert done["status"] == "SUCCEEDED", done
    assert len(hook.calls) == 3 and len({c["key"] for c in hook.calls}) == 1
    got = api.get(f"/orders/{order['id']}").data
    assert got["status"] == "Active" and got["items"][0]["status"] == "Active"
    assert [h["action"] for h in got["history"]].count("item provisioned") == 1


def test_a_webhook_that_always_hangs_fails_clearly_with_no_half_state_and_a_rerun_finishes(api, workflows, webhook):
    # GIVEN two products on one webhook that hangs for the second one only
    hanging = {"on": True}
    hook = webhook(lambda n: HANG if hanging["on"] and hook.calls[n]["body"]["account"]["item_id"] == second else OK)
    order = new_order(api, hook.url, products=2)
    first, second = (i["id"] for i in order["items"])

    # WHEN the order is accepted
    failed = accept(api, order["id"])

    # THEN the action FAILED, the second item's step says it timed out, after retries
    assert failed["status"] == "FAILED", failed
    steps = {s["name"]: s for s in failed["steps"]}
    assert steps[f"provision:{first}"]["status"] == "SUCCEEDED"
    assert steps[f"provision:{second}"]["status"] == "FAILED"
    assert "timed out" in steps[f"provision:{second}"]["error"], steps
    assert sum(1 for c in hook.calls if c["body"]["account"]["item_id"] == second) > 1
    # AND nothing is half done
    got = assert_no_half_state(api, order, workflows, provisioned={first})
    assert "timed out" in next(i for i in got["items"] if i["id"] == second)["last_error"]

    # WHEN the webhook recovers and the order is accepted again
    hanging["on"] = False
    done = accept(api, order["id"])

    # THEN only the second item is provisioned now, under the same key as before; the order is Active
    assert done["status"] == "SUCCEEDED", done
    # (its first create, never done: the same command again, so the receiver can tell a repeat)
    assert {c["key"] for c in hook.calls if c["body"]["account"]["item_id"] == second} == {
        f"orderdesk:{order['id']}:{second}:create:1"}
    assert [c for c in hook.calls if c["body"]["account"]["item_id"] == first][1:] == []
    got = api.get(f"/orders/{order['id']}").data
    assert got["status"] == "Active" and {i["status"] for i in got["items"]} == {"Active"}
    assert [h["action"] for h in got["history"]].count("item provisioned") == 2


@pytest.mark.parametrize("garbage", [HTML, (200, b'{"account": "crea', 0), (200, b'"done"', 0)],
                         ids=["html", "truncated", "json-string"])
def test_a_webhook_that_answers_garbage_fails_clearly_with_no_half_state(api, workflows, webhook, garbage):
    # GIVEN a webhook that answers 200 with something that is not a JSON object, every time
    hook = webhook(lambda n: garbage)
    order = new_order(api, hook.url, products=1)
    item = order["items"][0]["id"]
    # WHEN the order is accepted
    failed = accept(api, order["id"])
    # THEN it was retried, then FAILED saying the answer was not JSON (not taken as a success)
    assert failed["status"] == "FAILED", failed
    assert len(hook.calls) > 1 and len({c["key"] for c in hook.calls}) == 1
    step = {s["name"]: s for s in failed["steps"]}[f"provision:{item}"]
    assert step["status"] == "FAILED" and "not a JSON object" in step["error"], step
    assert_no_half_state(api, order, workflows, provisioned=set())


def test_a_webhook_that_answers_garbage_once_is_retried_then_succeeds(api, workflows, webhook):
    hook = webhook(lambda n: HTML if n == 0 else OK)
    order = new_order(api, hook.url, products=1)
    done = accept(api, order["id"])
    assert done["status"] == "SUCCEEDED", done
    assert len(hook.calls) == 2 and len({c["key"] for c in hook.calls}) == 1
    assert api.get(f"/orders/{order['id']}").data["status"] == "Active"
