"""Lambda entry point: reserve stock on order.created, put it back on order.cancelled."""

from __future__ import annotations

from orderflow.consumer import LambdaEntry
from orderflow.inventory.bootstrap import SERVICE, service

handler = LambdaEntry(SERVICE, service)
