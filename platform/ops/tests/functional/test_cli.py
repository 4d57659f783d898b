"""The ``orderflow`` CLI against a stage on moto, and its one-line errors."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from orderflow.contracts import SERVICES, consumers_of
from orderflow.emulator import sqs_metrics
from orderflow.messaging import EventPublisher
from orderflow.platform.aws import AwsClients
from orderflow.platform.backlog import backlogs
from orderflow.platform.cli import cli
from orderflow.platform.stage import discover_queues
from orderflow.testing import make_order

from .conftest import ROOT, STAGE, StageOnMoto, consume_until_dead_lettered, deploy_template
from .test_dlq_tools import inventory_with_a_bug

pytestmark = pytest.mark.functional


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_json(*args: str) -> Any:
    result = run("--json", "--stage", STAGE, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def depths(aws: AwsClients, stage: StageOnMoto) -> dict[str, int]:
    found = {}
    for service in SERVICES:
        attributes = aws.sqs().get_queue_attributes(
            QueueUrl=stage.queue_url(service), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        found[service] = int(attributes["ApproximateNumberOfMessages"])
    return found


# --- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ((), "run, watch and repair the order pipeline"),
        (("status",), "alarm state per service"),
        (("publish",), "validated against its contract"),
        (("load",), "cancels, shipments and refunds"),
        (("dlq", "ls"), "oldest message's age"),
        (("dlq", "inspect"), "Nothing is consumed"),
        (("dlq", "redrive"), "then deleted from the DLQ"),
        (("alarms", "sync"), "changes nothing the second time"),
        (("alarms", "ls"), "its state"),
        (("analytics", "report"), "hourly metrics"),
        (("stock", "seed"), "seed movements"),
        (("stock", "ls"), "reorder threshold"),
        (("deploy",), "sam deploy"),
    ],
)
def test_every_command_explains_itself(command: tuple[str, ...], says: str) -> None:
    # WHEN a command's help is asked for
    result = run(*command, "--help")

    # THEN it prints its purpose and the shared options
    assert result.exit_code == 0
    assert says in " ".join(result.output.split())
    if command and command not in {("dlq",), ("alarms",)}:
        assert "--stage" in result.output
        assert "--json" in result.output


# --- bad input: one line, non-zero, no traceback ------------------------------------------------


def test_an_unknown_service_is_one_line(aws: AwsClients, stage: StageOnMoto) -> None:
    result = run("dlq", "inspect", "shipping", "--stage", STAGE)
    assert_one_line_error(result, "unknown service 'shipping'", "known: payment, inventory")


def test_a_malformed_order_file_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "order.json"
    broken.write_text('{"order_id": "ord-1", "items": [')
    assert_one_line_error(run("publish", str(broken)), "order.json: not JSON")


def test_an_order_that_breaks_its_contract_is_one_line(tmp_path: Path) -> None:
    # GIVEN an order whose total does not add up
    order = tmp_path / "order.json"
    order.write_text(
        json.dumps(
            {
                "order_id": "ord-1",
                "customer_email": "ana@example.com",
                "customer_id": "c-1",
                "items": [{"sku": "sku-tee", "quantity": 2, "unit_price": "19.90"}],
                "total": {"amount": "10.00", "currency": "EUR"},
                "payment_token": "tok_visa",
            }
        )
    )
    assert_one_line_error(run("publish", str(order)), "does not equal the items' sum 39.80")


def test_a_missing_order_file_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run("publish", str(tmp_path / "nope.json")), "nope.json: cannot read")


def test_an_unreachable_endpoint_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an endpoint nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    # WHEN a command talks to it, THEN one line says so
    result = run("--endpoint-url", f"http://127.0.0.1:{port}", "status")
    assert_one_line_error(result, f"cannot reach the endpoint http://127.0.0.1:{port}")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_credentials")
def test_missing_credentials_are_one_line() -> None:
    assert_one_line_error(run("status"), "no AWS credentials found")


@pytest.mark.usefixtures("no_credentials")
def test_deploy_without_credentials_says_so_before_sam_runs() -> None:
    result = run("deploy", "platform", "--stage", "dev", "--root", str(ROOT))
    assert_one_line_error(result, "no AWS credentials found")


def test_deploy_of_an_unknown_package_is_one_line() -> None:
    result = run("deploy", "shipping", "--root", str(ROOT))
    assert_one_line_error(result, "unknown deploy target 'shipping'", "payment", "platform")


def test_alarms_without_the_platform_stack_is_one_line(aws: AwsClients) -> None:
    # GIVEN a stage with a service but no platform stack (no paging topic)
    deploy_template(ROOT / "platform" / "template.yaml", aws, "other")
    result = run("alarms", "sync", "--stage", "nostack")
    assert_one_line_error(result, "no paging topic for stage 'nostack'")


# --- the commands on a stage --------------------------------------------------------------------


def test_publish_routes_one_order_to_every_consumer(aws: AwsClients, stage: StageOnMoto) -> None:
    # WHEN one order is published from flags
    published = run_json("publish", "--order-id", "ord-cli-1", "--item", "sku-tee:2")

    # THEN it is an order.created that every consumer's queue received
    assert (published["event_type"], published["order_id"]) == ("order.created", "ord-cli-1")
    assert depths(aws, stage) == dict.fromkeys(SERVICES, 1)


def test_publish_from_a_file_routes_by_event_type(
    aws: AwsClients, stage: StageOnMoto, tmp_path: Path
) -> None:
    # GIVEN a shipment in a file, envelope fields left for the CLI to fill in
    shipped = tmp_path / "shipped.json"
    shipped.write_text(
        json.dumps(
            {
                "event_type": "order.shipped",
                "order_id": "ord-7",
                "customer_email": "ana@example.com",
                "carrier": "DHL",
                "tracking_number": "T123",
            }
        )
    )

    # WHEN it is published, placing --stage after the command
    result = run("publish", str(shipped), "--stage", STAGE)

    # THEN only the services the routing table names receive it
    assert result.exit_code == 0, result.output
    expected = consumers_of("order.shipped")
    assert depths(aws, stage) == {s: int(s in expected) for s in SERVICES}


def test_load_publishes_a_mix_that_reaches_the_right_queues(
    aws: AwsClients, stage: StageOnMoto
) -> None:
    # WHEN forty orders are loaded
    summary = run_json("load", "--orders", "40", "--rate", "10000", "--seed", "7")

    # THEN every order was created, with some follow-ups, and each queue got its share
    by_type = summary["by_type"]
    assert by_type["order.created"] == 40
    assert summary["events"] == sum(by_type.values()) > 40
    expected = {
        service: sum(n for t, n in by_type.items() if service in consumers_of(t))
        for service in SERVICES
    }
    assert depths(aws, stage) == expected


def test_status_shows_each_service(aws: AwsClients, stage: StageOnMoto) -> None:
    # GIVEN one order waiting everywhere and synced alarms
    run_json("publish", "--item", "sku-mug:1")
    run_json("alarms", "sync")

    # WHEN the status is asked for
    rows = {row["service"]: row for row in run_json("status")["services"]}

    # THEN every service shows its depth, empty DLQ and alarm state
    assert list(rows) == list(SERVICES)
    assert all(r["depth"] == 1 and r["dlq_depth"] == 0 for r in rows.values())
    assert all(r["alarm"] == "OK" for r in rows.values())
    human = run("--stage", STAGE, "status")
    assert human.exit_code == 0
    assert "notifications" in human.output


@pytest.fixture
def sqs_minute(aws: AwsClients) -> Iterator[Callable[[datetime], None]]:
    """SQS publishing its metrics to CloudWatch (the emulator's), at times the test chooses."""
    sqs_metrics.install()

    def publish(at: datetime) -> None:
        sqs_metrics.publish_sqs_metrics(at)

    yield publish
    sqs_metrics.uninstall()


def drain(aws: AwsClients, url: str) -> None:
    sqs = aws.sqs()
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_status_and_dlq_ls_show_no_oldest_age_for_an_empty_queue(
    aws: AwsClients, stage: StageOnMoto, sqs_minute: Callable[[datetime], None]
) -> None:
    # GIVEN one order on every queue and a message in payment's DLQ, in SQS's last minute
    run_json("publish", "--item", "sku-mug:1")
    aws.sqs().send_message(QueueUrl=stage.queue_url("payment", "dlq"), MessageBody="{}")
    minute = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=3)
    sqs_minute(minute)
    # WHEN payment's queue and DLQ are emptied, and SQS publishes again (no age for them)
    drain(aws, stage.queue_url("payment"))
    drain(aws, stage.queue_url("payment", "dlq"))
    sqs_minute(minute + timedelta(seconds=1))
    status = {r["service"]: r for r in run_json("status")["services"]}
    dlqs = {r["service"]: r for r in run_json("dlq", "ls")["dlqs"]}
    # THEN payment's empty queues have no oldest age, the others still have theirs
    assert (status["payment"]["depth"], status["payment"]["oldest_age_seconds"]) == (0, None)
    assert (dlqs["payment"]["dlq_depth"], dlqs["payment"]["dlq_oldest_age_seconds"]) == (0, None)
    assert status["inventory"]["oldest_age_seconds"] is not None
    human = run("--stage", STAGE, "status").output
    payment = next(line for line in human.splitlines() if line.startswith("payment"))
    assert [cell.strip() for cell in payment.split("│")][3] == "-"  # OLDEST


