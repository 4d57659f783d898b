"""Rebuild: recompute both projections from the event store alone and compare them to the live ones.

Equal projections are the proof that they are derived from the events and nothing else.

    python -m orderflow.analytics.rebuild --stage dev [--region R] [--endpoint-url URL] [--json]

Exit status: 0 equal, 1 different (each difference printed), 2 the tables could not be read.
Run it while the queue is quiet: events recorded between the reads show up as differences.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from orderflow.analytics.domain import HourlyMetrics, OrderView, Projections, project

if TYPE_CHECKING:
    from orderflow.analytics.ports import EventHistory

_STAGE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
T = TypeVar("T")


@dataclass(frozen=True)
class RebuildReport:
    """What the rebuild found: how much it replayed and every difference from the live tables."""

    events: int
    orders: int
    hours: int
    differences: tuple[str, ...]

    @property
    def equal(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "differences": list(self.differences), "equal": self.equal}


def rebuild(history: EventHistory) -> RebuildReport:
    """Fold every stored event into fresh projections and compare them with the live ones."""
    events = list(history.events())
    rebuilt = project(events)
    live = Projections(
        orders={view.order_id: view for view in history.order_views()},
        hours={row.hour: row for row in history.hours()},
    )
    return RebuildReport(
        events=len(events),
        orders=len(rebuilt.orders),
        hours=len(rebuilt.hours),
        differences=tuple(differences(rebuilt, live)),
    )


def differences(rebuilt: Projections, live: Projections) -> list[str]:
    """One line per field where the live projections differ from the rebuilt ones."""
    return [
        *_compare("order", rebuilt.orders, live.orders, _order_fields),
        *_compare("hour", rebuilt.hours, live.hours, _hour_fields),
    ]


def _compare(
    kind: str,
    rebuilt: Mapping[str, T],
    live: Mapping[str, T],
    as_fields: Callable[[T], dict[str, Any]],
) -> list[str]:
    found = []
    for key in sorted(rebuilt.keys() | live.keys()):
        mine, theirs = rebuilt.get(key), live.get(key)
        if mine == theirs:
            continue
        if theirs is None:
            found.append(f"{kind} {key}: in the event store but missing from the live projection")
        elif mine is None:
            found.append(f"{kind} {key}: in the live projection but no event in the store")
        else:
            rebuilt_fields, live_fields = as_fields(mine), as_fields(theirs)
            found.extend(
                f"{kind} {key}: {name} is {live_fields[name]} live, {value} rebuilt"
                for name, value in rebuilt_fields.items()
                if live_fields[name] != value
            )
    return found


def _order_fields(view: OrderView) -> dict[str, Any]:
    return {f.name: getattr(view, f.name) for f in fields(view)}


def _hour_fields(row: HourlyMetrics) -> dict[str, Any]:
    return {**row.counters(), "revenue": _amounts(row.revenue), "refunded": _amounts(row.refunded)}


def _amounts(amounts: Mapping[str, Decimal]) -> str:
    return ", ".join(f"{currency} {amount:.2f}" for currency, amount in sorted(amounts.items()))


def _stage(value: str) -> str:
    if not _STAGE.match(value):
        raise argparse.ArgumentTypeError(f"not a stage name: {value!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from orderflow.analytics.adapters.dynamodb import (  # noqa: PLC0415
        AnalyticsTables,
        DynamoAnalyticsStore,
    )
    from orderflow.contracts import ContractError  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m orderflow.analytics.rebuild",
        description="Recompute the analytics projections from the event store and compare.",
    )
    parser.add_argument("--stage", type=_stage, default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--region", default=None)
    parser.add_argument("--endpoint-url", default=None)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    tables = AnalyticsTables.for_stage(args.stage)
    try:
        store = DynamoAnalyticsStore.connect(
            tables, region=args.region, endpoint_url=args.endpoint_url
        )
        report = rebuild(store)
    except (BotoCoreError, ClientError) as exc:
        print(f"rebuild: cannot read the {args.stage} analytics tables: {exc}", file=sys.stderr)
        return 2
    except ContractError as exc:
        print(f"rebuild: a stored event no longer parses: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print(_text(report))
    return 0 if report.equal else 1


def _text(report: RebuildReport) -> str:
    summary = (
        f"replayed {_count(report.events, 'event')} into {_count(report.orders, 'order')}"
        f" and {_count(report.hours, 'hour')}"
    )
    if report.equal:
        return f"{summary}: projections equal the live tables"
    lines = [f"{summary}: {len(report.differences)} differences from the live tables"]
    lines.extend(f"  {line}" for line in report.differences)
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


if __name__ == "__main__":
    sys.exit(main())
