"""Faults of the local stack, in a stack of this module's own (its own process and data directory,
so killing its database disturbs no other test):

* DynamoDB Local killed (SIGKILL) while a bulk job runs, then restarted on the same port and
  -dbPath: the job completes with exact counters, every order as its outcome says, the status
  counters equal to the real counts.
* DynamoDB Local killed while Accept workflows run: each action ends SUCCEEDED (order and items
  Active, each item provisioned once, under one idempotency key) or FAILED with the order
  consistent and unlocked, and a rerun finishes it.
* The whole stack stopped (Ctrl-C) and started again on its data directory: every order, item,
  invoice, note, history entry, action, client and server is as it was; a bulk job queued just
  before the stop completes after the start (moto keeps queues in memory: the stack carries the
  queued messages over); a workflow that was in flight (moto keeps executions in memory too) is
  found by the lock sweep, FAILED, and re-runnable.

SQS redelivers a message the consumer failed on after the queue's visibility timeout (360 s in
template.yaml): the test shortens it on the local queue to 10 s so a redelivery comes within the
test, and lets the lock sweep treat a lock as stale at once (STALE_LOCK_MINUTES=0) so a lost
execution is released without waiting 15 minutes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.stack import DetachedDynamoDBLocal, dynamodb_pids
from tests.e2e import stack_fixture
from tests.e2e.stack_fixture import REPO_ROOT, RunningStack, start_stack_process, stop_stack_process
from tests.integration.workflow_support import RemoteStub

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600),
              pytest.mark.skipif(shutil.which("java") is None, reason="DynamoDB Local needs Java 17+")]

VISIBILITY_SECONDS = 10


class Faults:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.stack: RunningStack | None = None
        self.restarted: list[DetachedDynamoDBLocal] = []
        self.session = requests.Session()
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))

    def start(self) -> RunningStack:
        self.stack = start_stack_process(self.data_dir, seed_orders=0, seed_clients=1)
        self.session.headers["Authorization"] = f"Bearer {self.stack.token('admin')}"
        import boto3

        sqs = boto3.client("sqs", endpoint_url=self.stack.state["moto"], region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
        for url in sqs.list_queues().get("QueueUrls", []):
            if "BulkQueue" in url and "DeadLetter" not in url:
                sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)})
        return self.stack

    def stop(self) -> None:
        if self.stack is not None:
            stop_stack_process(self.stack.process)
        for db in self.restarted:
            db.stop()
        self.restarted.clear()
        for pid in dynamodb_pids(self.data_dir / "dynamodb"):
            os.kill(pid, signal.SIGKILL)

    # -- the fault -------------------------------------------------------------------------------

    def kill_dynamodb(self) -> None:
        pids = dynamodb_pids(self.data_dir / "dynamodb")
        assert pids, "no DynamoDB Local to kill"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while dynamodb_pids(self.data_dir / "dynamodb") and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart_dynamodb(self) -> None:
        assert self.stack is not None
        port = int(self.stack.state["dynamodb"].rsplit(":", 1)[1])
        db = DetachedDynamoDBLocal(data_dir=self.data_dir / "dynamodb", port=port)
        db.start()
        self.restarted.append(db)

    # -- the API -----------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        assert self.stack is not None
        return self.session.request(method, self.stack.url + path, json=body, timeout=60)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        r = self.call(method, path, body)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def orders(self, n: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        client = self.ok("POST", "/clients", {"first_name": "Fault", "last_name": uuid.uuid4().hex[:6],
                                              "email": "fault@example.com", "country": "GB"})
        body = {"client_id": client["id"], "payment_method": "manual", "skip_fraud_check": True, "items": items}
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda _: self.ok("POST", "/orders", body), range(n)))

    def all_orders(self) -> list[dict[str, Any]]:
        out, cursor = [], None
        while True:
            page = self.ok("GET", "/orders?limit=100" + (f"&cursor={cursor}" if cursor else ""))
            out += page["orders"]
            cursor = page["next_cursor"]
            if not cursor:
                return out

    def counters_are_real(self) -> None:
        """The counters (kept from the table's stream, so a moment behind) equal the real counts."""
        real: dict[str, int] = {}
        for order in self.all_orders():
            real[order["status"]] = real.get(order["status"], 0) + 1
            if order["attention"]:
                real["Attention"] = real.get("Attention", 0) + 1

        def counters() -> dict[str, int] | None:
            got = {c["status"]: c["count"] for c in self.ok("GET", "/order-statuses") if c["count"]}
            return got if got == real else None

        wait_until(counters, 30, f"the counters to reach {real}")


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (requests.RequestException, AssertionError) as exc:  # the database may still be coming back
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last!r})")


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    base = stack_fixture.stack_environment

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stack_fixture, "stack_environment", lambda: {**base(), "STALE_LOCK_MINUTES": "0"})
        f = Faults(tmp_path_factory.mktemp("faults"))
        f.start()
        try:
            yield f
        finally:
            f.stop()


@pytest.fixture()
def slow_hook() -> Iterator[RemoteStub]:
    hook = RemoteStub(lambda r: (time.sleep(0.4), (200, {"ok": True}))[1])
    hook.start()
    yield hook
    hook.stop()


