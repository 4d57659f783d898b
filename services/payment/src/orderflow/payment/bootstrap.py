"""Builds the payment service from the environment, once per container, on first use.

Environment (the template sets all of them):

* ``TOPIC_ARN``: the order-events topic payment publishes its outcomes to;
* ``PAYMENTS_TABLE``: the payments table; ``IDEMPOTENCY_TABLE``: remembered charges and refunds;
* ``GATEWAY_*``: the simulated gateway (see ``orderflow.payment.adapters.gateway``);
* ``FAILURE_LEDGER_TABLE``: read by the consumer shell to record why a record failed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orderflow.payment.domain import Cashier

if TYPE_CHECKING:
    from orderflow.idempotency import OnceOnly
    from orderflow.payment.ports import OutcomeObserver


class PaymentConfigError(RuntimeError):
    """A required setting is missing from the environment."""


@dataclass(frozen=True)
class Wiring:
    """What the handler needs: the cashier, and the once-only store to register contexts on."""

    cashier: Cashier
    once: OnceOnly


@functools.cache
def wiring(observer: OutcomeObserver) -> Wiring:
    """The container's wiring, built from ``os.environ`` on first call and kept."""
    return build(os.environ, observer)


def build(environ: Mapping[str, str], observer: OutcomeObserver) -> Wiring:
    """Wire the cashier to DynamoDB, SNS and the simulated gateway as ``environ`` says."""
    topic_arn = _required(environ, "TOPIC_ARN")
    payments_table = _required(environ, "PAYMENTS_TABLE")
    idempotency_table = _required(environ, "IDEMPOTENCY_TABLE")

    import boto3  # noqa: PLC0415  (deferred: keeps cold start off the import path)

    from orderflow.consumer import CLIENT_TIMEOUTS  # noqa: PLC0415
    from orderflow.idempotency import OnceOnly  # noqa: PLC0415
    from orderflow.messaging import EventPublisher  # noqa: PLC0415
    from orderflow.payment.adapters.dynamodb import DynamoDBPaymentRepository  # noqa: PLC0415
    from orderflow.payment.adapters.gateway import (  # noqa: PLC0415
        GatewaySettings,
        SimulatedGateway,
    )

    # The consumer shell's record budget outlasts one call of these clients at its worst, so
    # a charge is never started too late to be recorded.
    config = CLIENT_TIMEOUTS.botocore_config()
    dynamodb = boto3.client("dynamodb", config=config)
    once = OnceOnly(idempotency_table, client=dynamodb)
    cashier = Cashier(
        gateway=SimulatedGateway(GatewaySettings.from_environ(environ)),
        repository=DynamoDBPaymentRepository(payments_table, client=dynamodb),
        publisher=EventPublisher(topic_arn, client=boto3.client("sns", config=config)),
        once=once,
        observer=observer,
    )
    return Wiring(cashier=cashier, once=once)


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise PaymentConfigError(f"{name} is not set; the payment stack sets it on the function")
    return value
