"""Unit fixtures: the handler served by an in-memory store instead of DynamoDB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orderflow.analytics import bootstrap


@pytest.fixture
def serve_from(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], None]:
    """Make the handler record into ``store`` (what bootstrap would build from DynamoDB)."""

    def use(store: Any) -> None:
        monkeypatch.setattr(bootstrap, "event_store", lambda: store)

    return use
