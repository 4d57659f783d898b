"""Builds the payment service from the environment, once per container, on first use.

Environment (the template sets all of them):

* ``TOPIC_ARN``: the order-events topic payment publishes its outcomes to;
* ``PAYMENTS_TABLE``: the payments table; ``IDEMPOTENCY_TABLE``: remembered charges and refunds;
* ``PAYMENT_GATEWAY``: ``simulated`` (the default) or ``stripe``;
* ``GATEWAY_*``: the simulated gateway (see ``orderflow.payment.adapters.gateway``);
* ``STRIPE_API_KEY_SECRET``: with ``stripe``, the Secrets Manager secret holding the API
  key, read once per container; ``STRIPE_API_BASE`` points the SDK elsewhere (a fake Stripe);
* ``FAILURE_LEDGER_TABLE``: read by the consumer shell to record why a record failed.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orderflow.payment.domain import Cashier

if TYPE_CHECKING:
    from orderflow.idempotency import OnceOnly
    from orderflow.payment.ports import OutcomeObserver, PaymentGateway

GATEWAYS = ("simulated", "stripe")


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
    """Wire the cashier to DynamoDB, SNS and the card gateway as ``environ`` says."""
    topic_arn = _required(environ, "TOPIC_ARN")
    payments_table = _required(environ, "PAYMENTS_TABLE")
    idempotency_table = _required(environ, "IDEMPOTENCY_TABLE")
    gateway_name = environ.get("PAYMENT_GATEWAY", "").strip() or "simulated"
    if gateway_name not in GATEWAYS:
        raise PaymentConfigError(
            f"PAYMENT_GATEWAY must be one of {', '.join(GATEWAYS)}, got {gateway_name!r}"
        )

    import boto3  # noqa: PLC0415  (deferred: keeps cold start off the import path)

    from orderflow.consumer import CLIENT_TIMEOUTS  # noqa: PLC0415
    from orderflow.idempotency import OnceOnly  # noqa: PLC0415
    from orderflow.messaging import EventPublisher  # noqa: PLC0415
    from orderflow.payment.adapters.dynamodb import DynamoDBPaymentRepository  # noqa: PLC0415

    # The consumer shell's record budget outlasts one call of these clients at its worst, so
    # a charge is never started too late to be recorded.
    config = CLIENT_TIMEOUTS.botocore_config()
    dynamodb = boto3.client("dynamodb", config=config)
    once = OnceOnly(idempotency_table, client=dynamodb)
    gateway: PaymentGateway
    if gateway_name == "stripe":
        gateway = _stripe_gateway(environ, boto3.client("secretsmanager", config=config))
    else:
        from orderflow.payment.adapters.gateway import (  # noqa: PLC0415
            GatewaySettings,
            SimulatedGateway,
        )

        gateway = SimulatedGateway(GatewaySettings.from_environ(environ))
    cashier = Cashier(
        gateway=gateway,
        repository=DynamoDBPaymentRepository(payments_table, client=dynamodb),
        publisher=EventPublisher(topic_arn, client=boto3.client("sns", config=config)),
        once=once,
        observer=observer,
    )
    return Wiring(cashier=cashier, once=once)


def _stripe_gateway(environ: Mapping[str, str], secrets: Any) -> PaymentGateway:
    """The Stripe gateway, its API key read from Secrets Manager (once: at wiring)."""
    # Checked before the secret is read: a zip built without the extra fails its first record
    # with the fix, not with an import error halfway through a charge.
    if importlib.util.find_spec("stripe") is None:
        raise PaymentConfigError(
            "PAYMENT_GATEWAY=stripe needs the Stripe SDK in the artifact: build it with "
            "nox -s \"build(service='payment')\" -- --extra stripe"
        )
    from orderflow.payment.adapters.stripe import (  # noqa: PLC0415  (imports the SDK)
        StripeGateway,
        StripeSettings,
    )

    secret_id = _required(environ, "STRIPE_API_KEY_SECRET")
    api_key = read_api_key(secrets, secret_id)
    api_base = environ.get("STRIPE_API_BASE", "").strip() or None
    return StripeGateway(StripeSettings(api_key=api_key, api_base=api_base))


def read_api_key(secrets: Any, secret_id: str) -> str:
    """The Stripe secret key stored as the secret's string; errors name the secret, never a key.

    A secret (``sk_``) or restricted (``rk_``) key; a publishable key (``pk_``) cannot charge.
    """
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        value = secrets.get_secret_value(SecretId=secret_id).get("SecretString") or ""
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise PaymentConfigError(f"cannot read the Stripe API key {secret_id}: {code}") from None
    except BotoCoreError as error:
        raise PaymentConfigError(
            f"cannot read the Stripe API key {secret_id}: {type(error).__name__}"
        ) from None
    api_key = value.strip()
    if not api_key.startswith(("sk_", "rk_")):
        raise PaymentConfigError(
            f"secret {secret_id} does not hold a Stripe secret key (sk_... or rk_...)"
        )
    return api_key


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise PaymentConfigError(f"{name} is not set; the payment stack sets it on the function")
    return value
