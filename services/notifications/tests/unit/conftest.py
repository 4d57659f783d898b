"""In-memory fakes of the notifications ports, and the handler wired to them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from orderflow.notifications import bootstrap
from orderflow.notifications.adapters.memory import MemorySentEmails
from orderflow.notifications.domain import Email, EmailDeliveryError
from orderflow.testing import MemoryOnceOnly


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


@dataclass
class Fakes:
    sender: InMemoryEmailSender = field(default_factory=InMemoryEmailSender)
    once: MemoryOnceOnly = field(default_factory=MemoryOnceOnly)
    sent: MemorySentEmails = field(default_factory=MemorySentEmails)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """The ports as in-memory fakes, and the handler's bootstrap returning them."""
    wired = Fakes()
    monkeypatch.setattr(bootstrap, "email_sender", lambda: wired.sender)
    monkeypatch.setattr(bootstrap, "once_only", lambda: wired.once)
    monkeypatch.setattr(bootstrap, "sent_emails", lambda: wired.sent)
    return wired
