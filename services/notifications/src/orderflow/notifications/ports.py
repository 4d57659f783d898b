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
