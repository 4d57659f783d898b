"""Step Functions X-Ray tracing: a traced execution's trace, sent as the state machine's role.

"Trace Step Functions request data in AWS X-Ray"
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html): with X-Ray
tracing enabled for a state machine (``tracingConfiguration.enabled``), Step Functions sends
traces to X-Ray for its executions, even when no upstream service passed a trace ID; with
tracing off it sends them only for an execution an upstream trace ID was passed to. Which
executions are recorded follows the sampling rules (by default the first each second and five
percent of the others). A trace is the segments of one request: the state machine's segment
records the execution, its subsegments the work done and the downstream calls. The state
machine's role needs ``xray:PutTraceSegments``, ``xray:PutTelemetryRecords``,
``xray:GetSamplingRules`` and ``xray:GetSamplingTargets``; when it lacks them no data appears in
X-Ray ("What if there is no data in the trace map or service map?"), and the execution runs
just as it would untraced.

moto's interpreter sends no trace. Here the emulated Step Functions does what an X-Ray SDK and
daemon do, with a session of the state machine's role (``iam_enforcement.role_client``, the
client the workflow's tasks call AWS with, so IAM enforcement decides each call as that role):

* When an execution starts (on its own thread, before its first state, so that it is listed
  RUNNING meanwhile) it is sampled ("Using sampling rules with the X-Ray API",
  https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sampling.html): the rules from
  GetSamplingRules (fetched again after five minutes), in ascending priority; a rule matches on
  ``ServiceName`` (the machine's name), ``ServiceType`` (``AWS::StepFunctions::StateMachine``)
  and ``ResourceARN`` (the machine's), and only with ``*`` as host, method and URL path (an
  execution has none). Its reservoir lends one execution per second until GetSamplingTargets,
  called with the decisions of each interval, assigns a quota; the fixed rate decides the rest.
  Without rules (the call failed) the X-Ray SDKs' local default applies, the same first-each-
  second-and-five-percent as the Default rule. An upstream trace header's ``Sampled=1``/``0``
  decides instead, and its ``Root`` is the trace.
* When it ends, before its status changes (so an execution seen finished has its trace sent),
  one segment document is uploaded with PutTraceSegments: the machine's name, origin
  ``AWS::StepFunctions::StateMachine``, ``resource_arn`` the machine, ``aws.execution_arn``, the
  execution's start and end, ``error`` unless it succeeded; from the execution history, a
  subsegment per state entered (``error`` when a task of it failed) and, in it, one per task's
  call (namespace ``aws``, named by the integrated service, ``aws.operation`` its API action).
  Then PutTelemetryRecords reports what was sent, as the daemon does.

A call the role may not make fails and is logged; the execution goes on, untraced. Not
emulated: in-progress segments of a running execution (its trace appears when it ends), the
trace header on the task's own calls, a ``StartExecution`` request's ``traceHeader``, which
moto's API does not pass on (the backend's ``trace_header`` is honoured when set).
"""

from __future__ import annotations

import functools
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orderflow.emulator.clock import current_clock
from orderflow.emulator.extension import Extension, Patch
from orderflow.emulator.iam_enforcement import matches, role_client
from orderflow.emulator.xray_sampling import DEFAULT_FIXED_RATE, DEFAULT_RESERVOIR

LOGGER = logging.getLogger(__name__)
_CALL_FAILED = (ClientError, BotoCoreError)
"""How a call to X-Ray fails: refused (AccessDeniedException, ...) or not answered."""
SERVICE_TYPE = "AWS::StepFunctions::StateMachine"
RULES_SECONDS = 300
"""How long a service uses the rules it got before it gets them again (emulated seconds)."""
REPORT_SECONDS = 10
"""The reporting interval until GetSamplingTargets names another (emulated seconds)."""


# --- sampling ---------------------------------------------------------------------------------


