"""Every package deployed the way its team deploys it: the real ``sam deploy`` and its samconfig.

The embedded AWS applies the SAM transform itself, so ``sam deploy --config-env dev`` runs
unchanged against it: the platform first, then each service, each from its own package
directory (a copy, so the checkout is never written to) with its own samconfig.toml, fake
credentials and a caller default region that is not the stage's (samconfig pins it). The local
runtime's pollers then run the deployed functions as Lambda's SQS event source would.

Needs the sam CLI: ``nox -s sam_deploy`` installs aws-sam-cli in its own environment and
passes it as ORDERFLOW_SAM_CLI; without it these tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from orderflow.contracts import SERVICES, OrderCreated
from orderflow.emulator.clock import EmulatorClock
from orderflow.emulator.server import EmbeddedAws
from orderflow.local.demo import initial_stock
from orderflow.local.faults import FaultPlan
from orderflow.local.functions import FAKE_CREDENTIALS, discover_functions
from orderflow.local.reconciliation import Observed, Published, observe
from orderflow.local.runtime import FunctionWorker, ServiceResources
from orderflow.local.stacks import describe_stack
from orderflow.messaging import EventPublisher
from orderflow.testing import make_order

from .conftest import wait_for

pytestmark = pytest.mark.e2e

SAM_CLI_ENV = "ORDERFLOW_SAM_CLI"
ROOT = Path(__file__).resolve().parents[4]
STAGE = "dev"
REGION = "us-east-1"
CALLER_REGION = "eu-west-1"
"""The caller's default region: samconfig pins the stage's, so it must not matter."""
REDEPLOYED = "inventory"
PROCESS_TIMEOUT = 120.0
_COPY_IGNORE = shutil.ignore_patterns("build", "tests", "__pycache__", "*.pyc", ".pytest_cache")


def sam_cli() -> str:
    path = os.environ.get(SAM_CLI_ENV, "")
    if not path or not Path(path).is_file():
        pytest.skip(f"no sam CLI ({SAM_CLI_ENV} unset): run nox -s sam_deploy")
    return path


def copy_package(name: str, root: Path) -> Path:
    """A copy of one package directory; a service also gets the code its CodeUri points at.

    ``nox -s build`` installs the service with its locked dependencies; the deployed zip only
    has to exist and hold the code here, because the local runtime runs each handler from its
    own environment. So the build is the service's and shared's sources, a cheap equivalent.
    """
    source = ROOT / ("platform" if name == "platform" else f"services/{name}")
    target = root / source.relative_to(ROOT)
    shutil.copytree(source, target, ignore=_COPY_IGNORE)
    if name != "platform":
        package = target / "build" / "package"
        for src in (source / "src", ROOT / "shared" / "src"):
            shutil.copytree(src, package, ignore=_COPY_IGNORE, dirs_exist_ok=True)
    return target


@dataclass
class Deployment:
    """The embedded AWS, the copied packages and what each deploy took."""

    aws: EmbeddedAws
    root: Path
    sam: str
    home: Path
    seconds: dict[str, float] = field(default_factory=dict)

    def env(self, **changes: str | None) -> dict[str, str]:
        """What a team's shell has: the endpoint, credentials, a default region not the stage's."""
        env = {
            **os.environ,
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws.endpoint_url,
            "AWS_DEFAULT_REGION": CALLER_REGION,
            "AWS_REGION": CALLER_REGION,
            "HOME": str(self.home),
            "SAM_CLI_TELEMETRY": "0",
            "SAM_CLI_POLL_DELAY": "0.5",
            "PATH": f"{Path(self.sam).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        for key, value in changes.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def directory(self, name: str) -> Path:
        return self.root / ("platform" if name == "platform" else f"services/{name}")

    def sam_deploy(self, name: str) -> subprocess.CompletedProcess[str]:
        """``sam deploy --config-env dev`` from the package directory, as its team runs it."""
        started = time.monotonic()
        result = subprocess.run(
            [self.sam, "deploy", "--config-env", STAGE],
            cwd=self.directory(name),
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        self.seconds[f"sam deploy {name}"] = time.monotonic() - started
        assert result.returncode == 0, f"sam deploy {name}:\n{result.stdout}\n{result.stderr}"
        return result

    def orderflow(self, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
        """``orderflow ARGS --root <copies>`` in a team's shell (with ``env`` changes)."""
        started = time.monotonic()
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from orderflow.platform.cli.main import main; main()",
                *args,
                "--root",
                str(self.root),
            ],
            env=self.env(**env),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        self.seconds[f"orderflow {' '.join(args)}"] = time.monotonic() - started
        return result

    def client(self, service: str) -> Any:
        make: Any = boto3.client  # the service is only known at run time
        return make(
            service,
            endpoint_url=self.aws.endpoint_url,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def stack_name(self, name: str) -> str:
        return f"orderflow-{STAGE}-{name}"

    def service(self, name: str) -> ServiceResources:
        stack = describe_stack(self.client("cloudformation"), name, self.stack_name(name))
        out = stack.outputs
        return ServiceResources(
            stack=stack.stack_name,
            queue_url=out["QueueUrl"],
            queue_arn=out["QueueArn"],
            dlq_url=out["DeadLetterQueueUrl"],
            dlq_arn=out["DeadLetterQueueArn"],
            function_name=out["FunctionName"],
            tables=stack.physical_ids("AWS::DynamoDB::Table"),
            outputs=out,
        )


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Deployment]:
    """The platform, then every service, each deployed by sam deploy with its own samconfig."""
    sam = sam_cli()
    base = tmp_path_factory.mktemp("sam-deploy")
    root = base / "repo"
    for name in ("platform", *SERVICES):
        copy_package(name, root)
    (base / "home").mkdir()
    aws = EmbeddedAws(log_path=base / "aws.log")
    deployment = Deployment(aws, root, sam, base / "home")
    aws.start()
    try:
        for name in ("platform", *SERVICES):
            deployment.sam_deploy(name)
        yield deployment
    finally:
        aws.stop()
        # What each deploy took, in the run's output (CI time is the cost of this test).
        capture: Any = pytestconfig.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print()
            for what, seconds in deployment.seconds.items():
                print(f"sam-deploy e2e: {seconds:6.1f} s  {what}")


