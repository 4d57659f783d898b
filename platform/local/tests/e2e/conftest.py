"""End to end: the whole local runtime (embedded AWS, every stack, the functions).

Each test gets a ``LocalRun`` from ``local_run(faults, **options)``, publishes a small burst,
waits for the pipeline to settle and asserts on the reconciliation computed from the services'
own records.

Starting a runtime (the embedded AWS, five stacks, the alarms, a worker per function and their
environments) costs more than most tests' bodies, so tests marked
``@pytest.mark.e2e_runtime("name")`` share one runtime per name: the first of them starts it
with the configuration it asks for, every other must ask for the same one, and it stops after
the last of them (or after one fails, so the next starts on a fresh runtime). Tests of one name
run one after another, next to each other in the run (and on one worker under xdist). On a
shared runtime each test publishes its own orders (distinct seeds give distinct order ids) and
its reconciliation covers everything published on that runtime so far, its own orders included:
the earlier tests settled and reconciled, so whatever does not hold is new. Unmarked tests get
a runtime of their own.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orderflow.contracts import EventEnvelope, OrderCreated, OrderEvent, parse_event
from orderflow.local.demo import initial_stock
from orderflow.local.faults import ConsumerBug, DependencyFault, FaultPlan
from orderflow.local.reconciliation import Published, Reconciliation, reconcile_run
from orderflow.local.runtime import INVOCATION_LOG, LocalRuntime, RuntimeOptions
from orderflow.messaging import EventPublisher
from orderflow.platform.orders import order_traffic

QUIET_TIMEOUT = 150.0
"""A guard on every settle: the pipeline is waited for until its queues are quiet."""
RUNTIME_MARK = "e2e_runtime"
GROUPS_ENV = "ORDERFLOW_E2E_RUNTIME_GROUPS"
DEFAULT_CLOCK_FACTOR = 10.0

_CALL_REPORT = pytest.StashKey[pytest.TestReport]()

PIPELINE = "pipeline"
"""The runtime the pipeline's own tests share (the alarm, the trace, the slow email provider)."""
PAYMENT_BUG_ORDERS = ("ord-dlq-growth-1", "ord-dlq-growth-2")
"""Orders payment fails on the shared pipeline runtime until its fix is deployed."""
SLOW_EMAIL = DependencyFault(latency_ms=250)
PIPELINE_FAULTS = FaultPlan(
    consumer_bugs=(ConsumerBug("payment", PAYMENT_BUG_ORDERS),),
    dependencies={"notifications": {"sesv2": SLOW_EMAIL}},
)
"""What goes wrong on the shared pipeline runtime: payment's bug for two orders (none other
carries their ids) and SES answering every send a quarter of a second late."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{RUNTIME_MARK}(name): tests that share one local runtime, started once"
    )
    if _distributing(config) and not hasattr(config, "workerinput"):
        # Where the workers say which runtime each test needs (they inherit the variable).
        os.environ[GROUPS_ENV] = tempfile.mkdtemp(prefix="orderflow-e2e-groups-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _distributing(config) and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ.pop(GROUPS_ENV, ""), ignore_errors=True)


def _distributing(config: pytest.Config) -> bool:
    return bool(config.pluginmanager.hasplugin("xdist") and config.getvalue("dist") == "loadgroup")


def runtime_group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker(RUNTIME_MARK)
    return str(mark.args[0]) if mark is not None else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of one shared runtime next to each other (where the first of them was), in their
    own order; under xdist (``--dist loadgroup``), on one worker."""
    first: dict[str | None, int] = {}
    for n, item in enumerate(items):
        first.setdefault(runtime_group(item) or f"#{n}", n)
    position = {id(item): n for n, item in enumerate(items)}
    items.sort(key=lambda i: (first[runtime_group(i) or f"#{position[id(i)]}"], position[id(i)]))
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and os.environ.get(GROUPS_ENV):
        groups = {i.nodeid: group for i in items if (group := runtime_group(i)) is not None}
        path = Path(os.environ[GROUPS_ENV]) / f"{workerinput['workerid']}.json"
        path.write_text(json.dumps(groups))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` by this suite's runtime groups.

    pytest-xdist's own loadgroup reads the group from a suffix it writes into each node id,
    which pytest 9.2 no longer lets it change (pytest-xdist issue 1386): every test would be
    scheduled alone. The workers write the groups down at collection instead (above).
    """
    if not _distributing(config):
        return None
    scopes = importlib.import_module("xdist.scheduler").LoadScopeScheduling
    directory = Path(os.environ[GROUPS_ENV])
    groups: dict[str, str] = {}

    class RuntimeGroups(scopes):  # type: ignore[misc, valid-type]
        def _split_scope(self, nodeid: str) -> str:
            if not groups:  # read once every worker collected (scheduling starts after that)
                for written in directory.glob("*.json"):
                    groups.update(json.loads(written.read_text()))
            return groups.get(nodeid, nodeid)

    return RuntimeGroups(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it holds and return its value; the timeout only guards
    against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def start_up(state_dir: Path) -> subprocess.Popen[str]:
    """``orderflow up`` (clock x10) in a subprocess, its output piped as text."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from orderflow.platform.cli.main import main; main()",
            "up",
            "--clock-factor",
            "10",
            "--state-dir",
            str(state_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture(autouse=True)
def quiet_translator() -> None:
    logging.getLogger("samtranslator").setLevel(logging.ERROR)


def traffic(count: int, seed: int) -> list[EventEnvelope]:
    """``count`` orders with cancellations, shipments and refunds (deterministic per seed)."""
    return list(order_traffic(count, seed=seed))


@dataclass
class SharedRuntime:
    """A running runtime and everything published to it, by every test that used it."""

    runtime: LocalRuntime
    configuration: str
    events: list[EventEnvelope] = field(default_factory=list)
    stock: dict[str, tuple[int, int]] = field(default_factory=dict)
    """The latest stock seeded: sku -> (available, reorder threshold)."""
    before_seed: list[EventEnvelope] = field(default_factory=list)
    """What was published before the latest seed (its orders were already taken from stock)."""
    unsettled: bool = False
    seeds: int = 0

    def seed(self, stock: dict[str, tuple[int, int]]) -> None:
        # A seed id of its own: a seed already applied under an id is left alone.
        self.seeds += 1
        self.runtime.seed_stock(stock, seed_id=f"e2e-{self.seeds}")
        self.stock = stock
        self.before_seed = list(self.events)

    def published(self) -> Published:
        """Everything published, from stock that makes the latest seed come out right.

        Every sku's level was set when the latest seed ran; the orders published before it had
        taken their stock already, so they count from a level that much higher.
        """
        taken_before = Published(self.before_seed, {}).expected_stock()
        start = {sku: n - taken_before.get(sku, 0) for sku, (n, _) in self.stock.items()}
        return Published(self.events, start)

    def settle(self, timeout: float) -> None:
        assert self.runtime.wait_until_quiet(timeout), f"still busy: {self.runtime.backlog()}"
        self.unsettled = False


@dataclass
class LocalRun:
    """One test's use of a running local runtime, and what the test published to it."""

    shared: SharedRuntime
    events: list[EventEnvelope] = field(default_factory=list)
    _log_offset: int = 0

    @property
    def runtime(self) -> LocalRuntime:
        return self.shared.runtime

    @property
    def stock(self) -> dict[str, tuple[int, int]]:
        return self.shared.stock

    @property
    def resources(self) -> Any:
        return self.runtime.resources

    def client(self, service: str) -> Any:
        return self.runtime.client(service)

    def orders(self, count: int, seed: int) -> list[EventEnvelope]:
        """A burst of ``count`` orders with follow-ups; stock seeded for it."""
        events = traffic(count, seed)
        self.seed_for(events)
        return events

    def seed_for(self, events: Sequence[EventEnvelope]) -> None:
        """Stock for every order of ``events``, with headroom."""
        self.shared.seed(initial_stock([e for e in events if isinstance(e, OrderCreated)]))

    def publish(self, events: Sequence[EventEnvelope], *, copies: int = 1) -> None:
        """Publish ``events``; with ``copies``, that many times at once (a producer retrying
        on its own, from as many threads): the topic carries each event ``copies`` times."""
        self.shared.unsettled = True
        publishers = [
            EventPublisher(self.resources.topic_arn, client=self.client("sns"))
            for _ in range(copies)
        ]
        with ThreadPoolExecutor(max_workers=copies) as pool:
            for done in [pool.submit(p.publish_batch, events) for p in publishers]:
                done.result()
        self.record(events)

    def record(self, events: Sequence[EventEnvelope]) -> None:
        """Count ``events`` as this test's (published by it some other way)."""
        self.shared.unsettled = True
        self.events.extend(events)
        self.shared.events.extend(events)

    def settle(self, timeout: float = QUIET_TIMEOUT) -> None:
        self.shared.settle(timeout)

    def longest_way_to_a_dlq(self) -> float:
        """Real seconds until a message failing every receive parks, on the slowest queue:
        maxReceiveCount receives, a visibility timeout (on the emulator clock) after each."""
        sqs = self.client("sqs")
        longest = 0.0
        for service in self.resources.services.values():
            attributes = sqs.get_queue_attributes(
                QueueUrl=service.queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
            )["Attributes"]
            receives = int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])
            visibility = self.runtime.clock.real(int(attributes["VisibilityTimeout"]))
            longest = max(longest, receives * visibility)
        return longest

    def reconciliation(self) -> Reconciliation:
        """Everything published on this runtime against what the services recorded."""
        return reconcile_run(self.runtime, self.shared.published())

    def invocations(self) -> list[dict[str, Any]]:
        """Every invocation reported since this test began (the run's invocation log)."""
        with (Path(self.runtime.run_dir) / INVOCATION_LOG).open("rb") as log:
            log.seek(self._log_offset)
            lines = log.read().decode().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def tap(self) -> EventTap:
        """A queue subscribed to the order-events topic from now on (every event type)."""
        return EventTap.subscribe(self)


@dataclass
class EventTap:
    """Every event the topic carries while it is subscribed, as a queue of its own receives it."""

    run: LocalRun
    queue_url: str
    subscription_arn: str

    @classmethod
    def subscribe(cls, run: LocalRun) -> EventTap:
        from orderflow.local.runtime import topic_delivery_policy  # noqa: PLC0415

        sqs, sns = run.client("sqs"), run.client("sns")
        name = f"{run.resources.stage}-e2e-tap-{uuid.uuid4().hex[:8]}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        topic = run.resources.topic_arn
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": topic_delivery_policy(arn, topic)}
        )
        subscription = sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return cls(run, url, subscription)

    def drain(self) -> list[OrderEvent]:
        """Every event delivered so far (each once, by event id); unsubscribes the tap."""
        sqs = self.run.client("sqs")
        self.run.client("sns").unsubscribe(SubscriptionArn=self.subscription_arn)
        seen: dict[str, OrderEvent] = {}
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                break
            for message in messages:
                event = parse_event(message["Body"])
                seen[str(event.event_id)] = event
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(messages)
                ],
            )
        sqs.delete_queue(QueueUrl=self.queue_url)
        return list(seen.values())


def _configuration(faults: FaultPlan, options: dict[str, Any]) -> str:
    return json.dumps({"faults": json.loads(faults.to_json()), **options}, sort_keys=True)


class RuntimePool:
    """The shared runtimes of this session (or xdist worker), by name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.running: dict[str, SharedRuntime] = {}
        self.finished: dict[str, int] = {}
        self._started = 0

    def start(self, state_dir: Path, faults: FaultPlan, options: dict[str, Any]) -> SharedRuntime:
        runtime = LocalRuntime(
            RuntimeOptions(
                state_dir=state_dir,
                faults=faults,
                # Concurrency as deployed: each function at its template's MaximumConcurrency
                # (as far as the machine holds, at least 2), so races show up here first.
                **{"clock_factor": DEFAULT_CLOCK_FACTOR, **options},
            )
        )
        runtime.start()  # stops what it started if it fails
        return SharedRuntime(runtime, _configuration(faults, options))

    def shared(self, name: str, faults: FaultPlan, options: dict[str, Any]) -> SharedRuntime:
        wanted = _configuration(faults, options)
        shared = self.running.get(name)
        if shared is None:
            self._started += 1
            state_dir = self.directory / f"{name}-{self._started}" / "state"
            shared = self.running[name] = self.start(state_dir, faults, options)
        elif shared.configuration != wanted:
            raise pytest.UsageError(
                f"tests sharing the runtime {name!r} must ask for one configuration: "
                f"{shared.configuration} != {wanted}"
            )
        if shared.unsettled:
            shared.settle(QUIET_TIMEOUT)  # an earlier test left work in flight
        return shared

    def stop(self, name: str) -> None:
        shared = self.running.pop(name, None)
        if shared is not None:
            shared.runtime.stop()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


@pytest.fixture(scope="session")
def runtime_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimePool]:
    pool = RuntimePool(tmp_path_factory.mktemp("runtimes"))
    yield pool
    pool.stop_all()


@pytest.fixture
def local_run(
    request: pytest.FixtureRequest, runtime_pool: RuntimePool, tmp_path: Path
) -> Iterator[Callable[..., LocalRun]]:
    """Start (or, for a test marked ``e2e_runtime``, share) a runtime with ``faults`` and
    options; every runtime is always stopped."""
    group = runtime_group(request.node)
    own: list[SharedRuntime] = []

    def start(faults: FaultPlan | None = None, **options: Any) -> LocalRun:
        plan = faults or FaultPlan()
        if group is None:
            shared = runtime_pool.start(tmp_path / "state", plan, options)
            own.append(shared)
        else:
            shared = runtime_pool.shared(group, plan, options)
        log = Path(shared.runtime.run_dir) / INVOCATION_LOG
        return LocalRun(shared, _log_offset=log.stat().st_size if log.is_file() else 0)

    try:
        yield start
    finally:
        for shared in own:
            shared.runtime.stop()
        if group is not None:
            report = request.node.stash.get(_CALL_REPORT, None)
            runtime_pool.finished[group] = runtime_pool.finished.get(group, 0) + 1
            in_group = sum(1 for i in request.session.items if runtime_group(i) == group)
            if report is None or report.failed or runtime_pool.finished[group] >= in_group:
                runtime_pool.stop(group)


def mismatches(result: Reconciliation) -> list[str]:
    """The checks that did not hold, readable in an assertion message."""
    return [
        f"{c.area}/{c.name}: expected {c.expected}, got {c.actual}"
        for c in result.checks
        if not c.ok
    ]
