"""The cashier's rules over in-memory ports: charge once, refund once, publish the outcome."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow.consumer import UnexpectedEventError
from orderflow.contracts import (
    EVENT_MODELS,
    Money,
    PaymentCompleted,
    PaymentFailed,
    consumed_by,
    derived_event_id,
    utc_now,
)
from orderflow.payment.domain import (
    PaymentRecorded,
    PaymentStatus,
    RefundRecorded,
    RefundRejected,
    RefundRejectionReason,
    charge_key,
    refund_key,
)
from orderflow.payment.ports import GatewayUnavailableError
from orderflow.testing import make_order


def test_approved_charge_records_the_payment_and_publishes_payment_completed(desk):
    # GIVEN an order for two items
    order = make_order("ord-1", items=[("sku-1", 2, "10.00"), ("sku-2", 1, "5.50")])

    # WHEN the cashier takes payment
    outcome = desk.cashier.charge_order(order)

    # THEN the card is charged once, the payment is recorded as paid
    assert desk.gateway.charges["ord-1"] == 1
    payment = desk.payments.payment_of("ord-1")
    assert payment is not None
    assert payment.status is PaymentStatus.PAID
    assert payment.amount == Money(amount=Decimal("25.50"), currency="EUR")
    # AND payment.completed carries what notifications and analytics need
    (event,) = desk.topic.events
    assert isinstance(event, PaymentCompleted)
    assert event.event_id == derived_event_id("ord-1", "payment.completed")
    assert event.payment_id == payment.payment_id
    assert event.customer_email == order.customer_email
    assert event.amount == order.total
    assert event.correlation_id == order.correlation_id
    assert event.producer == "payment"
    assert outcome.first_time


def test_decline_is_an_outcome_published_as_payment_failed(desk):
    # GIVEN an order paid with a card the provider declines
    order = make_order("ord-2", payment_token="tok_decline")

    # WHEN the cashier takes payment
    outcome = desk.cashier.charge_order(order)

    # THEN nothing is charged and nothing raises: the decline is recorded and announced
    assert desk.gateway.charges["ord-2"] == 0
    assert outcome.payment.status is PaymentStatus.DECLINED
    assert desk.payments.payments["ord-2"].decline_code == "card_declined"
    (event,) = desk.topic.events
    assert isinstance(event, PaymentFailed)
    assert event.decline_code == "card_declined"
    assert event.event_id == derived_event_id("ord-2", "payment.failed")
    assert event.customer_email == order.customer_email


def test_a_redelivered_order_is_charged_once_and_republishes_the_same_event(desk):
    # GIVEN an order already paid
    order = make_order("ord-3")
    first = desk.cashier.charge_order(order)

    # WHEN the same order.created arrives twice more
    again = [desk.cashier.charge_order(order) for _ in range(2)]

    # THEN the card was charged once and every publish is the same event, field for field
    assert desk.gateway.charges["ord-3"] == 1
    assert desk.topic.ids("payment.completed") == {first.event.event_id}
    assert all(e == first.event for e in desk.topic.events)
    assert [o.first_time for o in again] == [False, False]


def test_the_charge_is_keyed_on_the_order_not_the_event(desk):
    # GIVEN the order API published the same order twice, with two event ids
    order = make_order("ord-4")
    resent = order.model_copy(update={"event_id": derived_event_id("ord-4", "resend")})

    # WHEN both are delivered
    desk.cashier.charge_order(order)
    desk.cashier.charge_order(resent)

    # THEN the customer pays once, remembered under charge-{order_id}
    assert desk.gateway.charges["ord-4"] == 1
    assert set(desk.once.results) == {charge_key("ord-4")}


def test_gateway_outage_fails_the_record_and_a_retry_charges_once(desk):
    # GIVEN the gateway times out on the first attempt
    order = make_order("ord-5")
    desk.gateway.unavailable_for = 1

    # WHEN the record is processed, fails, and is retried
    with pytest.raises(GatewayUnavailableError):
        desk.cashier.charge_order(order)
    assert desk.payments.payment_of("ord-5") is None
    assert desk.topic.events == []
    desk.cashier.charge_order(order)

    # THEN the retry charges once and publishes
    assert desk.gateway.charges["ord-5"] == 1
    assert desk.topic.ids("payment.completed") == {derived_event_id("ord-5", "payment.completed")}


def test_failed_publish_after_the_charge_then_retry_charges_once_and_publishes(desk):
    # GIVEN SNS is unreachable right after the card was charged
    order = make_order("ord-6")
    desk.topic.failing = 1
    with pytest.raises(ConnectionError):
        desk.cashier.charge_order(order)
    assert desk.gateway.charges["ord-6"] == 1

    # WHEN the record is retried
    outcome = desk.cashier.charge_order(order)

    # THEN no second charge, and payment.completed goes out with the first charge's id
    assert desk.gateway.charges["ord-6"] == 1
    (event,) = desk.topic.events
    assert isinstance(event, PaymentCompleted)
    assert event.payment_id == desk.payments.payments["ord-6"].payment_id
    assert outcome.first_time is False  # recorded by the attempt that crashed


def test_refund_of_a_paid_order_refunds_once_and_marks_it_refunded(desk, refund_of):
    # GIVEN a paid order
    order = make_order("ord-7", items=[("sku-1", 1, "40.00")])
    desk.cashier.charge_order(order)
    request = refund_of(order, amount="15.00")

    # WHEN the refund request is delivered three times
    outcomes = [desk.cashier.refund_order(request) for _ in range(3)]

    # THEN the customer gets one refund of 15.00 and the payment reads refunded
    assert desk.gateway.refunds["ord-7"] == 1
    assert all(isinstance(o, RefundRecorded) for o in outcomes)
    assert [o.first_time for o in outcomes] == [True, False, False]
    assert desk.payments.refunds["ord-7"].amount.amount == Decimal("15.00")
    assert desk.payments.payments["ord-7"].status is PaymentStatus.REFUNDED
    assert refund_key("ord-7") in desk.once.results


def test_a_second_refund_request_for_the_same_order_does_not_refund_again(desk, refund_of):
    # GIVEN a refunded order
    order = make_order("ord-8")
    desk.cashier.charge_order(order)
    desk.cashier.refund_order(refund_of(order))

    # WHEN another refund request for the same order arrives
    outcome = desk.cashier.refund_order(refund_of(order))

    # THEN one refund per order: nothing more leaves the account
    assert desk.gateway.refunds["ord-8"] == 1
    assert isinstance(outcome, RefundRecorded)
    assert outcome.first_time is False


@pytest.mark.parametrize(
    ("token", "amount", "currency", "reason"),
    [
        (None, "10.00", "EUR", RefundRejectionReason.UNKNOWN_ORDER),
        ("tok_decline", "10.00", "EUR", RefundRejectionReason.NOT_PAID),
        ("tok_visa", "10.00", "USD", RefundRejectionReason.CURRENCY_MISMATCH),
        ("tok_visa", "10.01", "EUR", RefundRejectionReason.EXCEEDS_CHARGE),
    ],
)
def test_a_refund_that_cannot_be_made_is_a_recorded_outcome(
    desk, refund_of, token, amount, currency, reason
):
    # GIVEN an order that was never charged, was declined, or was paid 10.00 EUR
    order = make_order("ord-9", items=[("sku-1", 1, "10.00")], payment_token=token or "tok_visa")
    if token is not None:
        desk.cashier.charge_order(order)
    request = refund_of(order).model_copy(
        update={"amount": Money(amount=Decimal(amount), currency=currency)}
    )

    # WHEN the refund request is delivered twice
    outcomes = [desk.cashier.refund_order(request) for _ in range(2)]

    # THEN no exception, no money moves, and the rejection is recorded once with its reason
    assert desk.gateway.refunds["ord-9"] == 0
    assert all(isinstance(o, RefundRejected) for o in outcomes)
    assert [o.first_time for o in outcomes] == [True, False]
    assert desk.payments.rejections[("ord-9", request.event_id)].reason is reason


def test_a_rejected_refund_does_not_block_a_later_valid_one(desk, refund_of):
    # GIVEN a refund that arrived before the order's charge was recorded
    order = make_order("ord-10")
    early = refund_of(order)
    assert isinstance(desk.cashier.refund_order(early), RefundRejected)

    # WHEN the order is charged and the refund is redriven from the DLQ tooling
    desk.cashier.charge_order(order)
    outcome = desk.cashier.refund_order(early)

    # THEN the refund is made
    assert isinstance(outcome, RefundRecorded)
    assert desk.gateway.refunds["ord-10"] == 1


def test_handle_dispatches_and_reports_the_outcome(desk, refund_of):
    # GIVEN an order and its refund
    order = make_order("ord-11")

    # WHEN both go through the entry point the consumer shell calls
    desk.cashier.handle(order)
    desk.cashier.handle(refund_of(order))

    # THEN both outcomes were reported, in order
    kinds = [type(o) for o in desk.log.outcomes]
    assert kinds == [PaymentRecorded, RefundRecorded]


@pytest.mark.parametrize(
    "model", [m for m in EVENT_MODELS if m.TYPE not in consumed_by("payment")], ids=str
)
def test_handle_refuses_event_types_the_routing_table_does_not_send_payment(desk, model):
    # GIVEN an event of a type payment is not routed (built without validation: only its type
    # matters here)
    event = model.model_construct(order_id="ord-12", occurred_at=utc_now())

    # WHEN / THEN it fails the record rather than being silently acknowledged
    with pytest.raises(UnexpectedEventError):
        desk.cashier.handle(event)
    assert desk.log.outcomes == []


@pytest.mark.parametrize("event_type", sorted(consumed_by("payment")))
def test_handle_accepts_every_type_the_routing_table_sends_payment(desk, refund_of, event_type):
    # GIVEN a valid event of each type routed to payment (a newly routed type has no sample
    # here until the cashier handles it, and this test fails)
    order = make_order("ord-13")
    samples = {"order.created": order, "order.refunded": refund_of(order)}

    # WHEN it is handled
    desk.cashier.handle(samples[event_type])

    # THEN it produced an outcome
    assert len(desk.log.outcomes) == 1