@dataclass
class Pipeline:
    """The deployed functions running on the local runtime's pollers."""

    deployment: Deployment
    services: dict[str, ServiceResources]
    run_dir: Path
    workers: list[FunctionWorker] = field(default_factory=list)

    def observe(self, orders: list[Any]) -> Observed:
        resources = SimpleNamespace(
            services=self.services, gateway_journal=str(self.run_dir / "journal.sqlite")
        )
        return observe(
            self.deployment.client,
            resources,
            Published(orders, {}),
            self.deployment.aws.inspect("sent-emails"),
        )

    def missing(self, orders: list[Any]) -> dict[str, list[str]]:
        """Per service, the orders it has not yet recorded (its own durable record of each)."""
        from orderflow.notifications.domain import TEMPLATES  # noqa: PLC0415

        confirmation = f"orderflow-{STAGE}-{TEMPLATES[OrderCreated.TYPE]}"
        seen = self.observe(orders)
        emailed = {order for template, order in seen.emails if template == confirmation}
        gaps = {
            "payment": [o.order_id for o in orders if o.order_id not in seen.payment_records],
            "inventory": [o.order_id for o in orders if o.order_id not in seen.inventory_recorded],
            "notifications": [o.order_id for o in orders if o.order_id not in emailed],
            "analytics": [
                o.order_id for o in orders if str(o.event_id) not in seen.analytics_event_ids
            ],
        }
        return {service: ids for service, ids in gaps.items() if ids}

    def await_processed(self, orders: list[Any], what: str) -> None:
        """Every order charged, its stock moved, its confirmation sent and its event stored."""
        try:
            wait_for(lambda: not self.missing(orders), PROCESS_TIMEOUT, what)
        except AssertionError:
            assert self.missing(orders) == {}, what
            raise

    def publish(self, count: int) -> list[Any]:
        orders = [make_order() for _ in range(count)]
        self.seed_stock(orders)
        topic = self.deployment.client("cloudformation").describe_stacks(
            StackName=self.deployment.stack_name("platform")
        )["Stacks"][0]["Outputs"]
        topic_arn = next(o["OutputValue"] for o in topic if o["OutputKey"] == "OrderEventsTopicArn")
        EventPublisher(topic_arn, client=self.deployment.client("sns")).publish_batch(orders)
        return orders

    def seed_stock(self, orders: list[Any]) -> None:
        from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger  # noqa: PLC0415
        from orderflow.inventory.admin import seed_stock  # noqa: PLC0415
        from orderflow.inventory.domain import StockSetting  # noqa: PLC0415

        outputs = self.services["inventory"].outputs
        ledger = DynamoDBStockLedger(
            self.deployment.client("dynamodb"),
            stock_table=outputs["StockTableName"],
            movements_table=outputs["MovementsTableName"],
        )
        stock = initial_stock(orders)
        settings = [StockSetting(sku, n, threshold) for sku, (n, threshold) in stock.items()]
        seed_stock(ledger, settings, seed_id=f"seed-{orders[0].order_id}")


