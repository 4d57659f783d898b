"""Routing a request to its service at a flat cost, instead of a directory scan per request.

moto's server (``moto/moto_server/werkzeug_app.py``, ``DomainDispatcherApplication``) picks the
backend of every request inside one process-wide lock: ``get_backend_for_host`` lists moto's
package directory (``moto.backends.list_of_moto_modules``: one ``listdir`` and one ``isdir`` per
entry, some 250 of them) and then tries every backend's URL pattern until one matches. Every
request of every client pays that, one at a time, so the embedded AWS serves one request's
routing while all the others wait: in a profile of the local pipeline, threads waiting on that
lock were the largest single cost of the whole server.

The answer depends only on the host (the service's endpoint name, e.g.
``sqs.us-east-1.amazonaws.com``) and on moto's installed package, which does not change while the
process runs; so it is computed once per host and kept. What a request is routed to is unchanged.

Then the request's handler looks its account's backend up (``BackendDict.__getitem__``), and moto
takes another process-wide lock for that, copies the dict's keys into a list, and compares the
dict with every registered ``BackendDict`` through a Python ``__eq__``, on every lookup (several
per request). Once an account's backend exists and its dict is registered, the lookup is a plain
dict read here; the first lookup, and any after ``BackendDict.reset()`` (which empties every
registered dict), still go through moto's creating path.

Then ``BaseResponse.call_action`` finds the action's method: it lists every function of the
response class (``method_names_from_class``: ``inspect.getmembers``, which looks up and sorts
every attribute of the class and its bases, some 500 for a service like SQS) only to ask whether
the action's name is among them. Here that question is answered for the one name: it is an
attribute of the class or one of its bases and a plain function. The answer is read from the
class as it is at that moment, so a method added or removed later (by an extension) is seen.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

from orderflow.emulator.extension import Extension, Patch

_MISSING = object()


def _cached(get_backend_for_host: Callable[[Any, str | None], Any]) -> Callable[..., Any]:
    routes: dict[str | None, Any] = {}
    lock = threading.Lock()

    def cached_backend_for_host(self: Any, host: str | None) -> Any:
        backend = routes.get(host, _MISSING)
        if backend is _MISSING:
            backend = get_backend_for_host(self, host)
            if backend is not None:
                # An unknown host is not kept: moto prints its hint every time, as before.
                with lock:
                    routes[host] = backend
        return backend

    return cached_backend_for_host


def _fast_lookup(getitem: Callable[[Any, str], Any]) -> Callable[..., Any]:
    from moto.core.base_backend import BackendDict  # noqa: PLC0415

    def lookup(self: Any, account_id: str) -> Any:
        if dict.__contains__(self, account_id) and any(
            registered is self
            for registered in BackendDict._instances  # type: ignore[misc]
        ):
            return dict.__getitem__(self, account_id)
        return getitem(self, account_id)

    return lookup


class MethodNames:
    """The names of a class's functions (``inspect.getmembers(cls, inspect.isfunction)``), for
    ``in`` only: each test looks up the one name asked about."""

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if not any(name in vars(klass) for klass in self._cls.__mro__):
            return False
        try:
            return inspect.isfunction(getattr(self._cls, name))
        except AttributeError:
            return False


def method_names(cls: object) -> MethodNames:
    """What ``call_action`` asks ``method_names_from_class`` for: is an action a method."""
    return MethodNames(cls if isinstance(cls, type) else type(cls))


def _patches() -> list[Patch]:
    from moto.core import responses  # noqa: PLC0415
    from moto.core.base_backend import BackendDict  # noqa: PLC0415
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: PLC0415

    original = DomainDispatcherApplication.get_backend_for_host
    return [
        Patch(DomainDispatcherApplication, "get_backend_for_host", _cached(original)),
        Patch(BackendDict, "__getitem__", _fast_lookup(BackendDict.__getitem__)),
        Patch(responses, "method_names_from_class", method_names),
    ]


_EXTENSION = Extension("request-routing", _patches)


def install() -> None:
    """Route each host once, read an existing account backend without moto's lock, and find an
    action's method without listing the response class."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's routing (a directory scan per request), its locked lookups and its
    listing of every method per request."""
    _EXTENSION.uninstall()
