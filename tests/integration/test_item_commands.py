"""Per-item module commands (the order details page) and the lifecycle sequences that used to leak
a live account: every account is recorded apart from its item's status, Cancel and Set as Fraud
terminate every live account whatever its item's status, Accept provisions again what a bulk
change left Cancelled, and an order that says one thing while its server says another carries
attention until it is fixed. Real workflows in moto, DynamoDB Local, a recording webhook server."""

from __future__ import annotations

from typing import Any

import pytest

from orderdesk.services import bulk
from tests.integration.test_workflows import active_order, new_order, new_server, order_of, pay, run
from tests.integration.workflow_support import wait_for_action

pytestmark = pytest.mark.timeout(120)


def command(api: Any, order_id: str, verb: str, item_ids: list[str], role: str = "billing") -> dict[str, Any]:
    r = api.post(f"/orders/{order_id}/item-commands", {"command": verb, "item_ids": item_ids}, role=role)
    assert r.status_code == 202, r.data
    return wait_for_action(api, order_id, r.data["action"]["id"])


def keys(hook: Any, item_id: str) -> list[tuple[str, str]]:
    """(command, idempotency key) of each delivery about one item."""
    return [(r.json["command"], {k.lower(): v for k, v in r.headers.items()}.get("idempotency-key"))
            for r in hook.received if r.json["account"]["item_id"] == item_id]


def bulk_to(api: Any, order_id: str, status: str) -> None:
    """A bulk status change of one order, delivered to the consumer at once (twice, as SQS may)."""
    from orderdesk.adapters import queue

    real = queue.send_messages

    def deliver(url: Any, bodies: list[dict[str, Any]]) -> None:
        for body in bodies:
            bulk.process_message(body, receive_count=1)
            bulk.process_message(body, receive_count=2)

    queue.send_messages = deliver  # type: ignore[assignment]
    try:
        r = api.post("/orders/bulk", {"order_ids": [order_id], "status": status})
        assert r.status_code == 202, r.data
        assert api.get(f"/bulk-jobs/{r.data['job']['id']}").data["succeeded"] == 1
    finally:
        queue.send_messages = real  # type: ignore[assignment]


def codes(order: dict[str, Any]) -> set[str]:
    return {a["code"] for a in order["attention"]}


# -- the sequences that leaked -------------------------------------------------------------------


def test_accept_back_to_pending_then_cancel_terminates_the_live_account(api, workflows, remote):
    # GIVEN an accepted order whose product's account was created on a webhook server
    hook = remote()
    order = new_order(api, [{"kind": "product", "description": "VPS", "amount": "10.00",
                             "server_id": new_server(api, hook.url), "username": "ada"}])
    assert run(api, order["id"], "accept", {}, role="support")["status"] == "SUCCEEDED"
    product = order["items"][0]["id"]
    assert order_of(api, order["id"])["items"][0]["account"]["exists"] is True
    # WHEN it is set back to pending (no module command), then cancelled
    r = api.post(f"/orders/{order['id']}/pending", role="support")
    assert r.status_code == 200, r.data
    # (meanwhile the order says Pending while the account is live: it needs attention)
    assert codes(r.data) == {"live_service"}
    done = run(api, order["id"], "cancel", {"refund": False})
    # THEN the account was terminated though the item was Pending, and nothing needs attention
    assert done["status"] == "SUCCEEDED", done
    assert [c for c, _ in keys(hook, product)] == ["create", "terminate"]
    got = order_of(api, order["id"])
    assert got["items"][0]["account"]["exists"] is False and got["attention"] == []


def test_a_bulk_cancel_leaves_the_account_visible_and_an_item_command_terminates_it(api, workflows, remote):
    # GIVEN an accepted order, then moved to Cancelled by a bulk change (status only, no module command)
    hook = remote()
    order = active_order(api, hook)
    product = order["items"][0]["id"]
    bulk_to(api, order["id"], "Cancelled")
    # THEN the live account on a Cancelled order is flagged, and listed by the attention filter
    got = order_of(api, order["id"])
    assert got["status"] == "Cancelled" and codes(got) == {"live_service"}
    assert [o["id"] for o in api.get("/orders?attention=true").data["orders"]] == [order["id"]]
    assert api.post(f"/orders/{order['id']}/cancel", {"refund": False}, role="billing").status_code == 409
    # WHEN billing terminates it from the order details page
    done = command(api, order["id"], "terminate", [product])
    # THEN the server removed the account, the item is Terminated, nothing needs attention
    assert done["status"] == "SUCCEEDED", done
    assert [c for c, _ in keys(hook, product)] == ["terminate"]
    got = order_of(api, order["id"])
    item = next(i for i in got["items"] if i["id"] == product)
    assert item["status"] == "Terminated" and item["account"]["exists"] is False
    assert got["attention"] == [] and api.get("/orders?attention=true").data["orders"] == []


