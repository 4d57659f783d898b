"""Fault injection for a local run: what goes wrong, configured once per run.

* the payment gateway's latency, error rate and outage, passed to the payment stack as its own
  ``Gateway*`` parameters (the simulated gateway reads them from its environment);
* latency and an error rate on a service's calls to an AWS dependency (SES, DynamoDB, ...),
  injected in the function's execution environment by a botocore ``before-send`` hook: the call
  is delayed, or answered with the error that service returns when it is throttled or failing,
  so the SDK's own retries run as they would on AWS;
* a consumer bug: a service fails the records of some orders until "the fix is deployed" (a
  switch file the demo flips), raised inside the service's record handling so the consumer
  shell records it in the failure ledger like any real bug;
* a crash after the side effects: the execution environment dies after the handler returned
  and before Lambda could delete the batch, so every record comes back;
* duplicate deliveries: SQS hands out a second copy of a message (same body and attributes);
* malformed messages published to the topic (``publish_malformed``).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CRASH_EXIT_CODE = 137
FIXES = "fixes"
CRASHES = "crashes"


class ConsumerBugError(RuntimeError):
    """The injected bug: a record the service cannot process until the fix is deployed."""


@dataclass(frozen=True)
class DependencyFault:
    """Latency and error rate of one AWS dependency (by botocore service id, e.g. ``sesv2``)."""

    latency_ms: int = 0
    error_rate: float = 0.0


@dataclass(frozen=True)
class GatewayFault:
    """The simulated payment gateway's faults, as the payment stack's parameters."""

    latency_ms: int = 0
    error_rate: float = 0.0
    lost_response_rate: float = 0.0
    outage: bool = False

    def stack_parameters(self, journal_path: Path, seed: int | None) -> dict[str, str]:
        return {
            "GatewayLatencyMs": str(self.latency_ms),
            "GatewayErrorRate": repr(float(self.error_rate)),
            "GatewayLostResponseRate": repr(float(self.lost_response_rate)),
            "GatewayOutage": "true" if self.outage else "false",
            "GatewayJournalPath": str(journal_path),
            "GatewaySeed": "" if seed is None else str(seed),
        }


@dataclass(frozen=True)
class ConsumerBug:
    """``service`` fails the ``event_types`` records of ``order_ids`` until the fix is deployed."""

    service: str
    order_ids: tuple[str, ...]
    event_types: tuple[str, ...] = ("order.created",)
    symptom: str = "line item without a unit price cannot be projected"

    def hits(self, event_type: str, order_id: str) -> bool:
        return event_type in self.event_types and order_id in self.order_ids


@dataclass(frozen=True)
class FaultPlan:
    """Everything that goes wrong in one run (default: nothing)."""

    gateway: GatewayFault = field(default_factory=GatewayFault)
    dependencies: dict[str, dict[str, DependencyFault]] = field(default_factory=dict)
    """service -> botocore service id -> fault"""
    consumer_bugs: tuple[ConsumerBug, ...] = ()
    crash_after_side_effects: dict[str, float] = field(default_factory=dict)
    """service -> share of invocations whose environment dies before the batch is deleted"""
    crash_limit: int | None = None
    """at most this many crashes per service in the run (None: no limit)"""
    duplicate_delivery_rate: float = 0.0
    malformed_messages: int = 0
    """malformed messages the runtime publishes to the topic once it is up"""
    seed: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        raw = json.loads(text)
        return cls(
            gateway=GatewayFault(**raw.get("gateway", {})),
            dependencies={
                service: {dep: DependencyFault(**fault) for dep, fault in faults.items()}
                for service, faults in raw.get("dependencies", {}).items()
            },
            consumer_bugs=tuple(
                ConsumerBug(
                    service=bug["service"],
                    order_ids=tuple(bug["order_ids"]),
                    event_types=tuple(bug["event_types"]),
                    symptom=bug["symptom"],
                )
                for bug in raw.get("consumer_bugs", [])
            ),
            crash_after_side_effects=dict(raw.get("crash_after_side_effects", {})),
            crash_limit=raw.get("crash_limit"),
            duplicate_delivery_rate=float(raw.get("duplicate_delivery_rate", 0.0)),
            malformed_messages=int(raw.get("malformed_messages", 0)),
            seed=raw.get("seed"),
        )


class FixSwitch:
    """Whether the fix for a service's consumer bug is deployed (a marker file per service)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def deploy(self, service: str) -> None:
        """Deploy the fix: from now on the service processes the records it failed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / service).touch()

    def deployed(self, service: str) -> bool:
        return (self.directory / service).exists()


# --- inside an execution environment ---------------------------------------------------------


class CrashDice:
    """Whether this invocation's environment dies after its side effects (counted per run)."""

    def __init__(
        self,
        service: str,
        rate: float,
        limit: int | None,
        directory: Path,
        rng: random.Random,
    ) -> None:
        self.service = service
        self.rate = rate
        self.limit = limit
        self.directory = directory
        self._rng = rng

    def crashes(self) -> int:
        """How many environments of the service crashed so far in the run."""
        if not self.directory.is_dir():
            return 0
        return sum(1 for p in self.directory.iterdir() if p.name.startswith(f"{self.service}-"))

    def roll(self) -> bool:
        """True (and counted) if this invocation crashes.

        Environments of one function roll at the same time: under a limit each crash claims a
        numbered marker file that only one of them can create, so the limit is never exceeded.
        """
        if not self.rate or (self.limit is not None and self.crashes() >= self.limit):
            return False
        if self._rng.random() >= self.rate:
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.limit is None:
            (self.directory / f"{self.service}-{uuid.uuid4().hex}").touch()
            return True
        for n in range(self.limit):
            try:
                (self.directory / f"{self.service}-{n}").touch(exist_ok=False)
            except FileExistsError:
                continue
            return True
        return False


