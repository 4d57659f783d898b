"""Powertools setup shared by every service.

Masking happens on the serialised log line, so an email can not leak through any field,
extra key or exception message, however it got there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "orderflow"
_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9\-])[A-Za-z0-9.\-]*")


def mask_emails(text: str) -> str:
    """``jane.doe@example.com`` -> ``j***@e***``: enough to correlate, not to contact."""
    return _EMAIL.sub(r"\1***@\2***", text)


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools JSON formatter that masks email addresses in the final line."""

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        return mask_emails(super().serialize(log))


def build_logger(service: str) -> Logger:
    """A Powertools Logger for ``service`` whose output never carries a customer email."""
    from aws_lambda_powertools import Logger  # noqa: PLC0415

    return Logger(service=service, logger_formatter=MaskingFormatter())


def build_tracer(service: str) -> Tracer:
    """A Powertools Tracer for ``service`` that records into the order's trace segments.

    Powertools turns it on where Lambda runs it (``LAMBDA_TASK_ROOT``, unless
    ``POWERTOOLS_TRACE_DISABLED``). It never imports the X-Ray SDK nor patches botocore: our
    provider records, and the order's trace header stays on what a consumer publishes.
    """
    from orderflow.observability.provider import SegmentProvider, SegmentTracer  # noqa: PLC0415

    provider = SegmentProvider()
    tracer = SegmentTracer(service=service, provider=provider, auto_patch=False)
    provider.recording = not tracer.disabled
    return tracer


def build_metrics(service: str) -> Metrics:
    """EMF metrics in the ``orderflow`` namespace with a ``service`` dimension."""
    from aws_lambda_powertools import Metrics  # noqa: PLC0415

    return Metrics(namespace=METRICS_NAMESPACE, service=service)


@dataclass(frozen=True)
class Telemetry:
    """A service's Logger, Tracer and Metrics: what its observer adapter reports through."""

    service: str
    logger: Logger
    tracer: Tracer
    metrics: Metrics

    @classmethod
    def for_service(cls, service: str) -> Telemetry:
        """The three, built as ``build_logger``, ``build_tracer`` and ``build_metrics`` do."""
        return cls(
            service=service,
            logger=build_logger(service),
            tracer=build_tracer(service),
            metrics=build_metrics(service),
        )
