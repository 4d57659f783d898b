"""Did every order end processed? Counted from what each service itself recorded.

Expected values come from the events the run published; actual values from the services' own
tables (payments, stock ledger, analytics store), the payment gateway's journal and the
embedded AWS's record of every email SES accepted. Nothing is inferred from the runtime's own
bookkeeping, so a lost or doubled effect shows up here whoever caused it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from orderflow import naming
from orderflow.contracts import (
    EventEnvelope,
    OrderCancelled,
    OrderCreated,
    OrderRefunded,
    OrderShipped,
)


@dataclass(frozen=True)
class Check:
    """One line of the reconciliation: what was expected, what the services recorded."""

    area: str
    name: str
    expected: str
    actual: str
    ok: bool


@dataclass
class Reconciliation:
    """Every check; reconciled only if all hold."""

    checks: list[Check] = field(default_factory=list)
    lost: int = 0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, area: str, name: str, expected: object, actual: object) -> None:
        self.checks.append(Check(area, name, str(expected), str(actual), expected == actual))

    def as_dict(self) -> dict[str, Any]:
        return {
            "reconciled": self.ok,
            "messages_lost": self.lost,
            "checks": [asdict(c) for c in self.checks],
        }


@dataclass(frozen=True)
class Published:
    """What the run published, and the stock it started from."""

    events: Sequence[EventEnvelope]
    initial_stock: Mapping[str, int]

    def of_type(self, event_type: type[EventEnvelope]) -> list[Any]:
        return [e for e in self.events if isinstance(e, event_type)]

    @property
    def orders(self) -> list[OrderCreated]:
        return self.of_type(OrderCreated)

    def expected_stock(self) -> dict[str, int]:
        """initial - ordered + cancelled, per sku."""
        quantities = {o.order_id: {i.sku: i.quantity for i in o.items} for o in self.orders}
        stock = dict(self.initial_stock)
        for order in self.orders:
            for sku, quantity in quantities[order.order_id].items():
                stock[sku] = stock.get(sku, 0) - quantity
        for cancel in self.of_type(OrderCancelled):
            for sku, quantity in quantities.get(cancel.order_id, {}).items():
                stock[sku] += quantity
        return stock


@dataclass(frozen=True)
class Observed:
    """What the services recorded, read by ``observe`` (or built by tests)."""

    charges: Mapping[str, int]
    """order -> charges the gateway made"""
    declines: Mapping[str, int]
    refunds: Mapping[str, int]
    """order -> refunds the gateway made"""
    payment_records: frozenset[str]
    """orders the payments table holds a charge for"""
    stock: Mapping[str, int]
    inventory_recorded: frozenset[str]
    """orders whose create the stock ledger recorded"""
    inventory_cancelled: frozenset[str]
    emails: Sequence[tuple[str, str]]
    """(template, order_id) of every email sent"""
    analytics_event_ids: frozenset[str]
    analytics_totals: Mapping[str, Any]
    queue_depths: Mapping[str, int]
    """queue name -> visible + in flight + delayed, for every source queue and DLQ"""


def reconcile(
    published: Published, observed: Observed, templates: Mapping[str, str], stage: str
) -> Reconciliation:
    """Compare; ``templates`` is notifications' event_type -> email template."""
    result = Reconciliation()
    orders = [o.order_id for o in published.orders]
    result.add("orders", "published", len(orders), len(set(orders)))
    lost = _payment(result, published, observed)
    lost += _inventory(result, published, observed)
    lost += _notifications(result, published, observed, templates, stage)
    lost += _analytics(result, published, observed)
    for queue, depth in sorted(observed.queue_depths.items()):
        result.add("queues", f"{queue} empty", 0, depth)
    result.lost = lost
    result.add("pipeline", "messages lost", 0, lost)
    return result


def _payment(result: Reconciliation, published: Published, observed: Observed) -> int:
    """One charge per order at the gateway and in the payments table; one refund per refund."""
    orders = [o.order_id for o in published.orders]
    refunded = [r.order_id for r in published.of_type(OrderRefunded)]
    charges, refunds = observed.charges, observed.refunds
    result.add(
        "payment",
        "orders charged exactly once",
        len(orders),
        sum(1 for o in orders if charges.get(o, 0) == 1),
    )
    result.add(
        "payment", "orders charged twice or more", 0, sum(1 for n in charges.values() if n > 1)
    )
    result.add("payment", "charges of unknown orders", 0, len(set(charges) - set(orders)))
    result.add(
        "payment",
        "charges recorded in the payments table",
        len(orders),
        len(set(orders) & observed.payment_records),
    )
    result.add(
        "payment",
        "refunds (one per refunded order)",
        len(refunded),
        sum(1 for o in refunded if refunds.get(o, 0) == 1),
    )
    result.add("payment", "refunds made twice", 0, sum(1 for n in refunds.values() if n > 1))
    return sum(1 for o in orders if charges.get(o, 0) == 0) + sum(
        1 for o in refunded if refunds.get(o, 0) == 0
    )


