"""In-memory sent-email ledger: the same write-once rule as the DynamoDB adapter.

For unit tests and benchmarks that run the domain without AWS.
"""

from __future__ import annotations

from orderflow.notifications.domain import Email


class MemorySentEmails:
    """``SentEmails`` in a dict: email key -> message id; can fail the next writes."""

    def __init__(self) -> None:
        self.message_ids: dict[str, str] = {}
        self.failing = 0

    def message_id_of(self, key: str) -> str | None:
        return self.message_ids.get(key)

    def record(self, email: Email, message_id: str) -> bool:
        if self.failing:
            self.failing -= 1
            raise ConnectionError("DynamoDB unreachable")
        if email.key in self.message_ids:
            return False
        self.message_ids[email.key] = message_id
        return True
