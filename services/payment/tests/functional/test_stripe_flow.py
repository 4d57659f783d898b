"""The payment handler on the Stripe gateway: moto for AWS (the API key in Secrets Manager),
localstripe for Stripe. Charges are counted in localstripe's own PaymentIntents."""

from __future__ import annotations

import re

import boto3
import pytest
import stripe

from orderflow.contracts import PaymentCompleted, PaymentFailed
from orderflow.testing import make_order, sqs_record

from ..conftest import LOCALSTRIPE_KEY
from .test_stripe_gateway import intents_of, new_order_id

pytestmark = [
    pytest.mark.functional,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

SECRET = "orderflow/test/stripe-api-key"


@pytest.fixture
def provider(localstripe) -> stripe.StripeClient:
    return stripe.StripeClient(LOCALSTRIPE_KEY, base_addresses={"api": localstripe})


@pytest.fixture
def on_stripe(stack, localstripe):
    """The payment stack deployed with Gateway=stripe, its key in the stack's one secret."""
    boto3.client("secretsmanager").create_secret(Name=SECRET, SecretString=LOCALSTRIPE_KEY)
    stack.cold_start(
        PAYMENT_GATEWAY="stripe", STRIPE_API_KEY_SECRET=SECRET, STRIPE_API_BASE=localstripe
    )
    return stack


def test_an_order_delivered_three_times_is_one_payment_intent_at_stripe(on_stripe, provider):
    # GIVEN one order.created, delivered three times (SNS and SQS duplicate)
    order_id = new_order_id()
    order = make_order(order_id, items=[("sku-1", 3, "7.00")], payment_token="pm_card_visa")

    # WHEN the deliveries are processed, two in one batch and one later, and once more after
    # the once-only record has expired (a redrive days later)
    first = on_stripe.deliver(sqs_record(order), sqs_record(order))
    second = on_stripe.deliver(sqs_record(order))
    assert on_stripe.expire_idempotency_records() > 0
    third = on_stripe.deliver(sqs_record(order))

    # THEN localstripe holds one PaymentIntent for the order. localstripe ignores the
    # Idempotency-Key header (every request it gets is a new charge), so this one charge is our
    # own once-only record and payments table at work, not the provider's deduplication.
    assert first == second == third == {"batchItemFailures": []}
    (intent,) = intents_of(provider, order_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 2100, "eur")
    assert intent.metadata.to_dict() == {
        "order_id": order_id,
        "correlation_id": order.correlation_id,
    }
    completed = {e.payment_id for e in on_stripe.published() if isinstance(e, PaymentCompleted)}
    assert completed == {intent.id}
    assert on_stripe.entries(order_id)["charge"]["payment_id"]["S"] == intent.id


def test_a_declined_card_publishes_payment_failed_with_stripes_code(on_stripe, provider):
    order_id = new_order_id()
    order = make_order(order_id, payment_token="pm_card_chargeCustomerFail")

    assert on_stripe.deliver(sqs_record(order)) == {"batchItemFailures": []}

    (failed,) = [e for e in on_stripe.published() if isinstance(e, PaymentFailed)]
    assert failed.decline_code == "card_declined"
    assert len(intents_of(provider, order_id)) == 1


def test_a_refund_delivered_twice_is_one_refund_at_stripe(on_stripe, provider, refund_of):
    order_id = new_order_id()
    order = make_order(order_id, payment_token="pm_card_visa")
    on_stripe.deliver(sqs_record(order))
    (intent,) = intents_of(provider, order_id)

    refund = refund_of(order, amount="4.00")
    assert on_stripe.deliver(sqs_record(refund), sqs_record(refund)) == {"batchItemFailures": []}

    refunds = list(provider.v1.refunds.list({"payment_intent": intent.id}).data)
    assert [r.amount for r in refunds] == [400]
    assert on_stripe.entries(order_id)["refund"]["refund_id"]["S"] == refunds[0].id


def test_the_api_key_is_read_once_per_container_and_never_logged(on_stripe, provider, capfd):
    # GIVEN a container that charged an order (its wiring read the key)
    first = new_order_id()
    on_stripe.deliver(sqs_record(make_order(first, payment_token="pm_card_visa")))

    # WHEN the secret no longer holds a key, and the same container charges another order
    boto3.client("secretsmanager").put_secret_value(SecretId=SECRET, SecretString="rotated-away")
    second = new_order_id()
    response = on_stripe.deliver(sqs_record(make_order(second, payment_token="pm_card_visa")))

    # THEN it charged with the key it read at its start, and no log line carries the key
    assert response == {"batchItemFailures": []}
    assert len(intents_of(provider, second)) == 1
    captured = capfd.readouterr()
    assert LOCALSTRIPE_KEY not in captured.out + captured.err


def test_a_new_container_refuses_a_secret_that_holds_no_stripe_key(on_stripe):
    boto3.client("secretsmanager").put_secret_value(SecretId=SECRET, SecretString="pk_live_oops")
    on_stripe.cold_start()
    record = sqs_record(make_order(new_order_id()))

    # The record fails (it stays queued) and the failure ledger says why, without the key.
    response = on_stripe.deliver(record)
    assert response["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    failure = on_stripe.failure(record["messageId"])
    assert failure is not None
    assert failure.exception_type == "ConfigError"
    assert SECRET in failure.message
    assert "pk_live_oops" not in failure.message


def test_a_new_container_names_a_missing_secret(on_stripe):
    on_stripe.cold_start(STRIPE_API_KEY_SECRET="orderflow/test/no-such-secret")
    record = sqs_record(make_order(new_order_id()))

    response = on_stripe.deliver(record)
    assert response["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    failure = on_stripe.failure(record["messageId"])
    assert failure is not None
    assert failure.exception_type == "ConfigError"
    assert re.search(r"no-such-secret.*ResourceNotFoundException", failure.message)