def _inventory(result: Reconciliation, published: Published, observed: Observed) -> int:
    """Every sku at exactly initial - ordered + cancelled; every create and cancel recorded."""
    for sku, expected in sorted(published.expected_stock().items()):
        result.add("inventory", f"stock {sku}", expected, observed.stock.get(sku))
    orders = {o.order_id for o in published.orders}
    cancelled = {c.order_id for c in published.of_type(OrderCancelled)}
    missing_creates = orders - observed.inventory_recorded
    missing_cancels = cancelled - observed.inventory_cancelled
    result.add("inventory", "orders recorded", len(orders), len(orders) - len(missing_creates))
    result.add(
        "inventory",
        "cancellations recorded",
        len(cancelled),
        len(cancelled) - len(missing_cancels),
    )
    return len(missing_creates) + len(missing_cancels)


def _notifications(
    result: Reconciliation,
    published: Published,
    observed: Observed,
    templates: Mapping[str, str],
    stage: str,
) -> int:
    """One email per notifiable event: per template and order, never twice."""
    orders = [o.order_id for o in published.orders]
    by_type = {
        OrderCreated.TYPE: orders,
        OrderCancelled.TYPE: [c.order_id for c in published.of_type(OrderCancelled)],
        OrderShipped.TYPE: [s.order_id for s in published.of_type(OrderShipped)],
        OrderRefunded.TYPE: [r.order_id for r in published.of_type(OrderRefunded)],
        "payment.completed": [o for o in orders if observed.charges.get(o, 0) >= 1],
        "payment.failed": [o for o in orders if observed.declines.get(o, 0) >= 1],
    }
    expected = Counter[tuple[str, str]]()
    for event_type, order_ids in by_type.items():
        template = templates.get(event_type)
        if template is None:
            continue  # notifications skips types without a template
        for order_id in order_ids:
            expected[(naming.email_template(stage, template), order_id)] += 1
    sent = Counter(observed.emails)
    for template in sorted({t for t, _ in expected} | {t for t, _ in sent}):
        want = sum(n for (t, _), n in expected.items() if t == template)
        got = sum(min(sent[key], 1) for key in expected if key[0] == template)
        result.add("notifications", f"emails {template}", want, got)
    result.add(
        "notifications",
        "emails sent twice for one event",
        0,
        sum(n - 1 for n in sent.values() if n > 1),
    )
    result.add(
        "notifications",
        "emails for no event",
        0,
        sum(n for key, n in sent.items() if key not in expected),
    )
    return sum(1 for key in expected if sent[key] == 0)


def _analytics(result: Reconciliation, published: Published, observed: Observed) -> int:
    """Every published event in the store; totals equal to what was published."""
    missing = {str(e.event_id) for e in published.events} - observed.analytics_event_ids
    result.add(
        "analytics",
        "published events stored",
        len(published.events),
        len(published.events) - len(missing),
    )
    totals = observed.analytics_totals
    charged = {o.order_id for o in published.orders if observed.charges.get(o.order_id, 0) >= 1}
    for counter, count in (
        ("orders", len(published.orders)),
        ("cancellations", len(published.of_type(OrderCancelled))),
        ("shipments", len(published.of_type(OrderShipped))),
        ("refunds", len(published.of_type(OrderRefunded))),
        ("payments", len(charged)),
    ):
        result.add("analytics", counter, count, totals.get(counter))
    revenue = _money_by_currency(
        (o.total.currency, o.total.amount) for o in published.orders if o.order_id in charged
    )
    result.add("analytics", "revenue", revenue, dict(totals.get("revenue", {})))
    refunded = _money_by_currency(
        (r.amount.currency, r.amount.amount) for r in published.of_type(OrderRefunded)
    )
    result.add("analytics", "refunded", refunded, dict(totals.get("refunded", {})))
    return len(missing)


def _money_by_currency(amounts: Iterable[tuple[str, Decimal]]) -> dict[str, str]:
    totals: dict[str, Decimal] = {}
    for currency, amount in amounts:
        totals[currency] = totals.get(currency, Decimal(0)) + amount
    return {currency: f"{amount:.2f}" for currency, amount in sorted(totals.items())}


