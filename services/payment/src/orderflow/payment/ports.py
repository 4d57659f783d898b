"""What the payment domain needs from the outside world.

The gateway port is shaped like a card provider with idempotency keys (Stripe-like): the same key
sent twice returns the first answer instead of charging again, so a real provider drops in behind
it without the domain changing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from orderflow.contracts import EventEnvelope, Money
    from orderflow.payment.domain import (
        Payment,
        PaymentOutcome,
        Refund,
        RefundRejection,
    )


class GatewayUnavailableError(Exception):
    """The gateway could not answer (outage, timeout, lost response): retry with the same key.

    Whether the charge happened is unknown; the idempotency key makes the retry safe.
    """


class GatewayRequestError(Exception):
    """The gateway refused the request itself (not a decline): retrying will not help."""


class IdempotencyKeyReusedError(GatewayRequestError):
    """The gateway holds this idempotency key for a different request: a bug on our side.

    The record fails on every receive and parks in the DLQ with this reason; nothing was charged
    by the refused request.
    """


@dataclass(frozen=True)
class ChargeApproved:
    """The card was charged; ``payment_id`` is the provider's charge id."""

    payment_id: str


@dataclass(frozen=True)
class ChargeDeclined:
    """The provider declined the card: a final answer, not an error."""

    decline_code: str


ChargeResult = ChargeApproved | ChargeDeclined


class PaymentGateway(Protocol):
    """A card payment provider that deduplicates requests by idempotency key."""

    def charge(
        self,
        *,
        idempotency_key: str,
        order_id: str,
        amount: Money,
        payment_token: str,
        correlation_id: str,
    ) -> ChargeResult:
        """Charge ``amount`` to the card behind ``payment_token`` (once per key).

        ``order_id`` and ``correlation_id`` go with the charge, so the provider's records lead
        back to the order and its trace. Raises GatewayUnavailableError when the outcome is
        unknown, IdempotencyKeyReusedError when the key was used for another request.
        """
        ...

    def refund(self, *, idempotency_key: str, payment_id: str, amount: Money) -> str:
        """Refund ``amount`` of a charge (once per key); return the refund id.

        Raises GatewayUnavailableError when the outcome is unknown.
        """
        ...


class PaymentRepository(Protocol):
    """The payments table: one charge per order, one refund per order, rejected refunds."""

    def payment_of(self, order_id: str) -> Payment | None:
        """The recorded charge of an order (strongly consistent read), or None if there is none.

        This record, not the expiring once-only store, decides whether an order was charged.
        """
        ...

    def refund_of(self, order_id: str) -> Refund | None:
        """The recorded refund of an order, or None when there is none."""
        ...

    def record_payment(self, payment: Payment) -> bool:
        """Record a charge unless one is recorded already; True if this call recorded it."""
        ...

    def record_refund(self, refund: Refund) -> bool:
        """Record a refund and mark the charge refunded, once; True if this call did it."""
        ...

    def record_refund_rejection(self, rejection: RefundRejection) -> bool:
        """Record why a refund request was not carried out, once per request."""
        ...


class OutcomePublisher(Protocol):
    """Publishes the events payment produces (``orderflow.messaging.EventPublisher`` is one)."""

    def publish(self, event: EventEnvelope) -> str:
        """Publish one event; return the transport's message id."""
        ...


class OnceOnlyEffects(Protocol):
    """Runs an external side effect once per key (``orderflow.idempotency.OnceOnly`` is one)."""

    def run(self, key: str, effect: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``effect`` unless ``key`` already ran; return its (stored) JSON-able result."""
        ...


class OutcomeObserver(Protocol):
    """Turns outcomes into logs, metrics and trace annotations."""

    def observe(self, outcome: PaymentOutcome) -> None:
        """Report one outcome of the domain."""
        ...
