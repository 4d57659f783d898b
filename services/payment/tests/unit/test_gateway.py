"""The simulated gateway: Stripe-like idempotency keys, declines, faults, and its journal."""

from __future__ import annotations

import subprocess
import sys
import threading
from decimal import Decimal

import pytest

from orderflow.contracts import Money
from orderflow.payment.adapters.gateway import (
    ChargeJournal,
    GatewayJournalError,
    GatewaySettings,
    SimulatedGateway,
    read_journal,
)
from orderflow.payment.domain import (
    ChargeApproved,
    ChargeDeclined,
    GatewayRequestError,
    GatewayUnavailableError,
)
from orderflow.settings import ConfigError

TEN_EUR = Money(amount=Decimal("10.00"), currency="EUR")


def charge(gateway: SimulatedGateway, order_id: str = "ord-1", token: str = "tok_visa", **kw):
    return gateway.charge(
        idempotency_key=kw.get("key", f"charge-{order_id}"),
        order_id=order_id,
        amount=kw.get("amount", TEN_EUR),
        payment_token=token,
    )


def test_the_same_key_returns_the_same_charge_and_moves_money_once():
    # GIVEN a gateway
    gateway = SimulatedGateway()

    # WHEN the same charge is sent three times with one key
    results = [charge(gateway) for _ in range(3)]

    # THEN all three answers name the one charge, and the journal holds one charge, three calls
    assert len(set(results)) == 1
    assert isinstance(results[0], ChargeApproved)
    counts = gateway.journal_counts()
    assert counts.charges == {"ord-1": 1}
    assert counts.calls == {"ord-1": 3}


def test_a_key_the_provider_no_longer_keeps_makes_a_new_charge_and_refund():
    """Stripe prunes keys at least 24 hours old and treats a reused pruned key as a new
    request ("Idempotent requests", https://docs.stripe.com/idempotency)."""
    # GIVEN a provider that keeps no key (every earlier key is past its retention)
    gateway = SimulatedGateway(GatewaySettings(key_retention_seconds=0))

    # WHEN the same charge and the same partial refund are sent twice with their keys
    first, second = charge(gateway), charge(gateway)
    assert isinstance(first, ChargeApproved)
    assert isinstance(second, ChargeApproved)
    four = Money(amount=Decimal("4.00"), currency="EUR")
    refunds = {
        gateway.refund(idempotency_key="refund-ord-1", payment_id=first.payment_id, amount=four)
        for _ in range(2)
    }

    # THEN money moved each time: the key no longer protects anything
    assert first != second
    assert len(refunds) == 2
    counts = gateway.journal_counts()
    assert counts.charges == {"ord-1": 2}
    assert counts.refunds == {"ord-1": 2}


def test_the_default_key_retention_is_stripes_24_hours():
    assert GatewaySettings().key_retention_seconds == 24 * 3600


def test_a_decline_token_declines_with_its_code():
    # GIVEN a gateway that declines one test token with a specific code
    settings = GatewaySettings(decline_tokens={"tok_nofunds": "insufficient_funds"})
    gateway = SimulatedGateway(settings)

    # WHEN that token is charged
    result = charge(gateway, token="tok_nofunds")

    # THEN it is declined, and no money moved
    assert result == ChargeDeclined(decline_code="insufficient_funds")
    counts = gateway.journal_counts()
    assert counts.charges == {}
    assert counts.declines == {"ord-1": 1}


def test_an_outage_fails_every_call_without_charging():
    # GIVEN a gateway in an outage
    gateway = SimulatedGateway(GatewaySettings(outage=True))

    # WHEN a charge is attempted
    with pytest.raises(GatewayUnavailableError, match="outage"):
        charge(gateway)

    # THEN nothing was charged, and the failed call is in the journal
    counts = gateway.journal_counts()
    assert counts.charges == {}
    assert counts.calls == {"ord-1": 1}


def test_latency_is_spent_before_each_call():
    # GIVEN a gateway with 250 ms of latency, and a clock that only records sleeps
    slept: list[float] = []
    gateway = SimulatedGateway(GatewaySettings(latency_ms=250), sleep=slept.append)

    # WHEN it is called twice
    charge(gateway)
    charge(gateway)

    # THEN it waited 250 ms before each call
    assert slept == [0.25, 0.25]


def test_a_lost_response_still_charged_and_the_retry_with_the_key_finds_it():
    # GIVEN a gateway that loses every answer after acting on it
    lossy = SimulatedGateway(GatewaySettings(lost_response_rate=1.0))

    # WHEN the charge's answer is lost
    with pytest.raises(GatewayUnavailableError, match="lost"):
        charge(lossy)

    # THEN the money moved; a retry with the same key (answer delivered) gets that charge
    healthy = SimulatedGateway(journal=lossy.journal)
    result = charge(healthy)
    assert isinstance(result, ChargeApproved)
    assert healthy.journal_counts().charges == {"ord-1": 1}


def test_random_errors_happen_before_the_provider_acts():
    # GIVEN a gateway where every call fails on the way
    gateway = SimulatedGateway(GatewaySettings(error_rate=1.0, seed=7))

    # WHEN charged
    with pytest.raises(GatewayUnavailableError, match="timed out"):
        charge(gateway)

    # THEN nothing was charged
    assert gateway.journal_counts().charges == {}


def test_a_key_reused_with_other_parameters_is_refused():
    # GIVEN a charge of 10.00 under a key
    gateway = SimulatedGateway()
    charge(gateway)

    # WHEN the same key is sent with another amount
    # THEN the provider refuses it (a bug on our side, not something to retry)
    with pytest.raises(GatewayRequestError, match="reused"):
        charge(gateway, amount=Money(amount=Decimal("99.00"), currency="EUR"))
    assert gateway.journal_counts().charges == {"ord-1": 1}