def test_an_age_from_before_the_queue_emptied_is_not_shown_after_it_refills(
    aws: AwsClients, stage: StageOnMoto, sqs_minute: Callable[[datetime], None]
) -> None:
    # GIVEN payment's queue with an order 30 s old at SQS's minute
    publisher = EventPublisher(stage.topic_arn, aws.sns())
    publisher.publish(make_order("ord-old"))
    start = datetime.now(UTC)
    sqs_minute(start + timedelta(seconds=30))
    # WHEN it is emptied before the next minute, and a new order arrives after that minute
    drain(aws, stage.queue_url("payment"))
    sqs_minute(start + timedelta(seconds=90))
    publisher.publish(make_order("ord-new"))
    services = discover_queues(aws.sqs(), STAGE)
    found = {
        b.service: b
        for b in backlogs(aws.sqs(), aws.cloudwatch(), services, now=start + timedelta(seconds=100))
    }
    # THEN payment shows no age (SQS has not measured the new order yet), not the old 30 s
    assert found["payment"].depth == 1
    assert found["payment"].oldest_age_seconds is None
    # AND a queue whose order stayed shows its age from SQS's latest minute
    assert found["inventory"].oldest_age_seconds == 90


def test_alarms_sync_twice_then_ls(aws: AwsClients, stage: StageOnMoto) -> None:
    first = run_json("alarms", "sync")
    second = run_json("alarms", "sync")
    listed = run_json("alarms", "ls")

    assert {a["action"] for a in first["alarms"]} == {"create"}
    assert {a["action"] for a in second["alarms"]} == {"unchanged"}
    assert second["dashboard"]["action"] == "unchanged"
    assert len(listed["alarms"]) == 12


