"""POST /orders/{order_id}/welcome-email: the welcome email Accept sends, again, listing the
order's Active items, to the client's current address, written to the local outbox (as SES
would send it), and recorded in the order's history."""

from __future__ import annotations

import email
from pathlib import Path
from typing import Any

import pytest

from orderdesk.config import reset_settings
from orderdesk.domain.statuses import OrderStatus
from tests.integration.events_support import place


@pytest.fixture()
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMAIL_OUTBOX_DIR", str(tmp_path))
    reset_settings()
    return tmp_path


def sent(outbox: Path) -> list[Any]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))]


def test_the_welcome_email_goes_again_to_the_clients_current_address_listing_the_active_items(api, table, outbox):
    # GIVEN an accepted order, whose client has since corrected her address
    order = place(OrderStatus.ACTIVE, days_ago=1)
    assert api.put(f"/clients/{order.client.id}", {"email": "ada@new.example"}, role="support").status_code == 200
    # WHEN support sends its welcome email again, twice (two clicks, no Idempotency-Key)
    first = api.post(f"/orders/{order.id}/welcome-email", role="support")
    second = api.post(f"/orders/{order.id}/welcome-email", role="support")
    # THEN two emails went to the new address, each listing exactly the order's Active items
    assert first.status_code == 200 and second.status_code == 200, first.data
    assert first.data["sent_to"] == "ada@new.example"
    assert {i["id"] for i in first.data["items"]} == {i.id for i in order.items}
    messages = sent(outbox)
    assert len(messages) == 2 and {m["To"] for m in messages} == {"ada@new.example"}
    body = messages[0].get_payload()
    assert f"#{order.number}" in messages[0]["Subject"]
    assert all((i.domain or i.description) in body for i in order.items)
    # AND the order's history records each sending
    history = api.get(f"/orders/{order.id}").data["history"]
    again = [h for h in history if h["action"] == "welcome email sent again"]
    assert len(again) == 2 and all("ada@new.example" in h["detail"] for h in again)


def test_a_repeated_request_with_its_idempotency_key_sends_once(api, table, outbox):
    order = place(OrderStatus.ACTIVE, days_ago=1)
    for _ in range(2):
        r = api.post(f"/orders/{order.id}/welcome-email", role="support", headers={"Idempotency-Key": "resend-1"})
        assert r.status_code == 200
    assert len(sent(outbox)) == 1


def test_an_order_with_nothing_active_gets_no_welcome_email(api, table, outbox):
    # GIVEN a Pending order (nothing provisioned yet)
    order = place(OrderStatus.PENDING, days_ago=0)
    # WHEN support asks to send its welcome email THEN 409, nothing sent, nothing recorded
    r = api.post(f"/orders/{order.id}/welcome-email", role="support")
    assert r.status_code == 409 and r.data["error"]["code"] == "invalid_transition", r.data
    assert sent(outbox) == []
    assert api.post("/orders/nosuch/welcome-email", role="support").status_code == 404
    assert api.post(f"/orders/{order.id}/welcome-email", role="viewer").status_code == 403
