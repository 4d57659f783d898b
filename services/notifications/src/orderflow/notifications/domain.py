"""Which email an order event earns, and sending it at most once per event (``Notifier``).

Pure rules: the email provider, the once-only store, the sent-email ledger and the observer come
in through the ports. The ledger decides first (it never expires); the once-only store guards
the send itself (concurrent deliveries, a retry after the ledger write failed).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from orderflow.contracts import CustomerFacing, EventEnvelope

if TYPE_CHECKING:
    from orderflow.idempotency import OnceOnlyEffects
    from orderflow.notifications.ports import EmailSender, NotificationsObserver, SentEmails

TEMPLATES: Mapping[str, str] = MappingProxyType(
    {
        "order.created": "order-confirmation",
        "payment.completed": "payment-receipt",
        "order.shipped": "shipping-notification",
        "order.cancelled": "cancellation-confirmation",
        "payment.failed": "payment-failed",
        "inventory.out_of_stock": "out-of-stock",
    }
)
"""event_type -> the email template it earns. A routed type missing here is skipped."""

WITHHELD_FIELDS = frozenset({"payment_token"})
"""Event fields the email provider never receives: no email needs them."""


class EmailDeliveryError(Exception):
    """The provider did not take the email (throttled, unreachable, rejected): retry the record."""


class MissingRecipientError(Exception):
    """A templated event type carries no customer address (a contract/mapping mismatch)."""


class Outcome(enum.Enum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Email:
    """One templated email, sent at most once per ``key``."""

    key: str
    template: str
    recipient: str
    template_data: str
    """The event's fields as JSON: what the template's ``{{placeholders}}`` read."""


@dataclass(frozen=True)
class Notification:
    """What became of one event (ids and the template only: never the customer's address)."""

    event_id: str
    event_type: str
    order_id: str
    outcome: Outcome
    template: str | None = None
    message_id: str | None = None


def email_key(event: EventEnvelope) -> str:
    """The once-only key of an event's email: the event's identity, never the SQS messageId."""
    return f"email-{event.event_id}"


def email_for(event: EventEnvelope) -> Email | None:
    """The email ``event`` earns, or None when its type has no template."""
    template = TEMPLATES.get(event.TYPE)
    if template is None:
        return None
    if not isinstance(event, CustomerFacing):
        raise MissingRecipientError(f"{event.TYPE} has template {template} but no customer_email")
    return Email(
        key=email_key(event),
        template=template,
        recipient=event.customer_email,
        template_data=event.model_dump_json(exclude=set(WITHHELD_FIELDS)),
    )


class Notifier:
    """Sends each customer-facing event's email at most once, and reports what became of it."""

    def __init__(
        self,
        *,
        sender: EmailSender,
        once: OnceOnlyEffects,
        sent: SentEmails,
        observer: NotificationsObserver,
    ) -> None:
        self._sender = sender
        self._once = once
        self._sent = sent
        self._observer = observer

    def handle(self, event: EventEnvelope) -> Notification:
        """Send the email ``event`` earns unless it was already sent; skip types with no template.

        Raises to fail (and retry) the event's record: ``EmailDeliveryError`` when the provider
        did not take the email, ``MissingRecipientError`` for a templated type with no address.
        """
        notification = self._notify(event)
        self._observer.observe(notification)
        return notification

    def _notify(self, event: EventEnvelope) -> Notification:
        event_id, event_type, order_id = str(event.event_id), event.TYPE, event.order_id
        email = email_for(event)
        if email is None:
            return Notification(event_id, event_type, order_id, Outcome.SKIPPED)
        known = self._sent.message_id_of(email.key)
        if known is not None:
            return Notification(
                event_id, event_type, order_id, Outcome.ALREADY_SENT, email.template, known
            )
        sent_now: list[str] = []

        def send() -> dict[str, Any]:
            message_id = self._sender.send(email)
            sent_now.append(message_id)
            return {"message_id": message_id}

        message_id = str(self._once.run(email.key, send)["message_id"])
        # Recorded on every delivery that finds no entry: a failed write is healed by the retry,
        # which gets the send from the once-only store instead of sending again.
        self._sent.record(email, message_id)
        outcome = Outcome.SENT if sent_now else Outcome.ALREADY_SENT
        return Notification(event_id, event_type, order_id, outcome, email.template, message_id)