@pytest.fixture(scope="module")
def pipeline(deployed: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """One poller worker per deployed function, as the local runtime runs them."""
    run_dir = tmp_path_factory.mktemp("sam-deploy-run")
    from orderflow.payment.adapters.gateway import ChargeJournal  # noqa: PLC0415

    # The deployed payment stack keeps its gateway in memory (no journal parameter); the
    # payments table is its durable record. observe() reads an (empty) journal regardless.
    ChargeJournal(run_dir / "journal.sqlite").close()
    services = {name: deployed.service(name) for name in SERVICES}
    faults = run_dir / "faults.json"
    faults.write_text(FaultPlan().to_json())
    (run_dir / "faults").mkdir()
    functions = {name: [svc.function_name] for name, svc in services.items()}
    specs = discover_functions(deployed.client("lambda"), deployed.client("sqs"), functions)
    running = Pipeline(deployed, services, run_dir)
    try:
        for spec in specs:
            worker = FunctionWorker(spec, run_dir)
            worker.start(deployed.aws.endpoint_url, EmulatorClock(), faults, run_dir / "faults", 1)
            running.workers.append(worker)
        yield running
    finally:
        for worker in running.workers:
            worker.stop()


def test_every_package_deploys_with_its_samconfig_and_an_order_reaches_all_four_services(
    pipeline: Pipeline,
) -> None:
    # GIVEN the platform and the four services deployed by sam deploy, from a caller whose
    # default region is not the stage's
    cloudformation = pipeline.deployment.client("cloudformation")
    statuses = {
        s["StackName"]: s["StackStatus"] for s in cloudformation.describe_stacks()["Stacks"]
    }
    for name in ("platform", *SERVICES):
        assert statuses[f"orderflow-{STAGE}-{name}"] == "CREATE_COMPLETE"
    assert statuses["aws-sam-cli-managed-default"] == "CREATE_COMPLETE"  # resolve_s3's bucket

    # WHEN an order is published to the topic
    orders = pipeline.publish(1)

    # THEN payment charges it, inventory moves its stock, notifications confirms it and
    # analytics stores it: each deployed function ran
    pipeline.await_processed(orders, "one order through all four")


def stack_state(deployment: Deployment, name: str) -> tuple[Any, dict[str, tuple[str, str]]]:
    """A stack's LastUpdatedTime (None if never updated) and its resources."""
    cloudformation = deployment.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=deployment.stack_name(name))["Stacks"][0]
    resources = cloudformation.describe_stack_resources(StackName=deployment.stack_name(name))
    return stack.get("LastUpdatedTime"), {
        r["LogicalResourceId"]: (r["PhysicalResourceId"], r["ResourceType"])
        for r in resources["StackResources"]
    }


