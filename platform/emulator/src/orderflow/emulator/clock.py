"""The emulator's clock: AWS durations compressed by one factor, the same everywhere.

A demo cannot wait the minutes that real alarm periods and visibility timeouts take. The local
runtime therefore runs emulated time ``factor`` times faster than wall time, and every duration
AWS defines (an SQS visibility timeout or delay, a metric period, an alarm's evaluation window, a
function timeout, a batching window) takes ``duration / factor`` real seconds. Ages reported back
(ApproximateAgeOfOldestMessage) are scaled the other way, so a threshold written in AWS seconds
keeps its meaning. Factor 1 is AWS time.

``install()`` applies the clock to SQS in moto (visibility timeouts and delays).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from orderflow.emulator.extension import Extension, Patch

CLOCK_FACTOR_ENV = "ORDERFLOW_CLOCK_FACTOR"


class ClockFactorError(ValueError):
    """The clock factor is not a number of at least 1."""


@dataclass(frozen=True)
class EmulatorClock:
    """Converts between emulated (AWS) seconds and real seconds."""

    factor: float = 1.0

    def __post_init__(self) -> None:
        if not self.factor >= 1:
            raise ClockFactorError(f"clock factor must be at least 1, got {self.factor}")

    def real(self, emulated_seconds: float) -> float:
        """How many real seconds an AWS duration takes here."""
        return emulated_seconds / self.factor

    def emulated(self, real_seconds: float) -> float:
        """How many AWS seconds a measured real duration stands for."""
        return real_seconds * self.factor

    def env(self) -> dict[str, str]:
        """The environment that hands this clock to another process."""
        return {CLOCK_FACTOR_ENV: repr(self.factor)}


def clock_from_env(environ: dict[str, str] | None = None) -> EmulatorClock:
    """The clock named by ORDERFLOW_CLOCK_FACTOR (AWS time when unset)."""
    raw = (os.environ if environ is None else environ).get(CLOCK_FACTOR_ENV, "1")
    try:
        return EmulatorClock(float(raw))
    except ValueError as exc:
        raise ClockFactorError(f"{CLOCK_FACTOR_ENV}={raw!r}: {exc}") from exc


_current = EmulatorClock()


def current_clock() -> EmulatorClock:
    """The clock this process's emulator runs on."""
    return _current


def set_clock(clock: EmulatorClock) -> None:
    """Make ``clock`` the one every installed behaviour of this process uses."""
    global _current  # noqa: PLW0603  (one clock per emulator process, by design)
    _current = clock


def _patches() -> list[Patch]:
    from moto.core.utils import unix_time_millis  # noqa: PLC0415
    from moto.sqs.models import Message  # noqa: PLC0415

    def change_visibility(self: Message, visibility_timeout: int) -> None:
        self.visible_at = unix_time_millis() + current_clock().real(int(visibility_timeout)) * 1000

    def delay(self: Message, delay_seconds: int) -> None:
        self.delayed_until = unix_time_millis() + current_clock().real(int(delay_seconds)) * 1000

    return [Patch(Message, "change_visibility", change_visibility), Patch(Message, "delay", delay)]


_EXTENSION = Extension("clock", _patches)


def install() -> None:
    """Run SQS visibility timeouts and delays on the current clock."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's own (wall) time for SQS."""
    _EXTENSION.uninstall()
