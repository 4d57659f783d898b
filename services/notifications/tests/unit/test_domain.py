"""Which email an event earns, and that it goes out at most once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from orderflow.contracts import EVENT_MODELS, CustomerFacing, EventEnvelope, consumed_by
from orderflow.notifications.domain import (
    TEMPLATES,
    EmailDeliveryError,
    Outcome,
    email_for,
)

EventFactory = Callable[..., EventEnvelope]


def test_every_template_belongs_to_a_customer_facing_type_routed_here() -> None:
    routed = consumed_by("notifications")
    models = {m.TYPE: m for m in EVENT_MODELS}

    assert set(TEMPLATES) <= routed
    assert all(issubclass(models[t], CustomerFacing) for t in TEMPLATES)
    # The one routed type without an email today; a new routed type must be decided on here.
    assert routed - set(TEMPLATES) == {"order.refunded"}


@pytest.mark.parametrize("event_type", sorted(TEMPLATES))
def test_an_event_earns_its_template_addressed_to_its_customer(
    event_type: str, customer_event: EventFactory
) -> None:
    # GIVEN an event for a customer
    event = customer_event(event_type, email="sam@customers.example")

    # WHEN its email is worked out
    email = email_for(event)

    # THEN it uses the type's template, goes to that customer, once per event id,
    # and carries the event's fields for the template's placeholders
    assert email is not None
    assert email.template == TEMPLATES[event_type]
    assert email.recipient == "sam@customers.example"
    assert email.key == f"email-{event.event_id}"
    data = json.loads(email.template_data)
    assert data["order_id"] == event.order_id
    assert data["event_id"] == str(event.event_id)


def test_the_payment_token_never_reaches_the_email_provider(customer_event: EventFactory) -> None:
    order = customer_event("order.created")

    email = email_for(order)

    assert email is not None
    assert "payment_token" not in json.loads(email.template_data)
    assert order.payment_token not in email.template_data


def test_a_type_without_template_earns_no_email(customer_event: EventFactory) -> None:
    assert email_for(customer_event("order.refunded")) is None


def test_three_deliveries_of_one_event_send_one_email(
    customer_event: EventFactory, fakes: Any
) -> None:
    # GIVEN one order.created event
    event = customer_event("order.created")

    # WHEN it is handled three times (SNS duplicate, SQS retry, DLQ redrive)
    outcomes = [fakes.notifier.handle(event).outcome for _ in range(3)]

    # THEN exactly one email went out and the repeats were recognised
    assert len(fakes.sender.sent) == 1
    assert outcomes == [Outcome.SENT, Outcome.ALREADY_SENT, Outcome.ALREADY_SENT]
    # AND each delivery was reported to the observer, with the ids and the template
    assert [n.outcome for n in fakes.observer.notifications] == outcomes
    assert {(n.event_id, n.order_id, n.template) for n in fakes.observer.notifications} == {
        (str(event.event_id), event.order_id, "order-confirmation")
    }


def test_a_send_the_provider_refused_is_sent_on_retry(
    customer_event: EventFactory, fakes: Any
) -> None:
    # GIVEN a provider that throttles the first attempt
    event = customer_event("order.shipped", email="kim@customers.example")
    fakes.sender.refuse.add("kim@customers.example")

    # WHEN the record fails, the throttling passes and the record is retried
    with pytest.raises(EmailDeliveryError):
        fakes.notifier.handle(event)
    fakes.sender.refuse.clear()
    retried = fakes.notifier.handle(event)

    # THEN the failed attempt was not remembered as sent, and the retry sent it once
    assert retried.outcome is Outcome.SENT
    assert [e.recipient for e in fakes.sender.sent] == ["kim@customers.example"]
    assert fakes.observer.notifications == [retried]


def test_a_type_without_template_is_skipped_without_sending(
    customer_event: EventFactory, fakes: Any
) -> None:
    notification = fakes.notifier.handle(customer_event("order.refunded"))

    assert notification.outcome is Outcome.SKIPPED
    assert fakes.sender.sent == []


def test_an_event_redriven_after_its_idempotency_record_expired_is_not_emailed_again(
    customer_event: EventFactory, fakes: Any
) -> None:
    # GIVEN an email sent long enough ago that its once-only record expired (each DLQ redrive
    # restarts a message's retention, so a message can outlive the 15-day record)
    event = customer_event("payment.completed")
    first = fakes.notifier.handle(event)
    fakes.once.results.clear()

    # WHEN the event is redriven once more
    again = fakes.notifier.handle(event)

    # THEN the sent-email ledger answers: one email, and the repeat names the first send
    assert len(fakes.sender.sent) == 1
    assert again.outcome is Outcome.ALREADY_SENT
    assert again.message_id == first.message_id
    assert fakes.once.results == {}


def test_a_send_whose_ledger_entry_failed_is_recorded_on_retry_without_a_second_email(
    customer_event: EventFactory, fakes: Any
) -> None:
    # GIVEN SES took the email but writing the ledger entry failed (DynamoDB unreachable)
    event = customer_event("order.created")
    fakes.sent.failing = 1
    with pytest.raises(ConnectionError):
        fakes.notifier.handle(event)

    # WHEN the record is retried
    retried = fakes.notifier.handle(event)

    # THEN the once-only record kept the send: no second email, and the ledger has it now
    assert len(fakes.sender.sent) == 1
    assert retried.outcome is Outcome.ALREADY_SENT
    assert fakes.sent.message_id_of(f"email-{event.event_id}") == retried.message_id
