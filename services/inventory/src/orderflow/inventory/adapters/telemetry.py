"""What the inventory did, as Powertools logs and EMF metrics.

One log line per handled event (``stock handled``, with ``order_id`` and ``outcome``) and the
counts of ``metric_counts``, in the ``orderflow`` namespace with dimension ``service=inventory``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from orderflow.contracts import InventoryLowStock
from orderflow.inventory.domain import InventoryResult, Outcome

if TYPE_CHECKING:
    from orderflow.contracts import EventEnvelope
    from orderflow.observability import Telemetry


def metric_counts(result: InventoryResult) -> dict[str, int]:
    """EMF counts for one result: name -> value (only the non-zero ones).

    ``Reservations`` and ``OutOfStock`` count orders whose fate this event recorded first,
    ``Releases`` cancels that put stock back, ``Duplicates`` replays of recorded work and
    ``LowStockAlerts`` the alerts published.
    """
    counts = {
        "Reservations": int(result.outcome is Outcome.RESERVED),
        "OutOfStock": int(result.outcome is Outcome.OUT_OF_STOCK),
        "Releases": int(result.outcome is Outcome.RELEASED),
        "Duplicates": int(result.outcome is Outcome.DUPLICATE),
        "LowStockAlerts": sum(isinstance(e, InventoryLowStock) for e in result.published),
    }
    return {name: value for name, value in counts.items() if value}


class InventoryTelemetry:
    """``InventoryObserver`` that logs each handled event and counts what it did."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._logger = telemetry.logger
        self._metrics = telemetry.metrics

    def handled(self, event: EventEnvelope, result: InventoryResult) -> None:
        self._logger.info(
            "stock handled", extra={"order_id": event.order_id, "outcome": result.outcome}
        )
        for name, value in metric_counts(result).items():
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
