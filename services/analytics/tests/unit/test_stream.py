"""Done when: a shuffled stream with duplicates yields the same projections as the clean one."""

from __future__ import annotations

from orderflow.analytics import report
from orderflow.analytics.rebuild import rebuild


def test_shuffled_stream_with_duplicates_yields_the_clean_streams_projections(
    order_stream, new_memory_store, serve_from, deliver
):
    # GIVEN 800 distinct events of a few hundred realistic orders, and a stream of 1,000
    # deliveries of them: shuffled, 200 of them (20%) duplicates
    stream = order_stream(800)
    shuffled = stream.deliveries(duplicates=200)
    assert len(shuffled) == 1000
    assert len({e.event_id for e in shuffled}) == 800

    # WHEN the clean stream, in the order things happened, goes through the handler into one
    # store, and the shuffled stream into another
    clean, messy = new_memory_store(), new_memory_store()
    serve_from(clean)
    assert deliver(stream.events) == []
    serve_from(messy)
    assert deliver(shuffled) == []

    # THEN both hold the same 800 events and exactly the same projections
    assert messy.stored == clean.stored
    assert len(messy.stored) == 800
    assert messy.views == clean.views
    assert messy.hourly == clean.hourly

    # AND those projections are the business truth, not merely equal to each other
    assert {o: v.status.value for o, v in messy.views.items()} == stream.final_status
    totals = report.totals(messy)
    assert totals["orders"] == stream.count("order.created")
    assert totals["payment_failures"] == stream.count("payment.failed")
    assert totals["cancellations"] == stream.count("order.cancelled")
    assert totals["refunds"] == stream.count("order.refunded")
    assert totals["revenue"] == {
        c: f"{a:.2f}" for c, a in stream.amounts("payment.completed").items()
    }
    assert totals["refunded"] == {
        c: f"{a:.2f}" for c, a in stream.amounts("order.refunded").items()
    }
    assert totals["hours"] > 1

    # AND replaying the event store alone rebuilds them
    assert rebuild(messy).differences == ()
