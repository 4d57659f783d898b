"""The once-only port a service's domain runs its external side effects through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class OnceOnlyEffects(Protocol):
    """Runs an effect at most once per business key (``OnceOnly``; ``MemoryOnceOnly``)."""

    def run(self, key: str, effect: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``effect`` unless ``key`` already ran; return its (stored) JSON-able result."""
        ...
