"""The failure ledger: why a consumer failed a record, kept where the DLQ tools can find it."""

from __future__ import annotations

from orderflow.failures.ledger import FailureLedger, FailureRecord, fingerprint

__all__ = ["FailureLedger", "FailureRecord", "fingerprint"]
