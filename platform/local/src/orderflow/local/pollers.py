"""Lambda's SQS event source mapping, for one function, in its own process.

One worker process per function (``python -m orderflow.local.pollers``), so one
function's crash or slowness never stalls another. Inside it, as many pollers as the mapping's
``ScalingConfig.MaximumConcurrency`` allows (capped by the machine's ceiling), each owning one
execution environment (``environment``) that imports the handler itself, as Lambda's do, and
reports that init with its first invocation.
Each poller does what the Lambda documentation describes for SQS:

* long-polls the queue (``ReceiveMessage`` with all system and message attributes) and gathers
  up to ``BatchSize`` records, waiting at most ``MaximumBatchingWindowInSeconds`` for more;
* invokes the handler with a real SQS event (``orderflow.messaging.lambda_events``) and a
  context whose remaining time counts down from the function's ``Timeout``, in real seconds
  (see ``invocation_timeout``);
* on success deletes the records, except those the partial batch response names
  (``ReportBatchItemFailures``); an error, an invalid response, a timeout (the environment is
  killed) or a crash deletes nothing, so every record returns after its visibility timeout and
  SQS moves it to the DLQ past ``maxReceiveCount``.

The mapping's state is followed while the worker runs (``MappingState``): disabled, the
pollers stop receiving (batches already invoked finish) until it is enabled again.

AWS durations (visibility timeouts, the batching window, long polls) run on the emulator clock.
Each invocation is reported as one JSON line on the events file descriptor the runtime passes,
for its live status, the demo's timeline and the run's invocation log.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orderflow.emulator.clock import EmulatorClock
from orderflow.local.credentials import RENEW_BEFORE_SECONDS, RoleCredentials, RoleSession
from orderflow.local.environment import INIT_DURATION, LOG_STREAM_ENV, Invocation, serve
from orderflow.local.faults import FaultPlan
from orderflow.local.functions import (
    FAKE_CREDENTIALS,
    FunctionSpec,
    lambda_environment,
    log_group_name,
)

LOGGER = logging.getLogger(__name__)

LONG_POLL_SECONDS = 20
"""Lambda's pollers long-poll for up to 20 seconds."""
MAX_REAL_POLL_SECONDS = 2.0
"""...here at most 2 real seconds, so that a stop never waits long."""
INIT_TIMEOUT_SECONDS = 60.0
SQS_RECEIVE_LIMIT = 10
WINDOW_RECEIVES = 4
"""Receives that top up a batch within its batching window (see ``SqsPoller.collect_batch``)."""

OK, PARTIAL, ERROR, TIMEOUT, CRASH = "ok", "partial", "error", "timeout", "crash"
MAPPING_REPORT = "mapping"
"""The events line a worker writes when its event source mapping's state changes."""


@dataclass(frozen=True)
class InvocationReport:
    """One invocation, as the runtime's status and the demo's timeline see it."""

    service: str
    function: str
    outcome: str
    records: int
    succeeded: int
    failed: int
    duplicates: int
    started: float
    ended: float
    cold: bool
    detail: str = ""
    message_ids: list[str] = field(default_factory=list)
    failed_ids: list[str] = field(default_factory=list)
    order_ids: list[str] = field(default_factory=list)
    """the order each record carried, in batch order ("" when its body names none)"""
    timeout_real: float | None = None
    init_duration_ms: float | None = None
    """the environment's init, on its first invocation only (Lambda's REPORT ``Init Duration``)"""

    def to_json(self) -> str:
        return json.dumps({"type": "invocation", **asdict(self)})


def invocation_timeout(
    spec: FunctionSpec, clock: EmulatorClock, visibility_timeout_seconds: int | None
) -> float:
    """Real seconds one invocation may run: the function's own timeout, as Lambda gives it.

    The work of an invocation (HTTP calls, a slow provider, a busy machine) takes real time,
    which the emulator clock does not compress: compressed, a 30 s function had 5 real seconds
    at x6, and on a busy machine whole batches timed out halfway through a send. The queue's
    visibility timeout, which the clock does compress, may then be shorter than the
    invocation: the poller receives with a longer one for as long as the invocation may run
    (``VisibilityHold``), so no record is handed out again while its invocation may still run
    (Lambda requires visibility >= function timeout). Without the queue's setting, the timeout
    runs on the emulator clock.
    """
    if visibility_timeout_seconds is None:
        return clock.real(spec.timeout_seconds)
    return float(spec.timeout_seconds)


