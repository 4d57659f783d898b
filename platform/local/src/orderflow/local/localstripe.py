"""Payment on Stripe in the local runtime: localstripe beside the embedded AWS.

``orderflow up --gateway stripe`` (and ``demo``) start localstripe (a stateful fake Stripe
server, the root ``stripe-tests`` group) on a free local port, store a test API key in the
embedded Secrets Manager and deploy payment with ``Gateway=stripe`` pointed at it. The
reconciliation then counts charges and refunds from localstripe's own PaymentIntents and
Refunds, not from the payments table. localstripe ignores Idempotency-Key, so every charge it
holds is one our own once-only logic let through.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orderflow.contracts import EventEnvelope
    from orderflow.payment.adapters.gateway import JournalCounts

API_KEY = "sk_test_orderflow_local"
"""localstripe accepts any ``sk_`` key: a test key of no account."""
START_SECONDS = 60.0

TEST_PAYMENT_METHODS = {
    "tok_visa": "pm_card_visa",
    "tok_mastercard": "pm_card_visa",
    "tok_decline": "pm_card_chargeCustomerFail",
}
"""The traffic's simulated tokens as the Stripe test PaymentMethods localstripe knows."""


class LocalStripeError(RuntimeError):
    """localstripe cannot be started or read."""


def secret_name(stage: str) -> str:
    """The embedded Secrets Manager secret holding the local API key."""
    return f"orderflow/{stage}/stripe-api-key"


def on_stripe(event: EventEnvelope) -> EventEnvelope:
    """``event`` with its payment token as the matching Stripe test PaymentMethod."""
    token = getattr(event, "payment_token", None)
    if token is None or token not in TEST_PAYMENT_METHODS:
        return event
    return event.model_copy(update={"payment_token": TEST_PAYMENT_METHODS[token]})


@dataclass
class LocalStripe:
    """One localstripe process on a free local port, its log in ``run_dir``."""

    run_dir: Path
    url: str = ""
    _process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> LocalStripe:
        """Start localstripe and wait until it answers; raise LocalStripeError if it cannot."""
        if not _installed():
            raise LocalStripeError(
                "localstripe is not installed; `uv sync --group dev` installs it "
                "(root stripe-tests group)"
            )
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        log_path = self.run_dir / "localstripe.log"
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603  (our interpreter, fixed arguments)
                [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_SECONDS
        while not _answers(f"{self.url}/v1/charges"):
            if self._process.poll() is not None:
                raise LocalStripeError(f"localstripe exited at start; see {log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise LocalStripeError(f"localstripe did not answer within {START_SECONDS:.0f} s")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        """Stop the process (and wait for it)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def store_api_key(secretsmanager: Any, stage: str) -> str:
    """Put the local test key in the embedded Secrets Manager; return the secret's name."""
    name = secret_name(stage)
    secretsmanager.create_secret(Name=name, SecretString=API_KEY)
    return name


def stripe_counts(api_base: str) -> JournalCounts:
    """Charges, declines and refunds per order, from localstripe's own records.

    A PaymentIntent names its order in ``metadata.order_id``; a succeeded one is a charge, one
    waiting for another card or for authentication is a decline; each refund counts for the
    order of its PaymentIntent. ``calls`` is empty: localstripe keeps no request log.
    """
    import stripe  # noqa: PLC0415  (seconds to import: only for a Stripe run)

    from orderflow.payment.adapters.gateway import JournalCounts  # noqa: PLC0415

    client = stripe.StripeClient(API_KEY, base_addresses={"api": api_base})
    charges: Counter[str] = Counter()
    declines: Counter[str] = Counter()
    order_of: dict[str, str] = {}
    try:
        for intent in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
            order_id = intent.metadata.to_dict().get("order_id")
            if not order_id:
                continue
            order_of[intent.id] = order_id
            if intent.status == "succeeded":
                charges[order_id] += 1
            elif intent.status in ("requires_payment_method", "requires_action"):
                declines[order_id] += 1
        refunds: Counter[str] = Counter()
        for refund in client.v1.refunds.list({"limit": 100}).auto_paging_iter():
            intent_id = refund.payment_intent
            if isinstance(intent_id, str) and intent_id in order_of:
                refunds[order_of[intent_id]] += 1
    except stripe.StripeError as error:
        raise LocalStripeError(f"cannot read localstripe at {api_base}: {error}") from error
    return JournalCounts(charges=charges, declines=declines, refunds=refunds, calls={})


def _installed() -> bool:
    import importlib.util  # noqa: PLC0415

    return importlib.util.find_spec("localstripe") is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310  (a local server we started)
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer (401 without a key) means it is up
    except OSError:
        return False
