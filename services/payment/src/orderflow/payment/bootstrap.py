"""Builds the payment service from the environment, once per container, on first use.

Environment (the template sets all of them):

* ``TOPIC_ARN``: the order-events topic payment publishes its outcomes to;
* ``PAYMENTS_TABLE``: the payments table; ``IDEMPOTENCY_TABLE``: remembered charges and refunds;
* ``PAYMENT_GATEWAY``: ``simulated`` (the default) or ``stripe``;
* ``GATEWAY_*``: the simulated gateway (see ``orderflow.payment.adapters.gateway``);
* ``STRIPE_API_KEY_SECRET``: with ``stripe``, the Secrets Manager secret holding the API
  key, read once per container; ``STRIPE_API_BASE`` points the SDK elsewhere (a fake Stripe);
* ``FAILURE_LEDGER_TABLE``: read by the consumer shell to record why a record failed.

A missing or invalid setting raises ``orderflow.settings.ConfigError`` naming it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orderflow.payment.domain import Cashier
from orderflow.settings import ConfigError, one_of, optional, required

if TYPE_CHECKING:
    from orderflow.observability import Telemetry
    from orderflow.payment.ports import PaymentGateway, PaymentObserver

SERVICE = "payment"
GATEWAYS = ("simulated", "stripe")


@functools.cache
def service(telemetry: Telemetry) -> Cashier:
    """The container's cashier, built from ``os.environ`` on first call and kept.

    Reports through ``PaymentTelemetry`` over the entry's ``telemetry``;
    ``service.cache_clear()`` forgets it (a new container, in tests).
    """
    from orderflow.payment.adapters.telemetry import PaymentTelemetry  # noqa: PLC0415

    return build(os.environ, observer=PaymentTelemetry(telemetry))


def build(environ: Mapping[str, str], observer: PaymentObserver) -> Cashier:
    """Wire the cashier to DynamoDB, SNS and the card gateway as ``environ`` says."""
    topic_arn = required("TOPIC_ARN", environ)
    payments_table = required("PAYMENTS_TABLE", environ)
    idempotency_table = required("IDEMPOTENCY_TABLE", environ)
    gateway_name = one_of("PAYMENT_GATEWAY", GATEWAYS, environ)

    import boto3  # noqa: PLC0415  (deferred: keeps cold start off the import path)

    from orderflow.consumer import CLIENT_TIMEOUTS, effect_window_ms  # noqa: PLC0415
    from orderflow.idempotency import OnceOnly  # noqa: PLC0415
    from orderflow.messaging import EventPublisher  # noqa: PLC0415
    from orderflow.payment.adapters.dynamodb import DynamoDBPaymentRepository  # noqa: PLC0415

    # The consumer shell's record budget outlasts one call of these clients at its worst, and a
    # charge or refund starts only with time left for the gateway call and its once-only
    # record's completion at their worst (19 s): never cut off from its record by a timeout.
    config = CLIENT_TIMEOUTS.botocore_config()
    dynamodb = boto3.client("dynamodb", config=config)
    gateway: PaymentGateway
    if gateway_name == "stripe":
        gateway = _stripe_gateway(environ, boto3.client("secretsmanager", config=config))
    else:
        from orderflow.payment.adapters.gateway import (  # noqa: PLC0415
            GatewaySettings,
            SimulatedGateway,
        )

        gateway = SimulatedGateway(GatewaySettings.from_environ(environ))
    return Cashier(
        gateway=gateway,
        repository=DynamoDBPaymentRepository(payments_table, client=dynamodb),
        publisher=EventPublisher(topic_arn, client=boto3.client("sns", config=config)),
        # The LambdaEntry registers each invocation on it (orderflow.idempotency).
        once=OnceOnly(
            idempotency_table, client=dynamodb, start_window_ms=effect_window_ms(CLIENT_TIMEOUTS)
        ),
        observer=observer,
    )


def _stripe_gateway(environ: Mapping[str, str], secrets: Any) -> PaymentGateway:
    """The Stripe gateway, its API key read from Secrets Manager (once: at wiring)."""
    # Checked before the secret is read: a zip built without the extra fails its first record
    # with the fix, not with an import error halfway through a charge.
    if importlib.util.find_spec("stripe") is None:
        raise ConfigError(
            "PAYMENT_GATEWAY=stripe needs the Stripe SDK in the artifact: build it with "
            "nox -s \"build(service='payment')\" -- --extra stripe"
        )
    from orderflow.payment.adapters.stripe import (  # noqa: PLC0415
        StripeGateway,
        StripeSettings,
        read_api_key,
    )

    secret_id = required("STRIPE_API_KEY_SECRET", environ)
    api_key = read_api_key(secrets, secret_id)
    api_base = optional("STRIPE_API_BASE", "", environ) or None
    return StripeGateway(StripeSettings(api_key=api_key, api_base=api_base))
