"""The local runtime's live status: each service's backlog and alarm, and what its function did.

The backlog and alarm columns are what ``orderflow status`` shows (the platform's own
``backlogs`` and ``alarm_states``); the function columns come from the pollers' reports,
INIT from the reports of each environment's first invocation (its Init Duration). Requests the
embedded AWS denied (a function's, the workflow's or a target's role did not allow them) are
read from its IAM decisions (``/_orderflow/iam-decisions?denied=1``) as they happen.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.table import Table

from orderflow.platform.alarms import alarm_states, worst_state
from orderflow.platform.backlog import backlogs
from orderflow.platform.stage import ServiceQueues, discover_queues

if TYPE_CHECKING:
    from orderflow.local.pollers import InvocationReport
    from orderflow.local.runtime import FunctionStats, LocalRuntime


@dataclass(frozen=True)
class ServiceStatus:
    """One row of the live status."""

    service: str
    depth: int
    in_flight: int
    oldest_age_seconds: int | None
    dlq_depth: int | None
    alarm: str
    processed: int
    failed: int
    invocations: Mapping[str, int]
    init_durations_ms: tuple[float, ...] = ()
    """Each recent execution environment's init, as it reported it (oldest first)."""
    mapping_state: str = ""
    """The function's event source mapping as its worker last saw it (``Enabled``, ...)."""

    @property
    def backlog(self) -> int:
        """Messages on the source queue, visible or in flight."""
        return self.depth + self.in_flight


def service_statuses(
    runtime: LocalRuntime,
    queues: Mapping[str, ServiceQueues] | None = None,
    *,
    ages: bool = True,
) -> list[ServiceStatus]:
    """A fresh read of every service's backlog, alarm and function activity.

    ``queues`` (``discover_queues`` of the stage, which a caller refreshing often reads once)
    saves listing and tagging every queue on each read; ``ages=False`` leaves the oldest
    message's age out (a CloudWatch query over every datapoint of the run: the depths are queue
    attributes, cheap however long the run).
    """
    stage = runtime.options.stage
    sqs, cloudwatch = runtime.client("sqs"), runtime.client("cloudwatch")
    known = queues if queues is not None else discover_queues(sqs, stage)
    found = backlogs(sqs, cloudwatch, known, with_ages=ages)
    states = alarm_states(cloudwatch, stage)
    rows = []
    for backlog in found:
        worker = runtime.workers.get(backlog.service)
        stats: FunctionStats | None = worker.snapshot() if worker else None
        rows.append(
            ServiceStatus(
                service=backlog.service,
                depth=backlog.depth,
                in_flight=backlog.in_flight,
                oldest_age_seconds=backlog.oldest_age_seconds,
                dlq_depth=backlog.dlq_depth,
                alarm=worst_state([s for s in states if s.service == backlog.service]),
                processed=stats.records_succeeded if stats else 0,
                failed=stats.records_failed if stats else 0,
                invocations=dict(stats.invocations) if stats else {},
                init_durations_ms=init_durations(stats.recent) if stats else (),
                mapping_state=worker.mapping_state if worker else "",
            )
        )
    return rows


def init_durations(reports: Iterable[InvocationReport]) -> tuple[float, ...]:
    """The init each environment reported with its first invocation, in order."""
    return tuple(r.init_duration_ms for r in reports if r.init_duration_ms is not None)


def init_line(report: InvocationReport) -> str | None:
    """``payment: Init Duration 412.30 ms`` for an environment's first invocation, else None."""
    if report.init_duration_ms is None:
        return None
    return f"{report.service}: Init Duration {report.init_duration_ms:.2f} ms"


def init_summary(durations: Sequence[float]) -> str:
    """The latest environment's init, and the slowest and how many when there were more."""
    if not durations:
        return "-"
    latest = f"{durations[-1]:.0f} ms"
    if len(durations) == 1:
        return latest
    return f"{latest} (max {max(durations):.0f} ms of {len(durations)})"


def _invocations(counts: Mapping[str, int]) -> str:
    order = ("ok", "partial", "error", "timeout", "crash")
    shown = [f"{counts[k]} {k}" for k in order if counts.get(k)]
    return ", ".join(shown) or "-"


def status_table(title: str, rows: list[ServiceStatus]) -> Table:
    """The status as a table (the same columns as ``orderflow status``, plus the function's)."""
    # The CLI's own helpers, imported late: the CLI package imports this module's commands.
    from orderflow.platform.cli.state import age, table  # noqa: PLC0415

    return table(
        title,
        [
            "SERVICE",
            "DEPTH",
            "IN FLIGHT",
            "OLDEST",
            "DLQ",
            "ALARM",
            "DONE",
            "FAILED",
            "INVOCATIONS",
            "INIT",
        ],
        [
            [
                _service_cell(r),
                r.depth,
                r.in_flight,
                age(r.oldest_age_seconds),
                r.dlq_depth,
                r.alarm,
                r.processed,
                r.failed,
                _invocations(r.invocations),
                init_summary(r.init_durations_ms),
            ]
            for r in rows
        ],
    )


def _service_cell(row: ServiceStatus) -> str:
    """The service, and its event source mapping's state when it is not polling."""
    paused = row.mapping_state and row.mapping_state != "Enabled"
    return f"{row.service} (mapping {row.mapping_state.lower()})" if paused else row.service


DENIALS = "iam-decisions?denied=1"
"""The embedded AWS's record of the requests it denied, oldest first."""


class DenialWatch:
    """The denials recorded since the last look (the embedded AWS keeps them in order)."""

    def __init__(self, inspect: Callable[[str], Any]) -> None:
        self._inspect = inspect
        self._seen = 0
        self.available = True
        """False once the embedded AWS answered that it records no IAM decisions."""

    def new(self) -> list[dict[str, Any]]:
        if not self.available:
            return []
        try:
            denials = list(self._inspect(DENIALS))
        except urllib.error.HTTPError as error:
            if error.code == 404:  # an embedded AWS without IAM enforcement
                self.available = False
            return []
        except OSError:
            return []  # busy or stopping: the next look catches up
        if len(denials) < self._seen:  # the record was cleared
            self._seen = 0
        fresh, self._seen = denials[self._seen :], len(denials)
        return fresh


def denial_line(decision: Mapping[str, Any]) -> str:
    """``denied: <principal> may not <action> on <resource> (<reason>)``."""
    who = decision.get("principal") or decision.get("role_name") or "?"
    line = f"denied: {who} may not {decision.get('action')} on {decision.get('resource')}"
    reason = decision.get("reason")
    return f"{line} ({reason})" if reason else line
