"""Figures as ratios against a floor measured in the same run, and the targets they answer to.

The machines benchmarks run on are shared and noisy, so no figure is an absolute time: each run
measures the floor and the subject back to back, and a figure is the median over runs of
subject / floor. Absolute medians are kept beside it for the reader, never judged.
"""

from __future__ import annotations

import enum
import json
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class BenchError(RuntimeError):
    """A benchmark could not produce its figure (the message says what is missing)."""


def module_json(root: Path, module: str, args: Sequence[str], timeout: float) -> Any:
    """``python -m module args`` in a fresh interpreter of this Python, from ``root``; what it
    printed, read as JSON. Raises OSError, subprocess.SubprocessError (it failed or overran
    ``timeout``) or ValueError (its output is not JSON)."""
    done = subprocess.run(  # noqa: S603  (this interpreter, our own module)
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
        cwd=root,
    )
    return json.loads(done.stdout)


def median(values: Sequence[float]) -> float:
    """The median of at least one value."""
    if not values:
        raise BenchError("no measurements to take the median of")
    return float(statistics.median(values))


def ratio(subject: float, floor: float) -> float:
    """``subject`` as a multiple of ``floor`` (the floor must be positive)."""
    if floor <= 0:
        raise BenchError(f"floor must be positive, got {floor}")
    return subject / floor


@dataclass(frozen=True)
class Paired:
    """Floor and subject measured back to back, once per run."""

    floors: tuple[float, ...]
    subjects: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.floors) != len(self.subjects) or not self.floors:
            raise BenchError("paired measurements need the same, non-zero number of runs")

    @property
    def ratio(self) -> float:
        """Median over runs of subject / floor: each run's pair saw the same machine load."""
        return median([ratio(s, f) for f, s in zip(self.floors, self.subjects, strict=True)])

    @property
    def floor(self) -> float:
        return median(self.floors)

    @property
    def subject(self) -> float:
        return median(self.subjects)

    @property
    def runs(self) -> int:
        return len(self.floors)


def measure_rounds(measures: Sequence[Callable[[], float]], runs: int) -> list[tuple[float, ...]]:
    """Each of ``measures`` once per run, ``runs`` times; one tuple of results per measure.

    The order rotates from run to run, so a machine that warms up (or gets busier) during a
    run does not favour whichever measure always goes first.
    """
    if runs < 1:
        raise BenchError(f"runs must be at least 1, got {runs}")
    results: list[list[float]] = [[] for _ in measures]
    for run in range(runs):
        for step in range(len(measures)):
            index = (run + step) % len(measures)
            results[index].append(measures[index]())
    return [tuple(values) for values in results]


def measure_paired(floor: Callable[[], float], subject: Callable[[], float], runs: int) -> Paired:
    """``floor`` and ``subject`` measured back to back in each of ``runs`` runs."""
    floors, subjects = measure_rounds([floor, subject], runs)
    return Paired(floors, subjects)


RATIO = "x"
SHARE = "share"
MEGABYTES = "MB"
USD_PER_MILLION_ORDERS = "USD per 1M orders"


class Bound(enum.StrEnum):
    AT_MOST = "<="
    AT_LEAST = ">="


@dataclass(frozen=True)
class Target:
    """What a figure should be: at most or at least ``limit`` (in the figure's unit)."""

    bound: Bound
    limit: float

    def met(self, value: float) -> bool:
        """Whether ``value`` meets the target."""
        if self.bound is Bound.AT_MOST:
            return value <= self.limit
        return value >= self.limit

    def shortfall(self, value: float) -> float:
        """How far ``value`` is from the target, in the figure's unit (0 when met)."""
        if self.met(value):
            return 0.0
        return abs(value - self.limit)


def at_most(limit: float) -> Target:
    return Target(Bound.AT_MOST, limit)


def at_least(limit: float) -> Target:
    return Target(Bound.AT_LEAST, limit)


@dataclass(frozen=True)
class Figure:
    """One line of the results table: a measured value beside its target (if it has one)."""

    section: str
    subject: str
    value: float | None
    """None when the figure could not be measured (``detail`` says why)."""
    unit: str
    target: Target | None = None
    detail: str = ""
    why: str = ""
    """What makes the figure what it is: shown when it misses its target."""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.target.met(self.value)

    def as_json(self) -> dict[str, Any]:
        """The figure for the JSON results file."""
        return {
            "section": self.section,
            "subject": self.subject,
            "value": self.value,
            "unit": self.unit,
            "target": None
            if self.target is None
            else {"bound": self.target.bound.value, "limit": self.target.limit},
            "met": self.met,
            "detail": self.detail,
            "why": self.why,
            "data": self.data,
        }
