"""Builders every payment test uses."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from orderflow.contracts import Money, OrderCreated, OrderRefunded, utc_now

TEMPLATE = Path(__file__).parents[1] / "template.yaml"


@pytest.fixture(scope="session")
def template_path() -> Path:
    return TEMPLATE


@pytest.fixture
def refund_of() -> Callable[..., OrderRefunded]:
    """``refund_of(order, amount="4.00")``: an order.refunded of ``order`` (in full by default)."""

    def build(order: OrderCreated, amount: str | None = None) -> OrderRefunded:
        return OrderRefunded(
            event_id=uuid.uuid4(),
            occurred_at=utc_now(),
            order_id=order.order_id,
            correlation_id=order.correlation_id,
            producer="order-api",
            customer_email=order.customer_email,
            amount=Money(
                amount=Decimal(amount) if amount is not None else order.total.amount,
                currency=order.total.currency,
            ),
            reason="customer changed their mind",
        )

    return build


def free_port() -> int:
    """A local TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer (401 without a key) means it is up
    except OSError:
        return False


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory) -> Iterator[str]:
    """A localstripe server (a stateful fake Stripe) on a free port, for the whole session.

    Started as ``python -m localstripe --port N --from-scratch`` and stopped at the end. What
    it does, from its source: PaymentIntents created with ``confirm=true`` charge at once;
    ``pm_card_visa`` approves and ``pm_card_chargeCustomerFail`` (4000000000000341) is declined
    with ``card_declined`` (``pm_card_visa_chargeDeclined`` is declined only when attached to a
    customer, never when charged); the 3-D Secure test cards (4000002500003155...) leave the
    PaymentIntent in ``requires_action``; refunds take a PaymentIntent and an amount. It ignores
    the Idempotency-Key header entirely, so a repeated request is a new charge there.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"{url}/v1/charges"):
            if server.poll() is not None:
                raise RuntimeError(f"localstripe exited: {log_path.read_text()[-500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"localstripe did not answer on {url} within 60 s")
            time.sleep(0.1)  # a poll interval while the server starts, not a synchronisation
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


LOCALSTRIPE_KEY = "sk_test_orderflow"
