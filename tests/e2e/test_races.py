"""Races over real HTTP against the running local stack (`local_stack`: its own process, the
threaded API server, moto's Step Functions and SQS, the bulk poller, DynamoDB Local).

* 50 pairs of conflicting actions, each pair fired at one order at the same instant (a barrier
  per pair, all pairs at once), pairs where whichever wins the other is no longer allowed (cancel
  and cancel & refund, two accepts, delete and back to pending...): exactly one of each pair wins
  (2xx), the other gets 409 (or 404, when the winner was a delete that had finished before the
  loser looked); the order ends as the winner leaves it, with no trace of the loser.
* Pairs where the second is allowed after the first (accept and cancel, fraud and back to
  pending...): the server may run them one after the other, and both may take effect, but never
  both from the same status: the order's changes form one chain from where it started.
* Bulk status changes racing Accept workflows on the same orders: for every order either the
  workflow or the bulk change took effect, never a mix or a lost update: the final status is the
  one the last successful change in the order's history set, every success is in the history
  exactly once, the job's counters are exact and the status counters equal the real counts."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.stack_fixture import RunningStack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480),
              pytest.mark.skipif(shutil.which("java") is None, reason="DynamoDB Local needs Java 17+")]

PAIRS = 50


class Http:
    def __init__(self, stack: RunningStack) -> None:
        self.url = stack.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {stack.token('admin')}"
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=128)
        self.session.mount("http://", adapter)

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(method, self.url + path, json=body, timeout=60)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        r = self.call(method, path, body)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None


def new_orders(http: Http, n: int, item: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    client = http.ok("POST", "/clients", {"first_name": "Race", "last_name": uuid.uuid4().hex[:6],
                                          "email": "race@example.com", "country": "GB"})
    body = {"client_id": client["id"], "payment_method": "manual", "skip_fraud_check": True,
            "items": [item or {"kind": "product", "description": "Hosting", "amount": "10.00"}]}
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: http.ok("POST", "/orders", body), range(n)))




def settled(http: Http, order_id: str, bulk_moves: int = 0) -> dict[str, Any]:
    """The order once no action runs on it, and the history entries of at least `bulk_moves` bulk
    moves are there (they follow from the table's stream, a moment after the job counted them)."""
    def check() -> Any:
        got = http.ok("GET", f"/orders/{order_id}")
        moves = sum(h["action"] == "bulk status change" for h in got["history"])
        return got if got["pending_action"] is None and moves >= bulk_moves else None
    return wait_for(check, 120, f"order {order_id} still locked or its bulk moves not in its history")  # type: ignore[no-any-return]


def bulk_done(http: Http, job_id: str) -> dict[str, Any]:
    return wait_for(lambda: (lambda j: j if j["status"] == "DONE" else None)(  # type: ignore[no-any-return]
        http.ok("GET", f"/bulk-jobs/{job_id}")), 120, f"bulk job {job_id}")


def status_counters_match(http: Http) -> None:
    """The counters (kept from the table's stream, so a moment behind) equal what the lists hold."""
    def listed(query: str) -> int:
        seen, cursor = 0, None
        while True:
            page = http.ok("GET", f"/orders?{query}&limit=100" + (f"&cursor={cursor}" if cursor else ""))
            seen += len(page["orders"])
            cursor = page["next_cursor"]
            if not cursor:
                return seen

    def match() -> bool | None:
        counters = {c["status"]: c["count"] for c in http.ok("GET", "/order-statuses")}
        real = {s: listed("attention=true" if s == "Attention" else f"status={s}") for s in counters}
        return True if counters == real else None

    wait_for(match, 30, "the status counters to equal the lists")


CANCEL = ("POST", "cancel", {"refund": False})
REFUND = ("POST", "cancel", {"refund": True})
ACCEPT, FRAUD, PENDING, DELETE = ("POST", "accept", {}), ("POST", "fraud", None), ("POST", "pending", None), \
    ("DELETE", "", None)
# Pairs where whichever wins, the other is no longer allowed, however the server orders them:
# exactly one may win. (first, second): each (method, path suffix, body), allowed from the
# order's status.
EXCLUSIVE_FROM_PENDING = [(CANCEL, REFUND), (CANCEL, CANCEL), (ACCEPT, ACCEPT), (FRAUD, FRAUD), (REFUND, REFUND)]
EXCLUSIVE_FROM_CANCELLED = [(DELETE, PENDING), (PENDING, PENDING), (DELETE, DELETE)]
# Pairs where the second may follow the first once the first has finished (Pending → Active →
# Cancelled): both may take effect, one after the other, never both from the same status.
CHAINABLE_FROM_PENDING = [(ACCEPT, CANCEL), (CANCEL, FRAUD), (ACCEPT, FRAUD)]
CHAINABLE_FROM_CANCELLED = [(FRAUD, PENDING), (DELETE, FRAUD)]
AFTER = {"accept": "Active", "cancel": "Cancelled", "fraud": "Fraud", "pending": "Pending", "": None}
CHANGES = ("accept started", "cancel started", "cancel & refund started", "set as fraud started",
           "set back to pending", "delete started")


def fire_pairs(http: Http, pairs: list[tuple[dict[str, Any], Any, Any]]) -> list[list[tuple[str, requests.Response]]]:
    """Both actions of every pair released by one barrier per pair, all pairs at once."""
    def fire(pair: tuple[dict[str, Any], Any, Any]) -> list[tuple[str, requests.Response]]:
        order, a, b = pair
        barrier = threading.Barrier(2)

        def one(act: tuple[str, str, Any]) -> tuple[str, requests.Response]:
            method, verb, body = act
            barrier.wait()
            return verb, http.call(method, f"/orders/{order['id']}" + (f"/{verb}" if verb else ""), body)

        with ThreadPoolExecutor(2) as two:
            return list(two.map(one, (a, b)))

    with ThreadPoolExecutor(len(pairs)) as pool:
        return list(pool.map(fire, pairs))


def orders_in(http: Http, pending: int, cancelled: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    orders = new_orders(http, pending + cancelled)
    ids = [o["id"] for o in orders[pending:]]
    if ids:
        job = http.ok("POST", "/orders/bulk", {"order_ids": ids, "status": "Cancelled"})["job"]
        assert bulk_done(http, job["id"])["succeeded"] == len(ids)
    return orders[:pending], orders[pending:]


def test_50_pairs_of_conflicting_actions_exactly_one_wins_each(local_stack: RunningStack) -> None:
    http = Http(local_stack)
    # GIVEN 50 orders: 30 Pending, 20 Cancelled (through a bulk change), and a pair of mutually
    # exclusive actions for each
    pending, cancelled = orders_in(http, 30, 20)
    pairs = [(o, *EXCLUSIVE_FROM_PENDING[n % len(EXCLUSIVE_FROM_PENDING)]) for n, o in enumerate(pending)]
    pairs += [(o, *EXCLUSIVE_FROM_CANCELLED[n % len(EXCLUSIVE_FROM_CANCELLED)]) for n, o in enumerate(cancelled)]
    assert len(pairs) == PAIRS

    # WHEN both actions of every pair are fired at the same instant, all pairs at once
    results = fire_pairs(http, pairs)

    # THEN exactly one of each pair won and the other got 409, and the order is as the winner left it
    for (order, _, _), answers in zip(pairs, results, strict=True):
        wins = [(verb, r) for verb, r in answers if r.status_code < 300]
        assert len(wins) == 1, (order["id"], [(v, r.status_code, r.text[:200]) for v, r in answers])
        verb, win = wins[0]
        loser = next(r for _, r in answers if r.status_code >= 300)
        # 409; or 404 when the winner was a delete that had finished before the loser looked
        assert loser.status_code == 409 or (verb == "" and loser.status_code == 404), loser.text
        if loser.status_code == 409:
            assert loser.json()["error"]["code"] in ("invalid_transition", "action_in_progress"), loser.text
        if verb == "":
            assert http.call("GET", f"/orders/{order['id']}").status_code == 404
            continue
        got = settled(http, order["id"])
        if win.status_code == 202:
            action = http.ok("GET", f"/orders/{order['id']}/actions/{win.json()['action']['id']}")
            assert action["status"] == "SUCCEEDED", action
            assert [a["id"] for a in got["actions"]] == [action["id"]], got["actions"]  # the loser left none
        assert got["status"] == AFTER[verb], (order["id"], verb, got["status"])
        assert len([h for h in got["history"] if h["action"] in CHANGES]) == 1, got["history"]
    status_counters_match(http)


def test_actions_that_may_follow_each_other_never_both_act_on_one_status(local_stack: RunningStack) -> None:
    http = Http(local_stack)
    # GIVEN orders and pairs of actions of which the second is allowed after the first
    # (accept then cancel, cancel then fraud, fraud then back to pending...)
    pending, cancelled = orders_in(http, 12, 8)
    pairs = [(o, *CHAINABLE_FROM_PENDING[n % len(CHAINABLE_FROM_PENDING)]) for n, o in enumerate(pending)]
    pairs += [(o, *CHAINABLE_FROM_CANCELLED[n % len(CHAINABLE_FROM_CANCELLED)]) for n, o in enumerate(cancelled)]
    start = {o["id"]: "Pending" for o in pending} | {o["id"]: "Cancelled" for o in cancelled}

    # WHEN both of each pair are fired at once
    results = fire_pairs(http, pairs)

    # THEN at least one of each pair won; when both did, the second acted on what the first left
    # (its change starts from the first's result, after the first had finished): the order's
    # changes form one chain from its starting status, never two changes from the same status
    both = 0
    for (order, _, _), answers in zip(pairs, results, strict=True):
        wins = [verb for verb, r in answers if r.status_code < 300]
        assert wins, (order["id"], [(v, r.status_code, r.text[:200]) for v, r in answers])
        assert all(r.status_code in (409, 404) for _, r in answers if r.status_code >= 300), answers
        both += len(wins) == 2
        r = http.call("GET", f"/orders/{order['id']}")
        if r.status_code == 404:
            assert "" in wins
            continue
        got = settled(http, order["id"])
        chain = [h for h in got["history"] if h["action"] in CHANGES]
        assert len(chain) == len(wins), (wins, chain)
        status = start[order["id"]]
        for h in chain:
            assert h["from"] == status, (order["id"], status, chain)
            status = {"accept started": "Active", "cancel started": "Cancelled", "cancel & refund started":
                      "Cancelled", "set as fraud started": "Fraud", "set back to pending": "Pending"}[h["action"]]
        assert got["status"] == status, (got["status"], chain)
    status_counters_match(http)
    print(f"chainable pairs: both took effect, one after the other, in {both} of {len(pairs)}")


def test_bulk_changes_racing_accept_workflows_lose_no_update(local_stack: RunningStack, remote_hook: Any) -> None:
    http = Http(local_stack)
    # GIVEN 20 Pending orders whose product is provisioned through a webhook that takes 0.3 s
    server = http.ok("POST", "/servers", {"name": "slow-hook", "module": "webhook", "url": remote_hook.url,
                                          "credentials": remote_hook.secret})
    orders = new_orders(http, 20, {"kind": "product", "description": "Hosting", "amount": "10.00",
                                   "server_id": server["id"]})
    ids = [o["id"] for o in orders]

    # WHEN every order is accepted while one bulk job moves all of them to Fraud and another to
    # Cancelled, all at the same time
    barrier = threading.Barrier(len(ids) + 2)

    def accept(order_id: str) -> requests.Response:
        barrier.wait()
        return http.call("POST", f"/orders/{order_id}/accept", {})

    def bulk(status: str) -> dict[str, Any]:
        barrier.wait()
        return http.ok("POST", "/orders/bulk", {"order_ids": ids, "status": status})["job"]  # type: ignore[no-any-return]

    with ThreadPoolExecutor(len(ids) + 2) as pool:
        accepts = [pool.submit(accept, i) for i in ids]
        jobs = [pool.submit(bulk, s) for s in ("Fraud", "Cancelled")]
        answers = {i: f.result() for i, f in zip(ids, accepts, strict=True)}
        jobs_done = [bulk_done(http, j.result()["id"]) for j in jobs]

    # THEN each job is DONE with exact counters and a reason for each order it could not move
    for job in jobs_done:
        assert job["total"] == len(ids) and job["succeeded"] + job["failed"] == len(ids), job
        assert len(job["failures"]) == job["failed"] and all(f["error"] for f in job["failures"]), job
    moved = {job_id: {o for o in ids if o not in {f["order_id"] for f in job["failures"]}}
             for job_id, job in zip(("Fraud", "Cancelled"), jobs_done, strict=True)}
    # AND for every order the final status is the last successful change, each success recorded once
    for order_id in ids:
        got = settled(http, order_id, bulk_moves=sum(order_id in os for os in moved.values()))
        accepted = answers[order_id].status_code == 202
        if accepted:
            action = http.ok("GET", f"/orders/{order_id}/actions/{answers[order_id].json()['action']['id']}")
            assert action["status"] == "SUCCEEDED", action
        else:
            assert answers[order_id].status_code == 409, answers[order_id].text
        changes = [h for h in got["history"] if h["action"] in ("accept done", "bulk status change")]
        assert [h["action"] for h in changes].count("accept done") == (1 if accepted else 0), changes
        bulk_to = sorted(h["to"] for h in changes if h["action"] == "bulk status change")
        assert bulk_to == sorted(s for s, os in moved.items() if order_id in os), (order_id, changes, moved)
        last = changes[-1]["to"] if changes else "Pending"
        assert got["status"] == last, (order_id, got["status"], changes)
        items = {i["status"] for i in got["items"]}
        assert items == ({"Active"} if accepted else {"Pending"}), (order_id, items)  # a bulk change moves no item
        for h in changes:
            assert (h["from"], h["to"]) in {("Pending", "Active"), ("Pending", "Fraud"), ("Active", "Fraud"),
                                            ("Pending", "Cancelled"), ("Active", "Cancelled"),
                                            ("Cancelled", "Fraud")}, h
    status_counters_match(http)


@pytest.fixture()
def remote_hook() -> Any:
    """A provisioning webhook on loopback that answers after 0.3 s (so workflows hold their locks)."""
    from tests.integration.workflow_support import RemoteStub

    hook = RemoteStub(lambda r: (time.sleep(0.3), (200, {"ok": True}))[1])
    hook.start()
    yield hook
    hook.stop()
