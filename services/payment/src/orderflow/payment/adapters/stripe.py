"""The Stripe gateway: one PaymentIntent per order, created and confirmed in one call.

Each charge is ``POST /v1/payment_intents`` with ``confirm=true`` and ``off_session=true`` (the
customer is not at a checkout page when the order event arrives) and the Idempotency-Key
``charge-{order_id}``; a refund is ``POST /v1/refunds`` with ``refund-{order_id}``. Stripe keeps
a key's first response for at least 24 hours and replays it to a request with the same key
("Idempotent requests", https://docs.stripe.com/api/idempotent_requests), so a retry after a
timeout or a lost answer never charges twice.

What each answer becomes:

=============================================== ==============================================
a decline (402 ``card_error``)                  ``ChargeDeclined`` with Stripe's decline code
3-D Secure needed (``requires_action``, or the  ``ChargeDeclined("authentication_required")``:
402 ``authentication_required`` decline)        an off-session charge cannot ask the customer
no answer, 429, 409 or 5xx                      ``GatewayUnavailableError``: the record retries
the key reused for another request              ``IdempotencyKeyReusedError``: a bug, to the DLQ
a bad request, a bad or restricted API key      ``GatewayRequestError``: retrying will not help
=============================================== ==============================================

The SDK (``stripe``, a few seconds to import) is imported only when this gateway is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orderflow.consumer import ClientTimeouts
from orderflow.payment.domain import (
    ChargeApproved,
    ChargeDeclined,
    ChargeResult,
    GatewayRequestError,
    GatewayUnavailableError,
    IdempotencyKeyReusedError,
)
from orderflow.settings import ConfigError

if TYPE_CHECKING:
    import stripe as stripe_sdk

    from orderflow.contracts import Money

STRIPE_TIMEOUTS = ClientTimeouts(connect_seconds=1.0, read_seconds=3.0, max_attempts=2)
"""One Stripe call: 1 s to connect, 3 s to answer, one retry by the SDK (a dropped connection,
a 409 or a 5xx). At its worst 2 x 4 s plus one backoff of at most 0.5 s; the consumer shell's
record budget (``orderflow.consumer.RECORD_BUDGET``) admits it, so a charge is never started
too late to be recorded. A provider answers a card payment in about 2 s at p99; a read timeout
is an unknown outcome, which the Idempotency-Key makes safe to retry."""

AUTHENTICATION_REQUIRED = "authentication_required"
"""The reason of a charge that needs the customer to authenticate (3-D Secure): Stripe's decline
code for an off-session payment that requires authentication."""

ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
"""Amounts in whole units ("Zero-decimal currencies", https://docs.stripe.com/currencies)."""
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
"""Amounts in thousandths, the last digit 0 (an order's two decimals always give one)."""
WHOLE_UNITS_ONLY = frozenset({"ISK"})
"""Two-decimal in the API, but Stripe accepts only whole units (amounts divisible by 100)."""
TWO_DECIMAL = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BWP BYN BZD
    CAD CDF CHF CNY COP CRC CVE CZK DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD GTQ GYD HKD
    HNL HTG HUF IDR ILS INR ISK JMD KES KGS KHR KYD KZT LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT
    MOP MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB
    SAR SBD SCR SEK SGD SHP SLE SOS SRD SZL THB TJS TOP TRY TTD TWD TZS UAH USD UYU UZS WST XCD
    YER ZAR ZMW""".split()  # noqa: SIM905
)
"""Stripe's other presentment currencies, in hundredths."""


class UnsupportedCurrencyError(GatewayRequestError):
    """The amount cannot be sent to Stripe: an unknown currency, or too fine for the currency."""


def minor_units(amount: Money) -> int:
    """``amount`` in the currency's smallest unit, as Stripe's ``amount`` fields take it.

    10.00 EUR is 1000, 500 JPY is 500, 5.12 KWD is 5120 ("Minor units in API amounts",
    https://docs.stripe.com/currencies). Raises UnsupportedCurrencyError for a currency Stripe
    does not list or an amount the currency cannot carry (500.50 JPY): never rounded.
    """
    currency = amount.currency
    if currency in ZERO_DECIMAL:
        exponent = 0
    elif currency in THREE_DECIMAL:
        exponent = 3
    elif currency in TWO_DECIMAL:
        exponent = 2
    else:
        raise UnsupportedCurrencyError(f"currency {currency} is not one Stripe charges in")
    scaled = amount.amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise UnsupportedCurrencyError(
            f"{amount.amount} {currency} has more decimals than {currency} allows ({exponent})"
        )
    minor = int(scaled)
    if currency in WHOLE_UNITS_ONLY and minor % 100:
        raise UnsupportedCurrencyError(f"{amount.amount} {currency}: Stripe takes whole {currency}")
    return minor


@dataclass(frozen=True)
class StripeSettings:
    """How to reach Stripe: the secret API key, and the API's address (a fake one in tests)."""

    api_key: str
    api_base: str | None = None
    timeouts: ClientTimeouts = STRIPE_TIMEOUTS

    def __repr__(self) -> str:
        # The key must never reach a log line, a traceback or a test report.
        return f"StripeSettings(api_key='***', api_base={self.api_base!r})"


def read_api_key(secrets: Any, secret_id: str) -> str:
    """The Stripe secret key stored as the secret's string; errors name the secret, never a key.

    A secret (``sk_``) or restricted (``rk_``) key; a publishable key (``pk_``) cannot charge.
    ``secrets`` is a boto3 Secrets Manager client; read once per container, at wiring.
    """
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        value = secrets.get_secret_value(SecretId=secret_id).get("SecretString") or ""
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise ConfigError(f"cannot read the Stripe API key {secret_id}: {code}") from None
    except BotoCoreError as error:
        raise ConfigError(
            f"cannot read the Stripe API key {secret_id}: {type(error).__name__}"
        ) from None
    api_key = value.strip()
    if not api_key.startswith(("sk_", "rk_")):
        raise ConfigError(
            f"secret {secret_id} does not hold a Stripe secret key (sk_... or rk_...)"
        )
    return api_key


class StripeGateway:
    """``PaymentGateway`` on Stripe's PaymentIntents and Refunds, keyed by our idempotency keys."""

    def __init__(self, settings: StripeSettings) -> None:
        import stripe  # noqa: PLC0415  (seconds to import: only when this gateway is chosen)

        self._stripe = stripe
        timeouts = settings.timeouts
        self._client = stripe.StripeClient(
            settings.api_key,
            base_addresses={"api": settings.api_base} if settings.api_base else None,
            max_network_retries=timeouts.max_attempts - 1,
            http_client=stripe.RequestsClient(
                timeout=(timeouts.connect_seconds, timeouts.read_seconds)
            ),
        )

    def charge(
        self,
        *,
        idempotency_key: str,
        order_id: str,
        amount: Money,
        payment_token: str,
        correlation_id: str,
    ) -> ChargeResult:
        """Create and confirm the order's PaymentIntent; a decline is a result, not an error."""
        params: dict[str, Any] = {
            "amount": minor_units(amount),
            "currency": amount.currency.lower(),
            "payment_method": payment_token,
            # A card only, so no redirect-based method needs a return_url.
            "payment_method_types": ["card"],
            "confirm": True,
            "off_session": True,
            "metadata": {"order_id": order_id, "correlation_id": correlation_id},
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        except self._stripe.CardError as error:
            return ChargeDeclined(decline_code=_decline_code(error))
        except self._stripe.StripeError as error:
            raise self._failure("charge", idempotency_key, error) from error
        status = intent.status
        if status == "succeeded":
            return ChargeApproved(payment_id=intent.id)
        if status == "requires_action":
            # 3-D Secure: the customer would have to authenticate, and is not there to do it.
            return ChargeDeclined(decline_code=AUTHENTICATION_REQUIRED)
        if status == "requires_payment_method":
            error_code = intent.last_payment_error.code if intent.last_payment_error else None
            return ChargeDeclined(decline_code=error_code or "card_declined")
        # processing (not for cards) or anything newer: the outcome is not known yet.
        raise GatewayUnavailableError(
            f"stripe charge {idempotency_key}: PaymentIntent {intent.id} is {status}"
        )

    def refund(self, *, idempotency_key: str, payment_id: str, amount: Money) -> str:
        """Refund ``amount`` of the PaymentIntent ``payment_id`` once; return the refund id."""
        params: dict[str, Any] = {"payment_intent": payment_id, "amount": minor_units(amount)}
        try:
            refund = self._client.v1.refunds.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        except self._stripe.StripeError as error:
            raise self._failure(f"refund of {payment_id}", idempotency_key, error) from error
        if refund.status in ("failed", "canceled"):
            raise GatewayRequestError(
                f"stripe refund {idempotency_key}: refund {refund.id} is {refund.status}"
            )
        return refund.id

    def _failure(self, operation: str, key: str, error: stripe_sdk.StripeError) -> Exception:
        """The port's error for a Stripe error other than a decline."""
        stripe = self._stripe
        where = f"stripe {operation} ({key})"
        if isinstance(error, stripe.IdempotencyError):
            return IdempotencyKeyReusedError(
                f"{where}: Stripe refused the key as used for another request: {_said(error)}"
            )
        if isinstance(error, stripe.APIConnectionError):
            return GatewayUnavailableError(f"{where}: no answer from Stripe: {_said(error)}")
        if isinstance(error, stripe.RateLimitError):
            return GatewayUnavailableError(f"{where}: Stripe is rate limiting (429)")
        if isinstance(error, stripe.APIError):
            # 5xx and 409 (a request with the same key still running), after the SDK's retry.
            return GatewayUnavailableError(f"{where}: Stripe answered {error.http_status}")
        if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
            # Not Stripe's message: it quotes part of the key.
            return GatewayRequestError(
                f"{where}: Stripe refused the API key ({error.http_status}); check the secret"
            )
        return GatewayRequestError(f"{where}: Stripe refused the request: {_said(error)}")


def _decline_code(error: stripe_sdk.CardError) -> str:
    """Stripe's decline code (insufficient_funds...), else its error code (card_declined...)."""
    details = error.error
    decline_code = details.decline_code if details is not None else None
    return decline_code or error.code or "card_declined"


def _said(error: stripe_sdk.StripeError) -> str:
    """What Stripe said, on one line: its error code, HTTP status and message."""
    parts = [str(part) for part in (error.code, error.http_status, error.user_message) if part]
    return " ".join(" ".join(parts).split()) or type(error).__name__
