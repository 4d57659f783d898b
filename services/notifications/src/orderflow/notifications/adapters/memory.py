"""Every notifications port in memory: the email provider, the sent-email ledger, the observer.

The ledger keeps the DynamoDB adapter's write-once rule. For unit tests, in-memory runs and
benchmarks that run the notifier without AWS; the once-only store is the shared
``MemoryOnceOnly``. Pure Python: safe in a Lambda zip.
"""

from __future__ import annotations

from orderflow.notifications.domain import Email, EmailDeliveryError, Notification


class MemoryEmailSender:
    """``EmailSender`` that keeps what it sent; refuses the recipients in ``refuse``.

    A refused send raises ``EmailDeliveryError``, as a throttled provider's does.
    """

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.refuse: set[str] = set()

    def send(self, email: Email) -> str:
        if email.recipient in self.refuse:
            raise EmailDeliveryError(f"provider throttled {email.template}")
        self.sent.append(email)
        return f"ses-{len(self.sent)}"


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


class MemoryObserver:
    """``NotificationsObserver`` that keeps every notification, in order."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []

    def observe(self, notification: Notification) -> None:
        self.notifications.append(notification)
