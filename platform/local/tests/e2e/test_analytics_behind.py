"""Analytics held back: its queue ages, its queue-age alarm pages, it catches up exactly.

The event source mapping is disabled the way an operator disables one (``Enabled: false``:
Lambda stops polling and the queue keeps every message,
https://docs.aws.amazon.com/lambda/latest/dg/API_UpdateEventSourceMapping.html). The alarm is
the one ``alarms sync`` makes from the queue's ``orderflow:max-age-seconds`` tag, on SQS's
ApproximateAgeOfOldestMessage ("Available CloudWatch metrics for Amazon SQS",
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html),
evaluated on the emulator clock. This stage sets analytics' limit to two minutes (the template's
``MaxAgeSeconds``; four hours by default), so the page comes within the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orderflow import naming
from orderflow.contracts import OrderCreated
from orderflow.local.demo import PagerInbox, initial_stock
from orderflow.local.reconciliation import Published, reconcile_run
from orderflow.local.runtime import LocalRuntime, RuntimeOptions
from orderflow.messaging import EventPublisher
from orderflow.platform.orders import order_traffic

from .conftest import mismatches, wait_for

pytestmark = pytest.mark.e2e
LIMIT_SECONDS = 120


def test_analytics_held_back_pages_on_its_queue_age_then_catches_up_exactly(
    tmp_path: Path,
) -> None:
    # GIVEN the pipeline, analytics' queue-age limit at two minutes for this stage
    runtime = LocalRuntime(
        RuntimeOptions(
            clock_factor=12.0,
            state_dir=tmp_path / "state",
            stack_overrides={"analytics": {"MaxAgeSeconds": str(LIMIT_SECONDS)}},
        )
    )
    with runtime:
        resources = runtime.resources
        assert resources is not None
        events = list(order_traffic(8, seed=41))
        stock = initial_stock([e for e in events if isinstance(e, OrderCreated)])
        runtime.seed_stock(stock)
        analytics = runtime.workers["analytics"]
        inbox = PagerInbox(runtime.client("sqs"), resources.pager_queue_url)
        alarm = naming.alarm(resources.stage, "analytics", "queue-age")
        # WHEN analytics' event source mapping is disabled, and orders go in
        runtime.set_event_source("analytics", enabled=False)
        wait_for(lambda: analytics.mapping_state == "Disabled", 60, "the mapping disabled")
        EventPublisher(resources.topic_arn, client=runtime.client("sns")).publish_batch(events)
        # THEN its queue keeps every event, until its queue-age alarm pages
        page = wait_for(lambda: inbox.find(alarm, "ALARM"), 180, "the queue-age page")
        assert f"were GreaterThanThreshold the threshold ({LIMIT_SECONDS})" in page["reason"]
        assert analytics.snapshot().records_succeeded == 0
        assert runtime.backlog()["analytics"] >= len(events)
        # WHEN it is enabled again
        runtime.set_event_source("analytics", enabled=True)
        # THEN it catches up, the alarm is OK again, and every total reconciles exactly
        wait_for(lambda: inbox.recovered(alarm), 180, "the queue-age OK page")
        assert runtime.wait_until_quiet(150), f"still busy: {runtime.backlog()}"
        published = Published(events, {sku: n for sku, (n, _) in stock.items()})
        result = reconcile_run(runtime, published)
        assert result.ok, mismatches(result)
