"""Cost per million orders on AWS: request units counted from real calls, priced at list prices.

Inputs, none of them guessed:

* what reaches each service per order: the reference traffic and the routing table;
* what each service asks of AWS per record: the request census (its real handler and adapters
  on moto, every call counted and sized, see ``census``);
* memory, architecture and batch size: the service's template.yaml;
* compute per batch: the per-record cost measured by the benchmark, scaled to the function's
  CPU share (Lambda gives a function CPU in proportion to its memory).

Time spent waiting on AWS (DynamoDB, SNS and SES round trips) is not in the measured compute, so
the Lambda duration here is a floor; ``lambda_wait_cost`` says what each millisecond of waiting
per batch adds.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orderflow.bench.stats import BenchError

# --- list prices -------------------------------------------------------------------------------
# us-east-1 list prices as published in 2025 on the pages named below (free tiers left out: at a
# million orders they are noise). Re-check them before quoting a figure outside this project.

# https://aws.amazon.com/lambda/pricing/ (2025): per request, and per GB-second by architecture.
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_PER_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
# Billed duration is rounded up to the next millisecond.
LAMBDA_BILLING_GRANULARITY_SECONDS = 0.001
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html (2025): at 1,769 MB a
# function has the equivalent of one vCPU; below that, CPU time stretches in proportion.
LAMBDA_MB_PER_VCPU = 1769

# https://aws.amazon.com/sqs/pricing/ (2025): standard queue, per request; every 64 KB chunk of
# a request's payload is billed as one request.
SQS_PER_MILLION_REQUESTS = 0.40
SQS_CHUNK_BYTES = 64 * 1024

# https://aws.amazon.com/sns/pricing/ (2025): standard topic, per publish (64 KB chunks);
# deliveries to SQS queues are not charged.
SNS_PER_MILLION_PUBLISHES = 0.50
SNS_CHUNK_BYTES = 64 * 1024
SNS_PER_MILLION_SQS_DELIVERIES = 0.0

# https://aws.amazon.com/dynamodb/pricing/on-demand/ (2025, after the November 2024 reduction):
# on-demand, per write and read request unit. One WRU writes 1 KB; one RRU reads 4 KB strongly
# consistent (or twice that eventually consistent); transactions take two units per item.
DYNAMODB_PER_MILLION_WRU = 0.625
DYNAMODB_PER_MILLION_RRU = 0.125
DYNAMODB_WRITE_UNIT_BYTES = 1024
DYNAMODB_READ_UNIT_BYTES = 4096
DYNAMODB_TRANSACTION_FACTOR = 2

# https://aws.amazon.com/ses/pricing/ (2025): per outbound email (USD 0.10 per 1,000).
SES_PER_EMAIL = 0.0001

MILLION = 1_000_000
ORDER_API = "order-api"


# --- DynamoDB request units --------------------------------------------------------------------


def _text_size(data: Any) -> int:
    return len(str(data).encode())


_SCALAR_SIZES: dict[str, Callable[[Any], int]] = {
    "S": _text_size,
    "N": lambda data: number_size(str(data)),
    "B": lambda data: len(_bytes(data)),
    "BOOL": lambda data: 1,
    "NULL": lambda data: 1,
    "SS": lambda data: sum(_text_size(s) for s in data),
    "NS": lambda data: sum(number_size(str(n)) for n in data),
    "BS": lambda data: sum(len(_bytes(b)) for b in data),
}


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes of one low-level attribute value, by DynamoDB's item size rules."""
    ((kind, data),) = value.items()
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + _text_size(k) + attribute_size(v) for k, v in data.items())
    if kind not in _SCALAR_SIZES:
        raise BenchError(f"unknown DynamoDB attribute type {kind!r}")
    return _SCALAR_SIZES[kind](data)


def number_size(text: str) -> int:
    """A number takes one byte per two significant digits, plus one."""
    digits = Decimal(text).normalize().as_tuple().digits
    return (len(digits) + 1) // 2 + 1


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of an item: every attribute's name plus its value."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int, *, transactional: bool = False) -> float:
    """WRUs of one write of ``size`` bytes (at least one 1 KB unit)."""
    units = max(1, math.ceil(size / DYNAMODB_WRITE_UNIT_BYTES))
    return float(units * (DYNAMODB_TRANSACTION_FACTOR if transactional else 1))


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    """RRUs of one read of ``size`` bytes (at least one 4 KB unit; half when eventual)."""
    units = max(1, math.ceil(size / DYNAMODB_READ_UNIT_BYTES))
    if transactional:
        return float(units * DYNAMODB_TRANSACTION_FACTOR)
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class RequestUnits:
    """Write and read request units of some DynamoDB calls."""

    write: float = 0.0
    read: float = 0.0

    def __add__(self, other: RequestUnits) -> RequestUnits:
        return RequestUnits(self.write + other.write, self.read + other.read)


