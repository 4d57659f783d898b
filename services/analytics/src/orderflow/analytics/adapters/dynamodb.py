"""The event store and both projections in DynamoDB, written together in one transaction.

Event store: partition ``order_id``, sort ``event_key`` (``occurred_at#event_id``), so an order's
history reads back in time order. Its item is the ledger entry of the transaction: written only
if absent, so a duplicate or a redrive cancels the whole transaction and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orderflow import naming
from orderflow.analytics.domain import (
    COUNTERS,
    HourlyMetrics,
    OrderStatus,
    OrderView,
    ProjectionConflictError,
)
from orderflow.contracts import OrderEvent, parse_event
from orderflow.idempotency import (
    ApplyOutcome,
    ConditionalLedger,
    LedgerConflictError,
    LedgerEntry,
    StateUpdate,
    UpdateConditionFailedError,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_REVENUE = "revenue_"
_REFUNDED = "refunded_"


@dataclass(frozen=True)
class AnalyticsTables:
    """The three table names of one stage."""

    events: str
    order_status: str
    hourly_metrics: str

    @classmethod
    def for_stage(cls, stage: str) -> AnalyticsTables:
        """The names template.yaml gives the tables of ``stage``."""
        return cls(
            events=naming.resource(stage, "analytics-events"),
            order_status=naming.resource(stage, "analytics-order-status"),
            hourly_metrics=naming.resource(stage, "analytics-hourly-metrics"),
        )


def event_key(event: OrderEvent) -> str:
    """Sort key of an event in its order's history: fixed-width UTC time, then the event id."""
    return f"{event.occurred_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{event.event_id}"