HOLD_SLACK_SECONDS = 2.0
"""Real seconds a hold adds past the invocation: the deletes (or the release) after it."""


@dataclass(frozen=True)
class VisibilityHold:
    """The visibility timeout a poller receives with, and the queue's own (emulated seconds).

    On AWS a record is invisible for the queue's visibility timeout from its receive, which is
    at least the function's timeout. On the compressed clock the queue's timeout can pass in
    fewer real seconds than the batching window and the invocation take, and SQS would hand the
    record to a second poller while the first still runs it: a second email. So the poller
    receives with ``receive_seconds``, long enough on this clock for the window, the whole
    invocation and its deletes, and when the invocation is over it sets each record it did not
    delete to what is left of the queue's own timeout (``SqsPoller._release``): a failed record
    comes back when it would have on AWS, or at once if that time has passed. At clock x1 the
    two are the queue's (a template's visibility timeout covers its function's).
    """

    queue_seconds: int
    receive_seconds: int

    @classmethod
    def of(
        cls, spec: FunctionSpec, clock: EmulatorClock, queue_seconds: int, timeout_real: float
    ) -> VisibilityHold:
        held = clock.real(spec.batching_window_seconds) + timeout_real + HOLD_SLACK_SECONDS
        return cls(queue_seconds, max(queue_seconds, math.ceil(clock.emulated(held))))

    @property
    def extended(self) -> bool:
        """Whether records are received for longer than the queue's own timeout."""
        return self.receive_seconds > self.queue_seconds


def order_id_of(body: str) -> str:
    """The order a record's body (SNS notification or raw event) is about, or ""."""
    try:
        document = json.loads(body)
        if isinstance(document, dict) and isinstance(document.get("Message"), str):
            document = json.loads(document["Message"])
    except (TypeError, ValueError):
        return ""
    order_id = document.get("order_id") if isinstance(document, dict) else None
    return order_id if isinstance(order_id, str) else ""


def failed_message_ids(
    response: Any, message_ids: Sequence[str], report_batch_item_failures: bool
) -> set[str]:
    """The records a successful invocation's response says failed (all of them if invalid).

    Per the Lambda developer guide: with ReportBatchItemFailures, a null or empty response or
    an empty ``batchItemFailures`` is full success; a response that is not an object, a list
    that is not a list, or an ``itemIdentifier`` that is missing, empty, or not in the batch
    fails the whole batch. Without it, any response is full success.
    """
    if not report_batch_item_failures or response is None:
        return set()
    everything = set(message_ids)
    if not isinstance(response, dict):
        return everything
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return everything
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in everything:
            return everything
        failed.add(identifier)
    return failed


class FunctionLogs:
    """What Lambda writes to the function's log group, with the function's execution role.

    Lambda creates a log stream per execution environment and sends each invocation's
    platform lines (``START``, ``END``, ``REPORT``) to it, with the execution role's
    ``logs:CreateLogStream`` and ``logs:PutLogEvents`` ("Sending Lambda function logs to
    CloudWatch Logs", https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html);
    without them the logs are lost and the function runs on. The handler's own output stays in
    the run's ``<service>.log``.
    """

    def __init__(self, logs: Any, group: str) -> None:
        self._logs = logs
        self.group = group

    def create_stream(self, stream: str) -> None:
        self._call("create_log_stream", logGroupName=self.group, logStreamName=stream)

    def invocation(
        self,
        stream: str,
        request_id: str,
        *,
        started: float,
        ended: float,
        memory_mb: int,
        init_duration_ms: float | None,
    ) -> None:
        duration = (ended - started) * 1000
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration))} ms\tMemory Size: {memory_mb} MB"
        )
        if init_duration_ms is not None:
            report += f"\tInit Duration: {init_duration_ms:.2f} ms"
        lines = [
            (started, f"START RequestId: {request_id} Version: $LATEST"),
            (ended, f"END RequestId: {request_id}"),
            (ended, report),
        ]
        self._call(
            "put_log_events",
            logGroupName=self.group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(t * 1000), "message": m} for t, m in lines],
        )

    def _call(self, operation: str, **parameters: Any) -> None:
        try:
            getattr(self._logs, operation)(**parameters)
        except Exception as error:  # noqa: BLE001  (lost logs never fail an invocation)
            LOGGER.warning("%s %s: %s", self.group, operation, error)


