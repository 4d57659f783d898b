"""Unit fixtures: the handler served by an in-memory store instead of DynamoDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orderflow.analytics import bootstrap
from orderflow.analytics.domain import Recorder


@pytest.fixture
def serve_from(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Any], None]]:
    """Make the handler record into ``store`` (where bootstrap would build DynamoDB's).

    The handler still builds its recorder through ``bootstrap.service``, with the Powertools
    telemetry as its observer, once per container: only the store differs.
    """

    def use(store: Any) -> None:
        bootstrap.service.cache_clear()  # a new container
        monkeypatch.setattr(
            bootstrap, "build", lambda environ, observer: Recorder(store, observer=observer)
        )

    yield use
    bootstrap.service.cache_clear()
