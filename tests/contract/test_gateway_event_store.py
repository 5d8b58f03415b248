"""GatewayEventStore: the events payment gateways sent, kept once per gateway and event id (what
makes a redelivered Stripe event change nothing), the unmatched ones listed for billing, and
where a gateway's payment was recorded (for its later refund events)."""

from __future__ import annotations

from dataclasses import replace

from orderdesk.domain.gateway_events import ALREADY_RECORDED, RECORDED, UNMATCHED, GatewayEvent
from orderdesk.services.ports import Stores


def event(event_id: str, outcome: str = UNMATCHED, gateway: str = "stripe", at: str = "2026-03-02T10:00:00Z",
          **fields: str) -> GatewayEvent:
    return GatewayEvent(gateway=gateway, id=event_id, type="payment_intent.succeeded", received_at=at,
                        outcome=outcome, reason="no invoice inv-x" if outcome == UNMATCHED else None,
                        invoice_id="inv-x", object_id=f"pi_{event_id}", amount="12.345", currency="KWD", **fields)


def test_an_event_is_kept_once_and_the_first_one_stands(stores_impl: Stores) -> None:
    # GIVEN an event kept
    kept = stores_impl.gateway_events
    assert kept.put_event(event("evt_1", RECORDED)) is True
    # WHEN the same id is put again, with another outcome
    again = kept.put_event(replace(event("evt_1", UNMATCHED), reason="later"))
    # THEN it is refused and the first one is what is read, exactly (the amount's three places too)
    assert again is False
    assert kept.get_event("stripe", "evt_1") == event("evt_1", RECORDED)
    assert kept.get_event("stripe", "evt_2") is None
    assert kept.get_event("other", "evt_1") is None


def test_unmatched_events_are_listed_newest_first_a_page_at_a_time(stores_impl: Stores) -> None:
    # GIVEN three unmatched events of one second, one matched, and one of another gateway
    kept = stores_impl.gateway_events
    for event_id in ("evt_a", "evt_b", "evt_c"):
        kept.put_event(event(event_id))
    kept.put_event(event("evt_ok", ALREADY_RECORDED))
    kept.put_event(event("evt_elsewhere", gateway="paypal"))
    # WHEN they are listed two at a time
    first = kept.list_unmatched("stripe", 2, None)
    second = kept.list_unmatched("stripe", 2, first.last_key)
    # THEN newest first, in the order they were kept, only Stripe's unmatched ones, then no more
    assert [e.id for e in first.events] == ["evt_c", "evt_b"] and first.last_key is not None
    assert [e.id for e in second.events] == ["evt_a"] and second.last_key is None
    assert kept.list_unmatched("stripe", 3, None).last_key is None


def test_a_noted_payment_names_its_invoice_by_any_of_its_ids(stores_impl: Stores) -> None:
    # GIVEN a payment noted by its payment intent and by its charge
    kept = stores_impl.gateway_events
    kept.note_payment("stripe", "pi_1", "inv-o1")
    kept.note_payment("stripe", "ch_1", "inv-o1")
    # THEN either id finds the invoice, the first known of several wins, and others find nothing
    assert kept.invoice_of_payment("stripe", ["", "ch_1"]) == "inv-o1"
    assert kept.invoice_of_payment("stripe", ["pi_unknown", "pi_1"]) == "inv-o1"
    assert kept.invoice_of_payment("stripe", ["pi_unknown", ""]) is None
    assert kept.invoice_of_payment("paypal", ["pi_1"]) is None
