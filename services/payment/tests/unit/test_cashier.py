"""The cashier's rules over in-memory ports: charge once, refund once, publish the outcome."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from orderflow.contracts import (
    EVENT_MODELS,
    Money,
    PaymentCompleted,
    PaymentFailed,
    UnexpectedEventError,
    consumed_by,
    derived_event_id,
    utc_now,
)
from orderflow.payment.domain import (
    ChargeNotRecordedError,
    GatewayUnavailableError,
    PaymentRecorded,
    PaymentStatus,
    RefundRecorded,
    RefundRejected,
    RefundRejectionReason,
    charge_key,
    refund_key,
)
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
        ("tok_decline", "10.00", "EUR", RefundRejectionReason.NOT_PAID),
        ("tok_visa", "10.00", "USD", RefundRejectionReason.CURRENCY_MISMATCH),
        ("tok_visa", "10.01", "EUR", RefundRejectionReason.EXCEEDS_CHARGE),
    ],
)
def test_a_refund_that_cannot_be_made_is_a_recorded_outcome(
    desk, refund_of, token, amount, currency, reason
):
    # GIVEN an order that was declined, or was paid 10.00 EUR
    order = make_order("ord-9", items=[("sku-1", 1, "10.00")], payment_token=token)
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
    # GIVEN a paid order and a refund request for more than was charged
    order = make_order("ord-10", items=[("sku-1", 1, "10.00")])
    desk.cashier.charge_order(order)
    too_much = refund_of(order, amount="10.01")
    assert isinstance(desk.cashier.refund_order(too_much), RefundRejected)

    # WHEN a corrected request for the same order arrives
    outcome = desk.cashier.refund_order(refund_of(order, amount="10.00"))

    # THEN the refund is made
    assert isinstance(outcome, RefundRecorded)
    assert desk.gateway.refunds["ord-10"] == 1


def test_a_refund_that_overtakes_its_charge_waits_and_refunds_once_the_charge_lands(
    desk, refund_of
):
    # GIVEN an order.refunded that arrives before payment recorded the order's charge
    order = make_order("ord-early")
    early = refund_of(order)

    # WHEN it is handled: it fails its record (so SQS retries it) and records nothing
    with pytest.raises(ChargeNotRecordedError):
        desk.cashier.handle(early)
    assert desk.payments.rejections == {}
    assert desk.log.outcomes == []

    # AND it is retried after the charge was recorded
    desk.cashier.handle(order)
    desk.cashier.handle(early)

    # THEN the customer got the refund, once
    assert desk.gateway.refunds["ord-early"] == 1
    assert desk.payments.payments["ord-early"].status is PaymentStatus.REFUNDED
    assert [type(o) for o in desk.log.outcomes] == [PaymentRecorded, RefundRecorded]


def test_a_refund_waits_while_its_charge_is_still_at_the_gateway(desk, refund_of):
    # GIVEN the order's charge failed at the gateway (unknown outcome, will be retried)
    order = make_order("ord-pending")
    desk.gateway.unavailable_for = 1
    with pytest.raises(GatewayUnavailableError):
        desk.cashier.charge_order(order)

    # WHEN the refund arrives in the meantime
    # THEN it waits for the charge rather than being answered "not paid"
    with pytest.raises(ChargeNotRecordedError):
        desk.cashier.refund_order(refund_of(order))
    assert desk.payments.rejections == {}


def test_a_refund_of_a_declined_order_is_a_final_rejection_not_a_retry(desk, refund_of):
    # GIVEN an order whose card was declined (payment.failed went out)
    order = make_order("ord-declined", payment_token="tok_decline")
    desk.cashier.charge_order(order)

    # WHEN its order.refunded arrives, and again
    outcomes = [desk.cashier.refund_order(refund_of(order)) for _ in range(2)]

    # THEN nothing raises (no retry loop), nothing moves, and the rejection says why
    assert all(isinstance(o, RefundRejected) for o in outcomes)
    assert {o.rejection.reason for o in outcomes if isinstance(o, RefundRejected)} == {
        RefundRejectionReason.NOT_PAID
    }
    assert desk.gateway.refunds["ord-declined"] == 0


@pytest.mark.parametrize("token", ["tok_visa", "tok_decline"])
def test_an_order_redriven_after_its_idempotency_record_expired_is_not_charged_again(desk, token):
    # GIVEN an order answered (paid or declined) long enough ago that its once-only record
    # expired: each redrive restarts a message's retention, so a message can outlive it
    order = make_order("ord-old", payment_token=token)
    first = desk.cashier.charge_order(order)
    desk.once.results.clear()

    # WHEN the order.created is redriven once more
    again = desk.cashier.charge_order(order)

    # THEN the provider was not asked again (this one moves money on every call it gets)
    assert desk.gateway.calls["ord-old"] == 1
    assert desk.gateway.charges["ord-old"] == (1 if token == "tok_visa" else 0)
    # AND the same outcome event went out again, field for field, from the payments table
    assert desk.topic.events == [first.event, first.event]
    assert again.first_time is False
    assert desk.once.results == {}


def test_a_refunded_order_redriven_after_expiry_announces_its_charge_again(desk, refund_of):
    # GIVEN a paid and refunded order whose once-only records expired
    order = make_order("ord-refunded-old")
    first = desk.cashier.charge_order(order)
    desk.cashier.refund_order(refund_of(order))
    desk.once.results.clear()

    # WHEN its order.created is redriven
    desk.cashier.charge_order(order)

    # THEN no new charge, and the same payment.completed as the first time
    assert desk.gateway.charges["ord-refunded-old"] == 1
    assert desk.topic.events == [first.event, first.event]


def test_a_refund_redriven_after_its_idempotency_record_expired_is_not_made_again(desk, refund_of):
    # GIVEN a partial refund (15.00 of 40.00) whose once-only record expired
    order = make_order("ord-partial", items=[("sku-1", 1, "40.00")])
    desk.cashier.charge_order(order)
    request = refund_of(order, amount="15.00")
    first = desk.cashier.refund_order(request)
    desk.once.results.clear()

    # WHEN the order.refunded is redriven
    again = desk.cashier.refund_order(request)

    # THEN the payments table answers: one refund at the provider, the same refund reported
    assert desk.gateway.refunds["ord-partial"] == 1
    assert isinstance(first, RefundRecorded)
    assert isinstance(again, RefundRecorded)
    assert again.refund == first.refund
    assert again.first_time is False


def test_the_republished_event_keeps_the_amount_as_the_order_wrote_it(desk):
    # GIVEN a charge recorded as DynamoDB returns numbers, trailing zeros trimmed (25.5)
    order = make_order("ord-zeros", items=[("sku-1", 1, "25.50")])
    first = desk.cashier.charge_order(order)
    recorded = desk.payments.payments["ord-zeros"]
    desk.payments.payments["ord-zeros"] = dataclasses.replace(
        recorded, amount=Money(amount=Decimal("25.5"), currency="EUR")
    )
    desk.once.results.clear()

    # WHEN the order is redriven
    desk.cashier.charge_order(order)

    # THEN the event published again is the first one, byte for byte
    assert [e.model_dump_json() for e in desk.topic.events] == [first.event.model_dump_json()] * 2


def test_handle_dispatches_and_reports_the_outcome(desk, refund_of):
    # GIVEN an order and its refund
    order = make_order("ord-11")

    # WHEN both go through the entry point the consumer shell calls
    returned = [desk.cashier.handle(order), desk.cashier.handle(refund_of(order))]

    # THEN both outcomes were reported, in order, and are what handle returned
    kinds = [type(o) for o in desk.log.outcomes]
    assert kinds == [PaymentRecorded, RefundRecorded]
    assert desk.log.outcomes == returned


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
    if event_type != "order.created":
        desk.cashier.charge_order(order)  # follow-ups of an order come after its charge

    # WHEN it is handled
    desk.cashier.handle(samples[event_type])

    # THEN it produced an outcome
    assert len(desk.log.outcomes) == 1
