"""Local pipeline throughput: orders per second through all four consumers on the embedded AWS.

The local runtime brings the system up from the templates (``orderflow.local``). Each
run publishes a fresh reference traffic to the order-events topic and ends when every consumer
has processed every record routed to it: from the first publish to the last consumer done.

The ceiling is the same run with every function's handler replaced by one that does nothing
(``noop``), and the derived events (payment's outcomes) published by the benchmark instead, so
the embedded AWS serves the same SNS publishes and the same SQS receives and deletes, through
the same event source mapping pollers, with no consumer work at all.

Events go out from ``PUBLISHERS`` publishers at once, as the demo's order API publishes them
(``orderflow.local.demo.ConcurrentPublisher``: each order's events in one lane, in order, each
its own SNS Publish): an order API is a fleet, and one publisher waiting on each Publish in turn
measured its own round trips, not the pipeline.

Both kinds of worker cannot poll the same queues at once, so the ceiling runs come before and
after the pipeline runs, and the figure is the ratio of the medians.

After them, one pipeline run of many more orders (``large_orders``) on the same system, whose
tables keep everything the earlier runs stored: a pipeline whose calls cost the same however
much is stored moves as many orders per second at 5,000 as at 200.

Plain moto (``measure_plain_moto``): the same pipeline on an embedded AWS without the extensions
that only make its calls cheaper (``LEFT_OUT_FOR_PLAIN_MOTO``: the SQS index, request routing,
SNS signing, DynamoDB transactions; the server leaves them out when ``ORDERFLOW_EMULATOR_WITHOUT``
names them), so SQS, SNS, DynamoDB transactions and request routing are moto's own. Everything
else the pipeline needs to deploy and run stays.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderflow.bench.stats import BenchError, median, ratio
from orderflow.bench.traffic import ReferenceTraffic, reference_traffic
from orderflow.contracts import SERVICES, EventEnvelope

NOOP_HANDLER = "orderflow.bench.noop.handler"
ORDER_API = "order-api"
POLL_SECONDS = 0.02
WARM_UP_ORDERS = 8
STAGE = "bench"
PUBLISHERS = 8
"""Publishers at once, as many as the demo's order API (``DemoOptions.publishers``)."""
MIN_ORDERS_PER_SECOND = 2.0
"""A run of N orders times out after ``max(timeout, N / MIN_ORDERS_PER_SECOND)`` seconds."""
LEFT_OUT_FOR_PLAIN_MOTO = ("sqs_index", "request_routing", "sns_signing", "dynamodb_transactions")
WITHOUT_ENV = "ORDERFLOW_EMULATOR_WITHOUT"


@dataclass(frozen=True)
class Throughput:
    """Orders per second of each pipeline run and each ceiling run, of the runs of
    ``large_orders`` (none when not asked for), and records that failed."""

    orders: int
    pipeline: tuple[float, ...]
    ceiling: tuple[float, ...]
    failed: dict[str, int]
    large_orders: int = 0
    large: tuple[float, ...] = ()
    large_error: str = ""
    """Why the large run has no figure (it did not finish in time, say)."""

    @property
    def share_of_ceiling(self) -> float:
        """Median pipeline throughput as a share of the median ceiling (1.0 = the ceiling)."""
        return ratio(median(self.pipeline), median(self.ceiling))

    @property
    def large_share(self) -> float | None:
        """Median throughput at ``large_orders`` as a share of that at ``orders``."""
        return ratio(median(self.large), median(self.pipeline)) if self.large else None


@dataclass(frozen=True)
class PlainMoto:
    """The pipeline's orders per second on plain moto (see ``LEFT_OUT_FOR_PLAIN_MOTO``)."""

    orders: int
    pipeline: tuple[float, ...]
    failed: dict[str, int]
    left_out: tuple[str, ...] = LEFT_OUT_FOR_PLAIN_MOTO


