"""What the notifications domain needs from the outside world: Protocols only.

The once-only store is the shared port ``orderflow.idempotency.OnceOnlyEffects``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orderflow.notifications.domain import Email, Notification


class EmailSender(Protocol):
    """Sends one templated email."""

    def send(self, email: Email) -> str:
        """Send ``email``; return the provider's message id.

        Raises ``EmailDeliveryError`` when the provider does not take it.
        """
        ...


class SentEmails(Protocol):
    """The ledger of emails sent: one entry per email key, kept for good (no expiry).

    It, not the expiring once-only store, decides whether an event's email went out, so a
    message redriven after its once-only record expired is not emailed again.
    """

    def message_id_of(self, key: str) -> str | None:
        """The provider's message id of the email sent under ``key`` (consistent read), or None."""
        ...

    def record(self, email: Email, message_id: str) -> bool:
        """Record that ``email`` went out, unless recorded already; True if this call did it."""
        ...


class NotificationsObserver(Protocol):
    """What the notifier reports each event's outcome to (logs and metrics)."""

    def observe(self, notification: Notification) -> None:
        """Report what became of one event."""
        ...
