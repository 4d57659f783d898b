"""``OnceOnly`` in memory: an effect runs once per key and its result is kept.

Same rules as the real one (an effect that raises is not remembered, as with Powertools), for
unit tests, in-memory runs and the bench of every service. Pure Python: safe in a Lambda zip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class MemoryOnceOnly:
    """``OnceOnly`` in a dict: each key's effect runs once, later calls get its result."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}

    def run(self, key: str, effect: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key not in self.results:
            self.results[key] = effect()
        return self.results[key]
