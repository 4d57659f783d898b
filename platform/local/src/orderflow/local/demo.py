"""``orderflow demo``: Black Friday on the local runtime, from burst to reconciliation.

The story, each step shown on a timeline as it happens:

1. the pipeline starts (``orderflow up``) and stock is seeded;
2. analytics is held back for the peak: its event source mapping is disabled, so Lambda stops
   polling its queue, which keeps every event;
3. a burst of orders (1,000 by default), with cancellations, shipments and refunds, is
   published by a few publishers at once, each event starting its order's X-Ray trace;
4. the email provider is slow (SES latency): notifications drains late, payments do not wait
   for it (each service's completion time is shown); analytics' backlog grows;
5. a dozen orders hit a bug in one consumer: they fail every retry and park in its DLQ;
6. the DLQ growth alarm goes to ALARM and the page arrives on the paging topic; the alarm
   starts the monitoring workflow, which triages the DLQ and pages the failure groups;
7. the DLQ is inspected (one failure group), the fix is deployed, the redrive is approved
   (``orderflow incident approve``); the workflow moves the DLQ back;
8. once the redriven records are processed, analytics is let go (its mapping enabled again)
   and catches up while the workflow verifies the drain and publishes the resolution, and the
   alarm returns to OK (with ``lag_alarm``, analytics is held until its queue-age alarm, whose
   limit is hours, goes to ALARM on the emulator clock and pages, then until it is OK again);
9. the incident's timeline and one order's trace across the four services are shown;
10. a reconciliation from the services' own records decides the exit code.

Every wait is on state: a step fails only when nothing it waits for moved for longer than the
queues' own retry timing allows (``StallWatch``), so a burst ten or twenty times larger takes
longer but never times out for being large.
"""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orderflow import naming
from orderflow.contracts import EventEnvelope, OrderCreated
from orderflow.local.faults import ConsumerBug, DependencyFault, FaultPlan
from orderflow.local.reconciliation import Published, Reconciliation, reconcile_run
from orderflow.local.runtime import (
    DEFAULT_STATE_DIR,
    LocalResources,
    LocalRuntime,
    RuntimeOptions,
)
from orderflow.local.status import ServiceStatus, service_statuses, status_table
from orderflow.observability.tracing import DAEMON_ADDRESS_ENV, traced_work
from orderflow.platform.errors import PlatformError

STOCK_HEADROOM = 20
LOW_STOCK_SKU_THRESHOLD = 25
"""One sku gets a reorder threshold the burst crosses, so a low-stock alert shows up."""
HELD_SERVICE = "analytics"
"""The consumer that is held back during the burst (its design lets it lag hours)."""
REFRESH_SECONDS = 2.0
"""How often a wait reads the status (each read is about a dozen requests to the embedded AWS)."""
PROGRESS_SECONDS = 10.0
"""How often a run without a terminal prints its progress line."""
STALL_SLACK_SECONDS = 90.0
"""Real seconds beyond the queues' own timing that a busy machine may take to move anything."""
ALARM_SLACK_SECONDS = 60.0
"""Real seconds beyond the emulated periods an alarm, a page or a workflow step may take."""


class DemoStoryError(PlatformError):
    """A step of the story did not happen (the message says which, and what it waited for)."""


@dataclass(frozen=True)
class DemoOptions:
    """The Black Friday run."""

    orders: int = 1000
    stage: str = "local"
    clock_factor: float = 12.0
    bug_service: str = "inventory"
    bug_orders: int = 12
    ses_latency_ms: int = 100
    analytics_latency_ms: int = 0
    """Extra latency on analytics' DynamoDB calls (it is held back by its mapping instead)."""
    seed: int = 1129
    max_concurrency: int | None = None
    """None: each function as its template scales it (as far as the machine holds, >= 2)."""
    state_dir: Path = DEFAULT_STATE_DIR
    redrive_rate: int = 10
    gateway: str = "simulated"
    """payment's card provider: simulated, or stripe (localstripe beside the embedded AWS)."""
    iam: str | None = None
    """IAM in the embedded AWS (``RuntimeOptions.iam``)."""
    publishers: int = 8
    """Publishers working at once (each with its own SNS client; one order's events in order)."""
    hold_analytics: bool = True
    """Disable analytics' event source mapping while the burst goes in."""
    lag_alarm: bool = False
    """Hold analytics until its queue-age alarm goes to ALARM, however long the emulator clock
    needs (its limit is hours: at x12 a four-hour limit is twenty real minutes)."""


@dataclass
class Timeline:
    """What happened when, printed as it happens (seconds since the demo started)."""

    printer: Callable[[str], None] | None = None
    started: float = field(default_factory=time.monotonic)
    entries: list[tuple[float, str]] = field(default_factory=list)

    def note(self, text: str) -> None:
        at = time.monotonic() - self.started
        self.entries.append((at, text))
        if self.printer is not None:
            self.printer(f"[dim]{at:7.1f}s[/dim]  {text}")


@dataclass
class StallWatch:
    """Fails a wait only when nothing it watches moved for ``stall_seconds``.

    What moves is whatever ``fingerprint`` of the state changes: a queue's depth, a record
    processed, an alarm's state. A burst of any size keeps moving until it is done, so no wait
    needs a deadline that grows with the number of orders.
    """

    stall_seconds: float
    last: Any = None
    moved_at: float = field(default_factory=time.monotonic)

    def still_moving(self, fingerprint: Any, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if fingerprint != self.last:
            self.last, self.moved_at = fingerprint, now
        return now - self.moved_at <= self.stall_seconds


@dataclass
class DemoReport:
    """Everything the demo shows at the end (and ``--json`` prints)."""

    reconciliation: Reconciliation
    completion_seconds: dict[str, float | None]
    timeline: list[tuple[float, str]]
    page: dict[str, Any] | None = None
    failure_groups: list[dict[str, Any]] = field(default_factory=list)
    story_error: str | None = None
    incident: dict[str, Any] | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    """Real seconds each step of the story took, in story order."""
    publishing: dict[str, Any] = field(default_factory=dict)
    analytics_lag: dict[str, Any] = field(default_factory=dict)
    redriven: dict[str, int] = field(default_factory=dict)
    """service -> messages its incident's redrive moved back (the bug's, and any the load
    parked)."""

    @property
    def ok(self) -> bool:
        return self.story_error is None and self.reconciliation.ok

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.reconciliation.as_dict(),
            "reconciled": self.ok,
            "story_error": self.story_error,
            "completion_seconds": self.completion_seconds,
            "page": self.page,
            "failure_groups": self.failure_groups,
            "incident": self.incident,
            "trace": self.trace,
            "timeline": [{"at": round(at, 1), "what": what} for at, what in self.timeline],
            "phases": {name: round(seconds, 1) for name, seconds in self.phases.items()},
            "publishing": self.publishing,
            "analytics_lag": self.analytics_lag,
            "redriven": self.redriven,
        }