def _update_size(request: Mapping[str, Any]) -> int:
    # The item after an update is not in the request; key plus new values is its lower bound.
    values = request.get("ExpressionAttributeValues", {})
    return item_size(request.get("Key", {})) + sum(attribute_size(v) for v in values.values())


def _write_size(kind: str, request: Mapping[str, Any]) -> int:
    if kind in {"Put", "PutRequest"}:
        return item_size(request["Item"])
    if kind == "Update":
        return _update_size(request)
    return item_size(request.get("Key", {}))  # Delete, DeleteRequest, ConditionCheck


def _transact_write_units(params: Mapping[str, Any], _: Mapping[str, Any]) -> RequestUnits:
    return RequestUnits(
        write=sum(
            write_units(_write_size(kind, request), transactional=True)
            for entry in params["TransactItems"]
            for kind, request in entry.items()
        )
    )


def _batch_write_units(params: Mapping[str, Any], _: Mapping[str, Any]) -> RequestUnits:
    return RequestUnits(
        write=sum(
            write_units(_write_size(kind, request))
            for requests in params["RequestItems"].values()
            for entry in requests
            for kind, request in entry.items()
        )
    )


def _get_units(params: Mapping[str, Any], response: Mapping[str, Any]) -> RequestUnits:
    size = item_size(response.get("Item", {}))
    return RequestUnits(read=read_units(size, consistent=bool(params.get("ConsistentRead"))))


def _query_units(params: Mapping[str, Any], response: Mapping[str, Any]) -> RequestUnits:
    # A query or scan is billed on the summed size of what it returns, not per item.
    size = sum(item_size(item) for item in response.get("Items", []))
    return RequestUnits(read=read_units(size, consistent=bool(params.get("ConsistentRead"))))


def _transact_get_units(_: Mapping[str, Any], response: Mapping[str, Any]) -> RequestUnits:
    items = [r.get("Item", {}) for r in response.get("Responses", [])]
    return RequestUnits(
        read=sum(read_units(item_size(i), consistent=True, transactional=True) for i in items)
    )


_UNITS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], RequestUnits]] = {
    "PutItem": lambda params, _: RequestUnits(write=write_units(item_size(params["Item"]))),
    "UpdateItem": lambda params, _: RequestUnits(write=write_units(_update_size(params))),
    "DeleteItem": lambda params, _: RequestUnits(write=write_units(item_size(params["Key"]))),
    "TransactWriteItems": _transact_write_units,
    "BatchWriteItem": _batch_write_units,
    "GetItem": _get_units,
    "Query": _query_units,
    "Scan": _query_units,
    "BatchGetItem": lambda params, response: RequestUnits(read=_batch_get_units(params, response)),
    "TransactGetItems": _transact_get_units,
}


def dynamodb_units(
    operation: str, params: Mapping[str, Any], response: Mapping[str, Any]
) -> RequestUnits:
    """Request units one DynamoDB call consumes, from its parameters and its response.

    Calls that are not billed per request (table management and the like) consume none.
    """
    units = _UNITS.get(operation)
    return units(params, response) if units else RequestUnits()


def _batch_get_units(params: Mapping[str, Any], response: Mapping[str, Any]) -> float:
    units = 0.0
    for table, request in params["RequestItems"].items():
        consistent = bool(request.get("ConsistentRead", False))
        found = response.get("Responses", {}).get(table, [])
        # A key that finds nothing still costs the minimum read.
        missing = max(0, len(request.get("Keys", [])) - len(found))
        units += sum(read_units(item_size(item), consistent=consistent) for item in found)
        units += missing * read_units(0, consistent=consistent)
    return units


