"""The request census: what each service asks of AWS per record, counted on its real handler.

In a process of its own (a fresh container), the service's handler runs the reference traffic
against moto in-process: its tables come from its template.yaml, its environment is the
template's, with every ``Ref`` resolved. A botocore hook sees every call any client makes
(Powertools' own clients too), and sizes what is billed: DynamoDB request units, SNS publish
requests, SES emails. The cost model prices these counts; nothing in it is a guess about what
an adapter does.

Run as ``python -m orderflow.bench.census SERVICE --root ROOT --out FILE``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orderflow import naming
from orderflow.bench.cost import (
    SNS_CHUNK_BYTES,
    RequestUnits,
    chunks,
    dynamodb_units,
)
from orderflow.bench.stats import BenchError

STAGE = "bench"
SENDER_ADDRESS = "orders@bench.example"
REGION = "us-east-1"
_PARAMS_KEY = "orderflow_bench_params"
EMAIL_OPERATIONS = {"SendEmail", "SendTemplatedEmail", "SendBulkEmail", "SendRawEmail"}


@dataclass(frozen=True)
class ServiceCensus:
    """One service's AWS requests for the reference traffic of ``orders`` orders."""

    service: str
    orders: int
    records: int
    invocations: int
    calls: dict[str, int]
    dynamodb: RequestUnits
    sns_publishes: int
    emails: int

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceCensus:
        return cls(**{**data, "dynamodb": RequestUnits(**data["dynamodb"])})


