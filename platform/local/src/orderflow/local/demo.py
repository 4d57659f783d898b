"""``orderflow demo``: Black Friday on the local runtime, from burst to reconciliation.

The story, each step shown on a timeline as it happens:

1. the pipeline starts (``orderflow up``) and stock is seeded;
2. a burst of orders, with cancellations, shipments and refunds, is published;
3. the email provider is slow (SES latency): notifications drains late, payments do not wait
   for it (each service's completion time is shown); analytics falls behind (DynamoDB latency);
4. a dozen orders hit a bug in one consumer: they fail every retry and park in its DLQ;
5. the DLQ growth alarm goes to ALARM and the page arrives on the paging topic; the alarm
   starts the monitoring workflow, which triages the DLQ and pages the failure groups;
6. the DLQ is inspected (one failure group), the fix is deployed, the redrive is approved
   (``orderflow incident approve``); the workflow moves the DLQ back, verifies it drained and
   publishes the resolution;
7. the alarm returns to OK;
8. the incident's timeline and one order's trace across the four services are shown;
9. a reconciliation from the services' own records decides the exit code.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

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
from orderflow.local.status import service_statuses, status_table
from orderflow.observability.tracing import DAEMON_ADDRESS_ENV, traced_work
from orderflow.platform.errors import PlatformError

STOCK_HEADROOM = 20
LOW_STOCK_SKU_THRESHOLD = 25
"""One sku gets a reorder threshold the burst crosses, so a low-stock alert shows up."""


class DemoStoryError(PlatformError):
    """A step of the story did not happen within its time (the message says which)."""


@dataclass(frozen=True)
class DemoOptions:
    """The Black Friday run."""

    orders: int = 60
    stage: str = "local"
    clock_factor: float = 6.0
    bug_service: str = "inventory"
    bug_orders: int = 12
    ses_latency_ms: int = 100
    analytics_latency_ms: int = 50
    seed: int = 1129
    max_concurrency: int | None = None
    """None: each function as its template scales it (as far as the machine holds, >= 2)."""
    state_dir: Path = DEFAULT_STATE_DIR
    redrive_rate: int = 10
    gateway: str = "simulated"
    iam: str | None = None
    """IAM in the embedded AWS (``RuntimeOptions.iam``)."""
    """payment's card provider: simulated, or stripe (localstripe beside the embedded AWS)."""


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
        }


