"""``orderflow status``: every consumer's backlog and alarm state in one table."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from orderflow.platform.alarms import alarm_states, worst_state
from orderflow.platform.backlog import backlogs
from orderflow.platform.cli.state import CliState, age, common_options, pass_state, table
from orderflow.platform.stage import discover_queues


@click.command(short_help="Backlog and alarm state of every service.")
@common_options
@pass_state
def status(state: CliState) -> None:
    """Queue depth, in flight, oldest age, DLQ depth and alarm state per service."""
    aws = state.aws
    services = discover_queues(aws.sqs(), state.stage)
    found = backlogs(aws.sqs(), aws.cloudwatch(), services)
    states = alarm_states(aws.cloudwatch(), state.stage)
    rows: list[dict[str, Any]] = [
        {
            **b.as_dict(),
            "alarm": worst_state([s for s in states if s.service == b.service]),
        }
        for b in found
    ]

    def human(console: Console) -> None:
        if not rows:
            console.print(
                f"no consumer queues tagged for stage {state.stage!r}: deploy the service "
                "stacks (orderflow deploy SERVICE) or start the local runtime"
            )
            return
        console.print(
            table(
                f"orderflow {state.stage}",
                ["SERVICE", "DEPTH", "IN FLIGHT", "OLDEST", "DLQ", "ALARM"],
                [
                    [
                        r["service"],
                        r["depth"],
                        r["in_flight"],
                        age(r["oldest_age_seconds"]),
                        r["dlq_depth"],
                        r["alarm"],
                    ]
                    for r in rows
                ],
            )
        )

    state.out.emit({"stage": state.stage, "services": rows}, human)
