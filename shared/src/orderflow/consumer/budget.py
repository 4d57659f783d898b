"""How much time a record needs before the consumer shell may start it.

A timeout that lands between a side effect and its durable record (SES accepted an email, the
once-only record is not yet complete) repeats the effect when the record is retried, and SES has
no idempotency key. So the shell starts a record only while the invocation has at least the
record budget left: the longest one call may take (its timeouts, retries and backoff at their
worst) plus a margin for the record's other calls at their usual speed. Every AWS client a
consumer builds uses ``CLIENT_TIMEOUTS`` (or ``NON_IDEMPOTENT_TIMEOUTS`` for a call that must
not be repeated blindly), so no single call can outlast the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

MAX_BACKOFF_SECONDS = 20.0
"""botocore's standard retry mode caps one backoff at 20 s."""
THROTTLING_BACKOFF_BASE_SECONDS = 1.0
"""...and before retry ``n`` (0-based) waits at most ``base * 2**n`` (1 s for throttling, the
largest of its bases)."""


@dataclass(frozen=True)
class ClientTimeouts:
    """The timeouts and attempts of a client; together they bound one call."""

    connect_seconds: float
    read_seconds: float
    max_attempts: int

    def __post_init__(self) -> None:
        if self.connect_seconds <= 0 or self.read_seconds <= 0 or self.max_attempts < 1:
            raise ValueError(f"timeouts must be positive and attempts at least 1: {self}")

    def worst_case_seconds(self) -> float:
        """The longest one call can take: every attempt timing out, every backoff at its cap."""
        backoffs = sum(
            min(THROTTLING_BACKOFF_BASE_SECONDS * 2.0**n, MAX_BACKOFF_SECONDS)
            for n in range(self.max_attempts - 1)
        )
        return self.max_attempts * (self.connect_seconds + self.read_seconds) + backoffs

    def botocore_config(self, **options: Any) -> Config:
        """A botocore ``Config`` with these timeouts and standard retries (plus ``options``)."""
        from botocore.config import Config  # noqa: PLC0415  (cold start: only when a client is built)

        return Config(
            connect_timeout=self.connect_seconds,
            read_timeout=self.read_seconds,
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            **options,
        )


CLIENT_TIMEOUTS = ClientTimeouts(connect_seconds=1.0, read_seconds=3.0, max_attempts=2)
"""Every consumer's AWS clients (DynamoDB, SNS): one call ends within 9 s, retry included.

Generous against AWS's usual milliseconds and the emulator on a busy machine, and one retry for
a throttle or a dropped connection; a longer outage fails the record and SQS retries it. A retry
after a timeout is harmless here: writes are conditional or carry deterministic ids.
"""

NON_IDEMPOTENT_TIMEOUTS = ClientTimeouts(connect_seconds=1.0, read_seconds=8.0, max_attempts=1)
"""A call with no idempotency key (SES SendEmail): one attempt, and a long wait for its answer.

The SDK retries a read timeout, and the provider may have accepted the first attempt: a second
email. So no retry in the call (a throttle fails the record, which SQS retries once the
once-only record is released), and a read timeout long enough to make that ambiguity rare.
"""


@dataclass(frozen=True)
class RecordBudget:
    """The time left below which a record is not started (and fails, to be retried)."""

    calls: tuple[ClientTimeouts, ...] = (CLIENT_TIMEOUTS, NON_IDEMPOTENT_TIMEOUTS)
    margin_seconds: float = 1.0

    @property
    def milliseconds(self) -> int:
        """The slowest call at its worst plus the margin, in ms (as Lambda counts time left)."""
        slowest = max((call.worst_case_seconds() for call in self.calls), default=0.0)
        return int((slowest + self.margin_seconds) * 1000)

    def admits(self, client: ClientTimeouts) -> bool:
        """Whether a call of ``client`` at its worst still leaves the margin."""
        return client.worst_case_seconds() + self.margin_seconds <= self.milliseconds / 1000


def effect_window_ms(
    effect: ClientTimeouts,
    completion: ClientTimeouts = CLIENT_TIMEOUTS,
    margin_seconds: float = 1.0,
) -> int:
    """The time left an effect needs to start (``OnceOnly(start_window_ms=...)``), in ms.

    The effect's call and the once-only record's completion (a DynamoDB write), each at its
    worst, plus a margin: started with that much left, no timeout falls between them. For an
    SES send, 9 s + 9 s + 1 s = 19 s.
    """
    return int(
        (effect.worst_case_seconds() + completion.worst_case_seconds() + margin_seconds) * 1000
    )


RECORD_BUDGET = RecordBudget()
"""The budget of every consumer whose clients use these timeouts: 10 s."""
