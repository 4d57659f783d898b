"""orderflow analytics service: an append-only event store and the projections folded from it."""

from __future__ import annotations

from orderflow.analytics.domain import (
    STATUS_PRECEDENCE,
    AnalyticsError,
    EventRecorded,
    HourlyMetrics,
    InconsistentOrderError,
    OrderStatus,
    OrderView,
    ProjectionConflictError,
    Projections,
    Recorder,
    fold_order,
    hourly_contribution,
    project,
)

__all__ = [
    "STATUS_PRECEDENCE",
    "AnalyticsError",
    "EventRecorded",
    "HourlyMetrics",
    "InconsistentOrderError",
    "OrderStatus",
    "OrderView",
    "ProjectionConflictError",
    "Projections",
    "Recorder",
    "fold_order",
    "hourly_contribution",
    "project",
]
