"""A service's settings, read from the environment its template sets: one error, one helper.

Every service reads its settings through ``required``, ``optional`` and ``one_of`` and fails
with ``ConfigError``, so a function whose stack forgot a variable fails its records with the
variable's name (in the failure ledger, through the consumer shell), the same way in all four.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


class ConfigError(RuntimeError):
    """A setting the function needs is missing or invalid."""


def required(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of ``name`` in ``environ`` (``os.environ`` by default), stripped.

    Raises ``ConfigError`` naming the variable when it is unset or blank.
    """
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set; the service's stack sets it")
    return value


def optional(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of ``name`` (stripped), or ``default`` when it is unset or blank."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or default


def one_of(name: str, choices: tuple[str, ...], environ: Mapping[str, str] | None = None) -> str:
    """``name``'s value, which must be one of ``choices``; the first choice when unset."""
    value = optional(name, choices[0], environ)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


__all__ = ["ConfigError", "one_of", "optional", "required"]