TELEMETRY_SECONDS = 60
"""How often the X-Ray daemon reports its telemetry (emulated seconds)."""


class XRayTelemetry:
    """The function's X-Ray daemon: the emulator's, signing with the function's role, and
    reporting what it uploaded with PutTelemetryRecords, as the X-Ray daemon does."""

    def __init__(self, xray: Any, resource_arn: str, interval_real: float) -> None:
        from orderflow.emulator.xray_daemon import XRayDaemon  # noqa: PLC0415

        self._xray = xray
        self._resource_arn = resource_arn
        self._interval = interval_real
        self._daemon = XRayDaemon(xray)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xray-telemetry", daemon=True)
        self._reported = (0, 0)

    @property
    def address(self) -> str:
        return self._daemon.address

    def start(self) -> XRayTelemetry:
        self._daemon.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._daemon.stop()
        self.report()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.report()

    def report(self) -> None:
        """One telemetry record: the segments uploaded and rejected since the last one."""
        uploaded, rejected = self._daemon.uploaded, self._daemon.rejected
        sent, refused = uploaded - self._reported[0], rejected - self._reported[1]
        self._reported = (uploaded, rejected)
        try:
            self._xray.put_telemetry_records(
                TelemetryRecords=[
                    {
                        "Timestamp": time.time(),
                        "SegmentsReceivedCount": sent + refused,
                        "SegmentsSentCount": sent,
                        "SegmentsSpilloverCount": 0,
                        "SegmentsRejectedCount": refused,
                    }
                ],
                ResourceARN=self._resource_arn,
            )
        except Exception as error:  # noqa: BLE001  (telemetry never stops the function)
            LOGGER.warning("X-Ray telemetry: %s", error)


Credentials = Callable[..., RoleCredentials]
"""The role session an environment starts with: ``credentials(valid_for=seconds)``."""