@dataclass
class SamplingRule:
    """One sampling rule as the sampler uses it, with the decisions it made since its report."""

    name: str
    priority: int
    reservoir: int
    fixed_rate: float
    matches: Mapping[str, str]
    quota: int | None = None
    quota_until: float = 0.0
    second: int = -1
    taken_this_second: int = 0
    requests: int = 0
    sampled: int = 0
    borrowed: int = 0

    def applies(self, machine_name: str, machine_arn: str) -> bool:
        wanted = {
            "ServiceName": machine_name,
            "ServiceType": SERVICE_TYPE,
            "ResourceARN": machine_arn,
        }
        for key, value in wanted.items():
            if not matches(str(self.matches.get(key, "*")), value):
                return False
        unmatched = ("Host", "HTTPMethod", "URLPath")
        return all(self.matches.get(key, "*") == "*" for key in unmatched)

    def decide(self, second: int) -> bool:
        """Reservoir (the quota, or one borrowed per second before there is one), then rate."""
        if second != self.second:
            self.second, self.taken_this_second = second, 0
        self.requests += 1
        has_quota = self.quota is not None and time.time() < self.quota_until
        allowance = self.quota if has_quota else min(self.reservoir, 1)
        if self.taken_this_second < (allowance or 0):
            self.taken_this_second += 1
            self.sampled += 1
            self.borrowed += 0 if has_quota else 1
            return True
        if random.random() < self.fixed_rate:  # noqa: S311  (a sampling rate, not a secret)
            self.sampled += 1
            return True
        return False


def _local_default() -> SamplingRule:
    return SamplingRule("Default", 10000, DEFAULT_RESERVOIR, DEFAULT_FIXED_RATE, {})


@dataclass
class _Sampler:
    """The sampling state of one state machine (one X-Ray client, one ``ClientID``)."""

    client_id: str = field(default_factory=lambda: secrets.token_hex(12))
    rules: list[SamplingRule] = field(default_factory=list)
    local_default: SamplingRule = field(default_factory=_local_default)
    rules_until: float = 0.0
    report_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sample(self, xray: Any, machine_name: str, machine_arn: str) -> bool:
        with self.lock:
            now = time.monotonic()
            if now >= self.rules_until:
                self._get_rules(xray, now)
            rule = (
                next((r for r in self.rules if r.applies(machine_name, machine_arn)), None)
                or self.local_default
            )
            if now >= self.report_at:
                self._get_targets(xray, now)
            return rule.decide(int(current_clock().emulated(now)))

    def _get_rules(self, xray: Any, now: float) -> None:
        try:
            records = xray.get_sampling_rules()["SamplingRuleRecords"]
        except _CALL_FAILED as failure:  # no rules: the local default applies
            LOGGER.info("X-Ray GetSamplingRules: %s", failure)
            self.rules = []
        else:
            known = {r.name: r for r in self.rules}
            self.rules = sorted(
                (_rule(record["SamplingRule"], known) for record in records),
                key=lambda r: r.priority,
            )
        self.rules_until = now + current_clock().real(RULES_SECONDS)

    def _get_targets(self, xray: Any, now: float) -> None:
        interval = REPORT_SECONDS
        if self.rules:
            statistics = [
                {
                    "RuleName": rule.name,
                    "ClientID": self.client_id,
                    "Timestamp": datetime.now(UTC),
                    "RequestCount": rule.requests,
                    "SampledCount": rule.sampled,
                    "BorrowCount": rule.borrowed,
                }
                for rule in self.rules
            ]
            try:
                response = xray.get_sampling_targets(SamplingStatisticsDocuments=statistics)
            except _CALL_FAILED as failure:  # no quota: borrowing goes on
                LOGGER.info("X-Ray GetSamplingTargets: %s", failure)
            else:
                for rule in self.rules:
                    rule.requests = rule.sampled = rule.borrowed = 0
                by_name = {r.name: r for r in self.rules}
                for target in response.get("SamplingTargetDocuments", []):
                    named = by_name.get(str(target.get("RuleName")))
                    if named is None:
                        continue
                    named.fixed_rate = float(target.get("FixedRate", named.fixed_rate))
                    if target.get("ReservoirQuota") is not None:
                        named.quota = int(target["ReservoirQuota"])
                        named.quota_until = _epoch(target.get("ReservoirQuotaTTL"))
                    interval = int(target.get("Interval") or interval)
        self.report_at = now + current_clock().real(interval)


_MATCHED = ("ServiceName", "ServiceType", "ResourceARN", "Host", "HTTPMethod", "URLPath")


def _rule(spec: Mapping[str, Any], known: Mapping[str, SamplingRule]) -> SamplingRule:
    """A rule from GetSamplingRules, keeping the quota and counts it had if it is not new."""
    rule = SamplingRule(
        name=str(spec["RuleName"]),
        priority=int(spec["Priority"]),
        reservoir=int(spec["ReservoirSize"]),
        fixed_rate=float(spec["FixedRate"]),
        matches={k: str(spec.get(k, "*")) for k in _MATCHED},
    )
    before = known.get(rule.name)
    if before is not None:
        rule.quota, rule.quota_until = before.quota, before.quota_until
        rule.requests, rule.sampled = before.requests, before.sampled
        rule.borrowed = before.borrowed
    return rule


