"""The DLQ growth alarm from emulated metrics, and ``orderflow up`` from start to a clean stop."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest

from orderflow.contracts import EventEnvelope, OrderCreated
from orderflow.messaging import EventPublisher
from orderflow.platform.dlq import redrive_all
from orderflow.platform.stage import service_queues

from .conftest import (
    PAYMENT_BUG_ORDERS,
    PIPELINE,
    PIPELINE_FAULTS,
    QUIET_TIMEOUT,
    LocalRun,
    mismatches,
    start_up,
    traffic,
    wait_for,
)

pytestmark = pytest.mark.e2e


def pages(run: LocalRun) -> list[dict[str, Any]]:
    sqs = run.client("sqs")
    url = run.resources.pager_queue_url
    found = []
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found.append(json.loads(json.loads(message["Body"])["Message"]))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def with_order_ids(events: list[EventEnvelope], order_ids: Sequence[str]) -> list[EventEnvelope]:
    """``events`` with their first orders renamed to ``order_ids`` (follow-ups with them)."""
    created = [e.order_id for e in events if isinstance(e, OrderCreated)]
    renamed = dict(zip(created, order_ids, strict=False))
    return [
        e.model_copy(update={"order_id": renamed[e.order_id]}) if e.order_id in renamed else e
        for e in events
    ]


def parked_orders(run: LocalRun, service: str) -> list[str]:
    """The order of every message in ``service``'s DLQ (read without taking them)."""
    sqs = run.client("sqs")
    url = run.resources.services[service].dlq_url
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(
        json.loads(json.loads(m["Body"])["Message"])["order_id"]
        for m in messages.get("Messages", [])
    )


def alarm_state(run: LocalRun, alarm: str) -> str:
    (found,) = run.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    return str(found["StateValue"])


@pytest.mark.e2e_runtime(PIPELINE)
def test_the_dlq_growth_alarm_fires_from_emulated_metrics_and_clears_after_redrive(
    local_run: Callable[..., LocalRun],
) -> None:
    # GIVEN payment failing two orders until its fix is deployed, on a clock where a minute is
    # six seconds, and its DLQ growth alarm not in ALARM
    run = local_run(PIPELINE_FAULTS)
    events = with_order_ids(traffic(6, seed=21), PAYMENT_BUG_ORDERS)
    run.seed_for(events)
    alarm = f"orderflow-{run.resources.stage}-payment-dlq-growth"
    assert alarm_state(run, alarm) != "ALARM"
    pages(run)  # what paged before this test is not about it
    seen: list[dict[str, Any]] = []

    def paged(state: str) -> bool:
        seen.extend(pages(run))
        return any(p.get("AlarmName") == alarm and p.get("NewStateValue") == state for p in seen)

    # WHEN the orders go through: the two fail every receive and park in payment's DLQ, every
    # other order is handled
    run.publish(events)
    run.settle(timeout=QUIET_TIMEOUT + run.longest_way_to_a_dlq())
    assert parked_orders(run, "payment") == sorted(PAYMENT_BUG_ORDERS)
    # THEN the alarm goes to ALARM from the DLQ's own metrics, and pages
    wait_for(lambda: paged("ALARM"), 120, "the DLQ growth page")
    history = run.runtime.aws.inspect("alarm-history")
    assert [h["new_state"] for h in history if h["alarm_name"] == alarm][-1] == "ALARM"
    # WHEN the fix is deployed and the DLQ redriven
    run.runtime.fixes.deploy("payment")
    sqs = run.client("sqs")
    report = redrive_all(sqs, service_queues(sqs, run.resources.stage, "payment"), poll_seconds=0.5)
    # THEN exactly the two parked messages went back ...
    assert report.moved == 2
    # ... the alarm returns to OK (and says so on the paging topic), nothing is left behind
    wait_for(lambda: paged("OK"), 120, "the OK page")
    run.settle()
    result = run.reconciliation()
    assert result.ok, mismatches(result)


# --- orderflow up ---------------------------------------------------------------------------


def publish_orders(resources: dict[str, Any], count: int) -> None:
    """Publish orders to a running `orderflow up`, as another shell would."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    sns = session.client("sns", endpoint_url=resources["endpoint_url"])
    created = [e for e in traffic(count, seed=1) if isinstance(e, OrderCreated)]
    EventPublisher(resources["topic_arn"], client=sns).publish_batch(created)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
@pytest.mark.parametrize(
    "stop_signal",
    [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="Ctrl-C")],
)
def test_orderflow_up_stops_cleanly_and_leaves_no_process(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    # GIVEN `orderflow up` running
    state_dir = tmp_path / "state"
    up = start_up(state_dir)
    try:
        local = state_dir / "local.json"
        wait_for(local.is_file, 120, "local.json")
        resources = json.loads(local.read_text())
        assert resources["stage"] == "local"
        assert sorted(resources["services"]) == [
            "analytics",
            "inventory",
            "notifications",
            "payment",
        ]
        # ... with orders flowing, so every function has an environment running
        publish_orders(resources, 3)
        every_process = 1 + 4 * 3  # the embedded AWS; per function a worker, a fork server
        # and an environment
        started = wait_for(
            lambda: descendants(up.pid) if len(descendants(up.pid)) >= every_process else None,
            90,
            "every function's environment",
        )
        # WHEN it is told to stop
        up.send_signal(stop_signal)
        output, _ = up.communicate(timeout=90)
    finally:
        if up.poll() is None:
            up.kill()
    # THEN it exits cleanly, every process it started is gone, and local.json with them
    assert up.returncode == 0, output
    assert "stopped" in output
    assert [pid for pid in started if alive(pid)] == []
    assert not local.exists()