# --- reading the services' records ------------------------------------------------------------


def observe(
    clients: Any, resources: Any, published: Published, sent_emails: Sequence[Mapping[str, Any]]
) -> Observed:
    """Read every service's own record of what it did (``clients(service)`` builds clients)."""
    from orderflow.analytics.adapters.dynamodb import (  # noqa: PLC0415
        AnalyticsTables,
        DynamoAnalyticsStore,
    )
    from orderflow.analytics.report import totals  # noqa: PLC0415
    from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger  # noqa: PLC0415
    from orderflow.inventory.domain import Cancellation, OrderRecord  # noqa: PLC0415
    from orderflow.payment.adapters.dynamodb import CHARGE_ENTRY  # noqa: PLC0415
    from orderflow.payment.adapters.gateway import read_journal  # noqa: PLC0415

    dynamodb = clients("dynamodb")
    services = resources.services
    if getattr(resources, "stripe_api_base", ""):
        from orderflow.local.localstripe import stripe_counts  # noqa: PLC0415

        # On Stripe the provider's own PaymentIntents and Refunds are the count.
        journal = stripe_counts(resources.stripe_api_base)
    else:
        journal = read_journal(resources.gateway_journal)

    # One scan per table, not one read per order: the same entries the services' own reads
    # look for (payment's charge entry, the stock ledger's order record and cancellation).
    payment_entries = entries_by_kind(
        dynamodb, services["payment"].outputs["PaymentsTableName"], (CHARGE_ENTRY,)
    )
    payment_records = frozenset(payment_entries[CHARGE_ENTRY])

    inventory_tables = services["inventory"].outputs
    ledger = DynamoDBStockLedger(
        dynamodb,
        stock_table=inventory_tables["StockTableName"],
        movements_table=inventory_tables["MovementsTableName"],
    )
    stock = {level.sku: level.available for level in ledger.all_levels()}
    ledger_entries = entries_by_kind(
        dynamodb, inventory_tables["MovementsTableName"], (OrderRecord.KEY, Cancellation.KEY)
    )
    recorded, cancels = ledger_entries[OrderRecord.KEY], ledger_entries[Cancellation.KEY]

    emails = []
    for email in sent_emails:
        data = json.loads(email.get("template_data") or "{}")
        emails.append((str(email.get("template")), str(data.get("order_id", ""))))

    analytics_tables = services["analytics"].outputs
    store = DynamoAnalyticsStore(
        dynamodb,
        AnalyticsTables(
            events=analytics_tables["EventStoreTableName"],
            order_status=analytics_tables["OrderStatusTableName"],
            hourly_metrics=analytics_tables["HourlyMetricsTableName"],
        ),
    )
    event_ids = frozenset(str(e.event_id) for e in store.events())

    sqs = clients("sqs")
    depths = {}
    for service in services.values():
        for url in (service.queue_url, service.dlq_url):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            depths[url.rsplit("/", 1)[-1]] = sum(int(v) for v in attributes.values())
    return Observed(
        charges=dict(journal.charges),
        declines=dict(journal.declines),
        refunds=dict(journal.refunds),
        payment_records=payment_records,
        stock=stock,
        inventory_recorded=frozenset(recorded),
        inventory_cancelled=frozenset(cancels),
        emails=emails,
        analytics_event_ids=event_ids,
        analytics_totals=totals(store),
        queue_depths=depths,
    )


def entries_by_kind(dynamodb: Any, table: str, kinds: Sequence[str]) -> dict[str, set[str]]:
    """entry kind -> the orders holding one, for a table keyed (order_id, entry); one
    strongly consistent scan of the keys only, filtered to ``kinds``."""
    found: dict[str, set[str]] = {kind: set() for kind in kinds}
    values = {f":k{n}": {"S": kind} for n, kind in enumerate(kinds)}
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        ProjectionExpression="#o, #e",
        FilterExpression=f"#e IN ({', '.join(values)})",
        ExpressionAttributeNames={"#o": "order_id", "#e": "entry"},
        ExpressionAttributeValues=values,
        ConsistentRead=True,
    )
    for page in pages:
        for item in page.get("Items", []):
            found[item["entry"]["S"]].add(item["order_id"]["S"])
    return found


def reconcile_run(runtime: Any, published: Published) -> Reconciliation:
    """Reconcile a running LocalRuntime against what was published to it."""
    from orderflow.notifications.domain import TEMPLATES  # noqa: PLC0415

    resources = runtime.resources
    observed = observe(runtime.client, resources, published, runtime.aws.inspect("sent-emails"))
    return reconcile(published, observed, TEMPLATES, resources.stage)
