"""``orderflow incident``: the DLQ incidents the monitoring workflow opened, and their decisions."""

from __future__ import annotations

import click
from rich.console import Console

from orderflow.platform.cli.state import CliState, common_options, pass_state, table
from orderflow.platform.monitoring import Incident, IncidentDesk


@click.group()
def incident() -> None:
    """DLQ incidents: list, show, approve or reject the redrive."""


def _desk(state: CliState) -> IncidentDesk:
    return IncidentDesk(state.aws.stepfunctions(), state.stage)


def _summary(item: Incident) -> dict[str, object]:
    return {
        "id": item.id,
        "service": item.service,
        "since": item.started.isoformat(),
        "dlq_depth": item.dlq_depth,
        "state": item.state,
        "groups": item.groups,
        "approximately_moved": item.approximately_moved,
        "outcome": item.outcome,
    }


def _outcome_line(item: Incident) -> str | None:
    """The redrive's result in words; the moved count is SQS's approximation and says so."""
    outcome = item.outcome
    if outcome is None:
        return None
    moved = f"about {item.approximately_moved} message(s) moved (SQS's approximate count"
    moved += ")" if outcome.get("moveCountStable", True) else ", still changing when last read)"
    if outcome.get("kind") == "dlq-resolved":
        return f"redrive: {moved}; the DLQ stayed empty through every retry cycle: drained"
    if outcome.get("dlqDepth"):
        return f"redrive: {moved}; {outcome['dlqDepth']} message(s) parked in the DLQ again"
    return f"redrive: {moved}; the consumer did not reach them within the drain checks"


@incident.command("ls")
@click.option("--all", "include_closed", is_flag=True, help="Closed incidents too.")
@common_options
@pass_state
def incident_ls(state: CliState, include_closed: bool) -> None:
    """Open incidents: service, since, DLQ depth and state."""
    items = _desk(state).incidents(include_closed=include_closed)
    rows = [
        [i.id, i.service, i.started.strftime("%Y-%m-%d %H:%M:%S"), i.dlq_depth, i.state]
        for i in items
    ]

    def human(console: Console) -> None:
        if not rows:
            console.print(f"no open incidents in {state.stage}")
            return
        console.print(
            table(f"incidents of {state.stage}", ["ID", "SERVICE", "SINCE", "DLQ", "STATE"], rows)
        )

    state.out.emit([_summary(i) for i in items], human)


@incident.command("show")
@click.argument("incident_id")
@common_options
@pass_state
def incident_show(state: CliState, incident_id: str) -> None:
    """One incident: its failure groups and the workflow's timeline from alarm to now."""
    item, timeline = _desk(state).show(incident_id)
    entries = [
        {"at": e.at.isoformat(), "event": e.event, "state": e.state, "detail": e.detail}
        for e in timeline
    ]

    def human(console: Console) -> None:
        depth = "-" if item.dlq_depth is None else item.dlq_depth
        console.print(f"incident {item.id}: {item.service}, DLQ {depth}, {item.state}")
        for group in item.groups:
            console.print(
                f"  {group.get('count')} x {group.get('exception')}: {group.get('message')} "
                f"(orders {', '.join(group.get('sampleOrderIds', [])[:5])})"
            )
        if (line := _outcome_line(item)) is not None:
            console.print(line)
        rows = [
            [e.at.strftime("%H:%M:%S.%f")[:-3], e.state, e.event, e.detail]
            for e in timeline
            if e.state or e.detail or e.event.startswith("Execution")
        ]
        console.print(table("timeline", ["AT", "STATE", "EVENT", "DETAIL"], rows))

    state.out.emit({**_summary(item), "timeline": entries}, human)


@incident.command("approve")
@click.argument("incident_id")
@click.option("--rate", type=click.IntRange(1, 500), help="Messages a second to move back.")
@click.option("--by", default="operator", show_default=True, help="Who approves (paged).")
@common_options
@pass_state
def incident_approve(state: CliState, incident_id: str, rate: int | None, by: str) -> None:
    """Approve the redrive: the workflow moves the DLQ back and verifies it drains."""
    _desk(state).approve(incident_id, rate=rate, by=by)
    state.out.emit(
        {"incident": incident_id, "decision": "approved", "rate": rate},
        lambda console: console.print(f"incident {incident_id}: redrive approved"),
    )


@incident.command("reject")
@click.argument("incident_id")
@click.option("--reason", required=True, help="Why not (paged with the decision).")
@common_options
@pass_state
def incident_reject(state: CliState, incident_id: str, reason: str) -> None:
    """Reject the redrive: the messages stay in the DLQ; the reason is paged."""
    _desk(state).reject(incident_id, reason=reason)
    state.out.emit(
        {"incident": incident_id, "decision": "rejected", "reason": reason},
        lambda console: console.print(f"incident {incident_id}: redrive rejected ({reason})"),
    )
