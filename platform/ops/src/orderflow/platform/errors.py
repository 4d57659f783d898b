"""Typed errors of the platform tools. Each message is one line that names the problem."""

from __future__ import annotations


class PlatformError(Exception):
    """Base: something the operator can fix; the CLI prints the message, not a traceback."""


class UnknownServiceError(PlatformError):
    """A command named a service the stage does not have."""

    def __init__(self, service: str, stage: str, known: list[str]) -> None:
        listed = ", ".join(known) if known else "none found"
        super().__init__(f"unknown service {service!r} in stage {stage!r} (known: {listed})")
        self.service = service


class StageResourceError(PlatformError):
    """A resource the platform stack should have created is missing."""
