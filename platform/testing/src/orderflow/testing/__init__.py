"""Test support shared by every package: AWS-shaped SQS events, sample orders, a Lambda context.

Kept in the shared distribution so four services do not grow four copies of the same fixtures.
"""

from __future__ import annotations

from orderflow.testing.aws import create_tables, template_parameters
from orderflow.testing.events import (
    TEST_QUEUE_ARN,
    TEST_TOPIC_ARN,
    FakeLambdaContext,
    make_order,
    sqs_event,
    sqs_record,
)

__all__ = [
    "TEST_QUEUE_ARN",
    "TEST_TOPIC_ARN",
    "FakeLambdaContext",
    "create_tables",
    "make_order",
    "sqs_event",
    "sqs_record",
    "template_parameters",
]