def plan_faults(options: DemoOptions, orders: list[OrderCreated]) -> FaultPlan:
    """Slow SES for notifications, slow DynamoDB for analytics, a bug for a dozen orders."""
    # A dozen in the default burst; a smaller burst loses at most one order in five to the bug.
    count = max(1, min(options.bug_orders, len(orders) // 5))
    step = max(1, len(orders) // count)
    unlucky = tuple(o.order_id for o in orders[step // 2 :: step][:count])
    return FaultPlan(
        dependencies={
            "notifications": {"sesv2": DependencyFault(latency_ms=options.ses_latency_ms)},
            "analytics": {"dynamodb": DependencyFault(latency_ms=options.analytics_latency_ms)},
        },
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


class BlackFriday:
    """Runs the story on a fresh local runtime and reconciles it."""

    def __init__(self, options: DemoOptions, console: Console | None = None) -> None:
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
        self.completion: dict[str, float | None] = {}
        self.page: dict[str, Any] | None = None
        self.groups: list[dict[str, Any]] = []
        self._burst_started = 0.0
        self._before_redrive = 0
        self._redriven = 0
        self.incident_id: str | None = None
        self.incident: dict[str, Any] | None = None
        self.trace: list[dict[str, Any]] = []

    # --- the story -------------------------------------------------------------------------

    def run(self) -> DemoReport:
        """Play every step; always stop the runtime; reconcile whatever happened."""
        note = self.timeline.note
        story_error: str | None = None
        try:
            resources = self.runtime.start(progress=note)
            self.seed_stock(resources)
            try:
                self.burst(resources)
                self.wait_for_the_burst(resources)
                self.wait_for_the_page(resources)
                self.inspect_fix_and_approve(resources)
                self.wait_for_recovery(resources)
                self.show_incident_and_trace(resources)
            except DemoStoryError as error:
                story_error = str(error)
                note(f"[red]story stopped: {error}[/red]")
            note("reconciling from the services' own records")
            result = self.reconcile(resources)
        finally:
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
        )

    def seed_stock(self, resources: LocalResources) -> None:
        self.runtime.seed_stock(self.stock, seed_id="black-friday")
        units = sum(n for n, _ in self.stock.values())
        self.timeline.note(f"stock seeded: {len(self.stock)} skus, {units} units")

    def burst(self, resources: LocalResources) -> None:
        from orderflow.messaging import EventPublisher  # noqa: PLC0415

        publisher = EventPublisher(resources.topic_arn, client=self.runtime.client("sns"))
        kinds: dict[str, int] = {}
        for event in self.events:
            kinds[event.TYPE] = kinds.get(event.TYPE, 0) + 1
        mix = ", ".join(f"{n} {t}" for t, n in sorted(kinds.items()))
        self.timeline.note(f"Black Friday: publishing {len(self.events)} events ({mix})")
        self._burst_started = time.monotonic()
        # The demo is the order API: each event starts its order's trace, so X-Ray shows the
        # publish and every consumer's work for it as one tree (one request per event for that).
        with self._progress("publishing", len(self.events)) as advance, self._as_order_api():
            for done, event in enumerate(self.events, start=1):
                annotations = {
                    "order_id": event.order_id,
                    "event_type": event.TYPE,
                    "service": "order-api",
                }
                with traced_work("order-api", None, annotations):
                    publisher.publish(event)
                advance(done)
        bug = self.faults.consumer_bugs[0]
        self.timeline.note(
            f"burst published; {len(bug.order_ids)} of the orders carry data that "
            f"{bug.service}'s current release cannot handle"
        )

    def wait_for_the_burst(self, resources: LocalResources) -> None:
        """Until every queue is drained and the unlucky orders sit in the DLQ."""
        bug_service = self.options.bug_service
        expected_parked = len(self.faults.consumer_bugs[0].order_ids)
        seen_failures = False
        budget = self._retry_budget(bug_service) + 120 * self._load_factor()
        deadline = time.monotonic() + budget
        with self._live() as refresh:
            while time.monotonic() < deadline:
                rows = refresh()
                for row in rows:
                    drained = row.depth == 0 and row.in_flight == 0 and row.processed > 0
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
                if len(self.completion) == len(rows) and parked >= expected_parked:
                    self.timeline.note(
                        f"{parked} messages parked in {bug_service}'s DLQ after "
                        "maxReceiveCount attempts"
                    )
                    return
                time.sleep(1)
        raise DemoStoryError(f"the burst did not settle within {budget:.0f}s")

    def wait_for_the_page(self, resources: LocalResources) -> None:
        """Until the DLQ growth alarm is in ALARM and its page is in the pager inbox."""
        alarm = naming.alarm(resources.stage, self.options.bug_service, "dlq-growth")
        budget = self.runtime.clock.real(180) + 30
        deadline = time.monotonic() + budget
        sqs = self.runtime.client("sqs")
        with self._live() as refresh:
            while time.monotonic() < deadline:
                refresh()
                page = self._page_for(sqs, resources, alarm, "ALARM")
                if page is not None:
                    self.page = page
                    self.timeline.note(f"[bold red]PAGE[/bold red] {page['subject']}")
                    self.timeline.note(f"  reason: {page['reason']}")
                    self.timeline.note(f"  runbook: {page['runbook']}")
                    return
                time.sleep(1)
        raise DemoStoryError(f"no page for {alarm} within {budget:.0f}s")

    def inspect_fix_and_approve(self, resources: LocalResources) -> None:
        """What the on-call does: read the incident, inspect the DLQ, deploy the fix, approve."""
        from orderflow.failures import FailureLedger  # noqa: PLC0415
        from orderflow.platform.dlq import inspect_dlq  # noqa: PLC0415
        from orderflow.platform.stage import service_queues  # noqa: PLC0415

        service, stage = self.options.bug_service, resources.stage
        incident = self._wait_for_incident(service)
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
        self.groups = [g.as_dict() for g in inspection.groups]
        for group in inspection.groups:
            samples = ", ".join(group.sample_order_ids)
            self.timeline.note(
                f"  {group.count} x {group.exception_type}: {group.message} "
                f"({', '.join(group.event_types)}; e.g. {samples})"
            )
        self.runtime.fixes.deploy(service)
        self.timeline.note(f"fix deployed to {service}")
        self.timeline.note(
            f"on-call: orderflow incident approve {incident.id} --stage {stage} "
            f"--rate {self.options.redrive_rate}"
        )
        self._before_redrive = self.runtime.workers[service].snapshot().records_succeeded
        self._redriven = inspection.total
        self._desk().approve(incident.id, rate=self.options.redrive_rate, by="demo on-call")
        self.timeline.note("  approved: the workflow starts the redrive (StartMessageMoveTask)")

    def wait_for_recovery(self, resources: LocalResources) -> None:
        """Until the redriven orders are processed, the alarm is OK and every queue is empty."""
        service = self.options.bug_service
        alarm = naming.alarm(resources.stage, service, "dlq-growth")
        cloudwatch, sqs = self.runtime.client("cloudwatch"), self.runtime.client("sqs")
        # The workflow resolves only after the DLQ stayed empty for the source queue's whole
        # retry window (every receive a failing record would get), so that is waited for too.
        budget = (
            self.runtime.clock.real(600) + self._retry_budget(service) + 60 * self._load_factor()
        )
        deadline = time.monotonic() + budget
        processed_noted = ok_noted = resolved_noted = False
        done, state = 0, "unknown"
        worker = self.runtime.workers[service]
        with self._live() as refresh:
            while time.monotonic() < deadline:
                rows = refresh()
                everything_empty = all(
                    r.depth == 0 and r.in_flight == 0 and not r.dlq_depth for r in rows
                )
                done = worker.snapshot().records_succeeded - self._before_redrive
                if everything_empty and done >= self._redriven and not processed_noted:
                    processed_noted = True
                    self.timeline.note(
                        f"{service} processed the {self._redriven} redriven records; "
                        "every queue and DLQ is empty"
                    )
                state = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0][
                    "StateValue"
                ]
                if state == "OK" and not ok_noted:
                    page = self._page_for(sqs, resources, alarm, "OK")
                    if page is not None:
                        ok_noted = True
                        self.timeline.note(f"[bold green]OK[/bold green] {page['subject']}")
                if not resolved_noted:
                    resolved_noted = self._incident_closed()
                if processed_noted and ok_noted and resolved_noted:
                    return
                time.sleep(1)
        missing = [
            what
            for what, seen in (
                (
                    f"the {self._redriven} redriven records processed with every queue empty "
                    f"({done} processed)",
                    processed_noted,
                ),
                (f"{alarm} back to OK with its OK page (state {state})", ok_noted),
                ("the incident resolved by the workflow", resolved_noted),
            )
            if not seen
        ]
        raise DemoStoryError(
            f"no recovery within {budget:.0f}s: still waiting for {'; '.join(missing)}"
        )

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

    # --- helpers -----------------------------------------------------------------------------

    def _completed(self, service: str, processed: int) -> None:
        worker = self.runtime.workers.get(service)
        last = worker.snapshot().last_success if worker else None
        started_epoch = time.time() - (time.monotonic() - self._burst_started)
        seconds = None if last is None else max(0.0, last - started_epoch)
        self.completion[service] = seconds
        shown = "-" if seconds is None else f"{seconds:.1f}s after the burst started"
        self.timeline.note(f"{service} caught up: {processed} records processed, last at {shown}")

    def _note_backlogs(self, rows: list[Any]) -> None:
        behind = [
            f"{r.service} {r.depth + r.in_flight} queued"
            + (f" (oldest {r.oldest_age_seconds}s old in AWS time)" if r.oldest_age_seconds else "")
            for r in rows
            if r.service not in self.completion and r.depth + r.in_flight
        ]
        if behind:
            self.timeline.note(f"  meanwhile: {', '.join(behind)}")

    def _desk(self) -> Any:
        from orderflow.platform.monitoring import IncidentDesk  # noqa: PLC0415

        return IncidentDesk(self.runtime.client("stepfunctions"), self.runtime.options.stage)

    def _wait_for_incident(self, service: str) -> Any:
        """The incident the DLQ growth alarm opened, once its workflow waits for a decision."""
        budget = 60 * self._load_factor()
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            for incident in self._desk().incidents():
                if incident.service == service and incident.waiting_for_decision:
                    return incident
            time.sleep(1)
        raise DemoStoryError(f"no incident for {service} awaited a decision within {budget:.0f}s")

    def _incident_closed(self) -> bool:
        if self.incident_id is None:
            return True
        incident, _ = self._desk().show(self.incident_id)
        if incident.status == "RUNNING":
            return False
        if incident.status != "SUCCEEDED":
            raise DemoStoryError(f"incident {incident.id} ended {incident.status}")
        self.timeline.note(f"incident {incident.id} resolved: the workflow verified the drain")
        return True

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

    def _retry_budget(self, service: str) -> float:
        """Real seconds a failing record needs to reach the DLQ (3 visibility timeouts + slack)."""
        worker = self.runtime.workers.get(service)
        timeout = worker.spec.timeout_seconds if worker else 30
        return self.runtime.clock.real(4 * 6 * timeout)

    def _load_factor(self) -> float:
        return max(1.0, self.options.orders / 60)

    def _page_for(
        self, sqs: Any, resources: LocalResources, alarm: str, state: str
    ) -> dict[str, Any] | None:
        response = sqs.receive_message(
            QueueUrl=resources.pager_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        found = None
        for message in response.get("Messages", []):
            notification = json.loads(message["Body"])
            try:
                body = json.loads(notification.get("Message", "{}"))
            except json.JSONDecodeError:
                continue  # not a CloudWatch notification: someone else's page, left alone
            if not isinstance(body, dict) or "AlarmName" not in body:
                continue
            if body.get("AlarmName") == alarm and body.get("NewStateValue") == state:
                description = str(body.get("AlarmDescription", ""))
                found = {
                    "subject": notification.get("Subject", ""),
                    "alarm": alarm,
                    "state": state,
                    "reason": body.get("NewStateReason", ""),
                    "runbook": description[description.find("Runbook") :] or description,
                }
            sqs.delete_message(
                QueueUrl=resources.pager_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        return found

    @contextmanager
    def _live(self) -> Iterator[Callable[[], list[Any]]]:
        """Refresh a live status table on a terminal; elsewhere just read the status."""
        title = f"orderflow {self.runtime.options.stage} (clock x{self.runtime.clock.factor:g})"
        if self.console is None or not self.console.is_terminal:
            yield lambda: service_statuses(self.runtime)
            return
        with Live(console=self.console, transient=True, refresh_per_second=2) as live:

            def refresh() -> list[Any]:
                rows = service_statuses(self.runtime)
                live.update(status_table(title, rows))
                return rows

            yield refresh

    @contextmanager
    def _progress(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        if self.console is None or not self.console.is_terminal:
            yield lambda _: None
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda done: bar.update(task, completed=done)


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
    console.print(Group(completion_table(report), "", reconciliation_table(report.reconciliation)))
    if report.ok:
        console.print("[bold green]reconciled: every order processed, nothing lost[/bold green]")
    else:
        failed = [c for c in report.reconciliation.checks if not c.ok]
        reason = report.story_error or f"{len(failed)} check(s) do not reconcile"
        console.print(f"[bold red]NOT reconciled: {reason}[/bold red]")