def test_cancel_bulk_back_to_pending_then_accept_provisions_again_and_emails_those_items(api, workflows, remote):
    # GIVEN an order accepted, cancelled (its account terminated), then set Pending by a bulk change
    hook = remote()
    order = new_order(api, [{"kind": "product", "description": "VPS", "amount": "10.00",
                             "server_id": new_server(api, hook.url), "username": "ada"}])
    product = order["items"][0]["id"]
    assert run(api, order["id"], "accept", {}, role="support")["status"] == "SUCCEEDED"
    assert run(api, order["id"], "cancel", {"refund": False})["status"] == "SUCCEEDED"
    bulk_to(api, order["id"], "Pending")
    assert order_of(api, order["id"])["items"][0]["status"] == "Cancelled"  # bulk moves the order only
    # WHEN it is accepted again
    done = run(api, order["id"], "accept", {}, role="support")
    # THEN the Cancelled item is provisioned again, as a new create (its own idempotency key)
    assert done["status"] == "SUCCEEDED", done
    sent = keys(hook, product)
    assert [c for c, _ in sent] == ["create", "terminate", "create"]
    assert sent[0][1] != sent[2][1]
    got = order_of(api, order["id"])
    assert got["status"] == "Active" and got["items"][0]["status"] == "Active"
    assert got["items"][0]["account"]["exists"] is True and got["attention"] == []
    # AND its welcome email lists exactly that item
    mails = sorted(workflows.outbox.glob(f"welcome-{order['id']}-*.eml"))
    assert len(mails) == 2 and "VPS" in mails[-1].read_text()


def test_an_accept_that_provisions_nothing_sends_no_welcome_email(api, workflows, remote):
    # GIVEN an accepted order set back to pending: its account is still live
    hook = remote()
    order = new_order(api, [{"kind": "product", "description": "VPS", "amount": "10.00",
                             "server_id": new_server(api, hook.url), "username": "ada"}])
    assert run(api, order["id"], "accept", {}, role="support")["status"] == "SUCCEEDED"
    assert api.post(f"/orders/{order['id']}/pending", role="support").status_code == 200
    # WHEN it is accepted again
    done = run(api, order["id"], "accept", {"send_welcome_email": True}, role="support")
    # THEN nothing is created a second time, the item is Active, and no second email is sent
    assert done["status"] == "SUCCEEDED", done
    assert [c for c, _ in keys(hook, order["items"][0]["id"])] == ["create"]
    assert order_of(api, order["id"])["items"][0]["status"] == "Active"
    assert len(list(workflows.outbox.glob(f"welcome-{order['id']}-*.eml"))) == 1


def test_back_to_pending_reopens_a_part_paid_cancelled_invoice_which_takes_payments_again(api, workflows, remote):
    # GIVEN an order of 10.00 paid 4.00, then cancelled (the invoice Cancelled)
    order = new_order(api, [{"kind": "product", "description": "VPS", "amount": "10.00"}])
    pay(api, order, "4.00", "manual", "P-1")
    assert run(api, order["id"], "cancel", {"refund": False})["status"] == "SUCCEEDED"
    assert order_of(api, order["id"])["invoice"]["status"] == "Cancelled"
    # WHEN it is set back to pending
    got = api.post(f"/orders/{order['id']}/pending", role="support").data
    # THEN the invoice is open again with what is still due, and takes the rest
    invoice = api.get(f"/invoices/{order['invoice_id']}").data
    assert (invoice["status"], invoice["balance"]) == ("Unpaid", "6.00") and got["payment_status"] == "Unpaid"
    pay(api, order, "6.00", "manual", "P-2")
    assert api.get(f"/invoices/{order['invoice_id']}").data["status"] == "Paid"


# -- the commands ----------------------------------------------------------------------------------