class Workers:
    """One event source mapping worker per function, running ``handler`` (or its own)."""

    def __init__(self, runtime: Any, *, handler: str | None) -> None:
        from orderflow.local.runtime import FunctionWorker  # noqa: PLC0415

        self._runtime = runtime
        self.workers = {
            service: FunctionWorker(
                dataclasses.replace(worker.spec, handler=handler) if handler else worker.spec,
                runtime.run_dir,
            )
            for service, worker in runtime.workers.items()
        }

    def start(self) -> None:
        runtime = self._runtime
        for worker in self.workers.values():
            worker.start(
                runtime.aws.endpoint_url,
                runtime.clock,
                runtime.run_dir / "faults.json",
                runtime.fixes.directory,
                runtime.options.max_concurrency,
            )

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()

    def processed(self) -> dict[str, tuple[int, int, float | None]]:
        """Per service: records succeeded, records failed, and when the last success ended."""
        counts = {}
        for service, worker in self.workers.items():
            stats = worker.snapshot()
            counts[service] = (stats.records_succeeded, stats.records_failed, stats.last_success)
        return counts


def expected_records(traffic: ReferenceTraffic) -> dict[str, int]:
    """Records each consumer must process for ``traffic`` to be done."""
    return {service: len(traffic.routed_to(service)) for service in SERVICES}


@dataclass(frozen=True)
class Run:
    """One run: seconds from the first publish to the last consumer done, and failed records."""

    seconds: float
    failed: dict[str, int]


def run_once(
    workers: Workers,
    publish: Callable[[Sequence[EventEnvelope]], object],
    events: Sequence[EventEnvelope],
    expected: Mapping[str, int],
    timeout: float,
) -> Run:
    """Publish ``events``; wait until every consumer has handled every record routed to it.

    A record that fails counts as handled: its retry comes only after the queue's visibility
    timeout (minutes), which would measure the timeout, not the pipeline. Failures are
    reported with the run instead.
    """
    before = workers.processed()
    started = time.time()
    publish(events)
    deadline = time.monotonic() + timeout
    while True:
        now = workers.processed()
        done = {s: now[s][0] - before[s][0] for s in expected}
        failed = {s: now[s][1] - before[s][1] for s in expected}
        if all(done[s] + failed[s] >= expected[s] for s in expected):
            finished = max(float(now[s][2] or started) for s in expected)
            return Run(max(finished - started, 1e-6), {s: n for s, n in failed.items() if n})
        if time.monotonic() > deadline:
            behind = ", ".join(
                f"{s} {done[s]}/{expected[s]}"
                for s in expected
                if done[s] + failed[s] < expected[s]
            )
            raise BenchError(f"pipeline not done after {timeout:.0f} s: {behind}")
        time.sleep(POLL_SECONDS)


def _stock(runtime: Any, resources: Any) -> None:
    from orderflow.bench.fakes import stock_settings  # noqa: PLC0415
    from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger  # noqa: PLC0415
    from orderflow.inventory.admin import seed_stock  # noqa: PLC0415

    tables = resources.services["inventory"].tables
    ledger = DynamoDBStockLedger(
        runtime.client("dynamodb"),
        stock_table=tables["StockTable"],
        movements_table=tables["MovementsTable"],
    )
    seed_stock(ledger, stock_settings(), seed_id=STAGE)


def _phase(
    runtime: Any,
    *,
    handler: str | None,
    seeds: Sequence[int],
    orders: int,
    publish: Callable[[Sequence[EventEnvelope]], object],
    timeout: float,
    failed: Counter[str],
) -> list[float]:
    """Orders per second of one run per seed, with fresh workers warmed up first."""
    workers = Workers(runtime, handler=handler)
    workers.start()
    # In the pipeline the consumers publish what they derive; for the ceiling the benchmark
    # publishes it, so the embedded AWS sees the same publishes either way.
    publish_derived = handler is not None
    try:
        warm_up = reference_traffic(WARM_UP_ORDERS, seed=seeds[0] + 100_000)
        events = _published_by_us(warm_up, publish_derived)
        run_once(workers, publish, events, expected_records(warm_up), timeout)
        rates = []
        for seed in seeds:
            traffic = reference_traffic(orders, seed=seed)
            events = _published_by_us(traffic, publish_derived)
            run_timeout = max(timeout, orders / MIN_ORDERS_PER_SECOND)
            run = run_once(workers, publish, events, expected_records(traffic), run_timeout)
            failed.update(run.failed)
            rates.append(orders / run.seconds)
        return rates
    finally:
        workers.stop()


