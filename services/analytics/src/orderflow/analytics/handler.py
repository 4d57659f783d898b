"""Lambda entry point: every order event into the event store and both projections, once."""

from __future__ import annotations

from orderflow.analytics.bootstrap import SERVICE, service
from orderflow.consumer import LambdaEntry

handler = LambdaEntry(SERVICE, service)