@dataclass
class CallCounter:
    """Counts every AWS call of every botocore session created after ``install``."""

    counting: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    dynamodb: RequestUnits = field(default_factory=RequestUnits)
    sns_publishes: int = 0
    emails: int = 0

    def install(self) -> None:
        """Register the hooks as built-in handlers, which every new session picks up."""
        from botocore import handlers  # noqa: PLC0415

        handlers.BUILTIN_HANDLERS.append(("before-parameter-build", self._keep_params))
        handlers.BUILTIN_HANDLERS.append(("after-call", self._count))

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # The same context dict reaches after-call, where the parsed response is.
        context[_PARAMS_KEY] = params

    def _count(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.counting:
            return
        service, operation = model.service_model.service_name, model.name
        params = context.get(_PARAMS_KEY, {})
        self.calls[f"{service}.{operation}"] += 1
        if service == "dynamodb":
            self.dynamodb += dynamodb_units(operation, params, parsed)
        elif service == "sns" and operation == "Publish":
            self.sns_publishes += chunks(sns_payload_bytes(params), SNS_CHUNK_BYTES)
        elif service == "sns" and operation == "PublishBatch":
            size = sum(sns_payload_bytes(e) for e in params["PublishBatchRequestEntries"])
            self.sns_publishes += chunks(size, SNS_CHUNK_BYTES)
        elif service in {"ses", "sesv2"} and operation in EMAIL_OPERATIONS:
            self.emails += email_recipients(params)


def sns_payload_bytes(request: Mapping[str, Any]) -> int:
    """Bytes SNS bills a message by: its body and its message attributes."""
    attributes = request.get("MessageAttributes", {})
    return len(str(request.get("Message", "")).encode()) + sum(
        len(name.encode())
        + len(str(value.get("DataType", "")).encode())
        + len(str(value.get("StringValue", "")).encode())
        for name, value in attributes.items()
    )


def email_recipients(request: Mapping[str, Any]) -> int:
    """SES bills every recipient of a message as one email."""
    destination = request.get("Destination", {})
    return sum(len(destination.get(k, [])) for k in ("ToAddresses", "CcAddresses", "BccAddresses"))


def function_environment(variables: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, str]:
    """The template's environment variables with every ``Ref`` resolved from ``values``."""
    from orderflow.templates import resolve  # noqa: PLC0415
    from orderflow.templates.cfn import TemplateError  # noqa: PLC0415

    try:
        return {name: str(resolve(value, values)) for name, value in variables.items()}
    except TemplateError as exc:
        raise BenchError(f"function environment: {exc}") from exc


def _deploy(root: Path, service: str) -> dict[str, str]:
    """Create what the handler talks to; return every name its environment may refer to."""
    import boto3  # noqa: PLC0415

    from orderflow.bench.settings import parameter_defaults, template_path  # noqa: PLC0415
    from orderflow.templates import load_template  # noqa: PLC0415
    from orderflow.testing import create_tables  # noqa: PLC0415

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    tables = create_tables(template_path(root, service), dynamodb, stage=STAGE)
    platform_tables = create_tables(root / "platform" / "template.yaml", dynamodb, stage=STAGE)
    topic = boto3.client("sns", region_name=REGION).create_topic(Name=naming.topic(STAGE))
    return {
        **parameter_defaults(load_template(template_path(root, service))),
        "Stage": STAGE,
        "AWS::Region": REGION,
        "TopicArn": topic["TopicArn"],
        "FailureLedgerTableName": platform_tables["FailureLedgerTable"],
        "SenderAddress": SENDER_ADDRESS,
        **tables,
    }


def _stock_inventory(environment: Mapping[str, str]) -> None:
    """Stock the catalogue, as an operator does before orders flow."""
    import boto3  # noqa: PLC0415

    from orderflow.bench.fakes import stock_settings  # noqa: PLC0415
    from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger  # noqa: PLC0415
    from orderflow.inventory.admin import seed_stock  # noqa: PLC0415

    ledger = DynamoDBStockLedger(
        boto3.client("dynamodb", region_name=REGION),
        stock_table=environment["STOCK_TABLE"],
        movements_table=environment["MOVEMENTS_TABLE"],
    )
    seed_stock(ledger, stock_settings(), seed_id=STAGE)


def _open_ses(environment: Mapping[str, str]) -> None:
    """A verified sender and the service's email templates, as its stack creates them."""
    import boto3  # noqa: PLC0415

    from orderflow.emulator import sesv2_templates  # noqa: PLC0415
    from orderflow.notifications.email_templates import email_templates  # noqa: PLC0415

    sesv2_templates.install()
    ses = boto3.client("ses", region_name=REGION)
    ses.verify_email_identity(EmailAddress=environment["SENDER_ADDRESS"])
    for template in email_templates(environment["STAGE"]):
        ses.create_template(
            Template={
                "TemplateName": template.name,
                "SubjectPart": template.subject,
                "TextPart": template.text,
                "HtmlPart": template.html,
            }
        )


PREPARE: dict[str, Callable[[Mapping[str, str]], None]] = {
    "inventory": _stock_inventory,
    "notifications": _open_ses,
}
"""What a service needs in place before its first record, beyond its tables."""

QUIET_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # Logs and EMF lines are not AWS requests; keep them out of the way.
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def take_census(root: Path, service: str, orders: int, seed: int) -> ServiceCensus:
    """Run ``service``'s handler over its share of the reference traffic; count its requests.

    Mutates this process (environment, botocore handlers): run it in a process of its own.
    """
    counter = CallCounter()
    counter.install()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "FAILURE_LEDGER_TABLE"):
        os.environ.pop(name, None)
    os.environ.update(QUIET_ENVIRONMENT)
    from moto import mock_aws  # noqa: PLC0415

    from orderflow.bench.records import batches  # noqa: PLC0415
    from orderflow.bench.settings import function_settings  # noqa: PLC0415
    from orderflow.bench.traffic import reference_traffic  # noqa: PLC0415
    from orderflow.testing import FakeLambdaContext  # noqa: PLC0415

    settings = function_settings(root, service)
    work = batches(reference_traffic(orders, seed).routed_to(service), settings.batch_size)
    with mock_aws():
        environment = function_environment(settings.environment, _deploy(root, service))
        os.environ.update(environment)
        prepare = PREPARE.get(service)
        if prepare is not None:
            prepare(environment)
        module, name = settings.handler.rsplit(".", 1)
        handler = getattr(importlib.import_module(module), name)
        counter.counting = True
        failed = sum(
            len(handler(batch.event, FakeLambdaContext())["batchItemFailures"]) for batch in work
        )
        counter.counting = False
    records = sum(batch.size for batch in work)
    if failed:
        raise BenchError(f"{service}: {failed} of {records} records failed on moto")
    return ServiceCensus(
        service=service,
        orders=orders,
        records=records,
        invocations=len(work),
        calls=dict(sorted(counter.calls.items())),
        dynamodb=counter.dynamodb,
        sns_publishes=counter.sns_publishes,
        emails=counter.emails,
    )


def census_in_subprocess(
    root: Path, service: str, orders: int, seed: int, out: Path
) -> ServiceCensus:
    """``take_census`` in a fresh interpreter; its result read back from ``out``."""
    command = [
        sys.executable,
        "-m",
        "orderflow.bench.census",
        service,
        "--root",
        str(root),
        "--orders",
        str(orders),
        "--seed",
        str(seed),
        "--out",
        str(out),
    ]
    result = subprocess.run(  # noqa: S603  (this interpreter, our own module)
        command, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchError(f"request census of {service} failed: {last}")
    return ServiceCensus.from_json(json.loads(out.read_text()))


def main(argv: list[str] | None = None) -> int:
    """Entry point: take one service's census and write it as JSON."""
    parser = argparse.ArgumentParser(description="AWS requests per record of one service")
    parser.add_argument("service")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        census = take_census(args.root, args.service, args.orders, args.seed)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.write_text(json.dumps(census.as_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