def test_dlq_inspect_and_redrive_through_the_cli(aws: AwsClients, stage: StageOnMoto) -> None:
    # GIVEN inventory's DLQ with two failure groups
    EventPublisher(stage.topic_arn, aws.sns()).publish_batch(
        [make_order(f"ord-{n}") for n in range(12)]
    )
    consume_until_dead_lettered(aws, stage, "inventory", inventory_with_a_bug([]))

    # WHEN the DLQs are listed and inventory's inspected
    listed = {row["service"]: row for row in run_json("dlq", "ls")["dlqs"]}
    inspected = run_json("dlq", "inspect", "inventory")

    # THEN inventory holds five in two groups
    assert listed["inventory"]["dlq_depth"] == 5
    assert [g["count"] for g in inspected["groups"]] == [3, 2]

    # AND WHEN the larger group is redriven, then the rest
    group = inspected["groups"][0]["fingerprint"]
    one = run_json("dlq", "redrive", "inventory", "--group", group, "--rate", "500")
    dry = run("--stage", STAGE, "dlq", "redrive", "inventory", "--dry-run")
    rest = run_json("dlq", "redrive", "inventory", "--rate", "500", "--poll", "0.05")

    # THEN three moved selectively (counted), two by the move task (SQS's approximate count),
    # and the DLQ is empty
    assert (one["moved"], one["skipped"], one["failed"]) == (3, 2, 0)
    assert one["moved_approximate"] is False
    assert "would move approximately 2," in dry.output
    assert (rest["status"], rest["moved"], rest["moved_approximate"]) == ("COMPLETED", 2, True)
    assert {r["service"]: r for r in run_json("dlq", "ls")["dlqs"]}["inventory"]["dlq_depth"] == 0
    assert {r["service"]: r for r in run_json("status")["services"]}["inventory"]["depth"] == 5


def test_stock_seed_then_ls(aws: AwsClients, stage: StageOnMoto, tmp_path: Path) -> None:
    # GIVEN a stock file
    stock = tmp_path / "stock.json"
    stock.write_text(
        json.dumps({"sku-tee": {"available": 25, "threshold": 5}, "sku-mug": {"available": 3}})
    )

    # WHEN it is seeded and listed
    seeded = run_json("stock", "seed", str(stock))
    listed = run_json("stock", "ls")

    # THEN the levels are as filed, and the mug is flagged low (below its default threshold)
    assert seeded["levels"] == listed["levels"]
    assert {(r["sku"], r["available"], r["low"]) for r in listed["levels"]} == {
        ("sku-tee", 25, False),
        ("sku-mug", 3, True),
    }


def test_a_malformed_stock_file_is_one_line(
    aws: AwsClients, stage: StageOnMoto, tmp_path: Path
) -> None:
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,available\nsku-tee,many\n")
    assert_one_line_error(
        run("stock", "seed", str(stock), "--stage", STAGE), "available must be a whole number"
    )


def test_analytics_report_of_a_quiet_stage(aws: AwsClients, stage: StageOnMoto) -> None:
    report = run_json("analytics", "report")
    assert report["totals"]["hours"] == 0
    assert report["hours"] == []
    unknown = run("analytics", "report", "--order", "ord-none", "--stage", STAGE)
    assert_one_line_error(unknown, "no analytics events for order 'ord-none'")


def test_deploy_checks_credentials_then_runs_sam_with_the_stage(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN working credentials (moto's STS) and a sam that records how it ran
    record = tmp_path / "sam-ran"
    sam = tmp_path / "sam"
    sam.write_text(f'#!/bin/sh\necho "$PWD $*" > {record}\nexit 0\n')
    sam.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")

    # WHEN the platform is deployed to prod
    result = run("deploy", "platform", "--stage", "prod", "--root", str(ROOT))

    # THEN SAM deployed the platform package with its prod config, in the stage's own region
    assert result.exit_code == 0, result.output
    assert "deploying platform to prod in account 123456789012" in result.output
    assert record.read_text().split() == [
        str(ROOT / "platform"),
        "deploy",
        "--config-file",
        "samconfig.toml",
        "--config-env",
        "prod",
        "--template-file",
        "template.yaml",
        "--region",
        "us-east-1",
    ]
