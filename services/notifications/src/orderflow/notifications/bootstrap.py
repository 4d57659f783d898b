"""Builds the service's adapters lazily, once per container, from its environment."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderflow.idempotency import OnceOnly
    from orderflow.notifications.adapters import DynamoDBSentEmails, SesEmailSender

STAGE_ENV = "STAGE"
SENDER_ADDRESS_ENV = "SENDER_ADDRESS"
IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE"
SENT_EMAILS_TABLE_ENV = "SENT_EMAILS_TABLE"


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or empty."""


def required_env(name: str) -> str:
    """The value of environment variable ``name``; ConfigurationError naming it if unset."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


@functools.cache
def email_sender() -> SesEmailSender:
    """The SES v2 sender, from SENDER_ADDRESS and STAGE."""
    import boto3  # noqa: PLC0415  (cold start: only when the first email goes out)

    from orderflow.consumer import NON_IDEMPOTENT_TIMEOUTS  # noqa: PLC0415
    from orderflow.notifications.adapters import SesEmailSender  # noqa: PLC0415

    # SES has no idempotency key: no retry inside the call (a retried read timeout can be a
    # second email); a throttle fails the record and SQS retries it. A send at its slowest
    # still fits the consumer shell's record budget, so no email is started too late for its
    # once-only record to complete.
    return SesEmailSender(
        boto3.client("sesv2", config=NON_IDEMPOTENT_TIMEOUTS.botocore_config()),
        sender=required_env(SENDER_ADDRESS_ENV),
        stage=required_env(STAGE_ENV),
    )


@functools.cache
def once_only() -> OnceOnly:
    """The once-only store over the service's idempotency table (IDEMPOTENCY_TABLE)."""
    import boto3  # noqa: PLC0415  (cold start: only when the first email goes out)

    from orderflow.consumer import CLIENT_TIMEOUTS  # noqa: PLC0415
    from orderflow.idempotency import OnceOnly  # noqa: PLC0415

    # Not Powertools' default client (60 s timeouts): the record budget must outlast each call.
    client = boto3.client("dynamodb", config=CLIENT_TIMEOUTS.botocore_config())
    return OnceOnly(required_env(IDEMPOTENCY_TABLE_ENV), client=client)


@functools.cache
def sent_emails() -> DynamoDBSentEmails:
    """The sent-email ledger over the service's sent-emails table (SENT_EMAILS_TABLE)."""
    import boto3  # noqa: PLC0415  (cold start: only when the first email goes out)

    from orderflow.consumer import CLIENT_TIMEOUTS  # noqa: PLC0415
    from orderflow.notifications.adapters import DynamoDBSentEmails  # noqa: PLC0415

    client = boto3.client("dynamodb", config=CLIENT_TIMEOUTS.botocore_config())
    return DynamoDBSentEmails(required_env(SENT_EMAILS_TABLE_ENV), client=client)


def reset() -> None:
    """Forget built adapters, so the next use reads the environment again (tests, local runs)."""
    email_sender.cache_clear()
    once_only.cache_clear()
    sent_emails.cache_clear()
