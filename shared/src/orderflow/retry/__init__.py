"""Retrying an optimistic write that lost a race: one loop, one backoff, for every service.

A conditional write that fails because another writer changed the item first is re-planned
from a fresh read and tried again after a full-jitter pause (AWS Architecture Blog, "Exponential
Backoff And Jitter"), so colliding writers spread out instead of colliding again. After
``attempts`` the caller raises its own error and the record goes back to its queue.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """How often to try and how long to pause between tries (full jitter, doubling, capped)."""

    attempts: int = 8
    base_seconds: float = 0.005
    cap_seconds: float = 0.2
    sleep: Callable[[float], None] = time.sleep

    def pause(self, attempt: int) -> None:
        """Sleep a random time in ``[0, min(cap, base * 2**attempt)]``."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2**attempt)
        self.sleep(random.uniform(0, ceiling))  # noqa: S311  (jitter, not security)


NO_PAUSE = Backoff(sleep=lambda _seconds: None)
"""The default number of attempts without sleeping: for tests and in-memory runs."""


def retrying(
    step: Callable[[], T | None],
    *,
    conflicts: type[Exception] | tuple[type[Exception], ...],
    backoff: Backoff,
) -> T | None:
    """Run ``step`` until it returns a value, at most ``backoff.attempts`` times.

    ``step`` raising one of ``conflicts`` means it lost a race: pause, then try again. ``step``
    returning ``None`` means its write found the work already done by someone else: try again
    at once (the next read says what happened). Returns ``None`` when every attempt was used
    up; the caller raises the error that names its own work.
    """
    for attempt in range(backoff.attempts):
        try:
            result = step()
        except conflicts:
            if attempt + 1 < backoff.attempts:
                backoff.pause(attempt)
            continue
        if result is not None:
            return result
    return None


__all__ = ["NO_PAUSE", "Backoff", "retrying"]
