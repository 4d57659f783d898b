"""Failure records keyed by SQS messageId, which a message keeps when SQS moves it to a DLQ.

The fingerprint groups failures that are the same bug: the exception type and its message with
ids, emails and numbers replaced, so ``order 42 has no stock for sku-7`` and ``order 99 has no
stock for sku-3`` group together.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orderflow.contracts.errors import ContractError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_VOLATILE = [
    (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "<uuid>",
    ),
    (re.compile(r"[^@\s'\"]+@[^@\s'\"]+"), "<email>"),
    (re.compile(r"\b[0-9a-fA-F]{16,}\b"), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
]
MESSAGE_LIMIT = 500
RETENTION_SECONDS = 21 * 24 * 3600


def normalise(message: str) -> str:
    """The message with ids, emails and numbers replaced by placeholders."""
    for pattern, placeholder in _VOLATILE:
        message = pattern.sub(placeholder, message)
    return message


def fingerprint(service: str, exception_type: str, message: str) -> str:
    """A stable 12-hex id of a failure kind: same bug, same fingerprint."""
    basis = f"{service}|{exception_type}|{normalise(message)}"
    return hashlib.sha256(basis.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class FailureRecord:
    message_id: str
    service: str
    event_type: str
    order_id: str
    exception_type: str
    message: str
    fingerprint: str
    receive_count: int
    failures: int
    first_seen: str
    last_seen: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> FailureRecord:
        def s(name: str) -> str:
            return str(item.get(name, {}).get("S", ""))

        def n(name: str) -> int:
            return int(item.get(name, {}).get("N", "0"))

        return cls(
            message_id=s("message_id"),
            service=s("service"),
            event_type=s("event_type"),
            order_id=s("order_id"),
            exception_type=s("exception_type"),
            message=s("message"),
            fingerprint=s("fingerprint"),
            receive_count=n("receive_count"),
            failures=n("failures"),
            first_seen=s("first_seen"),
            last_seen=s("last_seen"),
        )


class FailureLedger:
    """Reads and writes failure records in the platform's failure-ledger table."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            import boto3  # noqa: PLC0415

            self._client = boto3.client("dynamodb")
        return self._client

    def record(
        self,
        *,
        message_id: str,
        service: str,
        error: BaseException,
        event_type: str = "",
        order_id: str = "",
        receive_count: int = 0,
    ) -> str:
        """Record (or update) why ``message_id`` failed; return the fingerprint.

        A message that broke its contract has no trusted order id; the one it names is recorded,
        so the DLQ tools can still say which order it was.
        """
        if not order_id and isinstance(error, ContractError):
            order_id = error.claimed_order_id
        exception_type = type(error).__name__
        message = str(error)[:MESSAGE_LIMIT]
        fp = fingerprint(service, exception_type, message)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.client.update_item(
            TableName=self.table_name,
            Key={"message_id": {"S": message_id}},
            UpdateExpression=(
                "SET service = :service, event_type = :event_type, order_id = :order_id, "
                "exception_type = :exception_type, message = :message, fingerprint = :fp, "
                "receive_count = :rc, last_seen = :now, expires_at = :expires, "
                "first_seen = if_not_exists(first_seen, :now) ADD failures :one"
            ),
            ExpressionAttributeValues={
                ":service": {"S": service},
                ":event_type": {"S": event_type or "-"},
                ":order_id": {"S": order_id or "-"},
                ":exception_type": {"S": exception_type},
                ":message": {"S": message or "-"},
                ":fp": {"S": fp},
                ":rc": {"N": str(receive_count)},
                ":now": {"S": now},
                ":expires": {"N": str(int(time.time()) + RETENTION_SECONDS)},
                ":one": {"N": "1"},
            },
        )
        return fp

    def lookup(self, message_ids: list[str]) -> dict[str, FailureRecord]:
        """The records of the given message ids that exist (BatchGetItem, 100 at a time)."""
        found: dict[str, FailureRecord] = {}
        unique = list(dict.fromkeys(message_ids))
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [{"message_id": {"S": m}} for m in unique[start : start + 100]]
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    record = FailureRecord.from_item(dict(item))
                    found[record.message_id] = record
                request = dict(response.get("UnprocessedKeys") or {})
        return found
