"""Lambda's SQS event shapes, built from what SQS and SNS actually deliver.

Used by the local runtime (which polls SQS like Lambda's event source mapping does) and by tests,
so both hand handlers exactly the shape AWS does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from orderflow.contracts.events import EventEnvelope
from orderflow.messaging.publisher import message_attributes


def lambda_sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of a Lambda SQS event from one ReceiveMessage message.

    ``message`` must have been received with ``MessageSystemAttributeNames=["All"]`` and
    ``MessageAttributeNames=["All"]``.
    """
    region = queue_arn.split(":")[3]
    attributes = {k: str(v) for k, v in message.get("Attributes", {}).items()}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            name: _lambda_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", hashlib.md5(message["Body"].encode()).hexdigest()),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda spells SQS message attributes in camelCase, with list fields always present.
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(value["BinaryValue"]).decode()
        if "BinaryValue" in value
        else None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }


def lambda_sqs_event(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The Lambda event for a batch of records."""
    return {"Records": list(records)}


def sns_notification(event: EventEnvelope, topic_arn: str) -> str:
    """The SQS body SNS delivers for ``event`` when raw message delivery is off."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic_arn,
            "Message": event.model_dump_json(),
            "Timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.example/SimpleNotificationService.pem",
            "UnsubscribeURL": "https://sns.example/?Action=Unsubscribe",
            "MessageAttributes": {
                name: {"Type": attr["DataType"], "Value": attr["StringValue"]}
                for name, attr in message_attributes(event).items()
            },
        }
    )
