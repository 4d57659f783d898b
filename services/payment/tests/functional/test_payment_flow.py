"""The payment handler against moto, with events shaped as AWS delivers them.

Charges are counted in the gateway's own journal, independently of the payments table; published
events are read off a queue subscribed to the topic.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from orderflow.contracts import PaymentCompleted, PaymentFailed, derived_event_id
from orderflow.messaging import EventPublisher
from orderflow.payment.adapters.gateway import SimulatedGateway
from orderflow.testing import make_order, sqs_record

pytestmark = [
    pytest.mark.functional,
    # Replays record nothing new, so their invocations flush no metrics; that is the point.
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


class SimulatedCrash(BaseException):
    """The process dies here (timeout, out of memory): nothing after this line runs.

    A BaseException, so no ``except Exception`` on the way up can tidy anything.
    """


def completed_ids(events) -> set:
    return {e.event_id for e in events if isinstance(e, PaymentCompleted)}


def test_a_poison_record_in_a_batch_of_ten_fails_alone(stack):
    # GIVEN a batch of 10: nine orders and one order.created whose total is a JSON float
    orders = [make_order(f"ord-{i}") for i in range(9)]
    records = [sqs_record(order) for order in orders]
    float_total = orders[0].model_dump_json().replace('"amount":"10.00"', '"amount":10.0')
    poison = sqs_record(
        float_total.replace(orders[0].order_id, "ord-poison"),
        message_id="poison-1",
        receive_count=2,
        raw=True,
    )
    records.insert(3, poison)

    # WHEN the handler processes the batch
    response = stack.deliver(*records)

    # THEN exactly the poison record's messageId is reported failed
    assert response == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    # AND the other nine were charged once each and announced
    assert stack.journal().charges == {o.order_id: 1 for o in orders}
    assert completed_ids(stack.published()) == {
        derived_event_id(o.order_id, "payment.completed") for o in orders
    }
    # AND the DLQ tools can tell why the poison record failed
    failure = stack.failure("poison-1")
    assert failure is not None
    assert failure.service == "payment"
    assert failure.exception_type == "ContractViolationError"
    assert failure.receive_count == 2
    assert failure.fingerprint


def test_the_same_order_delivered_three_times_charges_once_and_publishes_one_id(stack):
    # GIVEN one order.created, delivered three times with new messageIds (SNS and SQS duplicate)
    order = make_order("ord-dup", items=[("sku-1", 3, "7.00")])

    # WHEN each delivery is processed, two in one batch and one later
    first = stack.deliver(sqs_record(order), sqs_record(order))
    second = stack.deliver(sqs_record(order))

    # THEN every delivery succeeded, the card was charged once, and one payment.completed id
    assert first == second == {"batchItemFailures": []}
    assert stack.journal().charges == {"ord-dup": 1}
    published = stack.published()
    assert completed_ids(published) == {derived_event_id("ord-dup", "payment.completed")}
    (payment_id,) = {e.payment_id for e in published if isinstance(e, PaymentCompleted)}
    charge = stack.entries("ord-dup")["charge"]
    assert charge["payment_id"]["S"] == payment_id
    assert Decimal(charge["amount"]["N"]) == Decimal("21.00")


def test_a_crash_after_the_charge_before_the_publish_then_a_retry(stack, monkeypatch):
    # GIVEN the process dies on its way to publish, after the card was charged
    order = make_order("ord-crash")
    record = sqs_record(order, message_id="m-crash")
    real_publish = EventPublisher.publish

    def die_once(self, event):
        monkeypatch.setattr(EventPublisher, "publish", real_publish)
        raise SimulatedCrash

    monkeypatch.setattr(EventPublisher, "publish", die_once)
    with pytest.raises(SimulatedCrash):
        stack.deliver(record)
    assert stack.journal().charges == {"ord-crash": 1}
    assert stack.published() == []

    # WHEN SQS hands the message to a fresh container
    stack.cold_start()
    retried = sqs_record(order, message_id="m-crash", receive_count=2)
    response = stack.deliver(retried)

    # THEN no second charge, and payment.completed is published with the first charge's id
    assert response == {"batchItemFailures": []}
    assert stack.journal().charges == {"ord-crash": 1}
    (event,) = stack.published()
    assert isinstance(event, PaymentCompleted)
    assert event.payment_id == stack.entries("ord-crash")["charge"]["payment_id"]["S"]


def test_a_crash_in_the_middle_of_the_charge_then_a_retry(stack, monkeypatch):
    # GIVEN the process dies right after the provider charged, before anything was remembered
    order = make_order("ord-midcharge")
    real_charge = SimulatedGateway.charge

    def charge_then_die(self, **request):
        real_charge(self, **request)
        monkeypatch.setattr(SimulatedGateway, "charge", real_charge)
        raise SimulatedCrash

    monkeypatch.setattr(SimulatedGateway, "charge", charge_then_die)
    with pytest.raises(SimulatedCrash):
        stack.deliver(sqs_record(order))

    # WHEN the message is retried after the dead invocation's deadline
    assert stack.pass_invocation_deadlines() == 1
    stack.cold_start()
    response = stack.deliver(sqs_record(order, receive_count=2))

    # THEN the provider recognised the idempotency key: one charge, and the outcome published
    assert response == {"batchItemFailures": []}
    journal = stack.journal()
    assert journal.charges == {"ord-midcharge": 1}
    assert journal.calls == {"ord-midcharge": 2}
    assert completed_ids(stack.published()) == {
        derived_event_id("ord-midcharge", "payment.completed")
    }


def test_a_lost_gateway_response_fails_the_record_and_the_retry_charges_once(stack):
    # GIVEN a gateway that charges but loses the answer on the way back
    stack.cold_start(GATEWAY_LOST_RESPONSE_RATE="1")
    order = make_order("ord-lost")
    record = sqs_record(order, message_id="m-lost")

    # WHEN the record is processed: it fails, and the failure is recorded for the DLQ tools
    assert stack.deliver(record) == {"batchItemFailures": [{"itemIdentifier": "m-lost"}]}
    failure = stack.failure("m-lost")
    assert failure is not None
    assert failure.exception_type == "GatewayUnavailableError"

    # AND it is retried once the gateway answers again
    stack.cold_start(GATEWAY_LOST_RESPONSE_RATE="0")
    assert stack.deliver(sqs_record(order, message_id="m-lost", receive_count=2)) == {
        "batchItemFailures": []
    }

    # THEN the customer was charged once
    assert stack.journal().charges == {"ord-lost": 1}
    assert len(completed_ids(stack.published())) == 1


def test_a_gateway_outage_fails_every_record_for_retry_and_nothing_is_lost(stack):
    # GIVEN the card provider is down
    stack.cold_start(GATEWAY_OUTAGE="true")
    orders = [make_order(f"ord-out-{i}") for i in range(3)]
    records = [sqs_record(order, message_id=f"m-out-{i}") for i, order in enumerate(orders)]

    # WHEN a batch arrives, and again after the provider recovers
    during = stack.deliver(*records)
    stack.cold_start(GATEWAY_OUTAGE="false")
    after = stack.deliver(*records)

    # THEN every record went back to the queue during the outage, and was charged once after
    assert during == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    assert after == {"batchItemFailures": []}
    assert stack.journal().charges == {o.order_id: 1 for o in orders}
    fingerprints = {stack.failure(r["messageId"]).fingerprint for r in records}
    assert len(fingerprints) == 1  # one bug, one group in the DLQ tools


def test_a_decline_publishes_payment_failed_and_is_not_retried(stack):
    # GIVEN an order paid with the test token the provider declines
    order = make_order("ord-declined", payment_token="tok_decline")

    # WHEN it is delivered, and delivered again
    first = stack.deliver(sqs_record(order))
    again = stack.deliver(sqs_record(order))

    # THEN the record succeeded both times (nothing goes back to the queue)
    assert first == again == {"batchItemFailures": []}
    # AND the provider was asked once: the decline was remembered, not retried
    journal = stack.journal()
    assert journal.declines == {"ord-declined": 1}
    assert journal.charges == {}
    assert journal.calls == {"ord-declined": 1}
    # AND payment.failed went out with the decline code, one id
    published = stack.published()
    assert {type(e) for e in published} == {PaymentFailed}
    assert {e.event_id for e in published} == {derived_event_id("ord-declined", "payment.failed")}
    assert {e.decline_code for e in published if isinstance(e, PaymentFailed)} == {"card_declined"}
    assert stack.entries("ord-declined")["charge"]["status"]["S"] == "declined"


def test_two_concurrent_deliveries_of_the_same_order_charge_once(stack):
    # GIVEN a provider slow enough that both deliveries are in flight together
    stack.cold_start(GATEWAY_LATENCY_MS="300")
    order = make_order("ord-race")
    records = [sqs_record(order, message_id=f"m-race-{i}") for i in range(2)]
    start = threading.Barrier(2)
    responses: dict[str, dict] = {}

    def deliver(record):
        start.wait()
        responses[record["messageId"]] = stack.deliver(record)

    # WHEN two containers process them at the same time
    threads = [threading.Thread(target=deliver, args=(r,)) for r in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # ... and whichever found the charge in progress is redelivered later
    for record in records:
        if responses[record["messageId"]]["batchItemFailures"]:
            retried = sqs_record(order, message_id=record["messageId"], receive_count=2)
            assert stack.deliver(retried) == {"batchItemFailures": []}

    # THEN the card was charged once, one payment is recorded, and one payment.completed id
    assert stack.journal().charges == {"ord-race": 1}
    assert set(stack.entries("ord-race")) == {"charge"}
    assert completed_ids(stack.published()) == {derived_event_id("ord-race", "payment.completed")}


def test_a_refund_is_made_once_however_often_it_is_delivered(stack, refund_of):
    # GIVEN a paid order
    order = make_order("ord-refund", items=[("sku-1", 2, "12.50")])
    stack.deliver(sqs_record(order))
    request = refund_of(order, amount="12.50")

    # WHEN its order.refunded is delivered three times
    responses = [stack.deliver(sqs_record(request)) for _ in range(3)]

    # THEN one refund of 12.50 left the account and the payment reads refunded
    assert all(r == {"batchItemFailures": []} for r in responses)
    assert stack.journal().refunds == {"ord-refund": 1}
    entries = stack.entries("ord-refund")
    assert entries["charge"]["status"]["S"] == "refunded"
    assert entries["charge"]["refund_id"]["S"] == entries["refund"]["refund_id"]["S"]
    assert Decimal(entries["refund"]["amount"]["N"]) == Decimal("12.50")


def test_a_refund_that_overtakes_its_charge_retries_and_refunds_once_the_charge_lands(
    stack, refund_of
):
    # GIVEN an order.refunded delivered before payment has seen its order.created
    order = make_order("ord-early", items=[("sku-1", 1, "30.00")])
    request = refund_of(order)
    early = stack.deliver(sqs_record(request, message_id="m-early"))

    # THEN its record fails (back to the queue, not dropped), with the reason on record
    assert early == {"batchItemFailures": [{"itemIdentifier": "m-early"}]}
    failure = stack.failure("m-early")
    assert failure is not None
    assert failure.exception_type == "ChargeNotRecordedError"
    assert stack.entries("ord-early") == {}
    assert stack.journal().refunds == {}

    # WHEN the charge lands and SQS hands the refund out again
    assert stack.deliver(sqs_record(order)) == {"batchItemFailures": []}
    retried = stack.deliver(sqs_record(request, message_id="m-early", receive_count=2))

    # THEN the refund is made, once, and the payment reads refunded
    assert retried == {"batchItemFailures": []}
    assert stack.journal().refunds == {"ord-early": 1}
    assert stack.entries("ord-early")["charge"]["status"]["S"] == "refunded"


def test_a_refund_of_a_declined_order_is_a_recorded_outcome_not_a_retry_loop(stack, refund_of):
    # GIVEN an order whose card was declined
    order = make_order("ord-declined-refund", payment_token="tok_decline")
    stack.deliver(sqs_record(order))
    request = refund_of(order)

    # WHEN its order.refunded is delivered
    response = stack.deliver(sqs_record(request, message_id="m-declined-refund"))

    # THEN the record succeeds, nothing is refunded, and the rejection is on record with why
    assert response == {"batchItemFailures": []}
    assert stack.journal().refunds == {}
    assert stack.failure("m-declined-refund") is None
    entry = stack.entries("ord-declined-refund")[f"refund-rejected#{request.event_id}"]
    assert entry["reason"]["S"] == "not_paid"


def test_an_order_redriven_after_its_idempotency_record_expired_is_charged_once(stack):
    # GIVEN a paid order, whose once-only record has since expired, and a provider that no
    # longer keeps the charge's key (a redrive gives the message a new id and restarts its
    # retention, so it can come back after both are gone)
    order = make_order("ord-redriven", items=[("sku-1", 2, "12.50")])
    assert stack.deliver(sqs_record(order, message_id="m-first")) == {"batchItemFailures": []}
    (first,) = stack.published()
    assert stack.expire_idempotency_records() > 0
    stack.cold_start(GATEWAY_KEY_RETENTION_SECONDS="0")

    # WHEN the order.created is redriven once more
    again = stack.deliver(sqs_record(order, message_id="m-redriven"))

    # THEN the payments table decided: the provider charged once
    assert again == {"batchItemFailures": []}
    journal = stack.journal()
    assert journal.charges == {"ord-redriven": 1}
    assert journal.calls == {"ord-redriven": 1}
    # AND the same payment.completed went out again (same id, same fields)
    assert stack.published() == [first]


def test_a_refund_redriven_after_its_idempotency_record_expired_is_made_once(stack, refund_of):
    # GIVEN a partial refund whose once-only record expired, at a provider that forgot its key
    order = make_order("ord-refund-redriven", items=[("sku-1", 1, "40.00")])
    stack.deliver(sqs_record(order))
    request = refund_of(order, amount="15.00")
    assert stack.deliver(sqs_record(request)) == {"batchItemFailures": []}
    stack.expire_idempotency_records()
    stack.cold_start(GATEWAY_KEY_RETENTION_SECONDS="0")

    # WHEN the order.refunded is redriven
    again = stack.deliver(sqs_record(request, message_id="m-refund-redriven"))

    # THEN one refund of 15.00 left the account
    assert again == {"batchItemFailures": []}
    assert stack.journal().refunds == {"ord-refund-redriven": 1}
    assert Decimal(stack.entries("ord-refund-redriven")["refund"]["amount"]["N"]) == Decimal("15")
