"""The payments table in DynamoDB.

One partition per order (``order_id``), one item per ledger entry (``entry``):

* ``charge``: the order's charge (status paid, declined or refunded);
* ``refund``: the order's refund, written in one transaction with the charge's status change;
* ``refund-rejected#<event_id>``: a refund request that was not carried out, and why. Kept per
  request so a later, valid refund of the same order is not blocked by it.

Every entry is written only if absent (``orderflow.idempotency.ConditionalLedger``), so a
replayed record writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orderflow.contracts import Money
from orderflow.idempotency import ApplyOutcome, ConditionalLedger, LedgerEntry, StateUpdate
from orderflow.payment.domain import (
    Payment,
    PaymentStatus,
    Refund,
    RefundRejection,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHARGE_ENTRY = "charge"
REFUND_ENTRY = "refund"
REJECTION_ENTRY_PREFIX = "refund-rejected#"


class DynamoDBPaymentRepository:
    """``PaymentRepository`` over the service's payments table."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client
        self._ledger: ConditionalLedger | None = None

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            import boto3  # noqa: PLC0415  (deferred: keeps cold start off this path)

            self._client = boto3.client("dynamodb")
        return self._client

    @property
    def ledger(self) -> ConditionalLedger:
        if self._ledger is None:
            self._ledger = ConditionalLedger(self.client)
        return self._ledger

    def payment_of(self, order_id: str) -> Payment | None:
        """The order's charge entry (strongly consistent), or None."""
        item = self._read(order_id, CHARGE_ENTRY)
        if item is None:
            return None
        return Payment(
            order_id=order_id,
            status=PaymentStatus(item["status"]["S"]),
            amount=Money(amount=Decimal(item["amount"]["N"]), currency=item["currency"]["S"]),
            charged_at=datetime.fromisoformat(item["charged_at"]["S"]),
            payment_id=item["payment_id"]["S"] if "payment_id" in item else None,
            decline_code=item["decline_code"]["S"] if "decline_code" in item else None,
        )

    def refund_of(self, order_id: str) -> Refund | None:
        """The order's refund entry (strongly consistent), or None."""
        item = self._read(order_id, REFUND_ENTRY)
        if item is None:
            return None
        return Refund(
            order_id=order_id,
            refund_id=item["refund_id"]["S"],
            payment_id=item["payment_id"]["S"],
            amount=Money(amount=Decimal(item["amount"]["N"]), currency=item["currency"]["S"]),
            refunded_at=datetime.fromisoformat(item["refunded_at"]["S"]),
        )

    def _read(self, order_id: str, entry: str) -> dict[str, Any] | None:
        # Strongly consistent: these entries decide whether money moves again.
        response = self.client.get_item(
            TableName=self.table_name,
            Key={"order_id": {"S": order_id}, "entry": {"S": entry}},
            ConsistentRead=True,
        )
        return response.get("Item")

    def record_payment(self, payment: Payment) -> bool:
        """Write the charge entry unless present; True if this call wrote it."""
        item: dict[str, Any] = {
            "order_id": payment.order_id,
            "entry": CHARGE_ENTRY,
            "status": payment.status.value,
            "amount": payment.amount.amount,
            "currency": payment.amount.currency,
            "charged_at": payment.charged_at.isoformat(),
        }
        if payment.payment_id is not None:
            item["payment_id"] = payment.payment_id
        if payment.decline_code is not None:
            item["decline_code"] = payment.decline_code
        return self._write(item)

    def record_refund(self, refund: Refund) -> bool:
        """Write the refund entry and mark the charge refunded, together and once."""
        entry = self._entry(
            {
                "order_id": refund.order_id,
                "entry": REFUND_ENTRY,
                "refund_id": refund.refund_id,
                "payment_id": refund.payment_id,
                "amount": refund.amount.amount,
                "currency": refund.amount.currency,
                "refunded_at": refund.refunded_at.isoformat(),
            }
        )
        mark_refunded = StateUpdate(
            table=self.table_name,
            key={"order_id": refund.order_id, "entry": CHARGE_ENTRY},
            expression="SET #status = :refunded, refund_id = :refund_id",
            values={
                ":refunded": PaymentStatus.REFUNDED.value,
                ":refund_id": refund.refund_id,
                ":paid": PaymentStatus.PAID.value,
            },
            names={"#status": "status"},
            condition="#status = :paid",
        )
        return self.ledger.apply([entry], [mark_refunded]) is ApplyOutcome.APPLIED

    def record_refund_rejection(self, rejection: RefundRejection) -> bool:
        """Write the rejection of one refund request unless present."""
        return self._write(
            {
                "order_id": rejection.order_id,
                "entry": f"{REJECTION_ENTRY_PREFIX}{rejection.event_id}",
                "reason": rejection.reason.value,
                "amount": rejection.amount.amount,
                "currency": rejection.amount.currency,
                "rejected_at": rejection.rejected_at.isoformat(),
            }
        )

    def _write(self, item: dict[str, Any]) -> bool:
        return self.ledger.apply([self._entry(item)], []) is ApplyOutcome.APPLIED

    def _entry(self, item: dict[str, Any]) -> LedgerEntry:
        return LedgerEntry(table=self.table_name, item=item, key_attribute="order_id")