def _bytes(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return base64.b64decode(str(data))


# --- SNS, SQS, Lambda --------------------------------------------------------------------------


def chunks(payload_bytes: int, chunk: int) -> int:
    """Billed requests for one request carrying ``payload_bytes`` (at least one)."""
    return max(1, math.ceil(payload_bytes / chunk))


def billed_seconds(seconds: float) -> float:
    """Lambda's billed duration: rounded up to the next millisecond."""
    steps = math.ceil(round(seconds / LAMBDA_BILLING_GRANULARITY_SECONDS, 9))
    return max(1, steps) * LAMBDA_BILLING_GRANULARITY_SECONDS


def lambda_seconds(measured_seconds: float, memory_mb: int) -> float:
    """``measured_seconds`` of one full core as CPU time on a function of ``memory_mb``."""
    return measured_seconds * max(1.0, LAMBDA_MB_PER_VCPU / memory_mb)


# --- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceUsage:
    """What one service does for ``orders`` orders: records, batches and AWS requests."""

    service: str
    orders: int
    records: int
    batch_size: int
    memory_mb: int
    architecture: str
    seconds_per_record: float
    """Measured compute per record on one full core (the per-record benchmark)."""
    dynamodb: RequestUnits
    sns_publishes: int
    """Billed SNS publish requests (64 KB chunks) the service made."""
    emails: int

    @property
    def invocations(self) -> float:
        # Full batches: a steady stream fills them; a trickle would only add invocations.
        return self.records / self.batch_size


@dataclass(frozen=True)
class Cost:
    """USD per million orders, by AWS service."""

    lambda_: float = 0.0
    sqs: float = 0.0
    sns: float = 0.0
    dynamodb: float = 0.0
    ses: float = 0.0

    @property
    def total(self) -> float:
        return self.lambda_ + self.sqs + self.sns + self.dynamodb + self.ses

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.lambda_ + other.lambda_,
            self.sqs + other.sqs,
            self.sns + other.sns,
            self.dynamodb + other.dynamodb,
            self.ses + other.ses,
        )

    def as_json(self) -> dict[str, float]:
        return {
            "lambda": self.lambda_,
            "sqs": self.sqs,
            "sns": self.sns,
            "dynamodb": self.dynamodb,
            "ses": self.ses,
            "total": self.total,
        }


def gb_second_price(architecture: str) -> float:
    """Lambda's price per GB-second for ``architecture``."""
    try:
        return LAMBDA_PER_GB_SECOND[architecture]
    except KeyError:
        raise BenchError(f"no Lambda price for architecture {architecture!r}") from None


def batch_seconds(usage: ServiceUsage) -> float:
    """Billed seconds of one full batch on the function's CPU share."""
    measured = usage.seconds_per_record * usage.batch_size
    return billed_seconds(lambda_seconds(measured, usage.memory_mb))


def service_cost(usage: ServiceUsage) -> Cost:
    """USD per million orders for one consuming service."""
    if usage.orders <= 0 or usage.batch_size <= 0:
        raise BenchError(f"{usage.service}: orders and batch size must be positive")
    per_order = MILLION / usage.orders
    invocations = usage.invocations * per_order
    gb_seconds = invocations * batch_seconds(usage) * usage.memory_mb / 1024
    lambda_cost = (
        invocations * LAMBDA_PER_MILLION_REQUESTS / MILLION
        + gb_seconds * gb_second_price(usage.architecture)
    )
    # Each record is sent to the queue once (by SNS); each batch is one receive and one
    # DeleteMessageBatch. Idle long polls of the event source mapping are not per order.
    sqs_requests = (usage.records + 2 * usage.invocations) * per_order
    return Cost(
        lambda_=lambda_cost,
        sqs=sqs_requests * SQS_PER_MILLION_REQUESTS / MILLION,
        sns=usage.sns_publishes * per_order * SNS_PER_MILLION_PUBLISHES / MILLION,
        dynamodb=(
            usage.dynamodb.write * DYNAMODB_PER_MILLION_WRU
            + usage.dynamodb.read * DYNAMODB_PER_MILLION_RRU
        )
        * per_order
        / MILLION,
        ses=usage.emails * per_order * SES_PER_EMAIL,
    )


def publisher_cost(orders: int, publishes: int, deliveries: int) -> Cost:
    """USD per million orders for the order API's own publishes and every SNS-to-SQS delivery."""
    per_order = MILLION / orders
    return Cost(
        sns=(publishes * SNS_PER_MILLION_PUBLISHES + deliveries * SNS_PER_MILLION_SQS_DELIVERIES)
        * per_order
        / MILLION
    )


def lambda_wait_cost(usages: Sequence[ServiceUsage], wait_seconds_per_batch: float) -> float:
    """USD per million orders that ``wait_seconds_per_batch`` of waiting in every batch adds."""
    total = 0.0
    for usage in usages:
        invocations = usage.invocations * MILLION / usage.orders
        gb_seconds = invocations * wait_seconds_per_batch * usage.memory_mb / 1024
        total += gb_seconds * gb_second_price(usage.architecture)
    return total