class ExecutionEnvironment:
    """An environment process, started on first use and replaced after a timeout or crash.

    With ``credentials`` it runs with the function role's session; an environment whose
    session would expire before an invocation could end is replaced by one with a fresh
    session (a cold start), so no invocation ever signs with expired credentials.
    """

    def __init__(
        self,
        context: Any,
        spec: FunctionSpec,
        plan_json: str,
        faults_dir: str,
        *,
        credentials: Credentials | None = None,
        logs: FunctionLogs | None = None,
    ) -> None:
        self._context = context
        self._logs = logs
        self.log_stream = ""
        """The running environment's log stream (Lambda's ``AWS_LAMBDA_LOG_STREAM_NAME``)."""
        self._reported_init = False
        self._spec = spec
        self._plan_json = plan_json
        self._faults_dir = faults_dir
        self._credentials = credentials
        self._process: Any = None
        self._connection: Any = None
        self.init_duration_ms: float | None = None
        """The running environment's init, as it measured it."""
        self.session: RoleCredentials | None = None
        """The role session the running environment holds."""

    @property
    def warm(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _expiring(self, timeout_real: float) -> bool:
        session = self.session
        return session is not None and session.seconds_left() < timeout_real + RENEW_BEFORE_SECONDS

    def _start(self, timeout_real: float = 0.0) -> None:
        self.session = (
            self._credentials(valid_for=timeout_real) if self._credentials is not None else None
        )
        credentials_json = json.dumps(self.session.to_dict()) if self.session else ""
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=serve,
            args=(child, self._spec.to_json(), self._plan_json, self._faults_dir, credentials_json),
            name=f"{self._spec.function_name}-environment",
            daemon=True,
        )
        process.start()
        child.close()
        if not parent.poll(INIT_TIMEOUT_SECONDS):
            process.kill()
            raise EnvironmentInitError(f"{self._spec.function_name}: init timed out")
        try:
            hello = parent.recv()
        except EOFError:
            process.join()
            raise EnvironmentInitError(f"{self._spec.function_name}: init crashed") from None
        if "init_error" in hello:
            process.join()
            raise EnvironmentInitError(f"{self._spec.function_name}: {hello['init_error']}")
        self._process, self._connection = process, parent
        self.init_duration_ms = hello.get(INIT_DURATION)
        self.log_stream = str(hello.get(LOG_STREAM_ENV, ""))
        self._reported_init = False
        if self._logs is not None:
            self._logs.create_stream(self.log_stream)
        LOGGER.info(
            "%s: environment %s ready; Init Duration: %s ms",
            self._spec.function_name,
            process.pid,
            self.init_duration_ms,
        )

    def invoke(self, event: dict[str, Any], timeout_real: float) -> tuple[str, Any]:
        """(outcome, response or error text) of one invocation within ``timeout_real``."""
        if not self.warm or self._expiring(timeout_real):
            self.close()
            self._start(timeout_real)
        request_id = str(uuid.uuid4())
        started = time.time()
        outcome = self._run(Invocation(request_id, event, started + timeout_real), timeout_real)
        if self._logs is not None and self.log_stream:
            init = None if self._reported_init else self.init_duration_ms
            self._reported_init = True
            self._logs.invocation(
                self.log_stream,
                request_id,
                started=started,
                ended=time.time(),
                memory_mb=self._spec.memory_mb,
                init_duration_ms=init,
            )
        return outcome

    def _run(self, invocation: Invocation, timeout_real: float) -> tuple[str, Any]:
        self._connection.send(invocation)
        if not self._connection.poll(max(0.0, invocation.deadline - time.time())):
            self.close(kill=True)
            return TIMEOUT, f"Task timed out after {timeout_real:.2f} real seconds"
        try:
            result = self._connection.recv()
        except EOFError:
            code = self._process.exitcode if self._process else None
            self.close(kill=True)
            return CRASH, f"Runtime exited (exit code {code}) before reporting the batch"
        if result.get("ok"):
            return OK, result.get("response")
        return ERROR, result.get("error", "")

    def close(self, *, kill: bool = False) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            if kill and self._process.is_alive():
                self._process.kill()
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._process = self._connection = None


class EnvironmentInitError(RuntimeError):
    """The handler module could not be imported in a fresh environment."""


MAPPING_CHECK_SECONDS = 1.0
"""How often (real seconds) a worker reads its event source mapping's state."""
POLLING_STATE = "Enabled"
DISABLING_STATE = "Disabling"
DISABLED_STATE = "Disabled"


