"""``orderflow alarms sync | ls``: the stage's alarms and dashboard, as code."""

from __future__ import annotations

import click
from rich.console import Console

from orderflow import naming
from orderflow.platform.alarms import UNCHANGED, alarm_states, sync_alarms
from orderflow.platform.cli.state import CliState, common_options, pass_state, table
from orderflow.platform.stage import discover_queues, topic_arn


@click.group(short_help="Alarms and dashboard of a stage, as code.")
def alarms() -> None:
    """CloudWatch alarms per consumer queue, paging through the paging topic."""


@alarms.command("sync", short_help="Make the alarms match the queues; --dry-run.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@common_options
@pass_state
def alarms_sync(state: CliState, dry_run: bool) -> None:
    """Create, update or delete the stage's alarms so they match its queues.

    Per consumer queue: DLQ depth > 0, DLQ growth within the last minutes, and age of the
    oldest message above the service's own limit (its orderflow:max-age-seconds tag). Alarm
    and OK actions notify the paging topic. Also puts the stage's dashboard. Running it twice
    changes nothing the second time; alarms of queues that no longer exist are deleted.
    """
    aws = state.aws
    services = discover_queues(aws.sqs(), state.stage)
    paging = topic_arn(aws.sns(), aws.ssm(), state.stage, "paging")
    plan = sync_alarms(
        aws.cloudwatch(), state.stage, services, paging, aws.region_name(), dry_run=dry_run
    )

    def human(console: Console) -> None:
        console.print(
            table(
                f"alarms of {state.stage}" + (" (dry run: nothing changed)" if dry_run else ""),
                ["ACTION", "ALARM"],
                [[c.action, c.name] for c in plan.changes],
            )
        )
        counts = ", ".join(
            f"{action} {plan.count(action)}" for action in ("create", "update", UNCHANGED, "delete")
        )
        console.print(f"{counts}; dashboard {naming.dashboard(state.stage)}: {plan.dashboard}")
        for note in plan.notes:
            console.print(f"note: {note}")

    state.out.emit({**plan.as_dict(), "dry_run": dry_run}, human)


@alarms.command("ls")
@common_options
@pass_state
def alarms_ls(state: CliState) -> None:
    """Every alarm of the stage and its state."""
    states = alarm_states(state.aws.cloudwatch(), state.stage)
    rows = [s.__dict__ for s in states]

    def human(console: Console) -> None:
        console.print(
            table(
                f"alarms of {state.stage}",
                ["ALARM", "STATE", "SINCE", "REASON"],
                [[s.name, s.state, s.updated, s.reason] for s in states],
            )
        )

    state.out.emit({"stage": state.stage, "alarms": rows}, human)
