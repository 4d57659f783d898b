"""``orderflow publish`` (one order event) and ``orderflow load`` (many, at a rate)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import click
from rich.console import Console

from orderflow.contracts import EventEnvelope, OrderCreated
from orderflow.messaging import EventPublisher
from orderflow.platform.cli.state import CliState, common_options, pass_state, table
from orderflow.platform.orders import (
    OrderFileError,
    order_from_file,
    order_from_flags,
    order_traffic,
)
from orderflow.platform.stage import topic_arn


def _publisher(state: CliState) -> EventPublisher:
    aws = state.aws
    arn = topic_arn(aws.sns(), aws.ssm(), state.stage, "order-events")
    return EventPublisher(arn, client=aws.sns())


@click.command(short_help="Publish one order event (file or flags).")
@click.argument("order_file", required=False, type=click.Path(path_type=Path))
@click.option("--order-id", help="Order id (default: a new one).")
@click.option(
    "--item",
    "items",
    multiple=True,
    metavar="SKU:QTY[:PRICE]",
    help="A line item; repeat for more. Price defaults to the catalog's.",
)
@click.option("--email", default="jane.doe@example.com", show_default=True)
@click.option("--currency", default="EUR", show_default=True)
@click.option("--payment-token", default="tok_visa", show_default=True)
@common_options
@pass_state
def publish(
    state: CliState,
    *,
    order_file: Path | None,
    order_id: str | None,
    items: tuple[str, ...],
    email: str,
    currency: str,
    payment_token: str,
) -> None:
    """Publish one order event, from ORDER_FILE (JSON) or built from --item flags.

    \b
    orderflow publish order.json
    orderflow publish --item sku-tee:2 --item sku-mug:1 --email ana@example.com

    The file holds one event (order.created unless it names another event_type); envelope
    fields left out (event_id, occurred_at, correlation_id, producer) are filled in. The event
    is validated against its contract before anything is sent.
    """
    if order_file is not None and items:
        raise OrderFileError("give an order file or --item flags, not both")
    if order_file is not None:
        event = order_from_file(order_file)
    else:
        event = order_from_flags(
            order_id=order_id,
            items=items,
            email=email,
            currency=currency,
            payment_token=payment_token,
        )
    message_id = _publisher(state).publish(event)
    result = {
        "event_type": event.TYPE,
        "order_id": event.order_id,
        "event_id": str(event.event_id),
        "message_id": message_id,
    }
    state.out.emit(
        result,
        lambda console: console.print(
            f"published {event.TYPE} for {event.order_id} (event {event.event_id})"
        ),
    )


@click.command(short_help="Publish a realistic mix of orders at a rate.")
@click.option("--orders", default=100, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--rate",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Orders per second.",
)
@click.option("--seed", type=int, help="Seed for a repeatable mix.")
@click.option("--currency", default="EUR", show_default=True)
@common_options
@pass_state
def load(state: CliState, orders: int, rate: float, seed: int | None, currency: str) -> None:
    """Publish ORDERS orders at RATE a second: creates, cancels, shipments and refunds.

    Every order is created; about 10% are then cancelled, 70% ship, and some shipped orders
    are refunded. Follow-ups arrive a few orders after their order, as they would.
    """
    publisher = _publisher(state)
    counts: Counter[str] = Counter()
    started = time.monotonic()
    batch: list[EventEnvelope] = []
    created = 0

    def flush() -> None:
        publisher.publish_batch(batch)
        counts.update(e.TYPE for e in batch)
        batch.clear()

    with state.out.progress("publishing orders", orders) as advance:
        for event in order_traffic(orders, seed=seed, currency=currency):
            if isinstance(event, OrderCreated):
                # Pace on orders: the n-th order goes out no earlier than n / rate seconds in.
                delay = started + created / rate - time.monotonic()
                if delay > 0:
                    if batch:
                        flush()
                    time.sleep(delay)
                created += 1
                advance(created, orders)
            batch.append(event)
            if len(batch) == 10:
                flush()
        if batch:
            flush()
    elapsed = time.monotonic() - started
    summary = {
        "orders": orders,
        "events": sum(counts.values()),
        "by_type": dict(sorted(counts.items())),
        "seconds": round(elapsed, 2),
        "orders_per_second": round(orders / elapsed, 1) if elapsed > 0 else None,
    }

    def human(console: Console) -> None:
        console.print(table("published", ["EVENT TYPE", "COUNT"], sorted(counts.items())))
        console.print(
            f"{orders} orders, {summary['events']} events in {summary['seconds']} s "
            f"({summary['orders_per_second']} orders/s)"
        )

    state.out.emit(summary, human)
