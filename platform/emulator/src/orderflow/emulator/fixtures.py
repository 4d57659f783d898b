"""pytest fixtures that install emulator extensions for one test (imports pytest: tests only).

A package's conftest makes one in a line::

    atomic_transactions = extension_fixture(dynamodb_transactions, autouse=True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orderflow.emulator.extension import Installable, installed


def extension_fixture(*modules: Installable, autouse: bool = False) -> Callable[..., Any]:
    """A fixture that installs each module's extension for the test, in order, and removes
    them after it in reverse order."""

    def fixture() -> Iterator[None]:
        with installed(*modules):
            yield

    names = ", ".join(getattr(module, "__name__", repr(module)) for module in modules)
    fixture.__doc__ = f"The emulator's {names} installed for the test."
    return pytest.fixture(autouse=autouse)(fixture)