def test_suspend_unsuspend_terminate_and_create_again_each_a_new_command(api, workflows, remote):
    # GIVEN an accepted order with a live account
    hook = remote()
    order = active_order(api, hook)
    product = order["items"][0]["id"]
    # WHEN billing suspends, unsuspends and terminates it, and support creates it again
    assert command(api, order["id"], "suspend", [product])["status"] == "SUCCEEDED"
    assert order_of(api, order["id"])["items"][0]["status"] == "Suspended"
    assert command(api, order["id"], "unsuspend", [product])["status"] == "SUCCEEDED"
    assert command(api, order["id"], "terminate", [product])["status"] == "SUCCEEDED"
    assert command(api, order["id"], "create", [product], role="support")["status"] == "SUCCEEDED"
    # THEN the server got each command once, the re-create under a key of its own
    sent = keys(hook, product)
    assert [c for c, _ in sent] == ["suspend", "unsuspend", "terminate", "create"]
    assert len({k for _, k in sent}) == 4 and sent[-1][1].endswith(":create:2")  # the accept's was :create:1
    got = order_of(api, order["id"])
    assert got["items"][0]["status"] == "Active" and got["items"][0]["account"]["exists"] is True
    assert got["pending_action"] is None and got["status"] == "Active"


def test_a_rerun_of_item_commands_does_only_what_is_left(api, workflows, remote):
    # GIVEN an accepted order of two products whose server refuses to suspend the second
    refused: set[str] = set()
    hook = remote(lambda r: (400, {"error": "locked"}) if r.json["account"]["item_id"] in refused else (200, {}))
    order = active_order(api, hook, products=2)
    a, b = order["items"][0]["id"], order["items"][1]["id"]
    refused.add(b)
    # WHEN both are suspended
    failed = command(api, order["id"], "suspend", [a, b])
    # THEN the action failed naming B's error; A is Suspended; the order is free again
    assert failed["status"] == "FAILED" and "400" in failed["error"], failed
    got = order_of(api, order["id"])
    items = {i["id"]: i for i in got["items"]}
    assert items[a]["status"] == "Suspended" and items[b]["status"] == "Active" and items[b]["last_error"]
    assert codes(got) == {"failed_item"} and got["pending_action"] is None
    # WHEN the server lets go and the same command is run again
    refused.clear()
    done = command(api, order["id"], "suspend", [a, b])
    # THEN only B was suspended this time, and its error is gone
    assert done["status"] == "SUCCEEDED", done
    assert [c for c, _ in keys(hook, a)] == ["suspend"]
    assert [c for c, _ in keys(hook, b)] == ["suspend", "suspend"]
    got = order_of(api, order["id"])
    assert {i["status"] for i in got["items"] if i["kind"] == "product"} == {"Suspended"} and got["attention"] == []


def test_item_commands_check_roles(api, workflows, remote):
    order = active_order(api, remote())
    product = order["items"][0]["id"]
    body = {"command": "suspend", "item_ids": [product]}
    # THEN support may not suspend, viewers may not command at all; nothing started
    assert api.post(f"/orders/{order['id']}/item-commands", body, role="support").status_code == 403
    assert api.post(f"/orders/{order['id']}/item-commands", {**body, "command": "create"},
                    role="viewer").status_code == 403
    assert order_of(api, order["id"])["actions"] == []


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"command": "reboot", "item_ids": ["x"]}, 400, "command"),
    ({"command": "suspend", "item_ids": []}, 400, "item_ids"),
    ({"command": "suspend"}, 400, "item_ids"),
    ({"command": "suspend", "item_ids": ["not-an-item-of-it"]}, 400, "item_ids"),
])
def test_bad_item_commands_are_400_naming_the_field(api, workflows, remote, body, status, field):
    order = active_order(api, remote())
    r = api.post(f"/orders/{order['id']}/item-commands", body, role="billing")
    assert r.status_code == status and field in r.data["error"]["fields"], r.data
    assert order_of(api, order["id"])["actions"] == []


def test_a_command_the_items_state_does_not_allow_is_409_with_the_reason(api, workflows, remote):
    # GIVEN an accepted order: its product Active with a live account, its domain Active
    order = active_order(api, remote())
    product, domain = order["items"][0]["id"], order["items"][1]["id"]
    cases = [("unsuspend", product, "only a Suspended item"), ("create", product, "exists already"),
             ("register", domain, "Active already"), ("suspend", domain, "a domain has none")]
    for verb, item_id, why in cases:
        r = api.post(f"/orders/{order['id']}/item-commands", {"command": verb, "item_ids": [item_id]}, role="admin")
        # THEN each is refused with why, and nothing started
        assert r.status_code == 409 and r.data["error"]["code"] == "invalid_transition", (verb, r.data)
        assert why in r.data["error"]["message"], (verb, r.data)
    assert order_of(api, order["id"])["actions"] == []
