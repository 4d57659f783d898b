"""Payment rules: charge each order once, refund it once, publish what happened.

Delivery is at least once, so every step is safe to repeat:

0. the payments table decides first: an order whose charge (or refund) is recorded there is
   never sent to the gateway again, however old the message. The once-only record below
   expires; a message does not have to (each redrive restarts its retention);
1. the charge runs through ``OnceOnlyEffects`` keyed ``charge-{order_id}`` and the gateway gets
   the same key, so neither a redelivery nor a crash mid-charge charges twice;
2. the payment is recorded with a condition, so a replay records nothing new;
3. the outcome event has an id derived from the order, so a repeated publish is the same event.

A decline is an outcome (``payment.failed``), never an error: the record succeeds. Only an
unknown outcome at the gateway (``GatewayUnavailableError``) fails the record so it retries, and
so does a refund whose charge is not recorded yet (``ChargeNotRecordedError``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orderflow.contracts import (
    EventEnvelope,
    Money,
    OrderCreated,
    OrderRefunded,
    PaymentCompleted,
    PaymentFailed,
    UnexpectedEventError,
    derived_event_id,
    utc_now,
)

if TYPE_CHECKING:
    from orderflow.idempotency import OnceOnlyEffects
    from orderflow.messaging.ports import EventSink
    from orderflow.payment.ports import PaymentGateway, PaymentObserver, PaymentRepository

PRODUCER = "payment"
"""The producer payment's events carry (its key in ``orderflow.contracts.PRODUCERS``)."""


class PaymentStatus(enum.StrEnum):
    PAID = "paid"
    DECLINED = "declined"
    REFUNDED = "refunded"


class RefundRejectionReason(enum.StrEnum):
    """Why a refund of a recorded charge cannot be made; each is final, never retried."""

    NOT_PAID = "not_paid"
    CURRENCY_MISMATCH = "currency_mismatch"
    EXCEEDS_CHARGE = "exceeds_charge"


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


class ChargeNotRecordedError(Exception):
    """A refund arrived before its order's charge was recorded: fail the record, retry later.

    The order.created may still be on its way, in flight in another container, retrying at the
    gateway or parked in the DLQ. Answering "unknown order" would drop a refund the customer is
    owed, so the refund waits (SQS redelivers it after the visibility timeout and, after
    ``MaxReceiveCount`` receives, parks it in the DLQ beside the charge it waits for).
    """


class ChargeRecordError(ValueError):
    """A stored charge result cannot be read back (it was written by something else)."""


@dataclass(frozen=True)
class Payment:
    """The charge of one order: paid (with the provider's id), declined, or later refunded."""

    order_id: str
    status: PaymentStatus
    amount: Money
    charged_at: datetime
    payment_id: str | None = None
    decline_code: str | None = None


@dataclass(frozen=True)
class Refund:
    order_id: str
    refund_id: str
    payment_id: str
    amount: Money
    refunded_at: datetime


@dataclass(frozen=True)
class RefundRejection:
    """A refund request that was not carried out, and why (kept per request event)."""

    order_id: str
    event_id: UUID
    reason: RefundRejectionReason
    amount: Money
    rejected_at: datetime


@dataclass(frozen=True)
class PaymentRecorded:
    """An order.created was answered; ``first_time`` is False on a replay."""

    payment: Payment
    event: PaymentCompleted | PaymentFailed
    first_time: bool


@dataclass(frozen=True)
class RefundRecorded:
    refund: Refund
    first_time: bool


@dataclass(frozen=True)
class RefundRejected:
    rejection: RefundRejection
    first_time: bool


PaymentOutcome = PaymentRecorded | RefundRecorded | RefundRejected


def charge_key(order_id: str) -> str:
    """Idempotency key of an order's charge, at our side and at the gateway."""
    return f"charge-{order_id}"


def refund_key(order_id: str) -> str:
    """Idempotency key of an order's refund: one refund per order."""
    return f"refund-{order_id}"