def _epoch(value: Any) -> float:
    """Seconds since the epoch of a datetime, an ISO 8601 text (the interpreter's history) or
    a number."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        return datetime.fromisoformat(value).timestamp()
    return float(value or 0.0)


_SAMPLERS: dict[str, _Sampler] = {}
_LOCK = threading.Lock()


def _sampler(machine_arn: str) -> _Sampler:
    with _LOCK:
        return _SAMPLERS.setdefault(machine_arn, _Sampler())


# --- the execution's trace --------------------------------------------------------------------


@dataclass(frozen=True)
class _Trace:
    trace_id: str
    parent_id: str | None


_TRACES: dict[str, _Trace] = {}
"""The traces of the executions running, by execution ARN."""


def _header(text: str | None) -> dict[str, str]:
    """``Root=1-...;Parent=...;Sampled=1`` as its fields (the X-Ray tracing header)."""
    fields = {}
    for part in (text or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key and value:
            fields[key] = value
    return fields


def _new_trace_id() -> str:
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


def trace_of(execution: Any) -> _Trace | None:
    """The execution's trace if it is recorded: tracing on or an upstream trace ID, sampled."""
    machine = execution.state_machine
    tracing = bool((getattr(machine, "tracingConfiguration", None) or {}).get("enabled"))
    upstream = _header(getattr(execution, "trace_header", None))
    if not (tracing or "Root" in upstream) or not execution.role_arn:
        return None
    if upstream.get("Sampled") in ("0", "1"):
        sampled = upstream["Sampled"] == "1"
    else:
        xray = role_client(str(execution.role_arn), str(execution.region_name), "xray")
        sampled = _sampler(str(machine.arn)).sample(xray, str(machine.name), str(machine.arn))
    if not sampled:
        return None
    return _Trace(upstream.get("Root") or _new_trace_id(), upstream.get("Parent"))


def _segment_id() -> str:
    return secrets.token_hex(8)


def _at(event: Mapping[str, Any]) -> float:
    return _epoch(event.get("timestamp"))


def _subsegments(history: list[Mapping[str, Any]], end: float) -> list[dict[str, Any]]:
    """A subsegment per state entered, with one per task call in it, from the history."""
    states: list[dict[str, Any]] = []
    open_states: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for event in history:
        kind = str(getattr(event.get("type"), "value", event.get("type")))
        if kind.endswith("StateEntered"):
            name = str(event.get("stateEnteredEventDetails", {}).get("name", ""))
            state = {"id": _segment_id(), "name": name, "start_time": _at(event)}
            states.append(state)
            open_states.setdefault(name, []).append(state)
            current.append(state)
        elif kind.endswith("StateExited"):
            name = str(event.get("stateExitedEventDetails", {}).get("name", ""))
            if open_states.get(name):
                state = open_states[name].pop()
                state["end_time"] = _at(event)
                current.remove(state)
        elif kind == "TaskScheduled" and current:
            details = event.get("taskScheduledEventDetails", {})
            call = {
                "id": _segment_id(),
                "name": str(details.get("resourceType", "")).rsplit(":", 1)[-1],
                "namespace": "aws",
                "start_time": _at(event),
                "aws": {"operation": _operation(str(details.get("resource", "")))},
            }
            current[-1].setdefault("subsegments", []).append(call)
            calls.append(call)
        elif kind in ("TaskSucceeded", "TaskFailed", "TaskTimedOut") and calls:
            call = calls.pop()
            call["end_time"] = _at(event)
            if kind != "TaskSucceeded":
                call["error"] = True
                if current:
                    current[-1]["error"] = True
    for document in _all(states):
        document.setdefault("end_time", end)
    return states


def _operation(resource: str) -> str:
    """The API action a task's resource names: ``getQueueUrl`` or ``startExecution.sync`` ->
    ``GetQueueUrl``, ``StartExecution``."""
    action = resource.split(".", 1)[0]
    return action[:1].upper() + action[1:]


