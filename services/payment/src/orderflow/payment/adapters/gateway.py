"""A simulated card provider for local runs, demos and tests.

It behaves like a provider with idempotency keys (Stripe-like): a key sent twice returns the
first answer, even when that first answer was lost on the way back, for as long as the provider
keeps the key. Stripe may prune a key once it is 24 hours old and then treats its reuse as a new
request ("Idempotent requests", https://docs.stripe.com/idempotency), so this gateway forgets
keys after ``GATEWAY_KEY_RETENTION_SECONDS`` too. Faults come from the environment, so the local
runtime can inject them without code changes:

=========================== ===========================================================
GATEWAY_LATENCY_MS          delay before each call reaches the provider (default 0)
GATEWAY_ERROR_RATE          share of calls failing before they reach it (0..1, default 0)
GATEWAY_LOST_RESPONSE_RATE  share of calls whose effect happens but whose answer is lost
GATEWAY_OUTAGE              ``true`` fails every call (default false)
GATEWAY_DECLINE_TOKENS      ``token[=decline_code],...`` (default ``tok_decline=card_declined``)
GATEWAY_KEY_RETENTION_SECONDS  how long an idempotency key is honoured (default 86400, as Stripe)
GATEWAY_JOURNAL_PATH        sqlite file of the journal, shared by processes (in memory if unset)
GATEWAY_SEED                seed of the fault dice, for a repeatable run
=========================== ===========================================================

Every call and every charge and refund it makes is kept in a journal (sqlite), so a demo can
count real charges per order independently of the payments table.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from orderflow.contracts import Money
from orderflow.payment.domain import (
    ChargeApproved,
    ChargeDeclined,
    ChargeResult,
    GatewayRequestError,
    GatewayUnavailableError,
    IdempotencyKeyReusedError,
)
from orderflow.settings import ConfigError, optional

DEFAULT_DECLINE_TOKENS: Mapping[str, str] = {"tok_decline": "card_declined"}
DEFAULT_DECLINE_CODE = "card_declined"
DEFAULT_KEY_RETENTION_SECONDS = 24 * 3600
"""Stripe may prune an idempotency key once it is 24 hours old."""
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    idempotency_key TEXT NOT NULL,
    charge_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    decline_code TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refunds (
    idempotency_key TEXT NOT NULL,
    refund_id TEXT NOT NULL UNIQUE,
    charge_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS charges_by_key ON charges (idempotency_key, created_at);
CREATE INDEX IF NOT EXISTS refunds_by_key ON refunds (idempotency_key, created_at);
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    order_id TEXT NOT NULL,
    result TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


class GatewayJournalError(RuntimeError):
    """The gateway journal cannot be read."""


@dataclass(frozen=True)
class GatewaySettings:
    """How the simulated gateway behaves; see the module docstring for the variables."""

    latency_ms: int = 0
    error_rate: float = 0.0
    lost_response_rate: float = 0.0
    outage: bool = False
    decline_tokens: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DECLINE_TOKENS))
    journal_path: str | None = None
    seed: int | None = None
    key_retention_seconds: int = DEFAULT_KEY_RETENTION_SECONDS

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GatewaySettings:
        """Settings from GATEWAY_* variables; a bad value raises ``ConfigError`` naming it."""
        # Unset means the default tokens; set but empty means no token declines.
        tokens = environ.get("GATEWAY_DECLINE_TOKENS")
        seed = optional("GATEWAY_SEED", "", environ)
        retention = optional("GATEWAY_KEY_RETENTION_SECONDS", "", environ)
        return cls(
            latency_ms=_count(environ, "GATEWAY_LATENCY_MS"),
            error_rate=_rate(environ, "GATEWAY_ERROR_RATE"),
            lost_response_rate=_rate(environ, "GATEWAY_LOST_RESPONSE_RATE"),
            outage=_flag(environ, "GATEWAY_OUTAGE"),
            decline_tokens=parse_decline_tokens(tokens)
            if tokens is not None
            else dict(DEFAULT_DECLINE_TOKENS),
            journal_path=optional("GATEWAY_JOURNAL_PATH", "", environ) or None,
            seed=_count(environ, "GATEWAY_SEED") if seed else None,
            key_retention_seconds=_count(environ, "GATEWAY_KEY_RETENTION_SECONDS")
            if retention
            else DEFAULT_KEY_RETENTION_SECONDS,
        )


def parse_decline_tokens(text: str) -> dict[str, str]:
    """``tok_a=insufficient_funds,tok_b`` -> token -> decline code (card_declined if none)."""
    tokens: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        token, _, code = part.partition("=")
        if not token.strip():
            raise ConfigError(f"GATEWAY_DECLINE_TOKENS has an entry without a token: {part!r}")
        tokens[token.strip()] = code.strip() or DEFAULT_DECLINE_CODE
    return tokens


def _count(environ: Mapping[str, str], name: str) -> int:
    raw = optional(name, "", environ)
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _rate(environ: Mapping[str, str], name: str) -> float:
    raw = optional(name, "", environ)
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number from 0 to 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a number from 0 to 1, got {raw!r}")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = optional(name, "", environ).lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class JournalCounts:
    """What the gateway did, per order: charges made, declines, refunds, calls received."""

    charges: Mapping[str, int]
    declines: Mapping[str, int]
    refunds: Mapping[str, int]
    calls: Mapping[str, int]


class ChargeJournal:
    """The gateway's own record in sqlite; a file is safe to share between processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path) if path else ":memory:"
        # One connection per journal, serialised by a lock: sqlite connections are not safe to
        # use from two threads at once. Across processes, BEGIN IMMEDIATE takes the file lock.
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._lock:
            if self.path != ":memory:":
                self._use_write_ahead_log()
            self._db.executescript(_SCHEMA)

    def _use_write_ahead_log(self) -> None:
        # Switching the journal mode needs the file to itself and does not wait on sqlite's busy
        # timeout, so two containers opening a new journal together retry until one has won.
        deadline = time.monotonic() + 30
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
            else:
                return

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An exclusive write transaction: committed on success, rolled back on error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def counts(self) -> JournalCounts:
        """Charges, declines, refunds and calls per order."""
        with self._lock:
            charges = self._db.execute(
                "SELECT order_id, status, COUNT(*) FROM charges GROUP BY order_id, status"
            ).fetchall()
            refunds = self._db.execute(
                "SELECT order_id, COUNT(*) FROM refunds GROUP BY order_id"
            ).fetchall()
            calls = self._db.execute(
                "SELECT order_id, COUNT(*) FROM calls GROUP BY order_id"
            ).fetchall()
        by_status: dict[str, dict[str, int]] = defaultdict(dict)
        for order_id, status, count in charges:
            by_status[status][order_id] = count
        return JournalCounts(
            charges=by_status["succeeded"],
            declines=by_status["failed"],
            refunds=dict(refunds),
            calls=dict(calls),
        )

    def order_of_charge(self, charge_id: str) -> str | None:
        """The order a charge id belongs to, or None for an unknown charge."""
        with self._lock:
            row = self._db.execute(
                "SELECT order_id FROM charges WHERE charge_id = ?", (charge_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


def read_journal(path: str | Path) -> JournalCounts:
    """Counts from a journal file written by any number of gateway processes."""
    if not Path(path).is_file():
        raise GatewayJournalError(f"no gateway journal at {path}")
    journal = ChargeJournal(path)
    try:
        return journal.counts()
    finally:
        journal.close()


class SimulatedGateway:
    """An in-process card provider with idempotency keys, declines, latency and faults."""

    def __init__(
        self,
        settings: GatewaySettings | None = None,
        *,
        journal: ChargeJournal | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or GatewaySettings()
        self.journal = journal or ChargeJournal(self.settings.journal_path)
        self._sleep = sleep
        self._dice = random.Random(self.settings.seed)  # noqa: S311  (fault dice, not crypto)
        self._dice_lock = threading.Lock()

    def charge(
        self,
        *,
        idempotency_key: str,
        order_id: str,
        amount: Money,
        payment_token: str,
        correlation_id: str = "",
    ) -> ChargeResult:
        """Charge once per key (while the key is kept); a declined token gives ChargeDeclined."""
        self._reach(operation="charge", key=idempotency_key, order_id=order_id)
        rejected: str | None = None
        with self.journal.transaction() as db:
            row = db.execute(
                "SELECT charge_id, order_id, amount, currency, status, decline_code "
                "FROM charges WHERE idempotency_key = ? AND created_at > ? "
                "ORDER BY created_at DESC LIMIT 1",
                (idempotency_key, self._oldest_key_kept()),
            ).fetchone()
            if row is not None:
                charge_id, known_order, known_amount, known_currency, status, decline_code = row
                if (known_order, Decimal(known_amount), known_currency) != (
                    order_id,
                    amount.amount,
                    amount.currency,
                ):
                    rejected = f"idempotency key {idempotency_key} reused with other parameters"
                result = "rejected" if rejected else "replayed"
            else:
                charge_id = f"ch_{uuid.uuid4().hex[:24]}"
                decline_code = self.settings.decline_tokens.get(payment_token)
                status = "failed" if decline_code else "succeeded"
                db.execute(
                    "INSERT INTO charges VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        idempotency_key,
                        charge_id,
                        order_id,
                        str(amount.amount),
                        amount.currency,
                        status,
                        decline_code,
                        _now(),
                    ),
                )
                result = "declined" if decline_code else "charged"
            _log_call(db, "charge", idempotency_key, order_id, result)
        if rejected:
            raise IdempotencyKeyReusedError(rejected)
        self._maybe_lose_response(idempotency_key)
        if status == "failed":
            return ChargeDeclined(decline_code=decline_code or DEFAULT_DECLINE_CODE)
        return ChargeApproved(payment_id=charge_id)

    def refund(self, *, idempotency_key: str, payment_id: str, amount: Money) -> str:
        """Refund part or all of a successful charge, once per key; return the refund id."""
        order_id = self.journal.order_of_charge(payment_id) or "-"
        self._reach(operation="refund", key=idempotency_key, order_id=order_id)
        rejected: str | None = None
        reused: str | None = None
        with self.journal.transaction() as db:
            row = db.execute(
                "SELECT refund_id, charge_id FROM refunds WHERE idempotency_key = ? "
                "AND created_at > ? ORDER BY created_at DESC LIMIT 1",
                (idempotency_key, self._oldest_key_kept()),
            ).fetchone()
            if row is not None:
                refund_id, known_charge = row
                if known_charge != payment_id:
                    reused = f"idempotency key {idempotency_key} reused with other parameters"
                result = "rejected" if reused else "replayed"
            else:
                refund_id = f"re_{uuid.uuid4().hex[:24]}"
                rejected = _refund_problem(db, payment_id, amount)
                if rejected is None:
                    db.execute(
                        "INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            idempotency_key,
                            refund_id,
                            payment_id,
                            order_id,
                            str(amount.amount),
                            amount.currency,
                            _now(),
                        ),
                    )
                result = "rejected" if rejected else "refunded"
            _log_call(db, "refund", idempotency_key, order_id, result)
        if reused:
            raise IdempotencyKeyReusedError(reused)
        if rejected:
            raise GatewayRequestError(rejected)
        self._maybe_lose_response(idempotency_key)
        return str(refund_id)

    def journal_counts(self) -> JournalCounts:
        """Charges, declines, refunds and calls per order, from this gateway's journal."""
        return self.journal.counts()

    def _oldest_key_kept(self) -> str:
        """Keys used at or before this instant are forgotten (journal timestamp format)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.key_retention_seconds)
        return cutoff.isoformat(timespec="milliseconds")

    def _reach(self, *, operation: str, key: str, order_id: str) -> None:
        """The trip to the provider: latency, then an outage or a random failure on the way."""
        if self.settings.latency_ms:
            self._sleep(self.settings.latency_ms / 1000)
        if self.settings.outage or self._roll(self.settings.error_rate):
            with self.journal.transaction() as db:
                _log_call(db, operation, key, order_id, "unavailable")
            why = "outage" if self.settings.outage else "timed out"
            raise GatewayUnavailableError(f"payment gateway {why} ({operation} {key})")

    def _maybe_lose_response(self, key: str) -> None:
        if self._roll(self.settings.lost_response_rate):
            raise GatewayUnavailableError(f"payment gateway response lost ({key})")

    def _roll(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._dice_lock:
            return self._dice.random() < rate


def _refund_problem(db: sqlite3.Connection, payment_id: str, amount: Money) -> str | None:
    charge = db.execute(
        "SELECT amount, currency, status FROM charges WHERE charge_id = ?", (payment_id,)
    ).fetchone()
    if charge is None or charge[2] != "succeeded":
        return f"no successful charge {payment_id} to refund"
    charged, currency, _ = charge
    if currency != amount.currency:
        return f"refund in {amount.currency} of a charge in {currency}"
    refunded = sum(
        (
            Decimal(r[0])
            for r in db.execute("SELECT amount FROM refunds WHERE charge_id = ?", (payment_id,))
        ),
        Decimal(0),
    )
    if refunded + amount.amount > Decimal(charged):
        return f"refund of {amount.amount} exceeds what is left of charge {payment_id}"
    return None


def _log_call(db: sqlite3.Connection, operation: str, key: str, order_id: str, result: str) -> None:
    db.execute(
        "INSERT INTO calls (operation, idempotency_key, order_id, result, at) "
        "VALUES (?, ?, ?, ?, ?)",
        (operation, key, order_id, result, _now()),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
