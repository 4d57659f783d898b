"""``orderflow analytics report``: the analytics service's projections, read-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.console import Console

from orderflow.analytics.report import hourly_table, open_history, order_history, totals
from orderflow.platform.cli.state import CliState, common_options, pass_state, table


@click.group()
def analytics() -> None:
    """Business metrics from the analytics service."""


def _amounts(amounts: dict[str, str]) -> str:
    return ", ".join(f"{value} {currency}" for currency, value in amounts.items()) or "0"


@analytics.command("report", short_help="Totals and hourly metrics, or one --order.")
@click.option("--order", "order_id", help="One order's status and event history instead.")
@click.option("--since", type=click.DateTime(), help="First hour to show (UTC).")
@click.option("--until", type=click.DateTime(), help="Show hours before this (UTC).")
@common_options
@pass_state
def analytics_report(
    state: CliState, order_id: str | None, since: datetime | None, until: datetime | None
) -> None:
    """Totals and hourly metrics (orders, revenue, cancellations, refunds), or one --order."""
    history = open_history(state.stage, region=state.region, endpoint_url=state.endpoint_url)
    if order_id:
        _order_report(state, order_history(history, order_id))
        return
    hours = hourly_table(history, start=since, end=until)
    summary = totals(history)
    counters = [k for k in summary if k not in {"revenue", "refunded", "hours"}]

    def human(console: Console) -> None:
        console.print(
            table(
                f"analytics of {state.stage}: totals over {summary['hours']} hour(s)",
                [*(c.upper() for c in counters), "REVENUE", "REFUNDED"],
                [
                    [
                        *(summary[c] for c in counters),
                        _amounts(summary["revenue"]),
                        _amounts(summary["refunded"]),
                    ]
                ],
            )
        )
        if hours:
            console.print(
                table(
                    "by hour (UTC)",
                    ["HOUR", *(c.upper() for c in counters), "REVENUE", "REFUNDED"],
                    [
                        [
                            h["hour"],
                            *(h[c] for c in counters),
                            _amounts(h["revenue"]),
                            _amounts(h["refunded"]),
                        ]
                        for h in hours
                    ],
                )
            )

    state.out.emit({"stage": state.stage, "totals": summary, "hours": hours}, human)


def _order_report(state: CliState, order: dict[str, Any]) -> None:
    def human(console: Console) -> None:
        console.print(
            f"{order['order_id']}: {order.get('status')} "
            f"(total {order.get('total')} {order.get('currency') or ''}, paid {order.get('paid')}, "
            f"refunded {order.get('refunded')})"
        )
        console.print(
            table(
                "",
                ["WHEN", "EVENT", "DETAIL"],
                [[e["occurred_at"], e["event_type"], e["detail"]] for e in order["events"]],
            )
        )

    state.out.emit(order, human)