def _all(documents: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for document in documents:
        yield document
        yield from _all(document.get("subsegments", []))


def segment_document(execution: Any, trace: _Trace, succeeded: bool) -> dict[str, Any]:
    """The state machine's segment of one execution, with its states' subsegments."""
    end = time.time()
    history = list(execution.exec_worker.env.event_manager.get_event_history())
    segment: dict[str, Any] = {
        "name": str(execution.state_machine.name),
        "id": _segment_id(),
        "trace_id": trace.trace_id,
        "start_time": _epoch(execution.start_date),
        "end_time": end,
        "origin": SERVICE_TYPE,
        "resource_arn": str(execution.state_machine.arn),
        "aws": {"execution_arn": str(execution.exec_arn)},
        "subsegments": _subsegments(history, end),
    }
    if trace.parent_id:
        segment["parent_id"] = trace.parent_id
    if not succeeded:
        segment["error"] = True
    return segment


def send_trace(execution: Any, trace: _Trace, succeeded: bool) -> None:
    """Upload the execution's segment and report it, as the state machine's role."""
    machine_arn = str(execution.state_machine.arn)
    xray = role_client(str(execution.role_arn), str(execution.region_name), "xray")
    document = json.dumps(segment_document(execution, trace, succeeded))
    record: dict[str, Any] = {"Timestamp": datetime.now(UTC), "SegmentsReceivedCount": 1,
                              "SegmentsSpilloverCount": 0}  # fmt: skip
    try:
        response = xray.put_trace_segments(TraceSegmentDocuments=[document])
    except _CALL_FAILED as failure:  # the execution goes on untraced
        LOGGER.info("X-Ray PutTraceSegments for %s: %s", execution.exec_arn, failure)
        record.update(SegmentsSentCount=0, SegmentsRejectedCount=0,
                      BackendConnectionErrors={"HTTPCode4XXCount": 1})  # fmt: skip
    else:
        rejected = len(response.get("UnprocessedTraceSegments", []))
        record.update(SegmentsSentCount=1 - rejected, SegmentsRejectedCount=rejected)
    try:
        xray.put_telemetry_records(TelemetryRecords=[record], ResourceARN=machine_arn)
    except _CALL_FAILED as failure:  # telemetry never stops an execution
        LOGGER.info("X-Ray PutTelemetryRecords for %s: %s", machine_arn, failure)


# --- where moto is hooked ---------------------------------------------------------------------


def _sampling_at_start(logic: Callable[[Any], None]) -> Callable[[Any], None]:
    # On the execution's own thread, before its first state: the execution is listed RUNNING
    # while the sampling calls are made, and a StopExecution meanwhile is not lost.
    @functools.wraps(logic)
    def execution_logic(worker: Any) -> None:
        execution = getattr(worker._execution_communication, "execution", None)
        if execution is not None:
            trace = trace_of(execution)
            if trace is not None:
                with _LOCK:
                    _TRACES[str(execution.exec_arn)] = trace
        logic(worker)

    return execution_logic


def _tracing_at_end(terminated: Callable[[Any], None]) -> Callable[[Any], None]:
    @functools.wraps(terminated)
    def terminated_traced(communication: Any) -> None:
        from moto.stepfunctions.parser.asl.eval.program_state import (  # noqa: PLC0415
            ProgramEnded,
        )

        execution = communication.execution
        with _LOCK:
            trace = _TRACES.pop(str(execution.exec_arn), None)
        if trace is not None:
            state = execution.exec_worker.env.program_state()
            try:
                send_trace(execution, trace, isinstance(state, ProgramEnded))
            except Exception:
                # A trace that cannot be built must not leave the execution RUNNING for good.
                LOGGER.exception("the X-Ray trace of %s was not sent", execution.exec_arn)
        terminated(communication)

    return terminated_traced


def _patches() -> list[Patch]:
    from moto.stepfunctions.parser.backend.execution import (  # noqa: PLC0415
        BaseExecutionWorkerCommunication,
    )
    from moto.stepfunctions.parser.backend.execution_worker import (  # noqa: PLC0415
        ExecutionWorker,
    )

    return [
        Patch(
            ExecutionWorker,
            "_execution_logic",
            _sampling_at_start(ExecutionWorker._execution_logic),
        ),
        Patch(
            BaseExecutionWorkerCommunication,
            "terminated",
            _tracing_at_end(BaseExecutionWorkerCommunication.terminated),
        ),
    ]


def _forget() -> None:
    with _LOCK:
        _SAMPLERS.clear()
        _TRACES.clear()


_EXTENSION = Extension("sfn-tracing", _patches)


def install() -> None:
    """Send the X-Ray traces of traced executions, as their state machine's role."""
    if not _EXTENSION.installed:
        _forget()
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's Step Functions (no traces)."""
    _EXTENSION.uninstall()
    _forget()
