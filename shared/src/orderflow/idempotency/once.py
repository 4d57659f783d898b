"""Run an external side effect at most once per business key (Powertools idempotency)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
REDRIVE_WINDOW_SECONDS = DLQ_RETENTION_SECONDS + 24 * 3600
"""How long a completed effect is remembered: longer than a message can wait in a DLQ once.

Not longer than a message can live: a redrive (a move task) gives the message a new id and
enqueue time and restarts its retention, so after repeated redrives a message can come back
after its record expired. A service whose effect must never repeat checks its own durable
record (the payments table, the sent-email ledger) before calling ``run``.
"""


class EffectNotStartedError(Exception):
    """Too little of the invocation is left for the effect and its record; it was not started.

    Raised before the effect, so nothing happened: Powertools deletes the in-progress record,
    and the consumer shell hands the record back like one it did not start.
    """


_LIVE: weakref.WeakSet[OnceOnly] = weakref.WeakSet()
"""Every once-only store of this container: each invocation's context is registered on all."""


def register_invocation(context: LambdaContext) -> None:
    """Tie every once-only store's in-progress records to this invocation's deadline.

    The consumer shell's Lambda entry point calls it once per invocation, so no service has to
    remember to (Powertools requires it for in-progress expiry).
    """
    for store in list(_LIVE):
        store.register_lambda_context(context)


class OnceOnly:
    """Runs ``effect`` once per key; later calls with the same key return the stored result.

    A concurrent second attempt raises Powertools' ``IdempotencyAlreadyInProgressError`` so its
    record fails and retries later, when it sees the first attempt's result. An effect that
    raises is not remembered, so a retry runs it again: the effect itself must be safe to retry
    (an idempotency key at the provider), which is why keys are business identities. A record
    expires (``REDRIVE_WINDOW_SECONDS``): it guards retries and concurrent deliveries, it is not
    the durable record of whether the effect ever happened.

    ``start_window_ms``: the time an effect and its completion need at their worst (for a
    consumer, ``orderflow.consumer.effect_window_ms``). The effect starts only while the
    invocation has that much left, checked after the in-progress record is saved, just before
    the effect: a timeout can then never fall between the effect and its completion, which
    would run it again on retry (SES has no idempotency key). Otherwise
    ``EffectNotStartedError``. 0 (the default) never refuses.
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        expires_after_seconds: int = REDRIVE_WINDOW_SECONDS,
        start_window_ms: int = 0,
    ) -> None:
        from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self.table_name = table_name
        self.start_window_ms = start_window_ms
        self.lambda_context: LambdaContext | None = None
        """The invocation whose deadline in-progress records carry (None before the first)."""
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=expires_after_seconds,
        )
        store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._run: Callable[..., dict[str, Any]] = idempotent_function(
            data_keyword_argument="request", config=self._config, persistence_store=store
        )(_run_effect)
        _LIVE.add(self)

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Tie in-progress records to the invocation's deadline (required by Powertools)."""
        self._config.register_lambda_context(context)
        self.lambda_context = context

    def run(self, key: str, effect: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``effect`` unless ``key`` already ran; return its (stored) JSON-able result.

        Raises ``EffectNotStartedError`` (the effect not run, no record kept) when the
        invocation has less than ``start_window_ms`` left.
        """

        def within_window() -> dict[str, Any]:
            context = self.lambda_context
            if self.start_window_ms and context is not None:
                left = context.get_remaining_time_in_millis()
                if left < self.start_window_ms:
                    raise EffectNotStartedError(
                        f"{left} ms left, the effect and its record need {self.start_window_ms} ms"
                    )
            return effect()

        return self._run(request={"key": key}, effect=within_window)


def _run_effect(request: dict[str, str], effect: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    del request  # the key only; Powertools hashes it
    return effect()
