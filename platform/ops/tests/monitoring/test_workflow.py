"""The monitoring workflow on moto's Step Functions interpreter: quiet, approve, reject, timeout."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from orderflow import naming
from orderflow.emulator import sfn_callbacks, sqs_move_tasks
from orderflow.emulator.extension import installed
from orderflow.failures import FailureLedger
from orderflow.platform.cli import cli
from orderflow.platform.monitoring import (
    IncidentDesk,
    IncidentError,
    load,
    validate,
)
from orderflow.platform.monitoring.definition import DEFAULT_SETTINGS, SUBSTITUTIONS

pytestmark = pytest.mark.functional
STAGE = "test"
SERVICE = "analytics"


@dataclass
class Stage:
    sqs: Any
    sfn: Any
    desk: IncidentDesk
    machine_arn: str
    source_url: str
    dlq_url: str
    pages: Callable[[], list[dict[str, Any]]]
    ledger: FailureLedger


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def stage() -> Iterator[Stage]:
    with (
        installed(sqs_move_tasks, sfn_callbacks),
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
    ):
        sqs, sns, ddb, sfn = (boto3.client(s) for s in ("sqs", "sns", "dynamodb", "stepfunctions"))
        dlq_url = sqs.create_queue(QueueName=f"orderflow-{STAGE}-{SERVICE}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
        source_url = sqs.create_queue(
            QueueName=f"orderflow-{STAGE}-{SERVICE}",
            Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "0"},
        )["QueueUrl"]
        paging_arn = sns.create_topic(Name=f"orderflow-{STAGE}-paging")["TopicArn"]
        inbox_url = sqs.create_queue(QueueName="pager-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=paging_arn,
            Protocol="sqs",
            Endpoint=inbox_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        ddb.create_table(
            TableName="failure-ledger",
            KeySchema=[{"AttributeName": "message_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "message_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        definition = load(
            {
                "Stage": STAGE,
                "PagingTopicArn": paging_arn,
                "FailureLedgerTable": "failure-ledger",
                "DecisionTimeoutSeconds": "30",
                "PollSeconds": "1",
                "DrainChecks": "10",
                "MaxEscalations": "1",
            }
        )
        machine_arn = sfn.create_state_machine(
            name=naming.incident_workflow(STAGE),
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/orderflow-monitoring",
        )["stateMachineArn"]
        received: list[dict[str, Any]] = []

        def pages() -> list[dict[str, Any]]:
            while batch := sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10).get(
                "Messages"
            ):
                for message in batch:
                    received.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=inbox_url, ReceiptHandle=message["ReceiptHandle"])
            return received

        yield Stage(
            sqs, sfn, IncidentDesk(sfn, STAGE), machine_arn, source_url, dlq_url, pages,
            FailureLedger("failure-ledger", ddb),
        )  # fmt: skip
        sqs_move_tasks.stop_all_tasks()


def park(stage: Stage, bodies: list[tuple[str, Exception]]) -> None:
    """Fail each body once on the source queue so SQS moves it to the DLQ (maxReceiveCount 1)."""
    for order_id, _ in bodies:
        stage.sqs.send_message(QueueUrl=stage.source_url, MessageBody=json.dumps({"o": order_id}))
    failed = 0
    while failed < len(bodies):
        for message in stage.sqs.receive_message(
            QueueUrl=stage.source_url, MaxNumberOfMessages=10
        ).get("Messages", []):
            order_id = json.loads(message["Body"])["o"]
            error = dict(bodies)[order_id]
            stage.ledger.record(
                message_id=message["MessageId"],
                service=SERVICE,
                error=error,
                event_type="order.created",
                order_id=order_id,
                receive_count=1,
            )
            failed += 1
    # one more receive moves them over (receive count exceeded)
    assert stage.sqs.receive_message(QueueUrl=stage.source_url).get("Messages") is None
    assert depth(stage, stage.dlq_url) == len(bodies)


def depth(stage: Stage, url: str) -> int:
    attributes = stage.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def alarm(stage: Stage, name: str = "incident-1") -> str:
    event = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {
            "alarmName": f"orderflow-{STAGE}-{SERVICE}-dlq-growth",
            "state": {"value": "ALARM"},
        },
    }
    stage.sfn.start_execution(stateMachineArn=stage.machine_arn, name=name, input=json.dumps(event))
    return name


def wait_for(condition: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def status(stage: Stage, incident_id: str) -> str:
    arn = stage.desk.execution_arn(incident_id)
    return str(stage.sfn.describe_execution(executionArn=arn)["status"])


def finished(stage: Stage, incident_id: str) -> str | None:
    current = status(stage, incident_id)
    return None if current == "RUNNING" else current


def test_the_definition_is_structurally_sound() -> None:
    definition = load({"Stage": "s", "PagingTopicArn": "arn:t", "FailureLedgerTable": "t"})

    assert validate(definition) == []
    assert set(SUBSTITUTIONS) >= set(DEFAULT_SETTINGS)


def test_validation_finds_undefined_targets_and_unreachable_states() -> None:
    broken = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"},
            "Orphan": {"Type": "Succeed"},
            "M": {
                "Type": "Map",
                "End": True,
                "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass"}}},
            },
        },
    }

    problems = validate(broken)

    assert "root.A: goes to undefined state 'Nowhere'" in problems
    assert "root.Orphan: unreachable from A" in problems
    assert "root.M.X: neither Next nor End" in problems


def test_an_empty_dlq_ends_quietly(stage: Stage) -> None:
    incident = alarm(stage)

    assert wait_for(lambda: finished(stage, incident), "the execution") == "SUCCEEDED"
    assert stage.pages() == []


def test_approval_redrives_verifies_and_resolves(stage: Stage) -> None:
    # GIVEN a DLQ with two kinds of failure (3 + 1 messages)
    park(
        stage,
        [
            ("ord-1", KeyError("no projection for ord-1")),
            ("ord-2", KeyError("no projection for ord-2")),
            ("ord-3", KeyError("no projection for ord-3")),
            ("ord-4", ValueError("bad currency XXX")),
        ],
    )
    incident = alarm(stage)

    # WHEN the page arrives, the fixed consumer runs and the operator approves
    page = wait_for(lambda: [p for p in stage.pages() if p["kind"] == "dlq-incident"], "the page")[
        0
    ]
    groups = {g["exception"]: g for g in page["groups"]}
    assert page["service"] == SERVICE
    assert page["dlqDepth"] == 4
    assert groups["KeyError"]["count"] == 3
    assert sorted(groups["KeyError"]["sampleOrderIds"]) == ["ord-1", "ord-2", "ord-3"]
    assert groups["ValueError"]["count"] == 1
    # Sample asked for AttributeNames (accepted by every SDK version): SentTimestamp came back
    assert page["oldestSampledSentAt"].isdigit()
    assert page["runbook"] == f"orderflow dlq inspect {SERVICE} --stage {STAGE}"
    assert [i.id for i in stage.desk.incidents()] == [incident]
    assert stage.desk.incidents()[0].state == "awaiting decision"
    processed: list[str] = []
    stop = threading.Event()

    def fixed_consumer() -> None:
        while not stop.is_set():
            for message in stage.sqs.receive_message(
                QueueUrl=stage.source_url, MaxNumberOfMessages=10, VisibilityTimeout=30
            ).get("Messages", []):
                processed.append(json.loads(message["Body"])["o"])
                stage.sqs.delete_message(
                    QueueUrl=stage.source_url, ReceiptHandle=message["ReceiptHandle"]
                )
            time.sleep(0.05)

    consumer = threading.Thread(target=fixed_consumer)
    consumer.start()
    try:
        stage.desk.approve(incident, rate=100)
        outcome = wait_for(lambda: finished(stage, incident), "the execution", seconds=60)
    finally:
        stop.set()
        consumer.join(5)

    # THEN every parked message was processed once, the DLQ is empty and the resolution paged
    _, timeline = stage.desk.show(incident)
    assert outcome == "SUCCEEDED", [(e.event, e.state, e.detail) for e in timeline][-12:]
    assert sorted(processed) == ["ord-1", "ord-2", "ord-3", "ord-4"]
    assert depth(stage, stage.dlq_url) == 0
    resolved = [p for p in stage.pages() if p["kind"] == "dlq-resolved"]
    assert resolved
    assert resolved[0]["incident"] == incident
    _, timeline = stage.desk.show(incident)
    assert [e.state for e in timeline if e.event == "TaskStateEntered"][-1] == "Resolve"


class LiveTraffic:
    """Order traffic and a consumer on the source queue, as a live stage has during a redrive.

    A new order arrives every 50 ms and the consumer holds each message in flight for a second
    before deleting it (its processing time), so the source queue always has messages in flight
    while almost never keeping one waiting. Orders in ``still_failing`` are received and never
    deleted: the consumer's bug is not fixed for them. ``orders=False`` runs the consumer alone.
    """

    HOLD_SECONDS = 1.0

    def __init__(
        self, stage: Stage, still_failing: frozenset[str] = frozenset(), *, orders: bool = True
    ) -> None:
        self.stage = stage
        self.still_failing = still_failing
        self.processed: list[str] = []
        self.sent = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._consume, name="live-consumer")]
        if orders:
            self._threads.append(threading.Thread(target=self._orders, name="live-orders"))

    def __enter__(self) -> LiveTraffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _orders(self) -> None:
        while not self._stop.wait(0.05):
            self.sent += 1
            body = json.dumps({"o": f"live-{self.sent}"})
            self.stage.sqs.send_message(QueueUrl=self.stage.source_url, MessageBody=body)

    def _consume(self) -> None:
        in_flight: list[tuple[float, str, str]] = []
        while not self._stop.is_set():
            for message in self.stage.sqs.receive_message(
                QueueUrl=self.stage.source_url, MaxNumberOfMessages=10, VisibilityTimeout=30
            ).get("Messages", []):
                order_id = json.loads(message["Body"])["o"]
                if order_id in self.still_failing:
                    self._fail(message, order_id)
                    continue
                done_at = time.monotonic() + self.HOLD_SECONDS
                in_flight.append((done_at, order_id, message["ReceiptHandle"]))
            now = time.monotonic()
            for done_at, order_id, handle in [m for m in in_flight if m[0] <= now]:
                self.stage.sqs.delete_message(QueueUrl=self.stage.source_url, ReceiptHandle=handle)
                self.processed.append(order_id)
                in_flight.remove((done_at, order_id, handle))
            time.sleep(0.01)

    def _fail(self, message: dict[str, Any], order_id: str) -> None:
        """Fail it as the consumer shell does: record why, leave it for the visibility timeout."""
        self.stage.ledger.record(
            message_id=message["MessageId"],
            service=SERVICE,
            error=KeyError(f"no projection for {order_id}"),
            event_type="order.created",
            order_id=order_id,
        )
        visibility = self.stage.sqs.get_queue_attributes(
            QueueUrl=self.stage.source_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]["VisibilityTimeout"]
        self.stage.sqs.change_message_visibility(
            QueueUrl=self.stage.source_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=int(visibility),
        )


def in_flight(stage: Stage) -> int:
    attributes = stage.sqs.get_queue_attributes(
        QueueUrl=stage.source_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def page_of(stage: Stage, kind: str) -> list[dict[str, Any]]:
    return [p for p in stage.pages() if p["kind"] == kind]


def test_a_redrive_under_live_order_traffic_resolves_as_drained(stage: Stage) -> None:
    # GIVEN three parked orders, and a stage whose source queue never runs dry
    park(stage, [(f"ord-{n}", KeyError(f"no projection for ord-{n}")) for n in (1, 2, 3)])
    incident = alarm(stage)
    wait_for(lambda: page_of(stage, "dlq-incident"), "the page")

    with LiveTraffic(stage) as traffic:
        wait_for(lambda: in_flight(stage) > 0, "live orders in flight")
        # WHEN the fix is live and the operator approves while orders keep flowing
        stage.desk.approve(incident, rate=100)
        outcome = wait_for(lambda: finished(stage, incident), "the execution", seconds=90)
        busy_at_the_end = in_flight(stage)

    # THEN the workflow judged the drain from the DLQ and the redriven orders, not from the
    # source queue's depth, which live traffic never lets reach zero
    _, timeline = stage.desk.show(incident)
    assert outcome == "SUCCEEDED", [(e.event, e.state, e.detail) for e in timeline][-12:]
    assert busy_at_the_end > 0
    redriven = sorted(o for o in traffic.processed if o.startswith("ord-"))
    assert redriven == ["ord-1", "ord-2", "ord-3"]
    assert depth(stage, stage.dlq_url) == 0
    (resolved,) = page_of(stage, "dlq-resolved")
    assert resolved["incident"] == incident
    assert resolved["dlqDepth"] == 0


def test_redriven_messages_that_park_again_are_reported_not_drained(stage: Stage) -> None:
    # GIVEN two parked orders, a source queue that retries twice, 2 s apart, and live traffic
    park(stage, [("ord-7", KeyError("no projection for ord-7")),
                 ("ord-8", KeyError("no projection for ord-8"))])  # fmt: skip
    dlq_arn = stage.sqs.get_queue_attributes(QueueUrl=stage.dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    stage.sqs.set_queue_attributes(
        QueueUrl=stage.source_url,
        Attributes={
            "VisibilityTimeout": "2",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )
    incident = alarm(stage)
    wait_for(lambda: page_of(stage, "dlq-incident"), "the page")

    # WHEN the operator approves but the fix did not take for these two orders
    with LiveTraffic(stage, still_failing=frozenset({"ord-7", "ord-8"})):
        stage.desk.approve(incident, rate=100)
        outcome = wait_for(lambda: finished(stage, incident), "the execution", seconds=90)

    # THEN the incident is not resolved: the page says they parked again, and they are kept
    assert outcome == "FAILED"
    assert page_of(stage, "dlq-resolved") == []
    (not_drained,) = page_of(stage, "dlq-not-drained")
    assert not_drained["dlqDepth"] == 2
    assert depth(stage, stage.dlq_url) == 2
    incident_state, _ = stage.desk.show(incident)
    assert incident_state.outcome is not None
    assert incident_state.outcome["kind"] == "dlq-not-drained"


def test_the_resolution_reports_the_moved_count_once_it_settles_and_as_approximate(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQS's ``ApproximateNumberOfMessagesMoved`` is "the approximate number of messages already
    moved to the destination queue" (Amazon SQS API Reference, ListMessageMoveTasksResultEntry,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListMessageMoveTasksResultEntry.html).
    Here the first COMPLETED read still lags one message behind, as an approximate count may."""
    reads: Counter[str] = Counter()
    exact_entry = sqs_move_tasks.MessageMoveTask.entry

    def settling_entry(task: sqs_move_tasks.MessageMoveTask) -> dict[str, Any]:
        entry = exact_entry(task)
        if entry["Status"] == sqs_move_tasks.COMPLETED:
            reads[task.task_id] += 1
            if reads[task.task_id] == 1:
                entry["ApproximateNumberOfMessagesMoved"] -= 1
        return entry

    monkeypatch.setattr(sqs_move_tasks.MessageMoveTask, "entry", settling_entry)
    # GIVEN four parked orders, and a move count that settles after the task completes
    park(stage, [(f"ord-{n}", KeyError(f"no projection for ord-{n}")) for n in (1, 2, 3, 4)])
    incident = alarm(stage)
    wait_for(lambda: page_of(stage, "dlq-incident"), "the page")

    # WHEN the redrive is approved and the fixed consumer runs
    with LiveTraffic(stage, orders=False):
        stage.desk.approve(incident, rate=100)
        outcome = wait_for(lambda: finished(stage, incident), "the execution", seconds=90)

    # THEN the resolution reports the settled count, and says it is approximate
    assert outcome == "SUCCEEDED"
    (resolved,) = page_of(stage, "dlq-resolved")
    assert (resolved["approximatelyMoved"], resolved["moveCountStable"]) == (4, True)
    assert stage.desk.show(incident)[0].approximately_moved == 4
    shown = CliRunner().invoke(cli, ["incident", "show", incident, "--stage", STAGE])
    assert shown.exit_code == 0, shown.output
    assert "about 4 message(s) moved (SQS's approximate count)" in shown.output
    assert "drained" in shown.output


