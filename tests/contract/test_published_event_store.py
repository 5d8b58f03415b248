"""PublishedEventStore: which order events the bus took, so a stream record delivered again puts
none of its events twice."""

from __future__ import annotations

from orderdesk.services.ports import Stores


def test_marked_events_are_published_and_others_are_not(stores_impl: Stores) -> None:
    # GIVEN two events the bus took
    assert stores_impl.published_events.mark_published([("o1:placed", "OrderPlaced"), ("o1:accepted", "OrderAccepted")]) == []
    # WHEN those, a third and a repeat are asked about
    found = stores_impl.published_events.published(["o1:placed", "o2:placed", "o1:accepted", "o1:placed"])
    # THEN the two taken
    assert found == {"o1:placed", "o1:accepted"}
    assert stores_impl.published_events.published([]) == set()


def test_an_event_marked_again_is_reported_and_kept_once(stores_impl: Stores) -> None:
    # GIVEN an event the bus took
    stores_impl.published_events.mark_published([("o1:placed", "OrderPlaced")])
    # WHEN it is marked again with a new one, and the new one twice in one call
    twice = stores_impl.published_events.mark_published([("o1:placed", "OrderPlaced"), ("o2:placed", "OrderPlaced"),
                                                          ("o2:placed", "OrderPlaced")])
    # THEN the repeats are reported (a delivery ran twice at once), both are published
    assert twice == ["o1:placed", "o2:placed"]
    assert stores_impl.published_events.published(["o1:placed", "o2:placed"]) == {"o1:placed", "o2:placed"}


def test_more_ids_than_one_batch_read_are_answered(stores_impl: Stores) -> None:
    # GIVEN 101 events taken (one more than a batch read takes)
    ids = [f"o{n}:placed" for n in range(101)]
    stores_impl.published_events.mark_published([(i, "OrderPlaced") for i in ids])
    # WHEN all of them and one more are asked about
    # THEN all 101 are published
    assert stores_impl.published_events.published([*ids, "o-new:placed"]) == set(ids)
