"""orderflow notifications service: one templated SES email per customer-facing order event."""

from __future__ import annotations

from orderflow.notifications.domain import (
    TEMPLATES,
    Email,
    EmailDeliveryError,
    MissingRecipientError,
    Notification,
    Notifier,
    Outcome,
    email_for,
    email_key,
)

__all__ = [
    "TEMPLATES",
    "Email",
    "EmailDeliveryError",
    "MissingRecipientError",
    "Notification",
    "Notifier",
    "Outcome",
    "email_for",
    "email_key",
]
