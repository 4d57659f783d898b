"""Lambda entry point: charge or refund each order of an SQS batch, once, and say so."""

from __future__ import annotations

from orderflow.consumer import LambdaEntry
from orderflow.payment.bootstrap import SERVICE, service

handler = LambdaEntry(SERVICE, service)
