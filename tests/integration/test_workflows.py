"""The order actions of docs/actions.md through the API, their workflows run by moto's interpreter over
HTTP with the real step handlers, against DynamoDB Local and loopback remote systems."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from orderdesk.services.ports import stores
from tests.integration.workflow_support import WEBHOOK_SECRET, RemoteStub, wait_for_action

pytestmark = pytest.mark.timeout(120)

SECRET = WEBHOOK_SECRET  # what RemoteStub checks signatures with


def new_client(api: Any) -> str:
    r = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                              "country": "GB"})
    assert r.status_code == 201, r.data
    return str(r.data["id"])


def new_server(api: Any, url: str, module: str = "webhook") -> str:
    r = api.post("/servers", {"name": f"srv-{module}", "module": module, "url": url, "credentials": SECRET})
    assert r.status_code == 201, r.data
    return str(r.data["id"])


def new_order(api: Any, items: list[dict[str, Any]], payment_method: str = "manual") -> dict[str, Any]:
    r = api.post("/orders", {"client_id": new_client(api), "payment_method": payment_method, "items": items,
                             "skip_fraud_check": True})
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


def test_accept_provisions_registers_emails_and_activates(api, workflows, remote, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN a webhook provisioning server and a webhook registrar that answers "pending"
    hook = remote()
    registrar = remote(lambda r: (200, {"status": "pending", "reference": "R-1"}))
    monkeypatch.setenv("REGISTRAR_WEBHOOK_URL", registrar.url)
    monkeypatch.setenv("REGISTRAR_WEBHOOK_SECRET", SECRET)
    from orderdesk.config import reset_settings

    reset_settings()
    server_id = new_server(api, hook.url)
    order = new_order(api, [
        {"kind": "product", "description": "Hosting", "amount": "10.00", "server_id": server_id},
        {"kind": "domain", "description": "Domain", "amount": "12.00", "domain": "example.com", "registrar": "webhook"},
        {"kind": "addon", "description": "Backups", "amount": "2.00"},
    ])
    product, domain, addon = order["items"]

    # WHEN it is accepted with a username and password for the product
    r = api.post(f"/orders/{order['id']}/accept", {"items": {product["id"]: {"username": "ada", "password":
                                                                             "s3cret-pass-1"}}}, role="support")
    assert r.status_code == 202, r.data
    action = r.data["action"]
    assert action["status"] == "RUNNING"
    done = wait_for_action(api, order["id"], action["id"])

    # THEN every step succeeded, the order is Active, the items as their module/registrar said
    assert done["status"] == "SUCCEEDED", done
    assert {s["status"] for s in done["steps"]} == {"SUCCEEDED"}
    got = api.get(f"/orders/{order['id']}").data
    assert got["status"] == "Active" and got["pending_action"] is None
    status = {i["id"]: i["status"] for i in got["items"]}
    assert status == {product["id"]: "Active", domain["id"]: "Pending Registration", addon["id"]: "Active"}
    assert got["invoice"]["status"] == "Unpaid"
    # the webhook got a signed create with the password (RemoteStub checked the signature over
    # timestamp, nonce, Idempotency-Key and body); the registrar a register, signed too
    (create,) = hook.received
    assert create.verified is True and registrar.received[0].verified is True
    assert create.json["command"] == "create" and create.json["account"]["password"] == "s3cret-pass-1"
    assert registrar.received[0].json["command"] == "register"
    # the password is nowhere else: not the execution input, not the action, not the order
    execution = workflows.sfn.describe_execution(executionArn=got["history"][-1]["execution"])
    for text in (execution["input"], json.dumps(got), json.dumps(done)):
        assert "s3cret-pass-1" not in text
    # history with actor and execution; one welcome email, without the password
    entries = [h for h in got["history"] if h["execution"]]
    assert {h["action"] for h in entries} >= {"accept started", "item provisioned", "domain sent to registrar",
                                              "welcome email sent", "accept done"}
    assert all(h["actor"] for h in entries)
    (mail,) = [p for p in workflows.outbox.glob(f"welcome-{order['id']}*.eml")]
    assert "ada@example.com" in mail.read_text() and "s3cret-pass-1" not in mail.read_text()


# -- helpers -------------------------------------------------------------------------------------


def pay(api: Any, order: dict[str, Any], amount: str, gateway: str, transaction_id: str) -> None:
    r = api.post(f"/invoices/{order['invoice_id']}/payments",
                 {"amount": amount, "gateway": gateway, "transaction_id": transaction_id}, role="billing")
    assert r.status_code == 201, r.data


def run(api: Any, order_id: str, verb: str, body: Any = None, **kw: Any) -> dict[str, Any]:
    """POST an action, wait for its workflow, return the finished action."""
    r = api.post(f"/orders/{order_id}/{verb}", body if body is not None else {}, role=kw.pop("role", "billing"),
                 **kw)
    assert r.status_code == 202, r.data
    return wait_for_action(api, order_id, r.data["action"]["id"])


def order_of(api: Any, order_id: str) -> dict[str, Any]:
    r = api.get(f"/orders/{order_id}")
    assert r.status_code == 200, r.data
    return r.data  # type: ignore[no-any-return]


def steps_of(action: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {s["name"]: (s["status"], s["error"]) for s in action["steps"]}


def item_of(body: dict[str, Any]) -> str:
    return str(body["account"]["item_id"])


def active_order(api: Any, hook: RemoteStub, *, products: int = 1, paid_with: tuple[str, str] | None = ("manual",
                 "T-1")) -> dict[str, Any]:
    """An accepted order of `products` webhook products and a domain (registrar none), paid."""
    server_id = new_server(api, hook.url)
    items = [{"kind": "product", "description": f"Hosting {n}", "amount": "10.00", "server_id": server_id,
              "username": f"user{n}"} for n in range(products)]
    items.append({"kind": "domain", "description": "Domain", "amount": "12.00", "domain": "example.org",
                  "registrar": "none"})
    order = new_order(api, items)
    if paid_with:
        pay(api, order, order["total"], *paid_with)
    activate(order["id"])
    got = order_of(api, order["id"])
    assert got["status"] == "Active"
    return got


def activate(order_id: str) -> None:
    """Order and items Active, as an accept leaves them (the accept itself is tested above)."""
    from orderdesk.domain.changes import OrderChange
    from orderdesk.domain.model import HistoryEntry, iso, utcnow
    from orderdesk.domain.statuses import ItemStatus, OrderStatus

    repo = stores()
    for item in repo.orders.get_order(order_id).items:  # each product's account created on its server
        if item.server_id:
            repo.writes.update_item(order_id, item.id, account_exists=True, commands={"create": 1})
    order = repo.orders.get_order(order_id)  # then activated, the attention list recomputed as an accept's end does
    repo.writes.apply(order, OrderChange(to_status=OrderStatus.ACTIVE, item_status=ItemStatus.ACTIVE, history=[
        HistoryEntry(at=iso(utcnow()), actor="test", action="accepted", from_="Pending", to="Active")]))


# -- accept ----------------------------------------------------------------------------------------


def test_accept_retries_a_transient_failure_then_succeeds(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN a provisioning webhook that answers 503 twice before it works
    answers = iter([(503, {"error": "busy"}), (503, {"error": "busy"})])
    hook = remote(lambda r: next(answers, (200, {"ok": True})))
    order = new_order(api, [{"kind": "product", "description": "Hosting", "amount": "10.00",
                             "server_id": new_server(api, hook.url)}])

    # WHEN the order is accepted
    done = run(api, order["id"], "accept", role="support")

    # THEN the step was retried with the same idempotency key until it worked, once in the history
    assert done["status"] == "SUCCEEDED", done
    assert len(hook.received) == 3
    assert len({r.headers["idempotency-key"] for r in hook.received}) == 1
    got = order_of(api, order["id"])
    assert got["status"] == "Active" and got["items"][0]["status"] == "Active"
    assert [h["action"] for h in got["history"]].count("item provisioned") == 1


def test_the_last_step_run_again_after_it_committed_changes_nothing(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN an accept that finished: its last step's transaction committed
    order = new_order(api, [{"kind": "addon", "description": "Backups", "amount": "2.00"}])
    done = run(api, order["id"], "accept", {"send_welcome_email": False}, role="support")
    assert done["status"] == "SUCCEEDED", done

    # WHEN Step Functions runs that step again (its invocation died after the commit)
    from orderdesk.services import workflow_runtime

    again = workflow_runtime.finish({"order_id": order["id"], "action_id": done["id"], "action": "accept",
                                   "actor": "support", "execution": None})

    # THEN it answers as the first run did, and the action still reads SUCCEEDED in every step
    assert again == {"order_status": "Active"}
    after = api.get(f"/orders/{order['id']}/actions/{done['id']}").data
    assert after["status"] == "SUCCEEDED" and {s["status"] for s in after["steps"]} == {"SUCCEEDED"}, after


def test_accept_waits_out_a_webhook_server_that_is_down(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN a provisioning server whose webhook is down (nothing listens on its port)
    hook = remote(start=False)
    order = new_order(api, [{"kind": "product", "description": "Hosting", "amount": "10.00",
                             "server_id": new_server(api, hook.url)}])
    item_id = order["items"][0]["id"]

    # WHEN the order is accepted, and the webhook comes up after the first failed attempt
    r = api.post(f"/orders/{order['id']}/accept", {}, role="support")
    assert r.status_code == 202, r.data
    action_id = r.data["action"]["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        step = steps_of(api.get(f"/orders/{order['id']}/actions/{action_id}").data)[f"provision:{item_id}"]
        if step[1] and "unreachable" in step[1]:
            break
        time.sleep(0.005)
    else:
        raise AssertionError("the step never reported the webhook unreachable")
    hook.start()
    done = wait_for_action(api, order["id"], action_id)

    # THEN the retries carried the item through: one create reached the webhook
    assert done["status"] == "SUCCEEDED", done
    assert hook.commands() == [("create", item_id)]
    assert order_of(api, order["id"])["status"] == "Active"


def test_accept_that_fails_for_good_leaves_the_order_consistent_and_a_rerun_finishes(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN two products on one webhook that refuses the second one (422) for now
    refused: set[str] = set()
    hook = remote(lambda r: (422, {"error": "plan unknown"}) if item_of(r.json) in refused else (200, {}))
    server_id = new_server(api, hook.url)
    order = new_order(api, [{"kind": "product", "description": f"Hosting {n}", "amount": "10.00",
                             "server_id": server_id} for n in "AB"])
    a, b = (i["id"] for i in order["items"])
    refused.add(b)

    # WHEN it is accepted
    failed = run(api, order["id"], "accept", role="support")

    # THEN the action FAILED saying why; A is Active, B still Pending with its error; unlocked
    assert failed["status"] == "FAILED" and "1 of 2 item(s) failed" in failed["error"], failed
    steps = steps_of(failed)
    assert steps[f"provision:{a}"] == ("SUCCEEDED", None)
    assert steps[f"provision:{b}"][0] == "FAILED" and "422" in (steps[f"provision:{b}"][1] or "")
    assert steps["welcome_email"][0] == "PENDING" and steps["activate_order"][0] == "PENDING"
    got = order_of(api, order["id"])
    assert got["status"] == "Pending" and got["pending_action"] is None and "accept" in got["available_actions"]
    items = {i["id"]: i for i in got["items"]}
    assert items[a]["status"] == "Active" and items[a]["last_error"] is None
    assert items[b]["status"] == "Pending" and "422" in items[b]["last_error"]
    assert any(h["action"] == "accept failed" and h["execution"] for h in got["history"])
    assert not list(workflows.outbox.glob(f"welcome-{order['id']}*"))

    # WHEN the webhook is fixed and the order accepted again
    refused.clear()
    done = run(api, order["id"], "accept", role="support")

    # THEN only B was provisioned this time, and the order is Active
    assert done["status"] == "SUCCEEDED", done
    assert f"provision:{a}" not in steps_of(done) and steps_of(done)[f"provision:{b}"] == ("SUCCEEDED", None)
    assert [c for c in hook.commands() if c[1] == a] == [("create", a)]
    assert [c for c in hook.commands() if c[1] == b] == [("create", b), ("create", b)]
    got = order_of(api, order["id"])
    assert got["status"] == "Active" and {i["status"] for i in got["items"]} == {"Active"}
    assert items[b]["last_error"] and all(i["last_error"] is None for i in got["items"])


def refused_accept(api: Any, remote: Any, headers: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """A pending order of one webhook product whose accept (sent with `headers`) FAILED: the
    webhook refused the create (422); it accepts from now on. Returns the order, the failed
    action and the accept's body."""
    refusing = [True]
    hook = remote(lambda r: (422, {"error": "plan unknown"}) if refusing[0] else (200, {}))
    order = new_order(api, [{"kind": "product", "description": "Hosting", "amount": "10.00",
                             "server_id": new_server(api, hook.url)}])
    body = {"items": {order["items"][0]["id"]: {"username": "ada1"}}, "send_welcome_email": False}
    r = api.post(f"/orders/{order['id']}/accept", body, role="support", headers=headers)
    assert r.status_code == 202, r.data
    failed = wait_for_action(api, order["id"], r.data["action"]["id"])
    assert failed["status"] == "FAILED", failed
    refusing[0] = False
    return order, failed, body


