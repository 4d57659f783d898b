"""What the payment domain needs from the outside world: Protocols only.

The gateway port is shaped like a card provider with idempotency keys (Stripe-like): the same key
sent twice returns the first answer instead of charging again, so a real provider drops in behind
it without the domain changing. The once-only store and the topic are the shared ports
(``orderflow.idempotency.OnceOnlyEffects``, ``orderflow.messaging.EventSink``); the vocabulary
the ports speak (``ChargeResult``, ``GatewayUnavailableError``, ...) is the domain's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orderflow.contracts import Money
    from orderflow.payment.domain import (
        ChargeResult,
        Payment,
        PaymentOutcome,
        Refund,
        RefundRejection,
    )


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


class PaymentObserver(Protocol):
    """What the cashier reports each outcome to (logs, metrics and trace annotations)."""

    def observe(self, outcome: PaymentOutcome) -> None:
        """Report one outcome of the domain."""
        ...
