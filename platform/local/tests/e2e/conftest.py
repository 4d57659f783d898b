"""End to end: the whole local runtime (embedded AWS, every stack, the functions) per test.

Each test starts a runtime on a compressed clock, publishes a small burst, lets the pipeline
settle and asserts on the reconciliation computed from the services' own records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orderflow.contracts import EventEnvelope, OrderCreated
from orderflow.local.demo import initial_stock
from orderflow.local.faults import FaultPlan
from orderflow.local.reconciliation import Published, Reconciliation, reconcile_run
from orderflow.local.runtime import LocalRuntime, RuntimeOptions
from orderflow.messaging import EventPublisher
from orderflow.platform.orders import order_traffic

QUIET_TIMEOUT = 150.0


@pytest.fixture(autouse=True)
def quiet_translator() -> None:
    logging.getLogger("samtranslator").setLevel(logging.ERROR)


def traffic(count: int, seed: int) -> list[EventEnvelope]:
    """``count`` orders with cancellations, shipments and refunds (deterministic per seed)."""
    return list(order_traffic(count, seed=seed))


@dataclass
class LocalRun:
    """A running local runtime and what a test published to it."""

    runtime: LocalRuntime
    events: list[EventEnvelope] = field(default_factory=list)
    stock: dict[str, tuple[int, int]] = field(default_factory=dict)

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
        self.stock = initial_stock([e for e in events if isinstance(e, OrderCreated)])
        self.runtime.seed_stock(self.stock)

    def publish(self, events: Sequence[EventEnvelope]) -> None:
        EventPublisher(self.resources.topic_arn, client=self.client("sns")).publish_batch(events)
        self.events.extend(events)

    def settle(self, timeout: float = QUIET_TIMEOUT) -> None:
        assert self.runtime.wait_until_quiet(timeout), f"still busy: {self.runtime.backlog()}"

    def reconciliation(self) -> Reconciliation:
        published = Published(self.events, {sku: n for sku, (n, _) in self.stock.items()})
        return reconcile_run(self.runtime, published)


@pytest.fixture
def local_run(tmp_path: Path) -> Iterator[Callable[..., LocalRun]]:
    """Start a runtime with ``faults`` and options; it is always stopped afterwards."""
    started: list[LocalRuntime] = []

    def start(faults: FaultPlan | None = None, **options: Any) -> LocalRun:
        runtime = LocalRuntime(
            RuntimeOptions(
                state_dir=tmp_path / "state",
                faults=faults or FaultPlan(),
                # Concurrency as deployed: each function at its template's MaximumConcurrency
                # (as far as the machine holds, at least 2), so races show up here first.
                **{"clock_factor": 10.0, **options},
            )
        )
        started.append(runtime)
        runtime.start()
        return LocalRun(runtime)

    yield start
    for runtime in started:
        runtime.stop()


def mismatches(result: Reconciliation) -> list[str]:
    """The checks that did not hold, readable in an assertion message."""
    return [
        f"{c.area}/{c.name}: expected {c.expected}, got {c.actual}"
        for c in result.checks
        if not c.ok
    ]