def plan_faults(options: DemoOptions, orders: list[OrderCreated]) -> FaultPlan:
    """Slow SES for notifications, slow DynamoDB for analytics, a bug for a dozen orders."""
    # A dozen in the default burst; a smaller burst loses at most one order in five to the bug.
    # They come early in a big burst (its first fifth): their retries then run while the rest
    # of the burst drains, instead of starting their retry window at its end.
    count = max(1, min(options.bug_orders, len(orders) // 5))
    early = orders[: max(5 * count, len(orders) // 5)]
    step = max(1, len(early) // count)
    unlucky = tuple(o.order_id for o in early[step // 2 :: step][:count])
    dependencies = {"notifications": {"sesv2": DependencyFault(latency_ms=options.ses_latency_ms)}}
    if options.analytics_latency_ms:
        dependencies["analytics"] = {
            "dynamodb": DependencyFault(latency_ms=options.analytics_latency_ms)
        }
    return FaultPlan(
        dependencies=dependencies,
        consumer_bugs=(
            ConsumerBug(
                options.bug_service,
                unlucky,
                symptom="this release cannot read the order's gift-wrap line item",
            ),
        ),
        seed=options.seed,
    )


def initial_stock(orders: list[OrderCreated]) -> dict[str, tuple[int, int]]:
    """sku -> (available, threshold): the burst's demand plus headroom."""
    from orderflow.platform.orders import CATALOG  # noqa: PLC0415

    demand = dict.fromkeys(CATALOG, 0)
    for order in orders:
        for item in order.items:
            demand[item.sku] = demand.get(item.sku, 0) + item.quantity
    first = sorted(demand)[0]
    return {
        sku: (need + STOCK_HEADROOM, LOW_STOCK_SKU_THRESHOLD if sku == first else 10)
        for sku, need in sorted(demand.items())
    }


def publisher_lanes(events: Sequence[EventEnvelope], lanes: int) -> list[list[EventEnvelope]]:
    """``events`` split over ``lanes`` publishers, each order's events in one lane, in order.

    An order API publishes an order's own events one after another (a cancellation after its
    order); different orders go out at once.
    """
    split: list[list[EventEnvelope]] = [[] for _ in range(max(1, lanes))]
    for event in events:
        split[zlib.crc32(event.order_id.encode()) % len(split)].append(event)
    return [lane for lane in split if lane]


class ConcurrentPublisher:
    """Publishes a burst from several threads, one SNS client and one lane of orders each.

    Every event is published on its own (SNS ``Publish``), inside its own ``order-api``
    segment: the trace header travels on the request (``X-Amzn-Trace-Id``), and a
    ``PublishBatch`` request carries one header for all its entries, so a batch could not
    start one trace per order.
    """

    def __init__(self, topic_arn: str, clients: Sequence[Any]) -> None:
        self.topic_arn = topic_arn
        self.clients = list(clients)
        self.published = [0] * len(self.clients)
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.finished = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lanes_left = 0
        self._lock = threading.Lock()

    @property
    def done(self) -> int:
        return sum(self.published)

    def start(self, events: Sequence[EventEnvelope]) -> ConcurrentPublisher:
        lanes = publisher_lanes(events, len(self.clients))
        self._lanes_left = len(lanes)
        if not lanes:
            self.finished.set()
        self._threads = [
            threading.Thread(target=self._publish, args=(n, lane), name=f"publisher-{n}")
            for n, lane in enumerate(lanes)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """True once every lane is published (or stopped)."""
        return self.finished.wait(timeout)

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _publish(self, lane: int, events: Sequence[EventEnvelope]) -> None:
        from orderflow.messaging import EventPublisher  # noqa: PLC0415

        publisher = EventPublisher(self.topic_arn, client=self.clients[lane])
        try:
            for event in events:
                if self.stop.is_set():
                    return
                annotations = {
                    "order_id": event.order_id,
                    "event_type": event.TYPE,
                    "service": "order-api",
                }
                with traced_work("order-api", None, annotations):
                    publisher.publish(event)
                self.published[lane] += 1
        except Exception as error:  # noqa: BLE001  (handed to the story, which stops)
            self.errors.append(error)
            self.stop.set()
        finally:
            with self._lock:
                self._lanes_left -= 1
                if self._lanes_left <= 0:
                    self.finished.set()


@dataclass
class Redrive:
    """One approved incident's redrive, followed until it is done."""

    service: str
    incident_id: str
    succeeded_before: int
    moved: int
    processed: int = 0
    drained: bool = False
    ok: bool = False
    resolved: bool = False
    alarm_state: str = "unknown"

    @property
    def done(self) -> bool:
        return self.drained and self.ok and self.resolved

    def missing(self) -> list[str]:
        """What is still to come, in words."""
        return [
            what
            for what, seen in (
                (
                    f"{self.service}'s {self.moved} redriven records processed with its queue "
                    f"empty ({self.processed} processed)",
                    self.drained,
                ),
                (
                    f"{self.service}'s DLQ growth alarm OK with its OK page "
                    f"(state {self.alarm_state})",
                    self.ok,
                ),
                (f"incident {self.incident_id} resolved by the workflow", self.resolved),
            )
            if not seen
        ]


class PagerInbox:
    """The on-call's inbox (the pager queue subscribed to the paging topic), read as it fills.

    Every page read is kept, so a page for one alarm is never lost while waiting for another.
    """

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url
        self.pages: list[dict[str, Any]] = []

    def read(self) -> None:
        while True:
            messages = self._sqs.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                page = _alarm_page(message["Body"])
                if page is not None:
                    self.pages.append(page)
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(messages)
                ],
            )

    def find(self, alarm: str, state: str) -> dict[str, Any] | None:
        """The latest page of ``alarm`` entering ``state``."""
        self.read()
        return next(
            (p for p in reversed(self.pages) if p["alarm"] == alarm and p["state"] == state),
            None,
        )

    def recovered(self, alarm: str) -> dict[str, Any] | None:
        """The OK page of ``alarm`` that came after its latest ALARM page, if it came (an
        alarm's first OK, when it was created, is no recovery)."""
        self.read()
        mine = [p for p in self.pages if p["alarm"] == alarm]
        alarmed = [n for n, p in enumerate(mine) if p["state"] == "ALARM"]
        if not alarmed:
            return None
        return next((p for p in mine[alarmed[-1] + 1 :] if p["state"] == "OK"), None)


def _alarm_page(body: str) -> dict[str, Any] | None:
    """A CloudWatch alarm notification's page, or None for anything else on the topic."""
    try:
        notification = json.loads(body)
        message = json.loads(notification.get("Message", "{}"))
    except (json.JSONDecodeError, AttributeError):
        return None
    if not isinstance(message, dict) or "AlarmName" not in message:
        return None
    description = str(message.get("AlarmDescription", ""))
    return {
        "subject": notification.get("Subject", ""),
        "alarm": message["AlarmName"],
        "state": message.get("NewStateValue", ""),
        "reason": message.get("NewStateReason", ""),
        "runbook": description[description.find("Runbook") :] or description,
    }


class BlackFriday:
    """Runs the story on a fresh local runtime and reconciles it."""

    def __init__(
        self,
        options: DemoOptions,
        console: Console | None = None,
        *,
        on_cleanup: Callable[[], None] | None = None,
    ) -> None:
        """``on_cleanup`` is called when the story stops and the runtime's cleanup begins."""
        from orderflow.platform.orders import order_traffic  # noqa: PLC0415

        self.options = options
        self.console = console
        self.timeline = Timeline(printer=console.print if console else None)
        self.events: list[EventEnvelope] = list(order_traffic(options.orders, seed=options.seed))
        if options.gateway == "stripe":
            from orderflow.local.localstripe import on_stripe  # noqa: PLC0415

            self.events = [on_stripe(event) for event in self.events]
        self.orders = [e for e in self.events if isinstance(e, OrderCreated)]
        self.faults = plan_faults(options, self.orders)
        self.stock = initial_stock(self.orders)
        self.runtime = LocalRuntime(
            RuntimeOptions(
                stage=options.stage,
                clock_factor=options.clock_factor,
                state_dir=options.state_dir,
                max_concurrency=options.max_concurrency,
                faults=self.faults,
                gateway=options.gateway,
                iam=options.iam,
            )
        )
        self._on_cleanup = on_cleanup
        self.completion: dict[str, float | None] = {}
        self.page: dict[str, Any] | None = None
        self.groups: list[dict[str, Any]] = []
        self.phases: dict[str, float] = {}
        self.publishing: dict[str, Any] = {}
        self.analytics_lag: dict[str, Any] = {}
        self._burst_started = 0.0
        self._held = False
        self._was_held = False
        self._queues: Mapping[str, Any] | None = None
        self._inbox: PagerInbox | None = None
        self._publisher: ConcurrentPublisher | None = None
        self._rates: dict[str, tuple[float, int]] = {}
        self._last_progress = 0.0
        self._aged_at = float("-inf")
        self._ages: dict[str, int | None] = {}
        self.incident_id: str | None = None
        self._redrives: dict[str, Redrive] = {}
        self.incident: dict[str, Any] | None = None
        self.trace: list[dict[str, Any]] = []

    # --- the story -------------------------------------------------------------------------

    def run(self) -> DemoReport:
        """Play every step; always stop the runtime; reconcile whatever happened."""
        note = self.timeline.note
        story_error: str | None = None
        try:
            with self._phase("start"):
                resources = self.runtime.start(progress=note)
                self.seed_stock(resources)
            try:
                self.play(resources)
            except DemoStoryError as error:
                story_error = str(error)
                note(f"[red]story stopped: {error}[/red]")
            note("reconciling from the services' own records")
            with self._phase("reconcile"):
                result = self.reconcile(resources)
        finally:
            if self._publisher is not None:
                self._publisher.stop.set()
            if self._on_cleanup is not None:
                self._on_cleanup()
            with self._phase("stop"):
                self.runtime.stop()
        return DemoReport(
            reconciliation=result,
            completion_seconds=self.completion,
            timeline=self.timeline.entries,
            page=self.page,
            failure_groups=self.groups,
            story_error=story_error,
            incident=self.incident,
            trace=self.trace,
            phases=self.phases,
            publishing=self.publishing,
            analytics_lag=self.analytics_lag,
            redriven={service: r.moved for service, r in self._redrives.items()},
        )

    def play(self, resources: LocalResources) -> None:
        """The story between start and reconciliation, one timed phase per step."""
        if self.options.hold_analytics:
            with self._phase("hold analytics"):
                self.hold_analytics()
        with self._phase("publish"):
            self.burst(resources)
        with self._phase("drain"):
            self.wait_for_the_burst(resources)
        with self._phase("page"):
            self.wait_for_the_page(resources)
        with self._phase("triage and approve"):
            self.inspect_fix_and_approve(resources)
        with self._phase("recovery"):
            self.wait_for_recovery(resources)
        with self._phase("analytics catch-up"):
            self.analytics_catches_up(resources)
        with self._phase("incident and trace"):
            self.show_incident_and_trace(resources)

    def seed_stock(self, resources: LocalResources) -> None:
        self.runtime.seed_stock(self.stock, seed_id="black-friday")
        units = sum(n for n, _ in self.stock.values())
        self.timeline.note(f"stock seeded: {len(self.stock)} skus, {units} units")

    def hold_analytics(self) -> None:
        """Disable analytics' event source mapping, and wait until its worker stopped polling."""
        state = self.runtime.set_event_source(HELD_SERVICE, enabled=False)
        worker = self.runtime.workers[HELD_SERVICE]
        self._held = self._was_held = True
        self._until(
            f"{HELD_SERVICE}'s worker to see its mapping disabled",
            lambda _: worker.mapping_state == "Disabled",
            budget=ALARM_SLACK_SECONDS,
        )
        self.timeline.note(
            f"{HELD_SERVICE} held back for the peak: its event source mapping is "
            f"{worker.mapping_state.lower()} (Lambda answered {state}); Lambda stops polling, "
            "the queue keeps every event"
        )

    def release_analytics(self, why: str) -> None:
        """Enable analytics' mapping again; it catches up on its own from here."""
        rows = service_statuses(self.runtime, self._known_queues())
        held = next((r for r in rows if r.service == HELD_SERVICE), None)
        self.runtime.set_event_source(HELD_SERVICE, enabled=True)
        self._held = False
        if held is not None:
            self.analytics_lag.update(
                held_messages=held.backlog, oldest_age_seconds=held.oldest_age_seconds
            )
            age = _aws_age(held.oldest_age_seconds)
            self.timeline.note(
                f"{HELD_SERVICE} let go ({why}): {held.backlog} messages behind{age}; "
                "event source mapping enabled, catching up"
            )
        self._rates.pop(HELD_SERVICE, None)

    def burst(self, resources: LocalResources) -> None:
        kinds: dict[str, int] = {}
        for event in self.events:
            kinds[event.TYPE] = kinds.get(event.TYPE, 0) + 1
        mix = ", ".join(f"{n} {t}" for t, n in sorted(kinds.items()))
        lanes = max(1, self.options.publishers)
        self.timeline.note(
            f"Black Friday: publishing {len(self.events)} events ({mix}) from {lanes} publishers"
        )
        self._burst_started = time.monotonic()
        # The demo is the order API: each event starts its order's trace, so X-Ray shows the
        # publish and every consumer's work for it as one tree (one request per event for that).
        clients = [self.runtime.new_client("sns") for _ in range(lanes)]
        publisher = ConcurrentPublisher(resources.topic_arn, clients)
        self._publisher = publisher
        with self._as_order_api():
            publisher.start(self.events)
            try:
                with self._watch() as refresh:
                    while not publisher.wait(REFRESH_SECONDS):
                        refresh()
            finally:
                publisher.stop.set()
                publisher.join()
        seconds = time.monotonic() - self._burst_started
        self._publisher = None
        if publisher.errors:
            raise DemoStoryError(f"publishing failed: {publisher.errors[0]}")
        self.publishing = {
            "events": publisher.done,
            "orders": len(self.orders),
            "publishers": lanes,
            "seconds": round(seconds, 1),
            "events_per_second": round(publisher.done / seconds, 1) if seconds else None,
            "orders_per_second": round(len(self.orders) / seconds, 1) if seconds else None,
        }
        bug = self.faults.consumer_bugs[0]
        self.timeline.note(
            f"burst published in {seconds:.0f}s ({self.publishing['events_per_second']} "
            f"events/s, {self.publishing['orders_per_second']} orders/s); {len(bug.order_ids)} "
            f"of the orders carry data that {bug.service}'s current release cannot handle"
        )

    def wait_for_the_burst(self, resources: LocalResources) -> None:
        """Until every queue not held back is drained and the unlucky orders sit in the DLQ."""
        bug_service = self.options.bug_service
        expected_parked = len(self.faults.consumer_bugs[0].order_ids)
        seen_failures = False

        def settled(rows: list[ServiceStatus]) -> bool:
            nonlocal seen_failures
            working = [r for r in rows if not (self._held and r.service == HELD_SERVICE)]
            for row in working:
                drained = row.backlog == 0 and row.processed > 0
                if drained and row.service not in self.completion:
                    self._completed(row.service, row.processed)
                    self._note_backlogs(rows)
                if row.service == bug_service and row.failed and not seen_failures:
                    seen_failures = True
                    self.timeline.note(
                        f"{bug_service}: records failing (ConsumerBugError), "
                        "retrying after the visibility timeout"
                    )
            parked = next((r.dlq_depth or 0 for r in rows if r.service == bug_service), 0)
            done = all(r.backlog == 0 for r in working) and parked >= expected_parked
            if done:
                self.timeline.note(
                    f"{parked} messages parked in {bug_service}'s DLQ after "
                    "maxReceiveCount attempts"
                )
                if self._held:
                    self._note_backlogs(rows)
            return done

        self._until("the burst to settle", settled, stall=self._stall_seconds())

    def wait_for_the_page(self, resources: LocalResources) -> None:
        """Until the DLQ growth alarm is in ALARM and its page is in the pager inbox."""
        alarm = naming.alarm(resources.stage, self.options.bug_service, "dlq-growth")
        inbox = self._pager()
        page: dict[str, Any] | None = None

        def paged(_: list[ServiceStatus]) -> bool:
            nonlocal page
            page = inbox.find(alarm, "ALARM")
            return page is not None

        self._until(f"the page for {alarm}", paged, budget=self._alarm_budget(180))
        assert page is not None
        self.page = page
        self.timeline.note(f"[bold red]PAGE[/bold red] {page['subject']}")
        self.timeline.note(f"  reason: {page['reason']}")
        self.timeline.note(f"  runbook: {page['runbook']}")

    def inspect_fix_and_approve(self, resources: LocalResources) -> None:
        """What the on-call does: read the incident, inspect the DLQ, deploy the fix, approve;
        then the same for any other DLQ the burst filled (no fix: its records did not fail,
        a machine too busy for the burst returned them unstarted or timed out)."""
        service = self.options.bug_service
        self._redrive(resources, service, fix=True)
        for row in service_statuses(self.runtime, self._known_queues(), ages=False):
            if row.service != service and row.dlq_depth:
                self.timeline.note(
                    f"{row.service}: {row.dlq_depth} messages parked in its DLQ too, "
                    "without the bug (their receives ran out under the load)"
                )
                self._redrive(resources, row.service, fix=False)

    def _redrive(self, resources: LocalResources, service: str, *, fix: bool) -> None:
        from orderflow.failures import FailureLedger  # noqa: PLC0415
        from orderflow.platform.dlq import inspect_dlq  # noqa: PLC0415
        from orderflow.platform.stage import service_queues  # noqa: PLC0415

        stage = resources.stage
        incident = self._wait_for_incident(service)
        if fix:
            self.incident_id = incident.id
        self.timeline.note(
            f"incident {incident.id}: the workflow triaged {service}'s DLQ "
            f"({incident.dlq_depth} message(s)) and waits for a decision"
        )
        for group in incident.groups:
            self.timeline.note(
                f"  workflow page: {group.get('count')} x {group.get('exception')} "
                f"(orders {', '.join(group.get('sampleOrderIds', [])[:3])}, ...)"
            )
        sqs = self.runtime.client("sqs")
        queues = service_queues(sqs, stage, service)
        ledger = FailureLedger(resources.failure_ledger_table, self.runtime.client("dynamodb"))
        self.timeline.note(f"on-call: orderflow dlq inspect {service} --stage {stage}")
        inspection = inspect_dlq(sqs, ledger, queues)
        if fix:
            self.groups = [g.as_dict() for g in inspection.groups]
        for group in inspection.groups:
            samples = ", ".join(group.sample_order_ids)
            self.timeline.note(
                f"  {group.count} x {group.exception_type}: {group.message} "
                f"({', '.join(group.event_types)}; e.g. {samples})"
            )
        if fix:
            self.runtime.fixes.deploy(service)
            self.timeline.note(f"fix deployed to {service}")
        self.timeline.note(
            f"on-call: orderflow incident approve {incident.id} --stage {stage} "
            f"--rate {self.options.redrive_rate}"
        )
        before = self.runtime.workers[service].snapshot().records_succeeded
        self._redrives[service] = Redrive(service, incident.id, before, inspection.total)
        self._desk().approve(incident.id, rate=self.options.redrive_rate, by="demo on-call")
        self.timeline.note("  approved: the workflow starts the redrive (StartMessageMoveTask)")

    def wait_for_recovery(self, resources: LocalResources) -> None:
        """Until every redriven record is processed, each DLQ growth alarm is OK again (its OK
        page after its ALARM page) and each incident resolved."""
        inbox = self._pager()

        def recovered(rows: list[ServiceStatus]) -> bool:
            for redrive in self._redrives.values():
                self._follow(redrive, rows, inbox, resources.stage)
            return all(r.done for r in self._redrives.values())

        # The workflow resolves only after the DLQ stayed empty for the source queue's whole
        # retry window, in which nothing else may move: that long is no stall.
        stall = self._stall_seconds() + max(
            self._retry_window_seconds(service) for service in self._redrives
        )
        try:
            self._until("the recovery", recovered, stall=stall)
        except DemoStoryError as error:
            missing = [m for r in self._redrives.values() for m in r.missing()]
            raise DemoStoryError(f"{error}: still waiting for {'; '.join(missing)}") from None

    def _follow(
        self, redrive: Redrive, rows: list[ServiceStatus], inbox: PagerInbox, stage: str
    ) -> None:
        service = redrive.service
        mine = next(r for r in rows if r.service == service)
        worker = self.runtime.workers[service]
        redrive.processed = worker.snapshot().records_succeeded - redrive.succeeded_before
        redrive.alarm_state = mine.alarm
        empty = mine.backlog == 0 and not mine.dlq_depth
        if empty and redrive.processed >= redrive.moved and not redrive.drained:
            redrive.drained = True
            self.timeline.note(
                f"{service} processed the {redrive.moved} redriven records; "
                "its queue and DLQ are empty"
            )
            if self._held and not self.options.lag_alarm and service == self.options.bug_service:
                # Let go once the redrive is done, not before: on two cores its catch-up
                # would take the time the redriven records need to run.
                self.release_analytics("the burst and the redrive are done")
        if not redrive.ok:
            page = inbox.recovered(naming.alarm(stage, service, "dlq-growth"))
            if page is not None:
                redrive.ok = True
                self.timeline.note(f"[bold green]OK[/bold green] {page['subject']}")
        if not redrive.resolved:
            redrive.resolved = self._incident_closed(redrive.incident_id)

    def analytics_catches_up(self, resources: LocalResources) -> None:
        """Analytics' backlog worked off; with ``lag_alarm``, its queue-age alarm first."""
        if not self._was_held:
            return  # it drained with the burst
        alarm = naming.alarm(resources.stage, HELD_SERVICE, "queue-age")
        inbox = self._pager()
        fired = inbox.find(alarm, "ALARM")
        if self._held and self.options.lag_alarm and fired is None:
            fired = self._wait_for_the_lag_alarm(alarm)
        if fired is not None:
            self._note_lag_page(fired)
        if self._held:
            self.release_analytics("after its queue-age alarm" if fired else "the story is done")
        elif fired is None:
            self._note_lag_short_of_alarm(alarm)
        worker = self.runtime.workers[HELD_SERVICE]

        def caught_up(rows: list[ServiceStatus]) -> bool:
            mine = next(r for r in rows if r.service == HELD_SERVICE)
            return mine.backlog == 0 and worker.mapping_state == "Enabled"

        self._until(f"{HELD_SERVICE} to catch up", caught_up, stall=self._stall_seconds())
        snapshot = worker.snapshot()
        self._completed(HELD_SERVICE, snapshot.records_succeeded)
        parked = self._held_row().dlq_depth
        if parked:
            self.timeline.note(
                f"{HELD_SERVICE}: {parked} messages parked in its DLQ while it caught up "
                "(their receives ran out under the load)"
            )
            self._redrive(resources, HELD_SERVICE, fix=False)
            self.wait_for_recovery(resources)
        if fired is not None:
            ok: dict[str, Any] = {}

            def cleared(_: list[ServiceStatus]) -> bool:
                page = inbox.recovered(alarm)
                if page is not None:
                    ok.update(page)
                return page is not None

            self._until(f"{alarm} back to OK", cleared, budget=self._alarm_budget(180))
            self.analytics_lag["alarm_ok"] = True
            self.timeline.note(f"[bold green]OK[/bold green] {ok['subject']}")

    def show_incident_and_trace(self, resources: LocalResources) -> None:
        """The incident from alarm to resolution, and one order's journey from X-Ray."""
        from orderflow.platform.tracing import TraceNotFoundError, order_journey  # noqa: PLC0415

        if self.incident_id is not None:
            incident, timeline = self._desk().show(self.incident_id)
            steps = [e.state for e in timeline if e.event.endswith("StateEntered") and e.state]
            self.incident = {"id": incident.id, "status": incident.status, "steps": steps}
            self.timeline.note(
                f"on-call: orderflow incident show {incident.id} --stage {resources.stage}"
            )
            self.timeline.note(f"  {incident.status.lower()}: {' -> '.join(_collapse(steps))}")
        paid = next(
            o for o in self.orders if o.order_id not in self.faults.consumer_bugs[0].order_ids
        )
        self.runtime.xray_daemon.flush()
        try:
            journey = order_journey(self.runtime.client("xray"), paid.order_id)
        except TraceNotFoundError as error:
            raise DemoStoryError(str(error)) from error
        self.trace = [span.to_dict() for span in journey]
        self.timeline.note(f"on-call: orderflow trace {paid.order_id} --stage {resources.stage}")
        for line in _tree_lines(self.trace):
            self.timeline.note(f"  {line}")

    def reconcile(self, resources: LocalResources) -> Reconciliation:
        published = Published(self.events, {sku: n for sku, (n, _) in self.stock.items()})
        return reconcile_run(self.runtime, published)

    # --- analytics' lag ------------------------------------------------------------------------

    def _lag_alarm(self, alarm: str) -> dict[str, Any]:
        found = self.runtime.client("cloudwatch").describe_alarms(AlarmNames=[alarm])
        alarms = found["MetricAlarms"]
        if not alarms:
            raise DemoStoryError(f"no alarm {alarm}: `alarms sync` made no queue-age alarm")
        return dict(alarms[0])

    def _held_row(self) -> ServiceStatus:
        rows = service_statuses(self.runtime, self._known_queues())
        return next(r for r in rows if r.service == HELD_SERVICE)

    def _wait_for_the_lag_alarm(self, alarm: str) -> dict[str, Any]:
        """Hold analytics until its queue-age alarm pages, as long as the emulator clock needs."""
        limit = float(self._lag_alarm(alarm)["Threshold"])
        age = self._held_row().oldest_age_seconds or 0
        to_go = max(0.0, limit - age)
        self.timeline.note(
            f"{HELD_SERVICE} still held: its oldest message is {_duration(age)} old in AWS time, "
            f"its queue-age alarm fires past {_duration(limit)} ({_duration(to_go)} of AWS time "
            f"to go: {self.runtime.clock.real(to_go):.0f} real seconds at "
            f"x{self.runtime.clock.factor:g})"
        )
        inbox = self._pager()
        page: dict[str, Any] = {}

        def paged(_: list[ServiceStatus]) -> bool:
            found = inbox.find(alarm, "ALARM")
            if found is not None:
                page.update(found)
            return found is not None

        self._until(f"the page for {alarm}", paged, budget=self._alarm_budget(to_go + 180))
        return page

    def _note_lag_page(self, page: dict[str, Any]) -> None:
        self.analytics_lag.update(alarm=page["alarm"], alarm_fired=True)
        self.timeline.note(f"[bold red]PAGE[/bold red] {page['subject']}")
        self.timeline.note(f"  reason: {page['reason']}")

    def _note_lag_short_of_alarm(self, alarm: str) -> None:
        """Say how far analytics fell behind against its limit, when the alarm did not fire."""
        limit = float(self._lag_alarm(alarm)["Threshold"])
        age = self.analytics_lag.get("oldest_age_seconds") or 0
        self.analytics_lag.update(alarm=alarm, alarm_fired=False, limit_seconds=limit)
        self.timeline.note(
            f"  {HELD_SERVICE} was {_duration(age)} behind in AWS time; its queue-age alarm "
            f"({alarm}) fires past {_duration(limit)}: not reached (`--lag-alarm` holds "
            f"{HELD_SERVICE} until it fires)"
        )

    # --- helpers -----------------------------------------------------------------------------

    def _until(
        self,
        what: str,
        done: Callable[[list[ServiceStatus]], bool],
        *,
        stall: float | None = None,
        budget: float | None = None,
    ) -> list[ServiceStatus]:
        """Refresh the status until ``done``; fail when nothing moved for ``stall`` seconds,
        or, for a step on the emulator's own timing, after ``budget`` seconds."""
        watch = StallWatch(stall) if stall is not None else None
        deadline = time.monotonic() + budget if budget is not None else None
        with self._watch() as refresh:
            while True:
                rows = refresh()
                if done(rows):
                    return rows
                if watch is not None and not watch.still_moving(_fingerprint(rows)):
                    raise DemoStoryError(
                        f"{what}: nothing moved for {watch.stall_seconds:.0f}s "
                        f"({_backlog_summary(rows)})"
                    )
                if deadline is not None and time.monotonic() > deadline:
                    assert budget is not None
                    raise DemoStoryError(f"{what} did not happen within {budget:.0f}s")
                time.sleep(REFRESH_SECONDS)

    def _stall_seconds(self) -> float:
        """Longest a queue may look still while it works: a message in flight comes back after
        its visibility timeout, and an invocation may run that long (plus a busy machine)."""
        longest = max(
            (self._queue_timing(service)[0] for service in self.runtime.workers), default=30
        )
        return 2 * self.runtime.clock.real(longest) + STALL_SLACK_SECONDS

    def _retry_window_seconds(self, service: str) -> float:
        """Real seconds a failing record takes to park: maxReceiveCount visibility timeouts."""
        visibility, receives = self._queue_timing(service)
        return self.runtime.clock.real(receives * visibility)

    def _queue_timing(self, service: str) -> tuple[int, int]:
        """The service's source queue: its visibility timeout and its maxReceiveCount."""
        worker = self.runtime.workers[service]
        attributes = self.runtime.client("sqs").get_queue_attributes(
            QueueUrl=worker.spec.queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
        )["Attributes"]
        receives = int(json.loads(attributes.get("RedrivePolicy", "{}")).get("maxReceiveCount", 5))
        return int(attributes.get("VisibilityTimeout", 30)), receives

    def _alarm_budget(self, emulated_seconds: float) -> float:
        return self.runtime.clock.real(emulated_seconds) + ALARM_SLACK_SECONDS

    def _completed(self, service: str, processed: int) -> None:
        seconds = self._since_burst(service)
        self.completion[service] = seconds
        shown = "-" if seconds is None else f"{seconds:.1f}s after the burst started"
        self.timeline.note(f"{service} caught up: {processed} records processed, last at {shown}")

    def _since_burst(self, service: str) -> float | None:
        worker = self.runtime.workers.get(service)
        last = worker.snapshot().last_success if worker else None
        started_epoch = time.time() - (time.monotonic() - self._burst_started)
        return None if last is None else max(0.0, last - started_epoch)

    def _note_backlogs(self, rows: list[ServiceStatus]) -> None:
        """Who is still behind, and by how much in AWS time (a fresh read, with ages)."""
        rows = service_statuses(self.runtime, self._known_queues())
        behind = [
            f"{r.service} {r.backlog} queued"
            + (" (held)" if self._held and r.service == HELD_SERVICE else "")
            + _aws_age(r.oldest_age_seconds)
            for r in rows
            if r.service not in self.completion and r.backlog
        ]
        if behind:
            self.timeline.note(f"  meanwhile: {', '.join(behind)}")

    def _known_queues(self) -> Mapping[str, Any]:
        if self._queues is None:
            from orderflow.platform.stage import discover_queues  # noqa: PLC0415

            self._queues = discover_queues(self.runtime.client("sqs"), self.runtime.options.stage)
        return self._queues

    def _pager(self) -> PagerInbox:
        if self._inbox is None:
            assert self.runtime.resources is not None
            self._inbox = PagerInbox(
                self.runtime.client("sqs"), self.runtime.resources.pager_queue_url
            )
        return self._inbox

    def _desk(self) -> Any:
        from orderflow.platform.monitoring import IncidentDesk  # noqa: PLC0415

        return IncidentDesk(self.runtime.client("stepfunctions"), self.runtime.options.stage)

    def _wait_for_incident(self, service: str) -> Any:
        """The incident the DLQ growth alarm opened, once its workflow waits for a decision."""
        found: list[Any] = []

        def waiting(_: list[ServiceStatus]) -> bool:
            found.extend(
                i
                for i in self._desk().incidents()
                if i.service == service and i.waiting_for_decision
            )
            return bool(found)

        self._until(
            f"an incident for {service} awaiting a decision", waiting, budget=ALARM_SLACK_SECONDS
        )
        return found[0]

    def _incident_closed(self, incident_id: str) -> bool:
        """Whether the incident's execution ended (its status only: the history of a workflow
        that polls a redrive grows with every poll, and is read once, at the end)."""
        status = self.runtime.client("stepfunctions").describe_execution(
            executionArn=self._desk().execution_arn(incident_id)
        )["status"]
        if status == "RUNNING":
            return False
        if status != "SUCCEEDED":
            raise DemoStoryError(f"incident {incident_id} ended {status}")
        self.timeline.note(f"incident {incident_id} resolved: the workflow verified the drain")
        return True

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.monotonic() - started

    @contextmanager
    def _as_order_api(self) -> Iterator[None]:
        """This process publishes as the order API, its segments going to the local daemon."""
        previous = os.environ.get(DAEMON_ADDRESS_ENV)
        os.environ[DAEMON_ADDRESS_ENV] = self.runtime.xray_daemon.address
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(DAEMON_ADDRESS_ENV, None)
            else:
                os.environ[DAEMON_ADDRESS_ENV] = previous

    def _read_status(self, queues: Mapping[str, Any]) -> list[ServiceStatus]:
        """The status, with the oldest messages' ages read every ``PROGRESS_SECONDS`` only (a
        CloudWatch query that grows with the run) and the last ones known in between."""
        now = time.monotonic()
        if now - self._aged_at >= PROGRESS_SECONDS:
            rows = service_statuses(self.runtime, queues)
            self._aged_at = now
            self._ages = {r.service: r.oldest_age_seconds for r in rows}
            return rows
        rows = service_statuses(self.runtime, queues, ages=False)
        return [
            replace(r, oldest_age_seconds=self._ages.get(r.service) if r.backlog else None)
            for r in rows
        ]

    def progress_line(self, rows: list[ServiceStatus]) -> str:
        """Orders in and their rate, then each queue's backlog and records done per second."""
        now = time.monotonic()
        parts = []
        publisher = self._publisher
        if publisher is not None and self._burst_started:
            elapsed = max(now - self._burst_started, 1e-6)
            orders = len(self.orders) * publisher.done / max(1, len(self.events))
            parts.append(
                f"published {publisher.done}/{len(self.events)} events "
                f"({orders / elapsed:.1f} orders/s)"
            )
        for row in rows:
            rate = self._rate(row, now)
            held = " held" if self._held and row.service == HELD_SERVICE else ""
            dlq = f", DLQ {row.dlq_depth}" if row.dlq_depth else ""
            parts.append(f"{row.service} {row.backlog} queued{held}{dlq}, {rate:.0f}/s")
        return " · ".join(parts)

    def _rate(self, row: ServiceStatus, now: float) -> float:
        """Records a second the service processed since the previous progress line."""
        then, processed = self._rates.get(row.service, (now, row.processed))
        self._rates[row.service] = (now, row.processed)
        return (row.processed - processed) / (now - then) if now > then else 0.0

    @contextmanager
    def _watch(self) -> Iterator[Callable[[], list[ServiceStatus]]]:
        """Refresh a live status (table and progress line) on a terminal; elsewhere print the
        progress line every ``PROGRESS_SECONDS``."""
        title = f"orderflow {self.runtime.options.stage} (clock x{self.runtime.clock.factor:g})"
        queues = self._known_queues()
        console = self.console
        if console is None or not console.is_terminal:

            def read() -> list[ServiceStatus]:
                rows = self._read_status(queues)
                if console is not None and time.monotonic() - self._last_progress >= (
                    PROGRESS_SECONDS
                ):
                    self._last_progress = time.monotonic()
                    at = time.monotonic() - self.timeline.started
                    console.print(f"[dim]{at:7.1f}s  progress: {self.progress_line(rows)}[/dim]")
                return rows

            yield read
            return
        with Live(console=console, transient=True, refresh_per_second=2) as live:

            def refresh() -> list[ServiceStatus]:
                rows = self._read_status(queues)
                line = Text(self.progress_line(rows), style="bold")
                live.update(Group(line, status_table(title, rows)))
                return rows

            yield refresh


def _fingerprint(rows: Sequence[ServiceStatus]) -> tuple[Any, ...]:
    """What changes while the pipeline works: depths, records done and failed, alarms."""
    return tuple(
        (r.service, r.depth, r.in_flight, r.processed, r.failed, r.dlq_depth, r.alarm) for r in rows
    )


def _backlog_summary(rows: Sequence[ServiceStatus]) -> str:
    return ", ".join(
        f"{r.service} {r.backlog} queued" + (f", DLQ {r.dlq_depth}" if r.dlq_depth else "")
        for r in rows
    )


def _aws_age(seconds: int | None) -> str:
    return f" (oldest {_duration(seconds)} old in AWS time)" if seconds else ""


def _duration(seconds: float) -> str:
    """``2h05m``, ``7m30s`` or ``45s``: an age as ``orderflow status`` shows it."""
    from orderflow.platform.cli.state import age  # noqa: PLC0415  (the CLI imports this module)

    return age(int(seconds))


def _collapse(steps: list[str]) -> list[str]:
    """Consecutive repeats of a state (polling loops) shown once with a count."""
    collapsed: list[str] = []
    for step in steps:
        if collapsed and collapsed[-1].split(" x")[0] == step:
            base, _, count = collapsed[-1].partition(" x")
            collapsed[-1] = f"{base} x{int(count or 1) + 1}"
        else:
            collapsed.append(step)
    return collapsed


def _tree_lines(spans: list[dict[str, Any]], depth: int = 0) -> Iterator[str]:
    for span in spans:
        event = f" {span['event_type']}" if span.get("event_type") else ""
        yield (
            f"{'  ' * depth}{span['name']}{event} +{span['offset_ms']:.0f} ms "
            f"({span['duration_ms']:.0f} ms)"
        )
        yield from _tree_lines(span["children"], depth + 1)


# --- the final report --------------------------------------------------------------------------


def completion_table(report: DemoReport) -> Table:
    """Per service: when its last record of the burst was processed."""
    from orderflow.platform.cli.state import table  # noqa: PLC0415  (the CLI imports this module)

    rows = [
        [service, "-" if seconds is None else f"{seconds:.1f}s"]
        for service, seconds in sorted(
            report.completion_seconds.items(), key=lambda item: item[1] or 0.0
        )
    ]
    return table("caught up after the burst started", ["SERVICE", "LAST RECORD DONE"], rows)


def phases_table(report: DemoReport) -> Table:
    """Real seconds per step of the story."""
    from orderflow.platform.cli.state import table  # noqa: PLC0415  (the CLI imports this module)

    return table(
        "where the time went",
        ["STEP", "SECONDS"],
        [[name, f"{seconds:.1f}"] for name, seconds in report.phases.items()],
    )


def reconciliation_table(result: Reconciliation) -> Table:
    """The reconciliation, one line per check."""
    from orderflow.platform.cli.state import table  # noqa: PLC0415  (the CLI imports this module)

    return table(
        "reconciliation (from the services' own records)",
        ["AREA", "CHECK", "EXPECTED", "ACTUAL", ""],
        [
            [c.area, c.name, c.expected, c.actual, "ok" if c.ok else "MISMATCH"]
            for c in result.checks
        ],
    )


def render_report(console: Console, report: DemoReport) -> None:
    """The end of the story for humans."""
    console.print(
        Group(
            completion_table(report),
            "",
            phases_table(report),
            "",
            reconciliation_table(report.reconciliation),
        )
    )
    if report.ok:
        console.print("[bold green]reconciled: every order processed, nothing lost[/bold green]")
    else:
        failed = [c for c in report.reconciliation.checks if not c.ok]
        reason = report.story_error or f"{len(failed)} check(s) do not reconcile"
        console.print(f"[bold red]NOT reconciled: {reason}[/bold red]")
