"""Lambda entry point: one templated email per customer-facing event of a batch, at most once."""

from __future__ import annotations

from orderflow.consumer import LambdaEntry
from orderflow.notifications.bootstrap import SERVICE, service

handler = LambdaEntry(SERVICE, service)
