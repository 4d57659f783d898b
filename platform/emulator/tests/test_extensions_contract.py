"""Every emulator module that changes moto does it as a removable ``Extension``.

The modules are found, not listed: every module of ``orderflow.emulator`` with a module-level
``Extension`` is one. For each, the moto attributes its patches replace are read before
install (a class's or module's own ``__dict__`` entry, a dict's item, or "absent"), and after an
uninstall every one must be the very object it was (``is``), or absent again: an install that
cannot be undone would leak into every later test that runs plain moto.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType

import pytest

import orderflow.emulator
from orderflow.emulator import server
from orderflow.emulator.extension import Extension

ABSENT = object()
"""What a snapshot holds for an attribute its owner does not have itself."""

FORMERLY_PERMANENT = {
    "orderflow.emulator.sfn_callbacks",
    "orderflow.emulator.sns_tracing",
    "orderflow.emulator.xray_queries",
    "orderflow.emulator.sqs_move_tasks",
}
"""Modules that once patched moto for good; each must stay an Extension."""


def _extension_modules() -> dict[str, tuple[ModuleType, list[Extension]]]:
    found: dict[str, tuple[ModuleType, list[Extension]]] = {}
    for info in pkgutil.iter_modules(orderflow.emulator.__path__, "orderflow.emulator."):
        module = importlib.import_module(info.name)
        extensions = [value for value in vars(module).values() if isinstance(value, Extension)]
        if extensions:
            found[info.name] = (module, extensions)
    return found


EXTENSION_MODULES = _extension_modules()


def _current(owner: object, attribute: str) -> object:
    if isinstance(owner, dict):
        return owner.get(attribute, ABSENT)
    return vars(owner).get(attribute, ABSENT)


Snapshot = list[tuple[object, str, object]]
"""(owner, attribute, the object there or ABSENT), in patch order."""


def _snapshot(extensions: list[Extension]) -> Snapshot:
    return [
        (owner, attribute, _current(owner, attribute))
        for extension in extensions
        for owner, attribute in extension.targets()
    ]


def _label(owner: object, attribute: str) -> str:
    name = getattr(owner, "__qualname__", None) or getattr(owner, "__name__", type(owner).__name__)
    return f"{name}.{attribute}"


def _not_restored(before: Snapshot) -> list[str]:
    return [
        _label(owner, attribute)
        for owner, attribute, value in before
        if _current(owner, attribute) is not value
    ]


def _install_and_uninstall(name: str) -> tuple[Callable[[], None], Callable[[], None]]:
    module, _ = EXTENSION_MODULES[name]
    install, uninstall = getattr(module, "install", None), getattr(module, "uninstall", None)
    assert callable(install), f"{name} has an Extension but no install()"
    assert callable(uninstall), f"{name} has an Extension but no uninstall()"
    return install, uninstall


@pytest.fixture
def module_name(request: pytest.FixtureRequest) -> str:
    """An Extension module that no earlier test left installed."""
    name: str = request.param
    _, extensions = EXTENSION_MODULES[name]
    leaked = [e.name for e in extensions if e.installed]
    assert not leaked, f"{leaked} left installed by an earlier test"
    return name


def test_the_modules_that_patched_moto_for_good_are_extensions_now() -> None:
    missing = FORMERLY_PERMANENT - set(EXTENSION_MODULES)

    assert not missing, f"no module-level Extension in {sorted(missing)}"


def test_every_module_the_embedded_aws_installs_is_removable() -> None:
    missing = {module.__name__ for module in server.EXTENSIONS} - set(EXTENSION_MODULES)

    assert not missing, f"the embedded AWS installs {sorted(missing)}, which are not Extensions"


@pytest.mark.parametrize("module_name", sorted(EXTENSION_MODULES), indirect=True)
def test_uninstall_puts_back_exactly_what_install_replaced(module_name: str) -> None:
    # GIVEN an extension module, and what its patches will replace as it is now
    _, extensions = EXTENSION_MODULES[module_name]
    install, uninstall = _install_and_uninstall(module_name)
    before = _snapshot(extensions)
    assert before, f"{module_name}: its extensions replace nothing"

    # WHEN it is installed
    install()
    try:
        # THEN it says so, and every attribute it names is replaced
        assert all(e.installed for e in extensions)
        assert [(o, a) for e in extensions for o, a in e.targets()] == [
            (owner, attribute) for owner, attribute, _ in before
        ]
        unchanged = [
            _label(owner, attribute)
            for owner, attribute, value in before
            if _current(owner, attribute) is value
        ]
        assert not unchanged, f"{module_name}: install left {unchanged} as they were"
    finally:
        # WHEN it is uninstalled
        uninstall()

    # THEN it says so, and every attribute is the very object it was (or absent again)
    assert not any(e.installed for e in extensions)
    assert not _not_restored(before), f"{module_name}: uninstall left {_not_restored(before)}"


@pytest.mark.parametrize("module_name", sorted(EXTENSION_MODULES), indirect=True)
def test_installing_twice_is_undone_by_one_uninstall(module_name: str) -> None:
    # GIVEN an extension module installed twice
    _, extensions = EXTENSION_MODULES[module_name]
    install, uninstall = _install_and_uninstall(module_name)
    before = _snapshot(extensions)
    install()
    try:
        once = _snapshot(extensions)
        install()
        # THEN the second install replaced nothing again (no wrapper around a wrapper)
        assert not _not_restored(once), f"{module_name}: a second install changed moto again"
    finally:
        # WHEN it is uninstalled once
        uninstall()

    # THEN moto is as it was before the first install
    assert not any(e.installed for e in extensions)
    assert not _not_restored(before), f"{module_name}: uninstall left {_not_restored(before)}"
