"""``orderflow dlq ls | inspect | redrive``: what failed, why, and sending it back."""

from __future__ import annotations

import click
from rich.console import Console

from orderflow.failures import FailureLedger
from orderflow.platform.backlog import backlogs
from orderflow.platform.cli.state import CliState, age, common_options, pass_state, table
from orderflow.platform.dlq import inspect_dlq, redrive_all, redrive_group
from orderflow.platform.stage import discover_queues, failure_ledger_table, service_queues


def _ledger(state: CliState) -> FailureLedger:
    aws = state.aws
    return FailureLedger(failure_ledger_table(aws.ssm(), state.stage), client=aws.dynamodb())


@click.group()
def dlq() -> None:
    """Dead-letter queues: list, inspect by failure, redrive."""


@dlq.command("ls", short_help="DLQ depth and oldest age per service.")
@common_options
@pass_state
def dlq_ls(state: CliState) -> None:
    """Per service: DLQ depth, its oldest message's age, and the source queue's depth."""
    aws = state.aws
    rows = [
        b.as_dict()
        for b in backlogs(aws.sqs(), aws.cloudwatch(), discover_queues(aws.sqs(), state.stage))
    ]

    def human(console: Console) -> None:
        console.print(
            table(
                f"dead-letter queues of {state.stage}",
                ["SERVICE", "DLQ", "DEPTH", "OLDEST", "SOURCE DEPTH"],
                [
                    [
                        r["service"],
                        r["dlq"],
                        r["dlq_depth"],
                        age(r["dlq_oldest_age_seconds"]),
                        r["depth"],
                    ]
                    for r in rows
                ],
            )
        )

    state.out.emit({"stage": state.stage, "dlqs": rows}, human)


@dlq.command("inspect")
@click.argument("service")
@click.option("--limit", type=click.IntRange(min=1), help="Look at no more than this many.")
@common_options
@pass_state
def dlq_inspect(state: CliState, service: str, limit: int | None) -> None:
    """Group SERVICE's DLQ messages by failure fingerprint. Nothing is consumed.

    Each group shows how many messages failed that way, the exception, the event types and
    some order ids. Messages the failure ledger has no record of group as 'unknown'.
    """
    queues = service_queues(state.aws.sqs(), state.stage, service)
    inspection = inspect_dlq(state.aws.sqs(), _ledger(state), queues, limit)

    def human(console: Console) -> None:
        groups = len(inspection.groups)
        console.print(f"{inspection.dlq}: {inspection.total} message(s) in {groups} group(s)")
        if not inspection.groups:
            return
        console.print(
            table(
                "",
                ["GROUP", "COUNT", "EXCEPTION", "MESSAGE", "EVENT TYPES", "SAMPLE ORDERS"],
                [
                    [
                        g.fingerprint,
                        g.count,
                        g.exception_type,
                        g.message,
                        ", ".join(g.event_types),
                        ", ".join(g.sample_order_ids),
                    ]
                    for g in inspection.groups
                ],
            )
        )
        command = f"orderflow dlq redrive {service} --stage {state.stage}"
        console.print(f"redrive one group: {command} --group GROUP")

    state.out.emit(inspection.as_dict(), human)


@dlq.command("redrive", short_help="Send a DLQ (or one --group) back to its queue.")
@click.argument("service")
@click.option("--group", "fingerprint", help="Only this failure group (from dlq inspect).")
@click.option(
    "--rate",
    type=click.IntRange(1, 500),
    default=10,
    show_default=True,
    help="Messages per second.",
)
@click.option("--dry-run", is_flag=True, help="Report what would move; move nothing.")
@click.option("--poll", type=float, default=1.0, show_default=True, hidden=True)
@common_options
@pass_state
def dlq_redrive(
    state: CliState, *, service: str, fingerprint: str | None, rate: int, dry_run: bool, poll: float
) -> None:
    """Send SERVICE's DLQ back to its source queue, all of it or one --group.

    \b
    whole DLQ:  an SQS message move task at --rate, with progress until it completes;
                the moved count is SQS's approximate one (re-read until it settles)
    one group:  each message is sent to the source queue, then deleted from the DLQ

    Deploy the fix first: a message that fails again returns to the DLQ.
    """
    queues = service_queues(state.aws.sqs(), state.stage, service)
    with state.out.progress(f"redriving {service}", None) as advance:
        if fingerprint:
            report = redrive_group(
                state.aws.sqs(),
                _ledger(state),
                queues,
                fingerprint,
                rate=rate,
                dry_run=dry_run,
                on_progress=advance,
            )
        else:
            report = redrive_all(
                state.aws.sqs(),
                queues,
                rate=rate,
                dry_run=dry_run,
                poll_seconds=poll,
                on_progress=advance,
            )

    def human(console: Console) -> None:
        verb = "would move" if dry_run else "moved"
        # A move task's count is SQS's ApproximateNumberOfMessagesMoved: say so.
        moved = f"approximately {report.moved}" if report.moved_approximate else report.moved
        console.print(
            f"{service} ({report.mode}): {verb} {moved}, skipped {report.skipped}, "
            f"failed {report.failed} [{report.status}]"
        )
        for problem in report.problems:
            console.print(f"  {problem}")

    state.out.emit(report.as_dict(), human)
    if report.failed:
        raise click.exceptions.Exit(1)