def test_refund_once_per_key_and_never_more_than_was_charged():
    # GIVEN a charge of 10.00
    gateway = SimulatedGateway()
    paid = charge(gateway)
    assert isinstance(paid, ChargeApproved)

    # WHEN it is refunded twice with one key
    first = gateway.refund(
        idempotency_key="refund-ord-1", payment_id=paid.payment_id, amount=TEN_EUR
    )
    second = gateway.refund(
        idempotency_key="refund-ord-1", payment_id=paid.payment_id, amount=TEN_EUR
    )

    # THEN one refund exists; a further refund under a new key would exceed the charge
    assert first == second
    assert gateway.journal_counts().refunds == {"ord-1": 1}
    with pytest.raises(GatewayRequestError, match="exceeds"):
        gateway.refund(idempotency_key="refund-again", payment_id=paid.payment_id, amount=TEN_EUR)


def test_refund_of_an_unknown_charge_is_refused():
    gateway = SimulatedGateway()
    with pytest.raises(GatewayRequestError, match="no successful charge"):
        gateway.refund(idempotency_key="refund-x", payment_id="ch_missing", amount=TEN_EUR)


# Runs in a separate interpreter: a real second process, with its own sqlite connection.
_CHARGE_ORDERS = """
import sys
from decimal import Decimal
from orderflow.contracts import Money
from orderflow.payment.adapters.gateway import GatewaySettings, SimulatedGateway

gateway = SimulatedGateway(GatewaySettings(journal_path=sys.argv[1]))
for order_id in sys.argv[2:]:
    gateway.charge(
        idempotency_key=f"charge-{order_id}",
        order_id=order_id,
        amount=Money(amount=Decimal("10.00"), currency="EUR"),
        payment_token="tok_visa",
    )
"""


def test_a_journal_file_is_shared_safely_by_processes(tmp_path):
    # GIVEN two processes charging the same 20 orders with the same keys through one journal file
    path = str(tmp_path / "gateway.sqlite3")
    orders = [f"ord-{i}" for i in range(20)]
    command = [sys.executable, "-c", _CHARGE_ORDERS, path, *orders]

    # WHEN they run at the same time
    workers = [subprocess.Popen(command) for _ in range(2)]
    exit_codes = [worker.wait(timeout=120) for worker in workers]

    # THEN every order was charged exactly once, and every call was journaled
    assert exit_codes == [0, 0]
    counts = read_journal(path)
    assert counts.charges == dict.fromkeys(orders, 1)
    assert counts.calls == dict.fromkeys(orders, 2)


def test_reading_a_missing_journal_names_the_file(tmp_path):
    with pytest.raises(GatewayJournalError, match="no gateway journal at"):
        read_journal(tmp_path / "absent.sqlite3")


def test_settings_come_from_the_environment():
    # GIVEN the variables the local runtime sets to inject faults
    environ = {
        "GATEWAY_LATENCY_MS": "120",
        "GATEWAY_ERROR_RATE": "0.25",
        "GATEWAY_LOST_RESPONSE_RATE": "0.1",
        "GATEWAY_OUTAGE": "true",
        "GATEWAY_DECLINE_TOKENS": "tok_decline, tok_nofunds=insufficient_funds",
        "GATEWAY_JOURNAL_PATH": "/var/run/gateway.sqlite3",
        "GATEWAY_SEED": "42",
        "GATEWAY_KEY_RETENTION_SECONDS": "3600",
    }

    # WHEN settings are read
    settings = GatewaySettings.from_environ(environ)

    # THEN each one is taken as given
    assert settings == GatewaySettings(
        latency_ms=120,
        error_rate=0.25,
        lost_response_rate=0.1,
        outage=True,
        decline_tokens={"tok_decline": "card_declined", "tok_nofunds": "insufficient_funds"},
        journal_path="/var/run/gateway.sqlite3",
        seed=42,
        key_retention_seconds=3600,
    )


def test_unset_and_empty_settings_mean_a_healthy_gateway():
    # The template passes empty strings for settings left at their defaults.
    names = (
        "GATEWAY_LATENCY_MS",
        "GATEWAY_JOURNAL_PATH",
        "GATEWAY_SEED",
        "GATEWAY_KEY_RETENTION_SECONDS",
    )
    empty = dict.fromkeys(names, "")
    assert GatewaySettings.from_environ(empty) == GatewaySettings()
    assert GatewaySettings.from_environ({}) == GatewaySettings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_LATENCY_MS", "fast"),
        ("GATEWAY_LATENCY_MS", "-5"),
        ("GATEWAY_ERROR_RATE", "1.5"),
        ("GATEWAY_LOST_RESPONSE_RATE", "often"),
        ("GATEWAY_OUTAGE", "maybe"),
        ("GATEWAY_DECLINE_TOKENS", "=card_declined"),
        ("GATEWAY_KEY_RETENTION_SECONDS", "a day"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        GatewaySettings.from_environ({name: value})


def test_containers_opening_a_new_journal_together_all_get_it(tmp_path):
    # GIVEN eight containers starting at once on a journal file nobody has created yet,
    # over and over (the clash is a matter of timing)
    for round_ in range(25):
        path = tmp_path / f"journal-{round_}.sqlite3"
        start = threading.Barrier(8)
        opened, errors = [], []

        def open_journal(path=path, start=start, opened=opened, errors=errors):
            start.wait()
            try:
                opened.append(ChargeJournal(path))
            except Exception as error:  # the assertion below names it
                errors.append(error)

        # WHEN they all open it
        threads = [threading.Thread(target=open_journal) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        # THEN every one of them has it, and they share one record
        assert errors == []
        assert len(opened) == 8
        assert opened[0].counts() == opened[7].counts()