class MappingState:
    """Whether the function's event source mapping polls, followed while the worker runs.

    With ``UpdateEventSourceMapping`` ``Enabled: false`` Lambda pauses polling and invocation;
    batches already invoked finish, and the queue keeps every message until the mapping is
    enabled again ("Enabled", https://docs.aws.amazon.com/lambda/latest/dg/API_UpdateEventSourceMapping.html).
    The worker plays the Lambda service here: it reads the mapping with the test credentials
    (no function role reads its own mapping) and reports the state its pollers are in:
    ``Disabling`` while a poller still finishes a receive or an invocation it started, then
    ``Disabled`` once none does (the states ``GetEventSourceMapping`` goes through on AWS).
    """

    def __init__(
        self,
        lambda_client: Any,
        spec: FunctionSpec,
        report: Callable[[str], None] | None = None,
        interval: float = MAPPING_CHECK_SECONDS,
    ) -> None:
        self._lambda = lambda_client
        self._spec = spec
        self._report = report
        self._interval = interval
        self._lock = threading.Lock()
        self._active = 0
        self._wanted = POLLING_STATE if spec.enabled else DISABLED_STATE
        self.state = self._wanted
        self.polling = threading.Event()
        if spec.enabled:
            self.polling.set()

    def refresh(self) -> str:
        """Read the mapping's state now; report the pollers' state when it changed."""
        mapping = self._lambda.get_event_source_mapping(UUID=self._spec.mapping_uuid)
        wanted = str(mapping["State"])
        with self._lock:
            self._wanted = wanted
            if wanted == POLLING_STATE:
                self.polling.set()
                now = wanted
            else:
                self.polling.clear()
                now = wanted if self._active == 0 else DISABLING_STATE
        self._set(now)
        return now

    def enter(self) -> bool:
        """A poller starts a receive; False (and nothing started) while not polling."""
        with self._lock:
            if not self.polling.is_set():
                return False
            self._active += 1
            return True

    def leave(self) -> None:
        """A poller is done with its receive and the invocation that followed."""
        with self._lock:
            self._active -= 1
            settled = self._active == 0 and self._wanted != POLLING_STATE
            wanted = self._wanted
        if settled:
            self._set(wanted)

    def follow(self, stop: threading.Event) -> None:
        """Refresh until stopped; a failed read keeps the last state known."""
        while not stop.wait(self._interval):
            try:
                self.refresh()
            except Exception as error:  # noqa: BLE001  (the next read tries again)
                LOGGER.warning("%s: event source mapping: %s", self._spec.function_name, error)

    def _set(self, state: str) -> None:
        with self._lock:
            changed, self.state = state != self.state, state
        if changed:
            LOGGER.info("%s: event source mapping %s", self._spec.function_name, state)
            if self._report is not None:
                self._report(state)


