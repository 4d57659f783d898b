"""The Stripe gateway's amounts, timeouts and secrecy, without a server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest
from stripe._http_client import HTTPClient

from orderflow.consumer import RECORD_BUDGET
from orderflow.consumer.budget import MAX_BACKOFF_SECONDS, THROTTLING_BACKOFF_BASE_SECONDS
from orderflow.contracts import Money
from orderflow.payment.adapters.stripe import (
    STRIPE_TIMEOUTS,
    StripeSettings,
    UnsupportedCurrencyError,
    minor_units,
)
from orderflow.payment.bootstrap import build
from orderflow.settings import ConfigError


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("10.00", "EUR", 1000),
        ("25.5", "USD", 2550),
        ("500", "JPY", 500),
        ("1200", "KRW", 1200),
        ("5.12", "KWD", 5120),
        ("40", "ISK", 4000),
        ("0.01", "GBP", 1),
    ],
)
def test_amounts_go_to_stripe_in_the_currencys_minor_unit(amount, currency, minor):
    assert minor_units(Money(amount=Decimal(amount), currency=currency)) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        ("10.00", "XYZ", "not one Stripe charges in"),
        ("500.50", "JPY", "more decimals than JPY allows"),
        ("40.10", "ISK", "whole ISK"),
    ],
)
def test_an_amount_stripe_cannot_take_is_a_clear_error_never_rounded(amount, currency, why):
    with pytest.raises(UnsupportedCurrencyError, match=why):
        minor_units(Money(amount=Decimal(amount), currency=currency))


def test_a_stripe_call_at_its_worst_fits_the_record_budget():
    # The shell starts a record only with the budget left; a Stripe call must fit inside it.
    assert RECORD_BUDGET.admits(STRIPE_TIMEOUTS)


def test_the_sdks_backoff_is_no_longer_than_the_budget_assumes():
    """ClientTimeouts bounds a retry's wait by botocore's backoff (1 s, 2 s, ... capped at
    20 s); the stripe SDK waits at most 0.5 s * 2**(n-1), capped at its MAX_DELAY."""
    for retry in range(1, 8):
        stripe_wait = min(HTTPClient.INITIAL_DELAY * 2 ** (retry - 1), HTTPClient.MAX_DELAY)
        modelled = min(THROTTLING_BACKOFF_BASE_SECONDS * 2 ** (retry - 1), MAX_BACKOFF_SECONDS)
        assert stripe_wait <= modelled


def test_the_api_key_never_shows_in_the_settings_repr():
    settings = StripeSettings(api_key="sk_live_very_secret", api_base=None)
    assert "sk_live_very_secret" not in repr(settings)
    assert "sk_live_very_secret" not in str(settings)


def test_the_simulated_gateway_never_imports_the_stripe_sdk():
    # The SDK takes seconds to import: the simulated default's cold start must not pay for it.
    script = textwrap.dedent(
        """
        import sys
        from orderflow.payment import bootstrap
        from orderflow.payment.adapters.telemetry import PaymentTelemetry
        from orderflow.observability import Telemetry
        telemetry = PaymentTelemetry(Telemetry.for_service("payment"))
        bootstrap.build(
            {"TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t", "PAYMENTS_TABLE": "p",
             "IDEMPOTENCY_TABLE": "i", "PAYMENT_GATEWAY": "simulated"},
            telemetry,
        )
        print("stripe" in sys.modules)
        """
    )
    env = {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "1", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "False"


def test_an_unknown_gateway_is_refused_in_one_line():
    environ = {"TOPIC_ARN": "t", "PAYMENTS_TABLE": "p", "IDEMPOTENCY_TABLE": "i"}
    with pytest.raises(ConfigError, match="PAYMENT_GATEWAY must be one of simulated, str"):
        build({**environ, "PAYMENT_GATEWAY": "paypal"}, observer=None)  # type: ignore[arg-type]


def test_a_stripe_stack_without_the_sdk_in_its_zip_says_how_to_build_it(monkeypatch):
    # GIVEN a zip built without the stripe extra (the default build): the SDK is not importable
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setitem(sys.modules, "stripe", None)
    monkeypatch.delitem(sys.modules, "orderflow.payment.adapters.stripe", raising=False)
    environ = {
        "TOPIC_ARN": "t",
        "PAYMENTS_TABLE": "p",
        "IDEMPOTENCY_TABLE": "i",
        "PAYMENT_GATEWAY": "stripe",
        "STRIPE_API_KEY_SECRET": "orderflow/dev/stripe",
    }
    # WHEN the container wires its gateway THEN one line names the missing SDK and the fix
    with pytest.raises(ConfigError, match=r"needs the Stripe SDK .*-- --extra stripe"):
        build(environ, observer=None)  # type: ignore[arg-type]
