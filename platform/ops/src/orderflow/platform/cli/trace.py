"""``orderflow trace ORDER_ID``: one order's fan-out as a tree with timings per service."""

from __future__ import annotations

import click
from rich.console import Console
from rich.tree import Tree

from orderflow.platform.cli.state import CliState, common_options, pass_state
from orderflow.platform.tracing import Span, order_journey


def _label(span: Span, origin: float) -> str:
    event = span.annotations.get("event_type", "")
    fault = " [red]FAULT[/red]" if span.fault else ""
    return (
        f"[bold]{span.name}[/bold] {event} "
        f"+{(span.start - origin) * 1000:.0f} ms, {span.duration_ms:.0f} ms{fault}"
    )


def _grow(tree: Tree, span: Span, origin: float) -> None:
    for child in span.children:
        _grow(tree.add(_label(child, origin)), child, origin)


@click.command("trace")
@click.argument("order_id")
@click.option("--hours", default=6.0, show_default=True, help="How far back to search.")
@common_options
@pass_state
def trace(state: CliState, order_id: str, hours: float) -> None:
    """One order's journey from X-Ray: publisher, then every consumer, with timings."""
    roots = order_journey(state.aws.xray(), order_id, hours=hours)

    def human(console: Console) -> None:
        for root in roots:
            tree = Tree(f"trace {root.trace_id}  " + _label(root, root.start))
            _grow(tree, root, root.start)
            console.print(tree)

    state.out.emit([r.to_dict() for r in roots], human)
