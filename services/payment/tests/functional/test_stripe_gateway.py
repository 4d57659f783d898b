"""The Stripe gateway against localstripe, a real (fake) Stripe server, and against answers
localstripe cannot give (429, 500, an idempotency error, a decline code of its own), served by a
tiny local HTTP server in the shape Stripe's API reference gives them."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from orderflow.contracts import Money
from orderflow.payment.adapters.stripe import (
    AUTHENTICATION_REQUIRED,
    StripeGateway,
    StripeSettings,
)
from orderflow.payment.domain import (
    ChargeApproved,
    ChargeDeclined,
    GatewayRequestError,
    GatewayUnavailableError,
    IdempotencyKeyReusedError,
)

from ..conftest import LOCALSTRIPE_KEY, free_port

pytestmark = pytest.mark.functional

TEN_EUR = Money(amount=Decimal("10.00"), currency="EUR")


@pytest.fixture(scope="module")
def gateway(localstripe) -> StripeGateway:
    return StripeGateway(StripeSettings(api_key=LOCALSTRIPE_KEY, api_base=localstripe))


@pytest.fixture(scope="module")
def provider(localstripe) -> stripe.StripeClient:
    """A plain SDK client on localstripe, to read what the provider itself recorded."""
    return stripe.StripeClient(LOCALSTRIPE_KEY, base_addresses={"api": localstripe})


def new_order_id() -> str:
    # localstripe lives for the whole session: every test charges orders of its own.
    return f"ord-{uuid.uuid4().hex[:12]}"


def charge(gateway: StripeGateway, order_id: str, token: str = "pm_card_visa", **kw: Any):
    return gateway.charge(
        idempotency_key=f"charge-{order_id}",
        order_id=order_id,
        amount=kw.get("amount", TEN_EUR),
        payment_token=token,
        correlation_id=kw.get("correlation_id", f"corr-{order_id}"),
    )


def intents_of(provider: stripe.StripeClient, order_id: str) -> list[Any]:
    """The PaymentIntents localstripe holds for an order (found by our metadata)."""
    listed = provider.v1.payment_intents.list({"limit": 100})
    return [
        pi for pi in listed.auto_paging_iter() if pi.metadata.to_dict().get("order_id") == order_id
    ]


def test_an_approved_charge_is_one_confirmed_payment_intent_with_the_orders_metadata(
    gateway, provider
):
    # GIVEN an order of 10.00 EUR paid with Stripe's approving test card
    order_id = new_order_id()

    # WHEN it is charged
    result = charge(gateway, order_id, correlation_id="corr-42")

    # THEN the provider holds one succeeded PaymentIntent, in cents, naming the order and trace
    assert isinstance(result, ChargeApproved)
    (intent,) = intents_of(provider, order_id)
    assert intent.id == result.payment_id
    assert intent.status == "succeeded"
    assert (intent.amount, intent.currency) == (1000, "eur")
    assert intent.payment_method == "pm_card_visa"
    assert intent.metadata.to_dict() == {"order_id": order_id, "correlation_id": "corr-42"}


def test_a_zero_decimal_currency_is_charged_in_whole_units(gateway, provider):
    order_id = new_order_id()
    result = charge(gateway, order_id, amount=Money(amount=Decimal("500"), currency="JPY"))
    assert isinstance(result, ChargeApproved)
    (intent,) = intents_of(provider, order_id)
    assert (intent.amount, intent.currency) == (500, "jpy")


def test_the_declining_test_card_is_a_decline_with_its_code_not_an_error(gateway, provider):
    # GIVEN localstripe's card that is declined when charged (4000000000000341)
    order_id = new_order_id()

    # WHEN it is charged
    result = charge(gateway, order_id, token="pm_card_chargeCustomerFail")

    # THEN a decline with Stripe's code, and the PaymentIntent waits for another card
    assert result == ChargeDeclined(decline_code="card_declined")
    (intent,) = intents_of(provider, order_id)
    assert intent.status == "requires_payment_method"


def test_a_card_that_needs_3d_secure_is_an_outcome_of_its_own(gateway, provider):
    # GIVEN a 3-D Secure test card (authentication required on every payment)
    method = provider.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4000002500003155", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    order_id = new_order_id()

    # WHEN it is charged off-session (the customer is not there to authenticate)
    result = charge(gateway, order_id, token=method.id)

    # THEN the charge is declined as needing authentication; no money moved
    assert result == ChargeDeclined(decline_code=AUTHENTICATION_REQUIRED)
    (intent,) = intents_of(provider, order_id)
    assert intent.status == "requires_action"
    assert intent.latest_charge is None


def test_a_refund_returns_money_of_the_charge_once_asked(gateway, provider):
    # GIVEN a charge of 10.00 EUR
    order_id = new_order_id()
    approved = charge(gateway, order_id)
    assert isinstance(approved, ChargeApproved)

    # WHEN 4.00 EUR of it are refunded
    four = Money(amount=Decimal("4.00"), currency="EUR")
    refund_id = gateway.refund(
        idempotency_key=f"refund-{order_id}", payment_id=approved.payment_id, amount=four
    )

    # THEN the provider holds that one refund, of 400 cents, against the charge
    refunds = list(provider.v1.refunds.list({"payment_intent": approved.payment_id}).data)
    assert [(r.id, r.amount, r.status) for r in refunds] == [(refund_id, 400, "succeeded")]


def test_a_refund_of_an_unknown_charge_is_refused_not_retried_as_an_outage(gateway):
    with pytest.raises(GatewayRequestError, match="pi_unknown") as refused:
        gateway.refund(idempotency_key="refund-ord-none", payment_id="pi_unknown", amount=TEN_EUR)
    assert not isinstance(refused.value, GatewayUnavailableError)


def test_an_unknown_payment_method_is_refused_not_declined(gateway):
    with pytest.raises(GatewayRequestError):
        charge(gateway, new_order_id(), token="pm_nothing_like_this")


def test_a_rejected_api_key_is_refused_without_quoting_the_key(localstripe):
    # localstripe accepts any key that starts with sk_; anything else is a 401.
    gateway = StripeGateway(StripeSettings(api_key="pk_test_not_secret", api_base=localstripe))
    with pytest.raises(GatewayRequestError, match="refused the API key") as refused:
        charge(gateway, new_order_id())
    assert "pk_test_not_secret" not in str(refused.value)


def test_the_provider_down_is_an_unknown_outcome_and_the_record_retries():
    # GIVEN nothing listens where Stripe should be
    gateway = StripeGateway(
        StripeSettings(api_key=LOCALSTRIPE_KEY, api_base=f"http://127.0.0.1:{free_port()}")
    )

    # WHEN an order is charged THEN the outcome is unknown: the record fails and retries
    with pytest.raises(GatewayUnavailableError, match="no answer from Stripe"):
        charge(gateway, new_order_id())


class CannedStripe(ThreadingHTTPServer):
    """Answers every request with one canned Stripe answer, and keeps what it received."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), _CannedHandler)
        self.status = status
        self.body = json.dumps(body).encode()
        self.received: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CannedHandler(BaseHTTPRequestHandler):
    server: CannedStripe

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(dict(self.headers))
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on ``received``."""


@pytest.fixture
def canned() -> Iterator[Any]:
    """``canned(status, body)``: a StripeGateway on a server giving that answer, and the server."""
    servers: list[CannedStripe] = []

    def start(status: int, body: dict[str, Any]) -> tuple[StripeGateway, CannedStripe]:
        server = CannedStripe(status, body)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        settings = StripeSettings(api_key=LOCALSTRIPE_KEY, api_base=server.url)
        return StripeGateway(settings), server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_500_is_an_unknown_outcome_retried_once_with_the_same_key(canned):
    gateway, server = canned(500, {"error": {"type": "api_error", "message": "Internal error"}})
    order_id = new_order_id()

    with pytest.raises(GatewayUnavailableError, match="500"):
        charge(gateway, order_id)

    # The SDK's one retry carried our key, so Stripe would have replayed the first answer.
    assert [r["Idempotency-Key"] for r in server.received] == [f"charge-{order_id}"] * 2


def test_a_429_is_an_unknown_outcome_and_the_record_retries_later(canned):
    gateway, server = canned(
        429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Slow"}}
    )
    with pytest.raises(GatewayUnavailableError, match="429"):
        charge(gateway, new_order_id())
    # No retry inside the call: SQS redelivers the record after the visibility timeout.
    assert len(server.received) == 1


def test_an_idempotency_key_reused_for_another_request_is_a_bug_with_its_reason(canned):
    # Stripe's answer to the same key with other parameters (localstripe ignores keys).
    gateway, server = canned(
        400,
        {
            "error": {
                "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with.",
            }
        },
    )
    with pytest.raises(IdempotencyKeyReusedError, match="used for another request"):
        charge(gateway, new_order_id())
    assert len(server.received) == 1


def test_a_decline_code_from_stripe_is_the_outcomes_code_and_never_retried(canned):
    gateway, server = canned(
        402,
        {
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
            }
        },
    )
    assert charge(gateway, new_order_id()) == ChargeDeclined(decline_code="insufficient_funds")
    assert len(server.received) == 1