class DynamoAnalyticsStore:
    """AnalyticsStore and EventHistory over the analytics tables."""

    def __init__(self, client: DynamoDBClient, tables: AnalyticsTables) -> None:
        from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415

        self._client = client
        self.tables = tables
        self._ledger = ConditionalLedger(client)
        self._deserializer = TypeDeserializer()

    @classmethod
    def connect(
        cls, tables: AnalyticsTables, *, region: str | None = None, endpoint_url: str | None = None
    ) -> DynamoAnalyticsStore:
        """The store over ``tables`` with a client of its own (default credential chain and
        region; ``endpoint_url`` for an emulator): for the rebuild and the report."""
        import boto3  # noqa: PLC0415  (deferred, as everywhere in the service)

        from orderflow.consumer import CLIENT_TIMEOUTS  # noqa: PLC0415

        # Timeouts the consumer shell's record budget outlasts (boto3's defaults are 60 s each).
        client = boto3.client(
            "dynamodb",
            region_name=region,
            endpoint_url=endpoint_url,
            config=CLIENT_TIMEOUTS.botocore_config(),
        )
        return cls(client, tables)

    # write side

    def order_view(self, order_id: str) -> OrderView | None:
        """The order's projection, read strongly consistent so the version check rarely fails."""
        response = self._client.get_item(
            TableName=self.tables.order_status,
            Key={"order_id": {"S": order_id}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _order_view(self._plain(item)) if item else None

    def append(self, event: OrderEvent, *, order: OrderView | None, hourly: HourlyMetrics) -> bool:
        """Append ``event`` with its projection changes, all or nothing."""
        entry = LedgerEntry(
            table=self.tables.events,
            item={
                "order_id": event.order_id,
                "event_key": event_key(event),
                "event_id": str(event.event_id),
                "event_type": event.TYPE,
                "occurred_at": event.occurred_at.isoformat(),
                "body": event.model_dump_json(),
            },
            key_attribute="order_id",
        )
        updates = [_hourly_update(self.tables.hourly_metrics, hourly)]
        if order is not None:
            updates.insert(0, _order_update(self.tables.order_status, order))
        try:
            outcome = self._ledger.apply([entry], updates)
        except (UpdateConditionFailedError, LedgerConflictError) as exc:
            raise ProjectionConflictError(
                f"order {event.order_id}: projection changed concurrently ({exc})"
            ) from exc
        return outcome is ApplyOutcome.APPLIED

    # read side

    def events(self) -> Iterator[OrderEvent]:
        """Every stored event (a full scan)."""
        for item in self._scan(self.tables.events, projection="body"):
            yield parse_event(item["body"])

    def order_events(self, order_id: str) -> Sequence[OrderEvent]:
        """One order's events in time order."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.tables.events,
            KeyConditionExpression="order_id = :order_id",
            ExpressionAttributeValues={":order_id": {"S": order_id}},
            ProjectionExpression="body",
            ConsistentRead=True,
        )
        return [parse_event(self._plain(item)["body"]) for page in pages for item in page["Items"]]

    def order_views(self) -> Iterator[OrderView]:
        """Every order's live projection."""
        for item in self._scan(self.tables.order_status):
            yield _order_view(item)

    def hours(self) -> Iterator[HourlyMetrics]:
        """Every hour's live metrics."""
        for item in self._scan(self.tables.hourly_metrics):
            yield _hourly_metrics(item)

    def _scan(self, table: str, projection: str | None = None) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("scan")
        arguments: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        if projection:
            arguments["ProjectionExpression"] = projection
        for page in paginator.paginate(**arguments):
            for item in page["Items"]:
                yield self._plain(item)

    def _plain(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._deserializer.deserialize(v) for k, v in item.items()}


def _order_update(table: str, view: OrderView) -> StateUpdate:
    values: dict[str, Any] = {
        "status": view.status.value,
        "version": view.version,
        "first_event_at": view.first_event_at.isoformat(),
        "last_event_at": view.last_event_at.isoformat(),
        "currency": view.currency,
        "total": view.total,
        "paid": view.paid,
        "refunded": view.refunded,
        "customer_id": view.customer_id,
    }
    # The fold never unsets a fact, so absent facts are simply not written.
    present = {name: value for name, value in values.items() if value is not None}
    names = {f"#{name}": name for name in present}
    expression_values = {f":{name}": value for name, value in present.items()}
    if view.version == 1:
        condition = "attribute_not_exists(order_id)"
    else:
        condition = "#version = :expected_version"
        expression_values[":expected_version"] = view.version - 1
    return StateUpdate(
        table=table,
        key={"order_id": view.order_id},
        expression="SET " + ", ".join(f"#{name} = :{name}" for name in present),
        values=expression_values,
        names=names,
        condition=condition,
    )


def _hourly_update(table: str, contribution: HourlyMetrics) -> StateUpdate:
    # ADD is commutative, so concurrent events of the same hour need no version check.
    additions: dict[str, int | Decimal] = {
        name: count for name, count in contribution.counters().items() if count
    }
    additions.update({f"{_REVENUE}{c}": a for c, a in contribution.revenue.items()})
    additions.update({f"{_REFUNDED}{c}": a for c, a in contribution.refunded.items()})
    aliases = {name: f"a{i}" for i, name in enumerate(sorted(additions))}
    return StateUpdate(
        table=table,
        key={"hour": contribution.hour},
        expression="ADD " + ", ".join(f"#{alias} :{alias}" for alias in aliases.values()),
        values={f":{aliases[name]}": value for name, value in additions.items()},
        names={f"#{alias}": name for name, alias in aliases.items()},
    )


def _order_view(item: Mapping[str, Any]) -> OrderView:
    total = item.get("total")
    return OrderView(
        order_id=str(item["order_id"]),
        status=OrderStatus(item["status"]),
        version=int(item["version"]),
        first_event_at=datetime.fromisoformat(item["first_event_at"]),
        last_event_at=datetime.fromisoformat(item["last_event_at"]),
        currency=item.get("currency"),
        total=Decimal(total) if total is not None else None,
        paid=Decimal(item.get("paid", 0)),
        refunded=Decimal(item.get("refunded", 0)),
        customer_id=item.get("customer_id"),
    )


def _hourly_metrics(item: Mapping[str, Any]) -> HourlyMetrics:
    def amounts(prefix: str) -> dict[str, Decimal]:
        return {
            name.removeprefix(prefix): Decimal(value)
            for name, value in sorted(item.items())
            if name.startswith(prefix)
        }

    return HourlyMetrics(
        hour=str(item["hour"]),
        revenue=amounts(_REVENUE),
        refunded=amounts(_REFUNDED),
        **{name: int(item.get(name, 0)) for name in COUNTERS},
    )