def test_dynamodb_killed_during_a_bulk_job_the_job_completes_with_exact_counters(faults: Faults) -> None:
    # GIVEN 200 Pending orders
    orders = faults.orders(200, [{"kind": "product", "description": "Hosting", "amount": "10.00"}])
    ids = [o["id"] for o in orders]

    # WHEN a bulk change to Cancelled is submitted and DynamoDB Local is killed right away, then
    # restarted two seconds later on the same port and data
    job = faults.ok("POST", "/orders/bulk", {"order_ids": ids, "status": "Cancelled"})["job"]
    deadline = time.monotonic() + 30
    while True:  # kill it mid-way: once the consumer has moved the message's first order (one
        # message of 200: its orders are moved one by one, then counted)
        if faults.ok("GET", f"/orders/{ids[0]}")["status"] == "Cancelled" or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    before = faults.ok("GET", f"/bulk-jobs/{job['id']}")
    faults.kill_dynamodb()
    time.sleep(2)
    faults.restart_dynamodb()

    # THEN the job was running when the database died, and completes with exact counters
    assert before["status"] != "DONE", before
    done = wait_until(lambda: (lambda j: j if j["status"] == "DONE" else None)(
        faults.ok("GET", f"/bulk-jobs/{job['id']}")), 120, "the bulk job")
    assert done["total"] == 200 and done["succeeded"] + done["failed"] == 200, done
    failed = {f["order_id"]: f["error"] for f in done["failures"]}
    assert len(failed) == done["failed"] and all(failed.values()), done
    # AND every order is as its outcome says, its change recorded once (a bulk move's history entry
    # follows from the table's stream, a moment after the job counted the move)
    def outcome(order_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        got = faults.ok("GET", f"/orders/{order_id}")
        changes = [h for h in got["history"] if h["action"] == "bulk status change"]
        return (got, changes) if changes or order_id in failed else None

    for order_id in ids:
        got, changes = wait_until(lambda: outcome(order_id), 60, f"the history of {order_id}")  # noqa: B023
        if order_id in failed:
            assert got["status"] == "Pending" and changes == [], (order_id, failed[order_id], got["status"])
        else:
            assert got["status"] == "Cancelled" and len(changes) == 1, (order_id, got["status"], changes)
    faults.counters_are_real()
    print(f"bulk job: {before['succeeded'] + before['failed']} of 200 counted before the kill; "
          f"{done['succeeded']} moved, {done['failed']} failed")


def test_dynamodb_killed_during_workflows_each_ends_consistent_or_failed_and_rerunnable(
        faults: Faults, slow_hook: RemoteStub) -> None:
    # GIVEN 6 orders of two webhook products each (the webhook takes 0.4 s a command)
    server = faults.ok("POST", "/servers", {"name": "hook", "module": "webhook", "url": slow_hook.url,
                                            "credentials": slow_hook.secret})
    item = {"kind": "product", "description": "Hosting", "amount": "10.00", "server_id": server["id"]}
    orders = faults.orders(6, [item, {**item, "description": "Mail"}])

    # WHEN all are accepted, and DynamoDB Local is killed once the first commands reached the
    # webhook, then restarted a second later
    actions = {o["id"]: faults.ok("POST", f"/orders/{o['id']}/accept", {})["action"]["id"] for o in orders}
    wait_until(lambda: len(slow_hook.received) >= 2, 60, "the first provisioning commands")
    faults.kill_dynamodb()
    time.sleep(1)
    faults.restart_dynamodb()

    # THEN every action ends, SUCCEEDED or FAILED
    def ended(order_id: str) -> dict[str, Any] | None:
        action = faults.ok("GET", f"/orders/{order_id}/actions/{actions[order_id]}")
        return action if action["status"] != "RUNNING" else None

    results = {o: wait_until(lambda o=o: ended(o), 180, f"the accept of {o}") for o in actions}
    for order_id, action in results.items():
        got = faults.ok("GET", f"/orders/{order_id}")
        assert got["pending_action"] is None, got["pending_action"]
        if action["status"] == "FAILED":
            # a failed one left the order consistent, and a rerun finishes it
            assert got["status"] == "Pending" and action["error"], action
            for it in got["items"]:
                assert it["status"] in ("Active", "Pending"), it
            rerun = faults.ok("POST", f"/orders/{order_id}/accept", {})["action"]["id"]
            action = wait_until(lambda o=order_id, a=rerun: (lambda x: x if x["status"] != "RUNNING" else None)(
                faults.ok("GET", f"/orders/{o}/actions/{a}")), 120, "the rerun")
            assert action["status"] == "SUCCEEDED", action
            got = faults.ok("GET", f"/orders/{order_id}")
        assert action["status"] == "SUCCEEDED", action
        assert got["status"] == "Active" and {i["status"] for i in got["items"]} == {"Active"}, got
        assert [h["action"] for h in got["history"]].count("item provisioned") == 2, got["history"]
        for it in got["items"]:
            keys = {r.headers["idempotency-key"] for r in slow_hook.received if r.json["account"]["item_id"] == it["id"]}
            assert keys == {f"orderdesk:{order_id}:{it['id']}:create:1"}, keys  # its first create, once
    faults.counters_are_real()
    print("workflows after the kill:", {o: a["status"] for o, a in results.items()})


def snapshot(faults: Faults, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every order as listed, and the whole detail (items, invoice, notes, history, actions) of
    every order but those of the big bulk test (one in five of those)."""
    orders, listed = {}, {}
    for n, summary in enumerate(o for o in faults.all_orders() if o["id"] not in leave_out):
        listed[summary["id"]] = summary
        if summary["status"] == "Cancelled" and n % 5:
            continue
        got = faults.ok("GET", f"/orders/{summary['id']}")
        got.pop("available_actions", None)
        orders[summary["id"]] = got
    return {"listed": listed, "orders": orders,
            "clients": faults.ok("GET", "/clients")["clients"], "servers": faults.ok("GET", "/servers")["servers"],
            "invoices": {o["invoice_id"]: faults.ok("GET", f"/invoices/{o['invoice_id']}") for o in orders.values()}}


def test_the_whole_stack_restarted_loses_nothing(faults: Faults, slow_hook: RemoteStub) -> None:
    # GIVEN the data of the tests above, a note, a payment, an Accept in flight (its webhook slow),
    # and a bulk job just queued
    order = faults.orders(1, [{"kind": "product", "description": "Hosting", "amount": "10.00"}])[0]
    faults.ok("POST", f"/orders/{order['id']}/notes", {"text": "kept across a restart"})
    faults.ok("POST", f"/invoices/{order['invoice_id']}/payments",
              {"amount": "4.00", "gateway": "manual", "transaction_id": "T-restart"})
    server = faults.ok("POST", "/servers", {"name": "hook2", "module": "webhook", "url": slow_hook.url,
                                            "credentials": slow_hook.secret})
    hung, release = threading.Event(), threading.Event()
    # it answers only when released: the workflow is stuck in its provisioning step (the client's
    # read timeout is 15 s, longer than the snapshot and the stop take)
    slow_hook.responder = lambda r: (hung.set(), release.wait(60), (200, {"ok": True}))[2]
    inflight = faults.orders(1, [{"kind": "product", "description": "Hosting", "amount": "10.00",
                                  "server_id": server["id"]}])[0]
    action_id = faults.ok("POST", f"/orders/{inflight['id']}/accept", {})["action"]["id"]
    assert hung.wait(30), "the in-flight accept never reached its webhook"
    bulk_ids = [o["id"] for o in faults.orders(100, [{"kind": "product", "description": "Hosting", "amount": "1.00"}])]
    before = snapshot(faults, frozenset(bulk_ids))
    assert before["orders"][inflight["id"]]["pending_action"]["action_id"] == action_id
    job = faults.ok("POST", "/orders/bulk", {"order_ids": bulk_ids, "status": "Fraud"})["job"]

    # WHEN the stack is stopped as a user does (Ctrl-C) and started again on its data directory
    assert faults.stack is not None
    assert stop_stack_process(faults.stack.process) == 0
    release.set()
    faults.start()
    after = snapshot(faults, frozenset(bulk_ids))

    # THEN every record is as it was (the in-flight order still holds its lock: nothing guessed)
    changed = {k: [o for o in before[k] if before[k][o] != after[k].get(o)] if isinstance(before[k], dict)
               else before[k] != after[k] for k in before}
    assert after == before, changed
    # AND the bulk job queued before the stop completes after the start, exactly
    done = wait_until(lambda: (lambda j: j if j["status"] == "DONE" else None)(
        faults.ok("GET", f"/bulk-jobs/{job['id']}")), 120, "the bulk job queued before the stop")
    assert (done["succeeded"], done["failed"]) == (100, 0), done
    assert {faults.ok("GET", f"/orders/{o}")["status"] for o in bulk_ids} == {"Fraud"}
    faults.counters_are_real()
    # AND the lock sweep finds the lost execution, fails the action, and the order can be accepted again
    sweep = subprocess.run([sys.executable, "-m", "infra.local.cleanup_once", "--rule", "release_locks",
                            "--data-dir", str(faults.data_dir)], cwd=REPO_ROOT, capture_output=True, text=True,
                           env={**stack_fixture.stack_environment(), "STALE_LOCK_MINUTES": "0"}, timeout=120)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    action = faults.ok("GET", f"/orders/{inflight['id']}/actions/{action_id}")
    got = faults.ok("GET", f"/orders/{inflight['id']}")
    assert action["status"] == "FAILED" and got["pending_action"] is None and got["status"] == "Pending", (action, got)
    slow_hook.responder = lambda r: (200, {"ok": True})
    rerun = faults.ok("POST", f"/orders/{inflight['id']}/accept", {})["action"]["id"]
    done = wait_until(lambda: (lambda x: x if x["status"] != "RUNNING" else None)(
        faults.ok("GET", f"/orders/{inflight['id']}/actions/{rerun}")), 120, "the rerun")
    assert done["status"] == "SUCCEEDED", done
    assert faults.ok("GET", f"/orders/{inflight['id']}")["status"] == "Active"
