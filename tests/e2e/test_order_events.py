"""Order events in the running local stack (`make run`): the stream's handler puts them on moto's
EventBridge and the stack appends each to `.local/events.jsonl`, where `tail -f` shows them."""

from __future__ import annotations

import json
from typing import Any

import requests

from infra.local import machine_clients
from infra.local.event_bus import EVENTS_FILE
from infra.local.stack import AUTH_ISSUER
from tests.e2e.stack_fixture import RunningStack, wait_for
from tests.integration.bus_support import validate_detail


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events_of(stack: RunningStack, order_id: str) -> list[dict[str, Any]]:
    """The lines of .local/events.jsonl about one order, in the file's order."""
    lines = (stack.data_dir / EVENTS_FILE).read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["detail"].get("order_id") == order_id]


def test_an_order_placed_by_a_machine_client_and_accepted_shows_both_events_in_the_events_file(
        local_stack: RunningStack) -> None:
    # GIVEN the storefront's machine token (what `make token CLIENT=storefront SCOPE=orderdesk/support` prints)
    from orderdesk.api.auth import issue_access_token

    storefront = issue_access_token(local_stack.private_key, machine_clients.client_id("storefront"),
                                    ["orderdesk/support"], issuer=AUTH_ISSUER)
    client = requests.post(f"{local_stack.url}/clients", headers=bearer(storefront), timeout=10, json={
        "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "country": "US"})
    assert client.status_code == 201, client.text

    # WHEN it places an order
    order = requests.post(f"{local_stack.url}/orders", headers=bearer(storefront), timeout=10, json={
        "client_id": client.json()["id"], "payment_method": "banktransfer", "skip_fraud_check": True,
        "items": [{"kind": "product", "description": "VPS 2GB", "amount": "15.00"}]}).json()

    # THEN its Order Placed is in the file within seconds
    wait_for(lambda: events_of(local_stack, order["id"]), timeout=10, what="Order Placed in events.jsonl")

    # WHEN an operator accepts it (as the portal does)
    accept = requests.post(f"{local_stack.url}/orders/{order['id']}/accept", headers=bearer(local_stack.admin_token),
                           json={"send_welcome_email": False}, timeout=10)
    assert accept.status_code == 202, accept.text
    action = accept.json()["action"]

    def finished() -> bool:
        got = requests.get(f"{local_stack.url}/orders/{order['id']}/actions/{action['id']}",
                           headers=bearer(local_stack.admin_token), timeout=10).json()
        return bool(got["status"] != "RUNNING")

    wait_for(finished, timeout=30, what="accept workflow finished")

    # THEN the file has, for this order, exactly: placed, the item provisioned, accepted, each once
    # and valid against its schema, the accept within seconds of the workflow's end
    def accepted() -> list[dict[str, Any]]:
        found = events_of(local_stack, order["id"])
        return found if any(e["detail-type"] == "Order Accepted" for e in found) else []

    found = wait_for(accepted, timeout=10, what="Order Accepted in events.jsonl")
    assert [e["detail-type"] for e in found] == ["Order Placed", "Order Item Provisioned", "Order Accepted"]
    assert {e["source"] for e in found} == {"orderdesk"}
    for event in found:
        validate_detail(event)
    assert found[-1]["detail"]["action"] == {"id": action["id"], "type": "accept"}