def _error_response(service_id: str, url: str) -> Any:
    """The HTTP answer ``service_id`` gives when it throttles or fails, for botocore to parse."""
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415

    if service_id == "dynamodb":
        status, headers = 500, {"Content-Type": "application/x-amz-json-1.0"}
        body = {
            "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "message": "Internal server error (injected fault)",
        }
    elif service_id in {"sns", "cloudwatch"}:
        xml = (
            "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
            "<Message>Internal failure (injected fault)</Message></Error></ErrorResponse>"
        )
        return AWSResponse(url, 500, _headers({"Content-Type": "text/xml"}), _Raw(xml.encode()))
    else:
        status = 429 if service_id == "sesv2" else 500
        code = "TooManyRequestsException" if status == 429 else "InternalFailure"
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
        body = {"message": f"{code} (injected fault)"}
    return AWSResponse(url, status, _headers(headers), _Raw(json.dumps(body).encode()))


def _headers(headers: dict[str, str]) -> Any:
    # botocore wraps whatever mapping it gets in its own case-insensitive HeadersDict.
    return headers


class _Raw:
    """The raw body botocore reads from an AWSResponse."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Any:
        yield self._content


def dependency_hook(
    faults: Mapping[str, DependencyFault],
    rng: random.Random,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[..., Any]:
    """A botocore ``before-send`` handler that delays or fails the faulty services' calls."""

    def before_send(request: Any, event_name: str, **_: Any) -> Any:
        service_id = event_name.split(".")[1] if event_name.count(".") >= 1 else ""
        fault = faults.get(service_id)
        if fault is None:
            return None
        if fault.latency_ms:
            sleep(fault.latency_ms / 1000)
        if fault.error_rate and rng.random() < fault.error_rate:
            return _error_response(service_id, request.url)
        return None

    return before_send


def install_dependency_faults(faults: Mapping[str, DependencyFault], rng: random.Random) -> None:
    """Every botocore client created from now on in this process carries the faults."""
    if not faults:
        return
    from botocore.session import Session  # noqa: PLC0415

    hook = dependency_hook(faults, rng)
    create_client = Session.create_client

    def create_faulty_client(self: Session, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-send", hook)
        return client

    Session.create_client = create_faulty_client  # type: ignore[method-assign]


def install_consumer_bugs(service: str, bugs: tuple[ConsumerBug, ...], fixes: FixSwitch) -> None:
    """Make the service's record handling fail the bug's records until its fix is deployed."""
    own = tuple(bug for bug in bugs if bug.service == service)
    if not own:
        return
    from orderflow.consumer.batch import SqsConsumer  # noqa: PLC0415

    process = SqsConsumer.process

    def process_with_bug(self: SqsConsumer, event: Any, context: Any, handle: Any) -> Any:
        def buggy_handle(contract: Any) -> None:
            if not fixes.deployed(service):
                for bug in own:
                    if bug.hits(contract.TYPE, contract.order_id):
                        raise ConsumerBugError(bug.symptom)
            handle(contract)

        return process(self, event, context, buggy_handle)

    SqsConsumer.process = process_with_bug  # type: ignore[method-assign]


# --- on the topic --------------------------------------------------------------------------------


MALFORMED_BODIES: tuple[tuple[str, str], ...] = (
    ("order.created", "this is not JSON"),
    ("order.created", '["a", "JSON", "array"]'),
    ("order.teleported", '{"event_type": "order.teleported", "order_id": "ord-x"}'),
    ("order.created", '{"event_type": "order.created", "order_id": "ord-missing-fields"}'),
)
"""(event_type attribute, body): not JSON, not an object, an unknown type, a broken contract."""


def publish_malformed(sns: Any, topic_arn: str, count: int) -> list[str]:
    """Publish ``count`` malformed messages (cycling the kinds above); return their bodies."""
    bodies = []
    for n in range(count):
        event_type, body = MALFORMED_BODIES[n % len(MALFORMED_BODIES)]
        sns.publish(
            TopicArn=topic_arn,
            Message=body,
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
        )
        bodies.append(body)
    return bodies