def test_rejection_leaves_every_message_in_the_dlq(stage: Stage) -> None:
    park(stage, [("ord-9", RuntimeError("payment provider returned 500"))])
    incident = alarm(stage)
    wait_for(lambda: [p for p in stage.pages() if p["kind"] == "dlq-incident"], "the page")

    stage.desk.reject(incident, reason="fix not deployed yet")

    assert wait_for(lambda: finished(stage, incident), "the execution") == "SUCCEEDED"
    rejected = [p for p in stage.pages() if p["kind"] == "dlq-rejected"]
    assert rejected[0]["reason"] == "fix not deployed yet"
    assert depth(stage, stage.dlq_url) == 1
    with pytest.raises(IncidentError, match="not waiting"):
        stage.desk.approve(incident)


def test_no_decision_escalates_then_gives_up(stage: Stage) -> None:
    definition = load(
        {
            "Stage": STAGE,
            "PagingTopicArn": stage.sfn.describe_state_machine(stateMachineArn=stage.machine_arn)[
                "definition"
            ]
            .split('"pagingTopicArn": "')[1]
            .split('"')[0],
            "FailureLedgerTable": "failure-ledger",
            "DecisionTimeoutSeconds": "1",
            "MaxEscalations": "1",
        }
    )
    stage.sfn.update_state_machine(
        stateMachineArn=stage.machine_arn, definition=json.dumps(definition)
    )
    park(stage, [("ord-5", RuntimeError("boom"))])

    incident = alarm(stage)

    assert wait_for(lambda: finished(stage, incident), "the execution") == "FAILED"
    kinds = [p["kind"] for p in stage.pages()]
    assert kinds == ["dlq-incident", "dlq-escalation", "dlq-incident"]
    assert depth(stage, stage.dlq_url) == 1


def test_the_platform_stack_deploys_this_definition_with_every_setting() -> None:
    from pathlib import Path  # noqa: PLC0415

    from orderflow.platform.monitoring.definition import DEFINITION_PATH  # noqa: PLC0415
    from orderflow.templates import load_template, resources_of_type  # noqa: PLC0415

    template_path = Path(__file__).parents[3] / "template.yaml"
    (machine,) = resources_of_type(
        load_template(template_path), "AWS::Serverless::StateMachine"
    ).values()

    assert (template_path.parent / machine["DefinitionUri"]).resolve() == DEFINITION_PATH.resolve()
    assert set(machine["DefinitionSubstitutions"]) == set(SUBSTITUTIONS)
    pattern = machine["Events"]["DlqGrowthAlarm"]["Properties"]["Pattern"]
    assert pattern["detail"]["alarmName"] == [{"suffix": "-dlq-growth"}]
    assert pattern["detail"]["state"]["value"] == ["ALARM"]