def test_a_failed_accept_sent_again_with_a_new_key_starts_a_new_run(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN an accept that FAILED (the webhook refused), sent with an Idempotency-Key; the webhook now accepts
    order, failed, body = refused_accept(api, remote, {"Idempotency-Key": "accept-attempt-1"})
    # WHEN the same body is sent again under a new key (the portal's next attempt)
    r = api.post(f"/orders/{order['id']}/accept", body, role="support", headers={"Idempotency-Key": "accept-attempt-2"})
    # THEN it is a new action, which runs and succeeds; the failed one stays as it was
    assert r.status_code == 202 and r.data["action"]["id"] != failed["id"], r.data
    assert wait_for_action(api, order["id"], r.data["action"]["id"])["status"] == "SUCCEEDED"
    got = order_of(api, order["id"])
    assert got["status"] == "Active" and {a["id"]: a["status"] for a in got["actions"]} == {
        failed["id"]: "FAILED", r.data["action"]["id"]: "SUCCEEDED"}


def test_an_accept_key_past_its_replay_window_is_the_same_action_for_its_body_and_409_for_another(  # type: ignore[no-untyped-def]
        api, workflows, remote, monkeypatch):
    # GIVEN stored answers kept 1 s (24 h in AWS), and an accept that FAILED under a key, its answer since expired
    from orderdesk.config import reset_settings

    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", "1")
    reset_settings()
    key = {"Idempotency-Key": "accept-past-window"}
    order, failed, body = refused_accept(api, remote, key)
    time.sleep(2.1)
    # WHEN the same key comes again with another body, then with the same body
    other = api.post(f"/orders/{order['id']}/accept", {**body, "send_welcome_email": True}, role="support",
                     headers=key)
    same = api.post(f"/orders/{order['id']}/accept", body, role="support", headers=key)
    # THEN the same body is the same action (a repeat, nothing run again); another body is a 409
    assert same.status_code == 202 and same.data["action"]["id"] == failed["id"], same.data
    assert other.status_code == 409 and other.data["error"]["code"] == "idempotency_conflict", other.data
    got = order_of(api, order["id"])
    assert [a["id"] for a in got["actions"]] == [failed["id"]] and got["pending_action"] is None


def test_one_accept_key_sent_by_two_callers_is_two_actions(api, workflows, remote, token):  # type: ignore[no-untyped-def]
    # GIVEN an accept that FAILED, sent by one operator under a key
    key = "accept-shared-key"
    order, failed, body = refused_accept(api, remote, {"Idempotency-Key": key})
    # WHEN another operator sends the same body under the same key
    r = api.post(f"/orders/{order['id']}/accept", body, role="support", headers={
        "Idempotency-Key": key, "Authorization": f"Bearer {token('support', subject='another-operator')}"})
    # THEN theirs is an action of its own, which runs (the first caller's failure is not theirs)
    assert r.status_code == 202 and r.data["action"]["id"] != failed["id"], r.data
    assert wait_for_action(api, order["id"], r.data["action"]["id"])["status"] == "SUCCEEDED"
    assert order_of(api, order["id"])["status"] == "Active"


# -- cancel, fraud -------------------------------------------------------------------------------------


def test_cancel_terminates_active_products_and_cancels_order_items_and_invoice(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN an accepted, paid order: a webhook product and a domain
    hook = remote()
    order = active_order(api, hook)
    product = order["items"][0]["id"]

    # WHEN it is cancelled (no refund)
    done = run(api, order["id"], "cancel", {"refund": False})

    # THEN the product's account was terminated, everything is Cancelled, nothing refunded
    assert done["status"] == "SUCCEEDED", done
    assert hook.commands() == [("terminate", product)]
    got = order_of(api, order["id"])
    assert got["status"] == "Cancelled" and got["pending_action"] is None
    assert {i["status"] for i in got["items"]} == {"Cancelled"}
    assert got["invoice"]["status"] == "Cancelled" and got["payment_status"] == "Cancelled"
    invoice = api.get(f"/invoices/{order['invoice_id']}").data
    assert [t["type"] for t in invoice["transactions"]] == ["payment"]
    assert any(h["action"] == "item terminated" and h["execution"] for h in got["history"])


def test_cancel_that_cannot_terminate_stops_before_the_invoice_and_a_rerun_finishes(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN an accepted order of two products whose second account the server refuses to remove
    refused: set[str] = set()
    hook = remote(lambda r: (400, {"error": "locked"}) if item_of(r.json) in refused else (200, {}))
    order = active_order(api, hook, products=2)
    a, b = order["items"][0]["id"], order["items"][1]["id"]
    refused.add(b)

    # WHEN it is cancelled
    failed = run(api, order["id"], "cancel", {"refund": False})

    # THEN A is gone, B is still Active with the server's answer; invoice and order untouched
    assert failed["status"] == "FAILED", failed
    assert steps_of(failed)["cancel_invoice"][0] == "PENDING"
    got = order_of(api, order["id"])
    items = {i["id"]: i for i in got["items"]}
    assert items[a]["status"] == "Cancelled" and items[b]["status"] == "Active" and "400" in items[b]["last_error"]
    assert got["status"] == "Active" and got["invoice"]["status"] == "Paid" and got["pending_action"] is None

    # WHEN the server lets go and the cancel is run again
    refused.clear()
    done = run(api, order["id"], "cancel", {"refund": False})

    # THEN only B was terminated this time
    assert done["status"] == "SUCCEEDED", done
    assert [c for c in hook.commands() if c[1] == a] == [("terminate", a)]
    assert [c for c in hook.commands() if c[1] == b] == [("terminate", b), ("terminate", b)]
    got = order_of(api, order["id"])
    assert got["status"] == "Cancelled" and got["invoice"]["status"] == "Cancelled"


def test_set_as_fraud_terminates_and_marks_everything_fraud(api, workflows, remote):  # type: ignore[no-untyped-def]
    hook = remote()
    order = active_order(api, hook)

    done = run(api, order["id"], "fraud")

    assert done["status"] == "SUCCEEDED", done
    assert hook.commands() == [("terminate", order["items"][0]["id"])]
    got = order_of(api, order["id"])
    assert got["status"] == "Fraud" and {i["status"] for i in got["items"]} == {"Fraud"}
    assert got["invoice"]["status"] == "Cancelled"


# -- cancel & refund ----------------------------------------------------------------------------------


def refund_transactions(api: Any, invoice_id: str) -> list[dict[str, Any]]:
    invoice = api.get(f"/invoices/{invoice_id}").data
    return [t for t in invoice["transactions"] if t["type"] == "refund"]


def test_cancel_and_refund_refunds_each_payment_through_its_gateway(api, workflows, remote, stripe_api):  # type: ignore[no-untyped-def]
    # GIVEN an accepted order paid 20.00 by card (Stripe) and 2.00 from the client's credit (given
    # by billing first: a credit payment takes its amount off the balance, never from nothing)
    hook = remote()
    order = active_order(api, hook, paid_with=None)
    client_id = order["client"]["id"]
    assert api.post(f"/clients/{client_id}/credit", {"amount": "2.00", "reason": "goodwill"},
                    role="billing").status_code == 201
    pay(api, order, "20.00", "stripe", "pi_3Qabc")
    pay(api, order, "2.00", "credit", "credit-1")
    assert api.get(f"/clients/{client_id}").data["credit_balance"] == "0.00"

    # WHEN it is cancelled with refund
    done = run(api, order["id"], "cancel", {"refund": True})

    # THEN each payment was refunded once, through its gateway; invoice Refunded, order Cancelled
    assert done["status"] == "SUCCEEDED", done
    assert [(r["payment_intent"], r["amount"]) for r in stripe_api.refunds.values()] == [("pi_3Qabc", 2000)]
    payments = {t["id"]: t for t in api.get(f"/invoices/{order['invoice_id']}").data["transactions"]
                if t["type"] == "payment"}
    refunds = refund_transactions(api, order["invoice_id"])
    assert sorted(r["refund_of"] for r in refunds) == sorted(payments)
    by_gateway = {r["gateway"]: r for r in refunds}
    assert by_gateway["stripe"]["transaction_id"] == "re_0001" and by_gateway["stripe"]["amount"] == "20.00"
    assert by_gateway["credit"]["amount"] == "2.00"
    assert {r["state"] for r in refunds} == {"done"}
    # the credit is back on the balance, once: given 2.00, paid 2.00, refunded 2.00
    credit = api.get(f"/clients/{client_id}/credit").data
    assert credit["balance"] == "2.00" and [e["amount"] for e in credit["entries"]] == ["2.00", "-2.00", "2.00"]
    got = order_of(api, order["id"])
    assert got["status"] == "Cancelled" and got["invoice"]["status"] == "Refunded"
    assert got["payment_status"] == "Refunded" and {i["status"] for i in got["items"]} == {"Cancelled"}
    assert [h["action"] for h in got["history"]].count("payment refunded") == 2


def test_cancel_and_refund_sent_twice_with_one_key_is_one_action_and_one_refund(api, workflows, remote, stripe_api):  # type: ignore[no-untyped-def]
    # GIVEN a paid order
    order = active_order(api, remote(), paid_with=("stripe", "pi_twice"))
    key = {"Idempotency-Key": "cancel-refund-0001"}

    # WHEN Cancel & Refund is sent twice with one Idempotency-Key (a client retrying)
    first = api.post(f"/orders/{order['id']}/cancel", {"refund": True}, role="billing", headers=key)
    second = api.post(f"/orders/{order['id']}/cancel", {"refund": True}, role="billing", headers=key)
    done = wait_for_action(api, order["id"], first.data["action"]["id"])
    third = api.post(f"/orders/{order['id']}/cancel", {"refund": True}, role="billing", headers=key)

    # THEN every answer is the first one; one action, one execution, one refund
    assert first.status_code == second.status_code == third.status_code == 202, (second.data, third.data)
    assert first.data == second.data == third.data
    assert done["status"] == "SUCCEEDED", done
    assert [a["id"] for a in order_of(api, order["id"])["actions"]] == [first.data["action"]["id"]]
    executions = workflows.sfn.list_executions(stateMachineArn=workflows.arns["CancelOrderStateMachine"])
    assert len([e for e in executions["executions"] if e["name"].startswith(order["id"])]) == 1
    assert len(stripe_api.refunds) == 1 and len(refund_transactions(api, order["invoice_id"])) == 1
    # and the same key with another body is refused
    other = api.post(f"/orders/{order['id']}/cancel", {"refund": False}, role="billing", headers=key)
    assert other.status_code == 409 and other.data["error"]["code"] == "idempotency_conflict"


def test_another_action_while_one_runs_is_409_action_in_progress(api, workflows, remote, stripe_api):  # type: ignore[no-untyped-def]
    # GIVEN a Cancel & Refund held up at the gateway
    order = active_order(api, remote(), paid_with=("stripe", "pi_busy"))
    stripe_api.hold = threading.Event()
    first = api.post(f"/orders/{order['id']}/cancel", {"refund": True}, role="billing",
                     headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 202, first.data

    # WHEN it is sent again with another key, and other actions are tried meanwhile
    again = api.post(f"/orders/{order['id']}/cancel", {"refund": True}, role="billing",
                     headers={"Idempotency-Key": "k-2"})
    fraud = api.post(f"/orders/{order['id']}/fraud", role="billing")
    pending = api.post(f"/orders/{order['id']}/pending", role="support")
    delete = api.delete(f"/orders/{order['id']}")
    locked = order_of(api, order["id"])
    stripe_api.hold.set()
    done = wait_for_action(api, order["id"], first.data["action"]["id"])

    # THEN each is refused with 409 action_in_progress, and one refund was made
    for r in (again, fraud, pending, delete):
        assert r.status_code == 409 and r.data["error"]["code"] == "action_in_progress", r.data
    assert locked["pending_action"]["action_id"] == first.data["action"]["id"]
    assert locked["available_actions"] == []
    assert done["status"] == "SUCCEEDED" and len(stripe_api.refunds) == 1


def test_refund_retried_after_the_gateway_refunded_but_the_function_died_refunds_once(  # type: ignore[no-untyped-def]
        api, workflows, remote, stripe_api, monkeypatch):
    # GIVEN a paid order, and a refund step that dies right after Stripe made the refund (the
    # invocation times out before the refund is recorded: nothing is cleaned up)
    from orderdesk.adapters.gateways import StripeGateway
    from tests.integration.workflow_support import SandboxDied

    order = active_order(api, remote(), paid_with=("stripe", "pi_died"))
    real_refund = StripeGateway.refund
    deaths = []

    def refund_then_die(self, payment, amount, key):  # type: ignore[no-untyped-def]
        result = real_refund(self, payment, amount, key)
        if not deaths:
            deaths.append(result.transaction_id)
            raise SandboxDied()
        return result

    monkeypatch.setattr(StripeGateway, "refund", refund_then_die)

    # WHEN it is cancelled with refund
    done = run(api, order["id"], "cancel", {"refund": True})

    # THEN the step was retried (after the dead invocation's hold expired) and asked Stripe again
    # with the same key, which answered with the refund it had made: one refund, recorded once
    assert done["status"] == "SUCCEEDED", done
    assert deaths == ["re_0001"]
    assert len(stripe_api.refunds) == 1 and len(stripe_api.received) == 2
    assert stripe_api.received[0].headers["idempotency-key"] == stripe_api.received[1].headers["idempotency-key"]
    (refund,) = refund_transactions(api, order["invoice_id"])
    assert refund["transaction_id"] == "re_0001"
    arn = next(h["execution"] for h in order_of(api, order["id"])["history"] if h["action"] == "payment refunded")
    history = workflows.sfn.get_execution_history(executionArn=arn, maxResults=1000)
    errors = [e.get("lambdaFunctionFailedEventDetails", {}).get("error") for e in history["events"]]
    # the dead invocation is in the history; whether a retry also found the payment still held
    # (StillInProgress) depends on how fast the machine reached the retry, so it is not asserted
    assert "Sandbox.Timedout" in errors, [e["type"] for e in history["events"]]
    assert set(errors) <= {None, "Sandbox.Timedout", "StillInProgress"}, errors


def test_refund_waits_out_a_gateway_outage_with_one_idempotency_key(api, workflows, remote, stripe_api):  # type: ignore[no-untyped-def]
    order = active_order(api, remote(), paid_with=("stripe", "ch_outage"))
    stripe_api.fail_next = 2

    done = run(api, order["id"], "cancel", {"refund": True})

    assert done["status"] == "SUCCEEDED", done
    assert len(stripe_api.received) == 3 and len({r.headers["idempotency-key"] for r in stripe_api.received}) == 1
    assert [r["charge"] for r in stripe_api.refunds.values()] == ["ch_outage"]


def test_a_refund_the_gateway_refuses_fails_the_action_with_the_order_consistent(api, workflows, remote, stripe_api):  # type: ignore[no-untyped-def]
    # GIVEN a paid order whose card payment Stripe will not refund (an unknown PaymentIntent)
    order = active_order(api, remote(), paid_with=None)
    pay(api, order, order["total"], "stripe", "pi_unknown")
    real_answer = stripe_api.answer
    stripe_api.answer = lambda r: (400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                                   "message": "No such payment_intent"}}, {})

    # WHEN it is cancelled with refund
    failed = run(api, order["id"], "cancel", {"refund": True})

    # THEN the action FAILED on that payment, items terminated, invoice Cancelled, order not yet
    assert failed["status"] == "FAILED" and "resource_missing" in failed["error"], failed
    got = order_of(api, order["id"])
    assert got["status"] == "Active" and got["pending_action"] is None
    assert got["invoice"]["status"] == "Cancelled" and not refund_transactions(api, order["invoice_id"])

    # WHEN the gateway works again and Cancel & Refund is rerun
    stripe_api.answer = real_answer
    done = run(api, order["id"], "cancel", {"refund": True})

    # THEN the refund is made and everything finished
    assert done["status"] == "SUCCEEDED", done
    got = order_of(api, order["id"])
    assert got["status"] == "Cancelled" and got["invoice"]["status"] == "Refunded"
    assert len(refund_transactions(api, order["invoice_id"])) == 1


# -- races, locks ------------------------------------------------------------------------------------


def race(*calls: Any) -> list[Any]:
    """Run the calls at the same moment; each one's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_conflicting_actions_racing_on_one_order_exactly_one_wins(api, workflows, remote):  # type: ignore[no-untyped-def]
    from orderdesk.domain.errors import Conflict
    from orderdesk.domain.statuses import ActionType
    from orderdesk.services import actions

    hook = remote()
    server_id = new_server(api, hook.url)
    for _ in range(3):
        # GIVEN a Pending order
        order = new_order(api, [{"kind": "product", "description": "Hosting", "amount": "10.00",
                                 "server_id": server_id}])

        # WHEN Accept and Set as Fraud are started on it at the same moment
        oid = order["id"]
        outcome = race(lambda oid=oid: actions.start_action(oid, ActionType.ACCEPT, {}, "alice"),
                       lambda oid=oid: actions.start_action(oid, ActionType.FRAUD, {}, "bob"))

        # THEN exactly one started, the other was refused with a conflict; the winner's effect only
        won = [r for r in outcome if not isinstance(r, Exception)]
        lost = [r for r in outcome if isinstance(r, Exception)]
        assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], Conflict), outcome
        assert wait_for_action(api, order["id"], won[0].id)["status"] == "SUCCEEDED"
        got = order_of(api, order["id"])
        assert got["status"] == {"accept": "Active", "fraud": "Fraud"}[won[0].type]
        assert len(got["actions"]) == 1


def test_back_to_pending_racing_a_cancel_never_both_take_effect(api, workflows, remote):  # type: ignore[no-untyped-def]
    from orderdesk.domain.errors import Conflict
    from orderdesk.domain.statuses import ActionType
    from orderdesk.services import actions

    order = active_order(api, remote(), paid_with=None)

    outcome = race(lambda: actions.back_to_pending(order["id"], "alice"),
                   lambda: actions.start_action(order["id"], ActionType.CANCEL, {}, "bob"))

    conflicts = sum(isinstance(r, Conflict) for r in outcome)
    got = order_of(api, order["id"])
    if conflicts == 0:
        # Both may succeed only one after the other: back to pending (from Active), then a cancel
        # of the now Pending order (allowed from Pending). Never both from the same Active state.
        assert wait_for_action(api, order["id"], outcome[1].id)["status"] == "SUCCEEDED"
        history = [(h["action"], h["from"]) for h in order_of(api, order["id"])["history"]]
        pending_at = history.index(("set back to pending", "Active"))
        cancel_at = next(i for i, h in enumerate(history) if h[0].endswith("started") and h[1] == "Pending")
        assert pending_at < cancel_at, history
        assert order_of(api, order["id"])["status"] == "Cancelled"
        return
    assert conflicts == 1, outcome
    if isinstance(outcome[0], Conflict):  # the cancel won
        assert wait_for_action(api, order["id"], outcome[1].id)["status"] == "SUCCEEDED"
        assert order_of(api, order["id"])["status"] == "Cancelled"
    else:  # back to pending won; the cancel never started
        assert got["status"] == "Pending" and got["pending_action"] is None
        assert {i["status"] for i in got["items"]} == {"Pending"}


def test_a_stale_lock_is_swept_and_a_late_step_changes_nothing(api, workflows, remote):  # type: ignore[no-untyped-def]
    from orderdesk.services import actions

    # GIVEN an accept whose provisioning webhook hangs
    release = threading.Event()
    hook = remote(lambda r: (release.wait(10), (200, {}))[1])
    order = new_order(api, [{"kind": "product", "description": "Hosting", "amount": "10.00",
                             "server_id": new_server(api, hook.url)}])
    action_id = api.post(f"/orders/{order['id']}/accept", {}, role="support").data["action"]["id"]
    deadline = time.monotonic() + 10
    while not hook.received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hook.received

    # WHEN the lock sweep gives up on it
    actions.fail_stale_action(order["id"], action_id, "lock older than 15 minutes")
    release.set()

    # THEN the action is FAILED, the order unlocked, the execution stopped, and the step that
    # was still running could not change the item any more
    action = api.get(f"/orders/{order['id']}/actions/{action_id}").data
    assert action["status"] == "FAILED" and action["error"] == "lock older than 15 minutes"
    got = order_of(api, order["id"])
    assert got["pending_action"] is None and got["status"] == "Pending"
    assert any(h["action"] == "accept failed" and h["actor"] == "cleanup" for h in got["history"])
    deadline = time.monotonic() + 10
    step = (None, None)
    while time.monotonic() < deadline:
        step = steps_of(api.get(f"/orders/{order['id']}/actions/{action_id}").data)[f"provision:{order['items'][0]['id']}"]
        if step[1] and "no longer held" in step[1]:
            break
        time.sleep(0.02)
    assert step[1] and "no longer held" in step[1], step
    assert order_of(api, order["id"])["items"][0]["status"] == "Pending"
    arn = got["history"][-1]["execution"]
    while workflows.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.02)
    # AWS aborts at once; moto lets the task in flight finish (here: LockLost, then the Catch)
    assert workflows.sfn.describe_execution(executionArn=arn)["status"] in ("ABORTED", "FAILED")
    assert api.get(f"/orders/{order['id']}/actions/{action_id}").data["error"] == "lock older than 15 minutes"


# -- set back to pending, delete, routes ------------------------------------------------------------


def test_back_to_pending_moves_order_and_items_without_a_module_command(api, workflows, remote):  # type: ignore[no-untyped-def]
    hook = remote()
    order = active_order(api, hook)
    assert run(api, order["id"], "cancel", {"refund": False})["status"] == "SUCCEEDED"
    hook.received.clear()

    r = api.post(f"/orders/{order['id']}/pending", role="support")

    assert r.status_code == 200, r.data
    assert r.data["status"] == "Pending" and {i["status"] for i in r.data["items"]} == {"Pending"}
    # the invoice is open again: paid in full before, it is Paid (balance 0) and takes payments
    assert r.data["invoice"]["status"] == "Paid"
    assert hook.received == []
    assert any(h["action"] == "set back to pending" and h["from"] == "Cancelled" for h in r.data["history"])
    again = api.post(f"/orders/{order['id']}/pending", role="support")
    assert again.status_code == 409 and again.data["error"]["code"] == "invalid_transition"


def test_delete_removes_everything_of_the_order_even_beyond_one_transaction(api, workflows, remote,  # type: ignore[no-untyped-def]
                                                                         order_stream):
    from orderdesk.adapters.store import keys
    from orderdesk.adapters.store import records as m
    from orderdesk.domain.model import HistoryEntry, Note, iso, new_id, utcnow

    # GIVEN an order set as fraud, with 60 notes on it (a note and its history entry each: with
    # its items, invoice, actions and history, more than a transaction's 100 items)
    order = active_order(api, remote())
    order_stream.settle()
    before = {x["status"]: x["count"] for x in api.get("/order-statuses").data}
    refused = api.delete(f"/orders/{order['id']}")
    assert refused.status_code == 409 and refused.data["error"]["code"] == "invalid_transition"
    assert run(api, order["id"], "fraud")["status"] == "SUCCEEDED"
    repo = stores()

    def note(n: int) -> None:
        now = iso(utcnow())
        repo.orders.add_note(order["id"], Note(id=new_id(), at=now, author="t", text=f"note {n}"),
                      HistoryEntry(at=now, actor="t", action="note added", from_=None, to=None))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(note, range(60)))
    assert len(list(m.Record.query(keys.order_pk(order['id']), consistent_read=True))) > 100

    # WHEN it is deleted (billing may not; admin may)
    assert api.delete(f"/orders/{order['id']}", role="billing").status_code == 403
    r = api.delete(f"/orders/{order['id']}")

    # THEN nothing of it is left: records, number, count
    assert r.status_code == 204, r.data
    assert api.get(f"/orders/{order['id']}").status_code == 404
    assert list(m.Record.query(keys.order_pk(order['id']), consistent_read=True)) == []
    assert api.get(f"/orders?number={order['number']}").data["orders"] == []
    order_stream.settle()
    after = {x["status"]: x["count"] for x in api.get("/order-statuses").data}
    assert after["Active"] == before["Active"] - 1 and after["Fraud"] == before["Fraud"]
    assert api.delete(f"/orders/{order['id']}").status_code == 404


def test_a_delete_that_died_half_way_holds_the_order_and_the_next_delete_resumes(api, workflows, remote,  # type: ignore[no-untyped-def]
                                                                                 monkeypatch):
    from orderdesk.adapters.store.orders import Orders
    from orderdesk.services import actions

    order = active_order(api, remote())
    assert run(api, order["id"], "cancel", {"refund": False})["status"] == "SUCCEEDED"
    real = Orders.delete_order_record
    monkeypatch.setattr(Orders, "delete_order_record", lambda self, *args: (_ for _ in ()).throw(OSError("died")))
    with pytest.raises(OSError):
        actions.delete_order(order["id"], "admin")
    monkeypatch.setattr(Orders, "delete_order_record", real)

    held = api.post(f"/orders/{order['id']}/pending", role="support")
    assert held.status_code == 409 and held.data["error"]["code"] == "action_in_progress"
    assert api.delete(f"/orders/{order['id']}").status_code == 204
    assert api.get(f"/orders/{order['id']}").status_code == 404


def test_action_routes_check_roles_input_and_transitions(api, workflows, remote):  # type: ignore[no-untyped-def]
    order = new_order(api, [{"kind": "product", "description": "Hosting", "amount": "10.00"}])
    oid = order["id"]

    assert api.post(f"/orders/{oid}/accept", {}, role="viewer").status_code == 403
    assert api.post(f"/orders/{oid}/cancel", {"refund": False}, role="support").status_code == 403
    assert api.post(f"/orders/{oid}/fraud", role="support").status_code == 403
    assert api.post(f"/orders/{oid}/pending", role="viewer").status_code == 403
    bad = api.post(f"/orders/{oid}/accept", {"items": {"nope": {"server_id": "missing"}}}, role="support")
    assert bad.status_code == 400 and "items.nope" in bad.data["error"]["fields"]
    short = api.post(f"/orders/{oid}/accept", {"items": {order["items"][0]["id"]: {"password": "short"}}},
                     role="support")
    assert short.status_code == 400
    assert api.post(f"/orders/{oid}/cancel", {"refund": "yes"}, role="billing").status_code == 400
    pending = api.post(f"/orders/{oid}/pending", role="support")
    assert pending.status_code == 409 and pending.data["error"]["code"] == "invalid_transition"
    assert api.get(f"/orders/{oid}/actions/unknown").status_code == 404
    assert api.post("/orders/unknown/accept", {}, role="support").status_code == 404

    assert run(api, oid, "accept", role="support")["status"] == "SUCCEEDED"
    again = api.post(f"/orders/{oid}/accept", {}, role="support")
    assert again.status_code == 409 and again.data["error"]["code"] == "invalid_transition"
    action = api.get(f"/orders/{oid}/actions/{order_of(api, oid)['actions'][0]['id']}", role="viewer")
    assert action.status_code == 200 and action.data["type"] == "accept" and action.data["finished_at"]


# -- cPanel ------------------------------------------------------------------------------------------------


def test_cpanel_module_creates_and_removes_accounts_through_whm(api, workflows, remote):  # type: ignore[no-untyped-def]
    # GIVEN a WHM answering API 1 calls (an account that already exists counts as created)
    def whm(r):  # type: ignore[no-untyped-def]
        ok = {"metadata": {"result": 1, "reason": "OK"}}
        if "createacct" in r.path and len([x for x in whm_calls if "createacct" in x.path]) > 1:
            return 200, {"metadata": {"result": 0, "reason": "Sorry, a user named ada already exists."}}
        return 200, ok

    hook = remote(whm, secret=None)  # WHM: a token, no signature
    whm_calls = hook.received
    r = api.post("/servers", {"name": "whm1", "module": "cpanel", "hostname": "whm1.example.net", "url": hook.url,
                              "username": "root", "credentials": "WHMTOKEN123"})
    assert r.status_code == 201, r.data
    order = new_order(api, [
        {"kind": "product", "description": "Hosting", "amount": "10.00", "server_id": r.data["id"]},
        {"kind": "domain", "description": "Domain", "amount": "12.00", "domain": "ada.example", "registrar": "none"},
    ])
    product = order["items"][0]["id"]

    # WHEN it is accepted (username and password given), then cancelled
    assert run(api, order["id"], "accept", {"items": {product: {"username": "ada", "password": "Pa55word!x"}}},
               role="support")["status"] == "SUCCEEDED"
    assert run(api, order["id"], "cancel", {"refund": False})["status"] == "SUCCEEDED"

    # THEN WHM got createacct with the account's details, then removeacct, with the API token
    from urllib.parse import parse_qs

    (create, remove) = whm_calls
    assert create.path.startswith("/json-api/createacct?api.version=1")
    assert create.headers["authorization"] == "whm root:WHMTOKEN123"
    form = {k: v[0] for k, v in parse_qs(create.body.decode()).items()}
    assert form["username"] == "ada" and form["password"] == "Pa55word!x" and form["domain"] == "ada.example"
    assert remove.path.startswith("/json-api/removeacct") and parse_qs(remove.body.decode())["user"] == ["ada"]


def test_a_payment_recorded_between_plan_and_lock_is_refunded_too(api, workflows, remote, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN an accepted order paid 5.00, and a second payment that lands after Cancel & Refund
    # read the invoice but before it took the lock
    from orderdesk.adapters.store.actions import Actions

    order = active_order(api, remote(), paid_with=None)
    pay(api, order, "5.00", "manual", "first")
    real_start = Actions.start_action
    landed: list[str] = []

    def start_after_a_payment(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not landed:
            landed.append("second")
            pay(api, order, "3.00", "manual", "second")
        return real_start(self, *args, **kwargs)

    monkeypatch.setattr(Actions, "start_action", start_after_a_payment)

    # WHEN it is cancelled with refund
    done = run(api, order["id"], "cancel", {"refund": True})

    # THEN the start re-planned on the changed invoice: both payments are refunded
    assert done["status"] == "SUCCEEDED", done
    refunds = refund_transactions(api, order["invoice_id"])
    assert sorted(t["amount"] for t in refunds) == ["3.00", "5.00"]
    assert api.get(f"/invoices/{order['invoice_id']}").data["status"] == "Refunded"