def _published_by_us(traffic: ReferenceTraffic, derived_too: bool) -> list[EventEnvelope]:
    if derived_too:
        return list(traffic.events)
    return [event for event in traffic.events if event.producer == ORDER_API]


class _System:
    """The local runtime up, its own workers stopped, stock seeded: the benchmark runs phases."""

    def __init__(self, root: Path, state_dir: Path, timeout: float) -> None:
        from orderflow.emulator.server import EmbeddedAwsError  # noqa: PLC0415
        from orderflow.local.runtime import LocalRuntime, RuntimeOptions  # noqa: PLC0415
        from orderflow.platform.errors import PlatformError  # noqa: PLC0415

        options = RuntimeOptions(stage=STAGE, state_dir=state_dir, sync_alarms=False, root=root)
        self.runtime = LocalRuntime(options)
        try:
            resources = self.runtime.start()
        except (PlatformError, EmbeddedAwsError) as exc:
            raise BenchError(f"the local runtime did not start: {exc}") from exc
        try:
            # The runtime's own workers give way to the benchmark's, which it starts and stops.
            for worker in self.runtime.workers.values():
                worker.stop()
            _stock(self.runtime, resources)
        except BaseException:
            self.runtime.stop()
            raise
        self.topic_arn = resources.topic_arn
        self.clients = [self.runtime.new_client("sns") for _ in range(PUBLISHERS)]
        self.timeout = timeout
        # Every run its own orders (order ids follow the seed), so no run replays another.
        self._seeds = itertools.count(1000)
        self.failed: Counter[str] = Counter()

    def publish(self, events: Sequence[EventEnvelope]) -> None:
        """Publish ``events`` from ``PUBLISHERS`` publishers at once; return when all are out."""
        from orderflow.local.demo import ConcurrentPublisher  # noqa: PLC0415

        publisher = ConcurrentPublisher(self.topic_arn, self.clients).start(events)
        publisher.join()
        if publisher.errors:
            raise BenchError(f"publishing failed: {publisher.errors[0]}")

    def phase(self, handler: str | None, runs: int, orders: int) -> list[float]:
        return _phase(
            self.runtime,
            handler=handler,
            seeds=[next(self._seeds) for _ in range(runs)],
            orders=orders,
            publish=self.publish,
            timeout=self.timeout,
            failed=self.failed,
        )

    def stop(self) -> None:
        self.runtime.stop()


def measure_throughput(
    root: Path,
    state_dir: Path,
    *,
    orders: int,
    runs: int,
    large_orders: int = 0,
    timeout: float = 300.0,
) -> Throughput:
    """Bring the system up locally; ``runs`` pipeline runs between ceiling runs, then one
    pipeline run of ``large_orders`` (if any)."""
    system = _System(root, state_dir, timeout)
    try:
        ceiling = system.phase(NOOP_HANDLER, (runs + 1) // 2, orders)
        pipeline = system.phase(None, runs, orders)
        if runs // 2:
            ceiling += system.phase(NOOP_HANDLER, runs // 2, orders)
        large: list[float] = []
        large_error = ""
        if large_orders:
            try:
                large = system.phase(None, 1, large_orders)
            except BenchError as exc:  # the small runs' figures stand without it
                large_error = str(exc)
    finally:
        system.stop()
    return Throughput(
        orders,
        tuple(pipeline),
        tuple(ceiling),
        dict(system.failed),
        large_orders,
        tuple(large),
        large_error,
    )


def measure_plain_moto(
    root: Path, state_dir: Path, *, orders: int, runs: int = 1, timeout: float = 300.0
) -> PlainMoto:
    """The pipeline's throughput on an embedded AWS without ``LEFT_OUT_FOR_PLAIN_MOTO``."""
    before = os.environ.get(WITHOUT_ENV)
    # The embedded AWS reads its environment when it starts (inherited from this process).
    os.environ[WITHOUT_ENV] = ",".join(LEFT_OUT_FOR_PLAIN_MOTO)
    try:
        system = _System(root, state_dir, timeout)
    finally:
        if before is None:
            os.environ.pop(WITHOUT_ENV, None)
        else:
            os.environ[WITHOUT_ENV] = before
    try:
        pipeline = system.phase(None, runs, orders)
    finally:
        system.stop()
    return PlainMoto(orders, tuple(pipeline), dict(system.failed))