class SqsPoller:
    """One concurrency slot of the event source mapping: poll, invoke, delete what succeeded."""

    def __init__(
        self,
        spec: FunctionSpec,
        sqs: Any,
        clock: EmulatorClock,
        *,
        environment: ExecutionEnvironment,
        report: Callable[[InvocationReport], None],
        stop: threading.Event,
        duplicate_rate: float = 0.0,
        rng: random.Random | None = None,
        timeout_real: float | None = None,
        injector_sqs: Any = None,
        mapping: MappingState | None = None,
        hold: VisibilityHold | None = None,
    ) -> None:
        """``sqs`` polls and deletes (with the function's role, as the mapping does);
        ``injector_sqs`` sends the duplicate copies of fault injection and releases held
        records (SQS itself and the runtime's clock device, not the function: the test
        credentials), ``sqs`` when not given; ``mapping``, when given, pauses polling while the
        event source mapping is not enabled; ``hold``, when extended, is the visibility timeout
        records are received with (``VisibilityHold``)."""
        self._mapping = mapping
        self._hold = hold if hold is not None and hold.extended else None
        self._received_at: dict[str, float] = {}
        self.spec = spec
        self.timeout_real = (
            timeout_real if timeout_real is not None else clock.real(spec.timeout_seconds)
        )
        self._sqs = sqs
        self._injector_sqs = injector_sqs if injector_sqs is not None else sqs
        self._clock = clock
        self._environment = environment
        self._report = report
        self._stop = stop
        self._duplicate_rate = duplicate_rate
        self._rng = rng or random.Random()  # noqa: S311  (fault dice)

    def run(self) -> None:
        """Poll until stopped; an AWS error backs off and retries, as Lambda's poller does."""
        while not self._stop.is_set():
            try:
                self.poll_once()
            except EnvironmentInitError as error:
                LOGGER.warning("%s", error)
                self._stop.wait(1.0)
            except Exception:
                LOGGER.exception("%s: poller error", self.spec.function_name)
                self._stop.wait(0.5)
        self._environment.close()

    def poll_once(self) -> InvocationReport | None:
        """Gather one batch and invoke the function with it (None when the queue was empty, or
        while the event source mapping is disabled: then it waits as long as a long poll)."""
        if self._mapping is None:
            return self._poll()
        if not self._mapping.enter():
            self._mapping.polling.wait(self._long_poll_seconds())
            return None
        try:
            return self._poll()
        finally:
            self._mapping.leave()

    def _poll(self) -> InvocationReport | None:
        messages = self.collect_batch()
        if not messages:
            return None
        duplicates = self._duplicate(messages)
        return self.invoke(messages, duplicates)

    def _receive(self, limit: int, wait_seconds: int) -> list[dict[str, Any]]:
        hold = {"VisibilityTimeout": self._hold.receive_seconds} if self._hold else {}
        response = self._sqs.receive_message(
            QueueUrl=self.spec.queue_url,
            MaxNumberOfMessages=max(1, min(SQS_RECEIVE_LIMIT, limit)),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            **hold,
        )
        messages = list(response.get("Messages", []))
        if self._hold:
            received = time.monotonic()
            self._received_at.update((m["MessageId"], received) for m in messages)
        return messages

    def _long_poll_seconds(self) -> float:
        return min(self._clock.real(LONG_POLL_SECONDS), MAX_REAL_POLL_SECONDS)

    def collect_batch(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages, waiting up to the batching window once the first arrived.

        Within the window the batch is topped up ``WINDOW_RECEIVES`` times at most, at even
        intervals, each a receive that does not wait: SQS long polling returns as soon as one
        message is there, so long-polling inside the window hands over a message or two per
        receive, and receiving every few milliseconds costs the queue a call each time for the
        same records. A batch that is full stops gathering at once.
        """
        batch = self._receive(self.spec.batch_size, max(1, round(self._long_poll_seconds())))
        if not batch or not self.spec.batching_window_seconds:
            return batch
        window = self._clock.real(self.spec.batching_window_seconds)
        window_ends = time.monotonic() + window
        step = window / WINDOW_RECEIVES
        while len(batch) < self.spec.batch_size:
            remaining = window_ends - time.monotonic()
            if remaining <= 0 or self._stop.wait(min(step, remaining)):
                break
            batch.extend(self._receive(self.spec.batch_size - len(batch), 0))
        return batch

    def _duplicate(self, messages: list[dict[str, Any]]) -> int:
        """SQS at-least-once: some messages get a second copy, delivered later."""
        if not self._duplicate_rate:
            return 0
        copies = 0
        for message in messages:
            if self._rng.random() < self._duplicate_rate:
                self._injector_sqs.send_message(
                    QueueUrl=self.spec.queue_url,
                    MessageBody=message["Body"],
                    MessageAttributes=_sendable_attributes(message.get("MessageAttributes", {})),
                )
                copies += 1
        return copies

    def invoke(self, messages: list[dict[str, Any]], duplicates: int = 0) -> InvocationReport:
        """Invoke with one batch; delete what succeeded; report the invocation."""
        from orderflow.messaging.lambda_events import (  # noqa: PLC0415
            lambda_sqs_event,
            lambda_sqs_record,
        )

        event = lambda_sqs_event([lambda_sqs_record(m, self.spec.queue_arn) for m in messages])
        cold = not self._environment.warm
        started = time.time()
        outcome, payload = self._environment.invoke(event, self.timeout_real)
        ended = time.time()
        ids = [m["MessageId"] for m in messages]
        if outcome == OK:
            failed = failed_message_ids(payload, ids, self.spec.report_batch_item_failures)
            outcome = PARTIAL if failed else OK
            detail = f"{len(failed)} record(s) reported failed" if failed else ""
        else:
            failed, detail = set(ids), str(payload)[:300]
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        self._delete(succeeded)
        received_at = {
            m["MessageId"]: self._received_at.pop(m["MessageId"], None) for m in messages
        }
        self._release([m for m in messages if m["MessageId"] in failed], received_at)
        report = InvocationReport(
            service=self.spec.service,
            function=self.spec.function_name,
            outcome=outcome,
            records=len(messages),
            succeeded=len(succeeded),
            failed=len(failed),
            duplicates=duplicates,
            started=started,
            ended=ended,
            cold=cold,
            detail=detail,
            message_ids=ids,
            failed_ids=[i for i in ids if i in failed],
            order_ids=[order_id_of(m.get("Body", "")) for m in messages],
            timeout_real=round(self.timeout_real, 3),
            init_duration_ms=self._environment.init_duration_ms if cold else None,
        )
        self._report(report)
        return report

    def _release(
        self, messages: list[dict[str, Any]], received_at: Mapping[str, float | None]
    ) -> None:
        """Give held records the rest of the queue's own visibility timeout (``VisibilityHold``).

        A record whose release fails stays invisible for the hold: it comes back later than on
        AWS, never sooner, and nothing is lost.
        """
        if self._hold is None or not messages:
            return
        now = time.monotonic()
        for start in range(0, len(messages), SQS_RECEIVE_LIMIT):
            chunk = messages[start : start + SQS_RECEIVE_LIMIT]
            entries = []
            for n, message in enumerate(chunk):
                held = now - (received_at[message["MessageId"]] or now)
                left = self._hold.queue_seconds - self._clock.emulated(held)
                entries.append(
                    {
                        "Id": str(n),
                        "ReceiptHandle": message["ReceiptHandle"],
                        "VisibilityTimeout": max(0, math.ceil(left)),
                    }
                )
            try:
                response = self._injector_sqs.change_message_visibility_batch(
                    QueueUrl=self.spec.queue_url, Entries=entries
                )
            except Exception as error:  # noqa: BLE001  (the hold ends by itself; logged)
                LOGGER.warning("%s: release of held records: %s", self.spec.function_name, error)
                continue
            for failure in response.get("Failed", []):
                LOGGER.warning("%s: release failed: %s", self.spec.function_name, failure)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), SQS_RECEIVE_LIMIT):
            chunk = messages[start : start + SQS_RECEIVE_LIMIT]
            response = self._sqs.delete_message_batch(
                QueueUrl=self.spec.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                LOGGER.warning("%s: delete failed: %s", self.spec.function_name, failure)


def _sendable_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    sendable = {}
    for name, value in attributes.items():
        entry = {"DataType": value["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in value:
                entry[key] = value[key]
        sendable[name] = entry
    return sendable


# --- the worker process ----------------------------------------------------------------------


def function_role(spec: FunctionSpec, sts: Any) -> RoleSession | None:
    """The function's execution role session (None for a spec without a role).

    Assumed with the test credentials, as the Lambda service assumes it, with the function's
    name as the session name; the first session is taken at once, so a role that cannot be
    assumed stops the worker before it polls.
    """
    if not spec.role_arn:
        return None
    role = RoleSession(sts, spec.role_arn, spec.function_name)
    LOGGER.info("%s runs as %s", spec.function_name, role.current().assumed_role_arn)
    return role


def queue_timing(
    spec: FunctionSpec, sqs: Any, clock: EmulatorClock
) -> tuple[float, VisibilityHold | None]:
    """The invocation's real timeout and the visibility hold, from the queue's own timeout."""
    visibility = sqs.get_queue_attributes(
        QueueUrl=spec.queue_url, AttributeNames=["VisibilityTimeout"]
    )["Attributes"].get("VisibilityTimeout")
    timeout_real = invocation_timeout(spec, clock, int(visibility) if visibility else None)
    hold = VisibilityHold.of(spec, clock, int(visibility), timeout_real) if visibility else None
    return timeout_real, hold


def run_worker(
    spec: FunctionSpec,
    endpoint_url: str,
    *,
    plan: FaultPlan,
    clock: EmulatorClock,
    faults_dir: Path,
    events_fd: int | None,
    concurrency_ceiling: int | None,
    xray_daemon_address: str | None = None,
) -> None:
    """Run the function's event source mapping until SIGTERM or the parent goes away.

    With a role, the worker also plays Lambda's built-in X-Ray daemon for the function (when
    its tracing is Active and a daemon address is given): segments are uploaded, and telemetry
    reported every emulated minute, with the function's role, as the daemon inside Lambda does
    (https://docs.aws.amazon.com/xray/latest/devguide/xray-daemon.html; the execution role
    needs xray:PutTraceSegments and xray:PutTelemetryRecords,
    https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html).
    """
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    slots = spec.concurrency(concurrency_ceiling)
    # Environments fork from a server that imported the environment's own code; each one then
    # imports the handler itself, as each Lambda environment's init does (its Init Duration).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["orderflow.local.environment"])
    config = Config(max_pool_connections=slots + 4, retries={"mode": "standard"})
    admin = boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=spec.region,
    )
    injector_sqs = admin.client("sqs", endpoint_url=endpoint_url, config=config)
    role = function_role(spec, admin.client("sts", endpoint_url=endpoint_url))
    daemon: XRayTelemetry | None = None
    if role is not None and spec.tracing_active and xray_daemon_address:
        daemon = XRayTelemetry(
            role.client("xray", endpoint_url=endpoint_url, region_name=spec.region),
            spec.function_arn,
            clock.real(TELEMETRY_SECONDS),
        ).start()
        xray_daemon_address = daemon.address
    os.environ.update(lambda_environment(spec, endpoint_url, xray_daemon_address))
    sqs = (
        role.client("sqs", endpoint_url=endpoint_url, region_name=spec.region, config=config)
        if role is not None
        else injector_sqs
    )
    timeout_real, hold = queue_timing(spec, sqs, clock)
    logs = (
        FunctionLogs(
            role.client("logs", endpoint_url=endpoint_url, region_name=spec.region),
            log_group_name(spec),
        )
        if role is not None
        else None
    )
    events = os.fdopen(events_fd, "w", buffering=1) if events_fd is not None else None
    lock = threading.Lock()

    def report(entry: InvocationReport) -> None:
        if events is not None:
            with lock:
                events.write(entry.to_json() + "\n")

    def report_mapping(state: str) -> None:
        if events is not None:
            line = {"type": MAPPING_REPORT, "service": spec.service, "state": state}
            with lock:
                events.write(json.dumps({**line, "at": time.time()}) + "\n")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    mapping = MappingState(
        admin.client("lambda", endpoint_url=endpoint_url, config=config), spec, report_mapping
    )
    report_mapping(mapping.state)
    follower = threading.Thread(
        target=mapping.follow, args=(stop,), name=f"{spec.function_name}-mapping", daemon=True
    )
    follower.start()
    seed = plan.seed
    pollers = [
        SqsPoller(
            spec,
            sqs,
            clock,
            environment=ExecutionEnvironment(
                context,
                spec,
                plan.to_json(),
                str(faults_dir),
                credentials=role.current if role is not None else None,
                logs=logs,
            ),
            report=report,
            stop=stop,
            duplicate_rate=plan.duplicate_delivery_rate,
            rng=random.Random(None if seed is None else seed + n),  # noqa: S311
            timeout_real=timeout_real,
            injector_sqs=injector_sqs,
            mapping=mapping,
            hold=hold,
        )
        for n in range(slots)
    ]
    threads = [
        threading.Thread(target=p.run, name=f"{spec.function_name}-poller-{n}", daemon=True)
        for n, p in enumerate(pollers)
    ]
    for thread in threads:
        thread.start()
    parent = os.getppid()
    while not stop.wait(0.5):
        if os.getppid() != parent:
            stop.set()  # orphaned: the runtime died without stopping us
    # In-flight invocations finish (or time out) before the worker leaves.
    grace = timeout_real + MAX_REAL_POLL_SECONDS + 2
    for thread in threads:
        thread.join(timeout=grace)
    if daemon is not None:
        daemon.stop()
    if events is not None:
        events.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point of one function's worker process."""
    parser = argparse.ArgumentParser(description="orderflow: one function's SQS event source")
    parser.add_argument("--spec", type=Path, required=True, help="FunctionSpec JSON file")
    parser.add_argument("--faults", type=Path, required=True, help="FaultPlan JSON file")
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--clock-factor", type=float, default=1.0)
    parser.add_argument("--faults-dir", type=Path, required=True)
    parser.add_argument("--events-fd", type=int, default=None)
    parser.add_argument("--max-concurrency", type=int, default=None)
    parser.add_argument("--xray-daemon-address", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_worker(
        FunctionSpec.from_json(args.spec.read_text()),
        args.endpoint_url,
        plan=FaultPlan.from_json(args.faults.read_text()),
        clock=EmulatorClock(args.clock_factor),
        faults_dir=args.faults_dir,
        events_fd=args.events_fd,
        concurrency_ceiling=args.max_concurrency,
        xray_daemon_address=args.xray_daemon_address,
    )


if __name__ == "__main__":
    main()
