"""How an emulator module adds a behaviour to moto: named, idempotent, removable patches.

Every behaviour module builds one ``Extension`` listing the moto attributes it replaces. The
embedded AWS installs them all once before it serves; tests install one and remove it again, so
a test of one behaviour never leaks into another test that runs plain moto.

Extensions that replace the same attribute (several wrap ``SQSBackend.send_message`` or
``Queue.add_message``) stack, each wrapping what it found at install. Remove them in the reverse
order of install, as fixtures tear down: removing one first puts back what it found, and with it
drops the wrappers of those installed after it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

_INHERITED = object()


@dataclass(frozen=True)
class Patch:
    """``owner.attribute`` (or ``owner[attribute]`` for a dict) replaced while installed."""

    owner: object
    attribute: str
    replacement: object


class Extension:
    """A named set of patches onto moto; ``install`` twice is the same as once."""

    def __init__(self, name: str, patches: Callable[[], Iterable[Patch]]) -> None:
        self.name = name
        self._patches = patches
        self._originals: list[tuple[object, str, object]] = []
        self._lock = threading.Lock()

    @property
    def installed(self) -> bool:
        return bool(self._originals)

    def targets(self) -> tuple[tuple[object, str], ...]:
        """The ``(owner, attribute)`` pairs the patches replace, in patch order (read-only).

        While installed, those replaced at install; otherwise those an install would replace now
        (the patch list is built, nothing is applied).
        """
        with self._lock:
            if self._originals:
                return tuple((owner, attribute) for owner, attribute, _ in self._originals)
            return tuple((patch.owner, patch.attribute) for patch in self._patches())

    def install(self) -> None:
        """Apply every patch (no-op when already installed)."""
        with self._lock:
            if self._originals:
                return
            for patch in self._patches():
                # A class keeps its own descriptor (staticmethod, property) so that uninstall
                # puts back exactly what was there; an inherited attribute is removed again.
                if isinstance(patch.owner, dict):
                    original = patch.owner.get(patch.attribute, _INHERITED)
                    patch.owner[patch.attribute] = patch.replacement
                else:
                    owned = vars(patch.owner) if isinstance(patch.owner, type) else None
                    if owned is not None:
                        original = owned.get(patch.attribute, _INHERITED)
                    else:
                        original = getattr(patch.owner, patch.attribute)
                    setattr(patch.owner, patch.attribute, patch.replacement)
                self._originals.append((patch.owner, patch.attribute, original))

    def uninstall(self) -> None:
        """Restore what the patches replaced (no-op when not installed)."""
        with self._lock:
            for owner, attribute, original in reversed(self._originals):
                if isinstance(owner, dict):
                    if original is _INHERITED:
                        owner.pop(attribute, None)
                    else:
                        owner[attribute] = original
                elif original is _INHERITED:
                    delattr(owner, attribute)
                else:
                    setattr(owner, attribute, original)
            self._originals.clear()


class Installable(Protocol):
    """An emulator module: ``install()`` and ``uninstall()`` its extension."""

    def install(self) -> None: ...

    def uninstall(self) -> None: ...


@contextlib.contextmanager
def installed(*modules: Installable) -> Iterator[None]:
    """Each module's extension installed for the block, uninstalled in reverse order after."""
    done: list[Installable] = []
    try:
        for module in modules:
            module.install()
            done.append(module)
        yield
    finally:
        for module in reversed(done):
            module.uninstall()
