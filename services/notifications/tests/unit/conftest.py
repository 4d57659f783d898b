"""The notifier over the in-memory ports (``orderflow.notifications.adapters.memory``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from orderflow.idempotency import MemoryOnceOnly
from orderflow.notifications.adapters.memory import (
    MemoryEmailSender,
    MemoryObserver,
    MemorySentEmails,
)
from orderflow.notifications.domain import Notifier


@dataclass
class Fakes:
    """A notifier over in-memory ports, with the ports at hand for assertions."""

    notifier: Notifier
    sender: MemoryEmailSender
    once: MemoryOnceOnly
    sent: MemorySentEmails
    observer: MemoryObserver


@pytest.fixture
def fakes() -> Fakes:
    sender, once, sent, observer = (
        MemoryEmailSender(),
        MemoryOnceOnly(),
        MemorySentEmails(),
        MemoryObserver(),
    )
    notifier = Notifier(sender=sender, once=once, sent=sent, observer=observer)
    return Fakes(notifier, sender, once, sent, observer)
