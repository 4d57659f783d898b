"""Rebuild: the projections recomputed from the event store alone, compared with the live ones."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from orderflow.analytics.domain import OrderStatus
from orderflow.analytics.rebuild import rebuild


def recorded(events, recorder):
    for event in events:
        recorder.handle(event)
    return recorder.store


def test_rebuild_equals_live_after_out_of_order_duplicated_traffic(
    order_stream, memory_store, recorder
):
    # GIVEN live projections built from a shuffled stream with duplicates
    stream = order_stream(250)
    recorded(stream.deliveries(duplicates=50), recorder)

    # WHEN rebuilt from the event store alone
    report = rebuild(memory_store)

    # THEN they are equal, and the report says how much was replayed
    assert report.equal
    assert (report.events, report.orders) == (250, len(stream.final_status))
    assert report.hours == len(memory_store.hourly)


def test_rebuild_names_every_field_a_live_projection_got_wrong(story_of, memory_store, recorder):
    # GIVEN live projections that drifted from the events: a status and a revenue changed by
    # hand, and an hour row with no events behind it
    recorded(story_of("shipped", order_id="ord-1"), recorder)
    view = memory_store.views["ord-1"]
    memory_store.views["ord-1"] = replace(view, status=OrderStatus.CANCELLED)
    (hour,) = memory_store.hourly
    memory_store.hourly[hour] = replace(memory_store.hourly[hour], revenue={"EUR": Decimal(1)})
    stray = "2020-01-01T00:00Z"
    memory_store.hourly[stray] = replace(memory_store.hourly[hour], hour=stray)

    # WHEN rebuilt
    report = rebuild(memory_store)

    # THEN each difference is one line naming the item, the field, and both values
    assert not report.equal
    assert report.differences == (
        "order ord-1: status is cancelled live, shipped rebuilt",
        "hour 2020-01-01T00:00Z: in the live projection but no event in the store",
        f"hour {hour}: revenue is EUR 1.00 live, EUR 30.00 rebuilt",
    )


def test_rebuild_reports_an_order_missing_from_the_live_projection(
    story_of, memory_store, recorder
):
    # GIVEN an order whose live projection was lost
    recorded(story_of("declined", order_id="ord-lost"), recorder)
    del memory_store.views["ord-lost"]

    # WHEN rebuilt THEN the rebuild says so
    assert rebuild(memory_store).differences == (
        "order ord-lost: in the event store but missing from the live projection",
    )
