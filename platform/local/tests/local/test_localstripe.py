"""Payment on Stripe in the local runtime: localstripe's own records are the count."""

from __future__ import annotations

from decimal import Decimal

import pytest
import stripe

from orderflow.contracts import Money
from orderflow.local.localstripe import API_KEY, LocalStripe, on_stripe, stripe_counts
from orderflow.payment.adapters.stripe import StripeGateway, StripeSettings
from orderflow.payment.domain import ChargeApproved
from orderflow.testing import make_order

TEN_EUR = Money(amount=Decimal("10.00"), currency="EUR")


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory):
    server = LocalStripe(tmp_path_factory.mktemp("localstripe")).start()
    yield server.url
    server.stop()


def charge(gateway: StripeGateway, order_id: str, token: str = "pm_card_visa"):
    return gateway.charge(
        idempotency_key=f"charge-{order_id}",
        order_id=order_id,
        amount=TEN_EUR,
        payment_token=token,
        correlation_id=f"corr-{order_id}",
    )


def test_charges_declines_and_refunds_are_counted_per_order_from_localstripe(localstripe):
    # GIVEN two approved orders (one refunded), one declined, and a PaymentIntent of no order
    gateway = StripeGateway(StripeSettings(api_key=API_KEY, api_base=localstripe))
    paid = charge(gateway, "ord-a")
    assert isinstance(paid, ChargeApproved)
    charge(gateway, "ord-b")
    charge(gateway, "ord-c", token="pm_card_chargeCustomerFail")
    gateway.refund(idempotency_key="refund-ord-a", payment_id=paid.payment_id, amount=TEN_EUR)
    stripe.StripeClient(API_KEY, base_addresses={"api": localstripe}).v1.payment_intents.create(
        {"amount": 500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )

    # WHEN the counts are read from localstripe
    counts = stripe_counts(localstripe)

    # THEN each order's charges, declines and refunds are what localstripe holds
    assert dict(counts.charges) == {"ord-a": 1, "ord-b": 1}
    assert dict(counts.declines) == {"ord-c": 1}
    assert dict(counts.refunds) == {"ord-a": 1}


def test_the_traffics_test_tokens_become_stripe_test_payment_methods():
    order = make_order("ord-1", payment_token="tok_visa")
    assert on_stripe(order).payment_token == "pm_card_visa"
    assert on_stripe(make_order("ord-2", payment_token="pm_x")).payment_token == "pm_x"
