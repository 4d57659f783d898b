"""`dlq inspect` names the orders of messages that broke their contract."""

from __future__ import annotations

import json

from orderflow.contracts import ContractViolationError
from orderflow.failures import FailureRecord, fingerprint
from orderflow.platform.dlq import UNKNOWN, DlqMessage, group_messages
from orderflow.testing import make_order


def float_total_body(order_id: str) -> str:
    document = json.loads(make_order(order_id).model_dump_json())
    document["total"]["amount"] = 10.0
    return json.dumps({"Type": "Notification", "Message": json.dumps(document)})


def parked(message_id: str, body: str) -> DlqMessage:
    return DlqMessage(message_id, f"rh-{message_id}", body, {}, {})


def test_malformed_messages_show_the_order_ids_they_name() -> None:
    # GIVEN two parked messages with a JSON-float total: one the ledger recorded as the consumer
    # does for a contract violation (no event type), one the ledger never saw
    error = "order.created: total.amount: not a JSON float"
    record = FailureRecord(
        message_id="m-1",
        service="payment",
        event_type="-",
        order_id="ord-recorded",
        exception_type=ContractViolationError.__name__,
        message=error,
        fingerprint=fingerprint("payment", ContractViolationError.__name__, error),
        receive_count=3,
        failures=3,
        first_seen="2026-11-27T10:00:00.000+00:00",
        last_seen="2026-11-27T10:01:00.000+00:00",
    )
    messages = [
        parked("m-1", float_total_body("ord-recorded")),
        parked("m-2", float_total_body("ord-stray")),
    ]

    # WHEN they are grouped for `dlq inspect`
    groups = {g.fingerprint: g for g in group_messages(messages, {"m-1": record})}

    # THEN each group names its order
    assert groups[record.fingerprint].sample_order_ids == ["ord-recorded"]
    assert groups[UNKNOWN].sample_order_ids == ["ord-stray"]
