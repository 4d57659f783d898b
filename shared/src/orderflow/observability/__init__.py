"""Logger, Tracer and Metrics for a service, with customer emails masked in every log line."""

from __future__ import annotations

from orderflow.observability.setup import (
    METRICS_NAMESPACE,
    MaskingFormatter,
    Telemetry,
    build_logger,
    build_metrics,
    build_tracer,
    mask_emails,
)
from orderflow.observability.tracing import (
    TraceHeader,
    current_segment,
    propagate_trace_header,
    traced_work,
)

__all__ = [
    "METRICS_NAMESPACE",
    "MaskingFormatter",
    "Telemetry",
    "TraceHeader",
    "build_logger",
    "build_metrics",
    "build_tracer",
    "current_segment",
    "mask_emails",
    "propagate_trace_header",
    "traced_work",
]
