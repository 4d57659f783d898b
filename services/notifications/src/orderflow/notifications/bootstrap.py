"""Builds the notifications service from the environment, once per container, on first use.

Environment (the template sets all of them):

* ``SENDER_ADDRESS``: the From address (a verified SES identity, or at a verified domain);
* ``STAGE``: the stage; SES templates are named ``orderflow-<stage>-<template>``;
* ``IDEMPOTENCY_TABLE``: the once-only table; ``SENT_EMAILS_TABLE``: the sent-email ledger;
* ``FAILURE_LEDGER_TABLE``: read by the consumer shell to record why a record failed.

A missing setting raises ``orderflow.settings.ConfigError`` naming it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from orderflow.notifications.domain import Notifier
from orderflow.settings import required

if TYPE_CHECKING:
    from orderflow.notifications.ports import NotificationsObserver
    from orderflow.observability import Telemetry

SERVICE = "notifications"


@functools.cache
def service(telemetry: Telemetry) -> Notifier:
    """The container's notifier, built from ``os.environ`` on first call and kept.

    Reports through ``NotificationsTelemetry`` over the entry's ``telemetry``;
    ``service.cache_clear()`` forgets it (a new container, in tests).
    """
    from orderflow.notifications.adapters.telemetry import (  # noqa: PLC0415
        NotificationsTelemetry,
    )

    return build(os.environ, observer=NotificationsTelemetry(telemetry))


def build(environ: Mapping[str, str], observer: NotificationsObserver) -> Notifier:
    """Wire the notifier to SES v2 and its two DynamoDB tables as ``environ`` says."""
    sender_address = required("SENDER_ADDRESS", environ)
    stage = required("STAGE", environ)
    idempotency_table = required("IDEMPOTENCY_TABLE", environ)
    sent_emails_table = required("SENT_EMAILS_TABLE", environ)

    import boto3  # noqa: PLC0415  (deferred: keeps cold start off the import path)

    from orderflow.consumer import (  # noqa: PLC0415
        CLIENT_TIMEOUTS,
        NON_IDEMPOTENT_TIMEOUTS,
        effect_window_ms,
    )
    from orderflow.idempotency import OnceOnly  # noqa: PLC0415
    from orderflow.notifications.adapters import (  # noqa: PLC0415
        DynamoDBSentEmails,
        SesEmailSender,
    )

    # Not Powertools' default client (60 s timeouts): the record budget must outlast each call.
    dynamodb = boto3.client("dynamodb", config=CLIENT_TIMEOUTS.botocore_config())
    # SES has no idempotency key: no retry inside the call (a retried read timeout can be a
    # second email); a throttle fails the record and SQS retries it. A send starts only with
    # time left for it and its once-only record's completion, each at its worst (19 s), so no
    # timeout falls between an accepted email and its record.
    ses = boto3.client("sesv2", config=NON_IDEMPOTENT_TIMEOUTS.botocore_config())
    return Notifier(
        sender=SesEmailSender(ses, sender=sender_address, stage=stage),
        # The LambdaEntry registers each invocation on it (orderflow.idempotency).
        once=OnceOnly(
            idempotency_table,
            client=dynamodb,
            start_window_ms=effect_window_ms(NON_IDEMPOTENT_TIMEOUTS, completion=CLIENT_TIMEOUTS),
        ),
        sent=DynamoDBSentEmails(sent_emails_table, client=dynamodb),
        observer=observer,
    )
