"""In-memory fakes of the notifications ports, and the handler wired to them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from orderflow.notifications import bootstrap
from orderflow.notifications.domain import Email, EmailDeliveryError


class InMemoryEmailSender:
    """Keeps what it sent; refuses recipients it is told to, as a throttled provider would."""

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.refuse: set[str] = set()

    def send(self, email: Email) -> str:
        if email.recipient in self.refuse:
            raise EmailDeliveryError(f"provider throttled {email.template}")
        self.sent.append(email)
        return f"ses-{len(self.sent)}"


class InMemoryOnce:
    """Runs an effect once per key; an effect that raises is not remembered (like OnceOnly)."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.context: object | None = None

    def run(self, key: str, effect: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key not in self.results:
            self.results[key] = effect()
        return self.results[key]

    def register_lambda_context(self, context: object) -> None:
        self.context = context


@dataclass
class Fakes:
    sender: InMemoryEmailSender = field(default_factory=InMemoryEmailSender)
    once: InMemoryOnce = field(default_factory=InMemoryOnce)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """The ports as in-memory fakes, and the handler's bootstrap returning them."""
    wired = Fakes()
    monkeypatch.setattr(bootstrap, "email_sender", lambda: wired.sender)
    monkeypatch.setattr(bootstrap, "once_only", lambda: wired.once)
    return wired