def charge_result_record(result: ChargeResult, at: datetime) -> dict[str, str]:
    """What is remembered of a charge (JSON), so a replay rebuilds the identical outcome."""
    if isinstance(result, ChargeApproved):
        return {"outcome": "approved", "payment_id": result.payment_id, "at": at.isoformat()}
    return {"outcome": "declined", "decline_code": result.decline_code, "at": at.isoformat()}


def payment_from_record(order: OrderCreated, record: dict[str, Any]) -> Payment:
    """The payment an order's remembered charge result stands for."""
    try:
        charged_at = datetime.fromisoformat(record["at"])
        if record["outcome"] == "approved":
            return Payment(
                order_id=order.order_id,
                status=PaymentStatus.PAID,
                amount=order.total,
                charged_at=charged_at,
                payment_id=str(record["payment_id"]),
            )
        if record["outcome"] == "declined":
            return Payment(
                order_id=order.order_id,
                status=PaymentStatus.DECLINED,
                amount=order.total,
                charged_at=charged_at,
                decline_code=str(record["decline_code"]),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ChargeRecordError(f"charge record of {order.order_id} is unreadable: {exc}") from exc
    raise ChargeRecordError(f"charge record of {order.order_id} has outcome {record['outcome']!r}")


def outcome_event(order: OrderCreated, payment: Payment) -> PaymentCompleted | PaymentFailed:
    """The event announcing a payment; same order and outcome, same event (id and fields)."""
    # DynamoDB trims trailing zeros (25.50 reads back as 25.5): announce the amount as the order
    # wrote it, so the event re-published from the table is the first one byte for byte.
    amount = order.total if order.total == payment.amount else payment.amount
    if payment.status is PaymentStatus.DECLINED:
        return PaymentFailed(
            event_id=derived_event_id(order.order_id, PaymentFailed.TYPE),
            occurred_at=payment.charged_at,
            order_id=order.order_id,
            correlation_id=order.correlation_id,
            producer=PRODUCER,
            customer_email=order.customer_email,
            amount=amount,
            decline_code=payment.decline_code or "declined",
        )
    if payment.payment_id is None:
        raise ChargeRecordError(f"paid order {order.order_id} has no payment id")
    return PaymentCompleted(
        event_id=derived_event_id(order.order_id, PaymentCompleted.TYPE),
        occurred_at=payment.charged_at,
        order_id=order.order_id,
        correlation_id=order.correlation_id,
        producer=PRODUCER,
        customer_email=order.customer_email,
        payment_id=payment.payment_id,
        amount=amount,
    )


def refund_rejection_reason(payment: Payment, amount: Money) -> RefundRejectionReason | None:
    """Why a refund of ``amount`` of a recorded charge cannot be carried out, or None if it can.

    A declined charge is final (the payments table keeps it, so the order is never charged
    later): there is nothing to wait for. A refunded payment is not a reason: the request is
    then a replay, answered with the refund already made.
    """
    if payment.status is PaymentStatus.DECLINED or payment.payment_id is None:
        return RefundRejectionReason.NOT_PAID
    if amount.currency != payment.amount.currency:
        return RefundRejectionReason.CURRENCY_MISMATCH
    if amount.amount > payment.amount.amount:
        return RefundRejectionReason.EXCEEDS_CHARGE
    return None


def refund_from_record(order_id: str, record: dict[str, Any]) -> Refund:
    """The refund a remembered refund result stands for."""
    try:
        return Refund(
            order_id=order_id,
            refund_id=str(record["refund_id"]),
            payment_id=str(record["payment_id"]),
            amount=Money(amount=Decimal(record["amount"]), currency=record["currency"]),
            refunded_at=datetime.fromisoformat(record["at"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ChargeRecordError(f"refund record of {order_id} is unreadable: {exc}") from exc


class Cashier:
    """Takes payment for orders and gives it back, exactly once each."""

    def __init__(
        self,
        *,
        gateway: PaymentGateway,
        repository: PaymentRepository,
        publisher: EventSink,
        once: OnceOnlyEffects,
        observer: PaymentObserver,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._gateway = gateway
        self._repository = repository
        self._publisher = publisher
        self._once = once
        self._observer = observer
        self._clock = clock

    def handle(self, event: EventEnvelope) -> PaymentOutcome:
        """Act on one event routed to payment and report the outcome to the observer.

        Raises to fail (and retry) the event's record: ``UnexpectedEventError`` for a type
        payment is not routed, ``GatewayUnavailableError``, ``ChargeNotRecordedError``.
        """
        outcome: PaymentOutcome
        if isinstance(event, OrderCreated):
            outcome = self.charge_order(event)
        elif isinstance(event, OrderRefunded):
            outcome = self.refund_order(event)
        else:
            raise UnexpectedEventError(f"{PRODUCER} does not handle {event.TYPE}")
        self._observer.observe(outcome)
        return outcome

    def charge_order(self, order: OrderCreated) -> PaymentRecorded:
        """Charge the order once, record the payment, publish payment.completed or .failed."""
        recorded = self._repository.payment_of(order.order_id)
        if recorded is not None:
            # Decided already (paid, declined or since refunded): never ask the gateway again.
            return self._announce(order, recorded, first_time=False)
        key = charge_key(order.order_id)

        def charge() -> dict[str, Any]:
            result = self._gateway.charge(
                idempotency_key=key,
                order_id=order.order_id,
                amount=order.total,
                payment_token=order.payment_token,
                correlation_id=order.correlation_id,
            )
            return charge_result_record(result, self._clock())

        payment = payment_from_record(order, self._once.run(key, charge))
        return self._announce(order, payment, self._repository.record_payment(payment))

    def _announce(self, order: OrderCreated, payment: Payment, first_time: bool) -> PaymentRecorded:
        event = outcome_event(order, payment)
        # Published on every delivery: a crash may have come between the record and the
        # publish, and the derived event id lets consumers drop the repeats.
        self._publisher.publish(event)
        return PaymentRecorded(payment=payment, event=event, first_time=first_time)

    def refund_order(self, request: OrderRefunded) -> RefundRecorded | RefundRejected:
        """Refund a paid order once; a refund that cannot be made is recorded as rejected.

        Raises ChargeNotRecordedError while the order's charge is not recorded, so the
        refund's record fails and retries instead of being dropped.
        """
        payment = self._repository.payment_of(request.order_id)
        if payment is None:
            raise ChargeNotRecordedError(
                f"refund of {request.order_id} waits for the order's charge to be recorded"
            )
        reason = refund_rejection_reason(payment, request.amount)
        payment_id = payment.payment_id
        if reason is not None or payment_id is None:
            rejection = RefundRejection(
                order_id=request.order_id,
                event_id=request.event_id,
                reason=reason or RefundRejectionReason.NOT_PAID,
                amount=request.amount,
                rejected_at=self._clock(),
            )
            first_time = self._repository.record_refund_rejection(rejection)
            return RefundRejected(rejection=rejection, first_time=first_time)
        if payment.status is PaymentStatus.REFUNDED:
            # One refund per order, decided by the payments table: never refund again.
            return RefundRecorded(refund=self._recorded_refund(request.order_id), first_time=False)
        key = refund_key(request.order_id)

        def refund() -> dict[str, Any]:
            refund_id = self._gateway.refund(
                idempotency_key=key, payment_id=payment_id, amount=request.amount
            )
            return {
                "refund_id": refund_id,
                "payment_id": payment_id,
                "amount": str(request.amount.amount),
                "currency": request.amount.currency,
                "at": self._clock().isoformat(),
            }

        made = refund_from_record(request.order_id, self._once.run(key, refund))
        return RefundRecorded(refund=made, first_time=self._repository.record_refund(made))

    def _recorded_refund(self, order_id: str) -> Refund:
        refund = self._repository.refund_of(order_id)
        if refund is None:
            raise ChargeRecordError(f"payment of {order_id} reads refunded but has no refund entry")
        return refund