def dlq_depth(deployment: Deployment, service: ServiceResources) -> int:
    attributes = deployment.client("sqs").get_queue_attributes(
        QueueUrl=service.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def max_receive_count(deployment: Deployment, service: ServiceResources) -> int:
    attributes = deployment.client("sqs").get_queue_attributes(
        QueueUrl=service.queue_url, AttributeNames=["RedrivePolicy"]
    )
    return int(json.loads(attributes["Attributes"]["RedrivePolicy"])["maxReceiveCount"])


def test_redeploying_one_service_with_a_changed_parameter_leaves_the_others_untouched(
    pipeline: Pipeline,
) -> None:
    deployment = pipeline.deployment
    others = [s for s in SERVICES if s != REDEPLOYED]
    # GIVEN every stack as deployed, a parked message in each DLQ (nothing consumes those),
    # and orders in flight while the functions run
    before = {name: stack_state(deployment, name) for name in others}
    sqs = deployment.client("sqs")
    for service in pipeline.services.values():
        sqs.send_message(QueueUrl=service.dlq_url, MessageBody='{"parked": true}')
    in_flight = pipeline.publish(3)
    assert max_receive_count(deployment, pipeline.services[REDEPLOYED]) == 5

    # WHEN the inventory team raises MaxReceiveCount in its samconfig and redeploys
    samconfig = deployment.directory(REDEPLOYED) / "samconfig.toml"
    text = samconfig.read_text()
    assert text.count('"MaxReceiveCount=5"') == 2
    samconfig.write_text(text.replace('"MaxReceiveCount=5"', '"MaxReceiveCount=6"', 1))
    result = deployment.orderflow("deploy", REDEPLOYED, "--stage", STAGE)
    assert result.returncode == 0, result.stdout + result.stderr
    after_orders = pipeline.publish(2)

    # THEN inventory has the new setting and kept its parked message; no other stack was
    # updated, no resource of theirs changed, their DLQs kept their messages, and every order
    # (those in flight during the deploy and those after) reached all four services
    assert max_receive_count(deployment, pipeline.services[REDEPLOYED]) == 6
    assert stack_state(deployment, REDEPLOYED)[0] is not None
    assert {name: stack_state(deployment, name) for name in others} == before
    assert {
        name: dlq_depth(deployment, s) for name, s in pipeline.services.items()
    } == dict.fromkeys(SERVICES, 1)
    pipeline.await_processed(in_flight + after_orders, "orders around the redeploy, all four")


def test_a_deploy_that_cannot_work_fails_with_one_line_saying_which(
    deployed: Deployment,
) -> None:
    # A prod stage whose platform stack was never deployed
    no_platform = deployed.orderflow("deploy", "payment", "--stage", "prod")
    # A region other than the one the stage is pinned to
    wrong_region = deployed.orderflow(
        "deploy", "payment", "--stage", STAGE, "--region", "us-west-2"
    )
    # No credentials at all
    no_credentials = deployed.orderflow(
        "deploy",
        "payment",
        "--stage",
        STAGE,
        AWS_ACCESS_KEY_ID=None,
        AWS_SECRET_ACCESS_KEY=None,
        AWS_SESSION_TOKEN=None,
        AWS_EC2_METADATA_DISABLED="true",
    )

    lines = {
        what: (result.returncode, result.stderr.strip().splitlines())
        for what, result in {
            "no platform": no_platform,
            "wrong region": wrong_region,
            "no credentials": no_credentials,
        }.items()
    }
    assert lines == {
        "no platform": (
            1,
            [
                "Error: payment: no platform stack for stage prod in us-east-1 (SSM parameter "
                "/orderflow/prod/failure-ledger-table is missing): run orderflow deploy "
                "platform --stage prod first"
            ],
        ),
        "wrong region": (
            1,
            [
                "Error: payment: wrong region us-west-2: stage dev lives in us-east-1 "
                "(samconfig.toml), where its platform's SSM parameters are"
            ],
        ),
        "no credentials": (
            1,
            [
                "Error: no AWS credentials found: configure a profile or set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ],
        ),
    }
