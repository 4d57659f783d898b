"""orderflow payment service: charge each order once, refund it once, publish the outcome."""

from __future__ import annotations

from orderflow.payment.domain import (
    Cashier,
    ChargeNotRecordedError,
    Payment,
    PaymentOutcome,
    PaymentRecorded,
    PaymentStatus,
    Refund,
    RefundRecorded,
    RefundRejected,
    RefundRejection,
    RefundRejectionReason,
    charge_key,
    refund_key,
)

__all__ = [
    "Cashier",
    "ChargeNotRecordedError",
    "Payment",
    "PaymentOutcome",
    "PaymentRecorded",
    "PaymentStatus",
    "Refund",
    "RefundRecorded",
    "RefundRejected",
    "RefundRejection",
    "RefundRejectionReason",
    "charge_key",
    "refund_key",
]
