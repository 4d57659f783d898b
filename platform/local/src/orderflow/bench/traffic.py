"""The reference traffic every benchmark uses: a realistic day of orders and what it sets off.

The order API's events come from ``orderflow.platform.orders.order_traffic`` (creates, some
cancels, shipments and refunds); the events the services derive from them (payment outcomes,
stock alerts) come from the real payment and inventory domains run over in-memory ports. Each
service then sees exactly the events the routing table sends it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from orderflow.bench.fakes import inventory_on_fakes, payment_on_fakes
from orderflow.contracts import EventEnvelope, consumed_by, consumers_of
from orderflow.platform.orders import order_traffic


@dataclass(frozen=True)
class ReferenceTraffic:
    """``orders`` orders' events in publish order (each names its producer)."""

    orders: int
    events: tuple[EventEnvelope, ...]

    def routed_to(self, service: str) -> list[EventEnvelope]:
        """The events ``service``'s queue receives, in publish order."""
        accepted = consumed_by(service)
        return [event for event in self.events if event.TYPE in accepted]

    def publishes_by(self) -> Counter[str]:
        """Events published per producer (``order-api`` or a service)."""
        return Counter(event.producer for event in self.events)

    def deliveries(self) -> int:
        """SNS-to-SQS deliveries: one per event per subscribed queue it is routed to."""
        return sum(len(consumers_of(event.TYPE)) for event in self.events)


def reference_traffic(orders: int, seed: int = 2024) -> ReferenceTraffic:
    """The order API's events for ``orders`` orders and everything the services derive."""
    # Only these two services publish events of their own; the others only consume.
    deriving = {"payment": payment_on_fakes(), "inventory": inventory_on_fakes()}
    events: list[EventEnvelope] = []
    seen = dict.fromkeys(deriving, 0)
    for event in order_traffic(orders, seed=seed):
        events.append(event)
        for service, domain in deriving.items():
            if event.TYPE in consumed_by(service):
                domain.handle(event)
                derived = domain.published()
                events.extend(derived[seen[service] :])
                seen[service] = len(derived)
    return ReferenceTraffic(orders=orders, events=tuple(events))
