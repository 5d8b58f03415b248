"""The order details page keeps what is real in view: each item's account on its server, the
order's attention list with the fix for each entry, and the item commands by role — in a real
browser against the running stack, with a loopback webhook recording every module command."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.integration.workflow_support import WEBHOOK_SECRET, RemoteStub

from .conftest import HttpApi, PortalStack, sign_in
from .test_portal import WORKFLOW_TIMEOUT, axe_violations

pytestmark = pytest.mark.browser


def wait_ended(http: HttpApi, order_id: str, action_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        action = http.get(f"/orders/{order_id}/actions/{action_id}")
        if action["status"] != "RUNNING":
            return action  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"action {action_id} still running")


def test_a_live_account_on_a_pending_order_is_flagged_and_terminated_from_the_page(page, stack: PortalStack,
                                                                                  http: HttpApi):
    # GIVEN an order accepted on a webhook server (the account created there), then set back to pending
    hook = RemoteStub().start()
    try:
        server = http.post("/servers", {"name": f"Hook {uuid.uuid4().hex[:6]}", "module": "webhook", "url": hook.url,
                                        "credentials": WEBHOOK_SECRET})
        order = http.order(http.client()["id"], items=[{"kind": "product", "description": "VPS 4GB", "amount": "20.00",
                                                        "server_id": server["id"], "username": "vps4"}])
        product = order["items"][0]["id"]
        started = http.post(f"/orders/{order['id']}/accept", {}, expect=202)
        assert wait_ended(http, order["id"], started["action"]["id"])["status"] == "SUCCEEDED"
        http.post(f"/orders/{order['id']}/pending", {}, expect=200)
        # WHEN support opens it
        sign_in(page, stack, "support")
        page.goto(f"/#/orders/{order['id']}")
        # THEN the live account is shown on the item and the order needs attention, which only billing can fix
        attention = page.locator("#attention")
        expect(attention).to_contain_text("Account still live: VPS 4GB")
        expect(attention).to_contain_text("Needs the billing role")
        expect(page.locator(f'#items-table tr[data-item-id="{product}"]')).to_contain_text("Live on server")
        assert not axe_violations(page)
        # WHEN billing opens it and terminates the account from the attention list
        page.context.clear_cookies()
        billing = page.context.new_page()
        sign_in(billing, stack, "billing")
        billing.goto(f"/#/orders/{order['id']}")
        billing.locator("#attention").get_by_role("button", name="Terminate VPS 4GB").click()
        billing.get_by_role("dialog").get_by_role("button", name="Terminate").click()
        # THEN the command runs, the item is Terminated with no account, nothing needs attention
        expect(billing.locator("#progress-summary")).to_contain_text("Succeeded", timeout=WORKFLOW_TIMEOUT)
        expect(billing.locator("#attention")).to_have_count(0, timeout=WORKFLOW_TIMEOUT)
        row = billing.locator(f'#items-table tr[data-item-id="{product}"]')
        expect(row.locator(".badge").first).to_have_text("Terminated")
        expect(row).to_contain_text("No account")
        assert [c for c in hook.commands() if c[1] == product] == [("create", product), ("terminate", product)]
        # AND the orders list's "Needs attention" choice no longer lists it
        assert order["id"] not in {o["id"] for o in http.get("/orders?attention=true")["orders"]}
        # AND support may create the account again from the item's row
        page.reload()
        create = page.locator(f'#items-table tr[data-item-id="{product}"]').get_by_role(
            "button", name="Create account VPS 4GB")
        expect(create).to_be_visible()
        create.click()
        expect(page.locator("#progress-summary")).to_contain_text("Succeeded", timeout=WORKFLOW_TIMEOUT)
        expect(page.locator(f'#items-table tr[data-item-id="{product}"]')).to_contain_text("Live on server")
        assert [c for c in hook.commands() if c[1] == product][-1] == ("create", product)
        assert page.locator("#attention").count() == 1  # a live account on a Pending order again
    finally:
        hook.stop()
