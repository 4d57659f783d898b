"""``ORDERFLOW_EMULATOR_WITHOUT``: the embedded AWS leaves the named extensions out (to measure
what they save against moto's own behaviour)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orderflow.emulator import clock, server, sns_signing, sqs_index
from orderflow.emulator.clock import EmulatorClock


@pytest.fixture
def two_extensions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(server, "EXTENSIONS", (sqs_index, sns_signing))
    yield
    for module in (sns_signing, sqs_index):
        module.uninstall()
    clock.set_clock(EmulatorClock())


def test_the_named_extensions_are_left_out_and_the_others_installed(
    two_extensions: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(server.WITHOUT_ENV, " sqs_index , ")
    server.install_extensions(EmulatorClock())
    assert not sqs_index._EXTENSION.installed
    assert sns_signing._EXTENSION.installed


def test_without_the_variable_every_extension_is_installed(
    two_extensions: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(server.WITHOUT_ENV, raising=False)
    server.install_extensions(EmulatorClock())
    assert sqs_index._EXTENSION.installed
    assert sns_signing._EXTENSION.installed


def test_an_unknown_name_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="no extension named sqs_idnex"):
        server.extensions_left_out({server.WITHOUT_ENV: "sqs_index,sqs_idnex"})
    assert server.extensions_left_out({}) == frozenset()
