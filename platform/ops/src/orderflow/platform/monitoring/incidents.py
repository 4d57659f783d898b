"""Open incidents are running executions of the monitoring workflow; decisions are task tokens.

The waiting state publishes the page with its task token; the token is read back from the
execution's own history (the TaskScheduled event of the page), so no second store of tokens
exists to drift from what the workflow is actually waiting on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orderflow import naming
from orderflow.platform.errors import PlatformError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

REJECTED_ERROR = "Rejected"
OUTCOME_KINDS = ("dlq-resolved", "dlq-not-drained")
"""The pages that close a redrive: drained, or not."""


class IncidentError(PlatformError):
    """The incident does not exist, is not waiting for a decision, or the workflow is missing."""


@dataclass(frozen=True)
class Incident:
    id: str
    status: str
    started: datetime
    service: str = "-"
    dlq_depth: int | None = None
    waiting_for_decision: bool = False
    stopped: datetime | None = None
    groups: list[dict[str, Any]] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    """The closing page of a redrive (``kind`` dlq-resolved or dlq-not-drained), if one went out."""

    @property
    def approximately_moved(self) -> int | None:
        """How many messages the redrive moved, as SQS counts them: approximately, never exact."""
        if self.outcome is None or "approximatelyMoved" not in self.outcome:
            return None
        return int(self.outcome["approximatelyMoved"])

    @property
    def state(self) -> str:
        if self.status == "RUNNING":
            return "awaiting decision" if self.waiting_for_decision else "in progress"
        return self.status.lower()


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    event: str
    state: str
    detail: str


class IncidentDesk:
    """Lists, shows and decides the monitoring workflow's incidents for one stage."""

    def __init__(self, sfn: SFNClient, stage: str) -> None:
        self._sfn = sfn
        self.stage = stage

    @property
    def state_machine_arn(self) -> str:
        name = naming.incident_workflow(self.stage)
        paginator = self._sfn.get_paginator("list_state_machines")
        for page in paginator.paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == name:
                    return machine["stateMachineArn"]
        raise IncidentError(f"no monitoring workflow {name!r} deployed for stage {self.stage!r}")

    def execution_arn(self, incident_id: str) -> str:
        machine = self.state_machine_arn
        return machine.replace(":stateMachine:", ":execution:") + f":{incident_id}"

    def incidents(self, *, include_closed: bool = False) -> list[Incident]:
        """Incidents of the stage, newest first (running ones only unless ``include_closed``)."""
        arguments: dict[str, Any] = {"stateMachineArn": self.state_machine_arn}
        if not include_closed:
            arguments["statusFilter"] = "RUNNING"
        executions = self._sfn.list_executions(**arguments)["executions"]
        return [self._incident(e["executionArn"]) for e in executions]

    def show(self, incident_id: str) -> tuple[Incident, list[TimelineEntry]]:
        """The incident and its execution history as a readable timeline."""
        arn = self.execution_arn(incident_id)
        return self._incident(arn), [_entry(e) for e in self._history(arn)]

    def approve(self, incident_id: str, *, rate: int | None = None, by: str = "operator") -> None:
        """Let the workflow redrive (at ``rate`` messages a second, else its default)."""
        decision: dict[str, Any] = {"approvedBy": by}
        if rate is not None:
            decision["rate"] = rate
        self._sfn.send_task_success(taskToken=self._token(incident_id), output=json.dumps(decision))

    def reject(self, incident_id: str, *, reason: str) -> None:
        """Tell the workflow not to redrive; the messages stay in the DLQ with the reason paged."""
        if not reason.strip():
            raise IncidentError("a rejection needs a reason")
        self._sfn.send_task_failure(
            taskToken=self._token(incident_id), error=REJECTED_ERROR, cause=reason
        )

    def _token(self, incident_id: str) -> str:
        arn = self.execution_arn(incident_id)
        page = _waiting_page(self._history(arn))
        if page is None:
            raise IncidentError(f"incident {incident_id} is not waiting for a decision")
        token: str = page["taskToken"]
        return token

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        try:
            paginator = self._sfn.get_paginator("get_execution_history")
            pages = paginator.paginate(executionArn=execution_arn)
            return [dict(e) for p in pages for e in p["events"]]
        except self._sfn.exceptions.ExecutionDoesNotExist:
            raise IncidentError(f"no incident {execution_arn.rsplit(':', 1)[-1]}") from None

    def _incident(self, execution_arn: str) -> Incident:
        try:
            described = self._sfn.describe_execution(executionArn=execution_arn)
        except self._sfn.exceptions.ExecutionDoesNotExist:
            raise IncidentError(f"no incident {execution_arn.rsplit(':', 1)[-1]}") from None
        history = self._history(execution_arn)
        page = _latest_page(history)
        outcome = _latest_page(history, OUTCOME_KINDS)
        waiting = described["status"] == "RUNNING" and _waiting_page(history) is not None
        return Incident(
            id=described["name"],
            status=described["status"],
            started=described["startDate"],
            stopped=described.get("stopDate"),
            service=page.get("service", "-") if page else "-",
            dlq_depth=page.get("dlqDepth") if page else None,
            groups=page.get("groups", []) if page else [],
            waiting_for_decision=waiting,
            outcome=outcome,
        )


def _scheduled_message(event: dict[str, Any]) -> dict[str, Any] | None:
    details = event.get("taskScheduledEventDetails")
    if event["type"] != "TaskScheduled" or not details:
        return None
    parameters = json.loads(details.get("parameters", "{}"))
    message = parameters.get("Message")
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except json.JSONDecodeError:
            return None
    return message if isinstance(message, dict) else None


def _latest_page(
    history: list[dict[str, Any]], kinds: tuple[str, ...] = ("dlq-incident",)
) -> dict[str, Any] | None:
    pages = [m for e in history if (m := _scheduled_message(e)) and m.get("kind") in kinds]
    return pages[-1] if pages else None


def _waiting_page(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The page whose task has not finished yet, if the execution is waiting on one."""
    scheduled = [e for e in history if e["type"] == "TaskScheduled"]
    if not scheduled:
        return None
    last = scheduled[-1]
    finished = {"TaskSucceeded", "TaskFailed", "TaskTimedOut"}
    later = [e for e in history if e["id"] > last["id"] and e["type"] in finished]
    message = _scheduled_message(last)
    if later or not message or message.get("kind") != "dlq-incident":
        return None
    return message


def _entry(event: dict[str, Any]) -> TimelineEntry:
    kind = event["type"]
    state, detail = "", ""
    for key, value in event.items():
        if not key.endswith("EventDetails") or not isinstance(value, dict):
            continue
        state = value.get("name", state)
        if "error" in value:
            detail = f"{value['error']}: {value.get('cause', '')}".strip()
        elif kind == "TaskScheduled":
            message = _scheduled_message(event)
            detail = message.get("kind", "") if message else value.get("resource", "")
    return TimelineEntry(at=event["timestamp"], event=kind, state=state, detail=detail)
