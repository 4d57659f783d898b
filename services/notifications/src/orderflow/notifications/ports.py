"""What the notifications domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from orderflow.notifications.domain import Email


class EmailSender(Protocol):
    """Sends one templated email."""

    def send(self, email: Email) -> str:
        """Send ``email``; return the provider's message id.

        Raises ``EmailDeliveryError`` when the provider does not take it.
        """
        ...


class OncePerKey(Protocol):
    """Runs an effect at most once per key (``orderflow.idempotency.OnceOnly`` in production)."""

    def run(self, key: str, effect: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``effect`` unless ``key`` already ran; return its (stored) result."""
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
