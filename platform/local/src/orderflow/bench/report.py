"""The results as one Markdown table (printed, and pasted into the README) and as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orderflow.bench.stats import (
    MEGABYTES,
    RATIO,
    SHARE,
    USD_PER_MILLION_ORDERS,
    Bound,
    Figure,
    Target,
)

HEADER = ("Measure", "Subject", "Result", "Target", "", "Detail")


_FORMATS = {
    RATIO: "{:.2f}x",
    MEGABYTES: "{:.1f} MB",
    USD_PER_MILLION_ORDERS: "${:,.2f}",
}


def format_value(value: float | None, unit: str) -> str:
    """A value in its unit, as the table shows it (a rate per second with one decimal)."""
    if value is None:
        return "not measured"
    if unit == SHARE:
        return f"{value * 100:.0f}%"
    if unit in _FORMATS:
        return _FORMATS[unit].format(value)
    if unit.endswith("/s"):
        return f"{value:,.1f} {unit}"
    return f"{value:g} {unit}"


def format_target(target: Target | None, unit: str) -> str:
    """``<= 1.30x``, ``>= 70%``; empty when the figure has no target."""
    if target is None:
        return ""
    sign = "<=" if target.bound is Bound.AT_MOST else ">="
    return f"{sign} {format_value(target.limit, unit)}"


def verdict(figure: Figure) -> str:
    if figure.value is None:
        return "n/a"
    if figure.met is None:
        return ""
    return "met" if figure.met else "MISSED"


def table(figures: Sequence[Figure]) -> str:
    """Every figure beside its target, one Markdown table."""
    rows = [HEADER, tuple("---" for _ in HEADER)]
    rows.extend(
        (
            f.section,
            f.subject,
            format_value(f.value, f.unit),
            format_target(f.target, f.unit),
            verdict(f),
            f.detail.replace("|", "/"),
        )
        for f in figures
    )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def shortfall(figure: Figure) -> str:
    """How far a missed figure is from its target, in its unit."""
    if figure.target is None or figure.value is None:
        return ""
    gap = figure.target.shortfall(figure.value)
    if figure.unit == SHARE:
        return f"{gap * 100:.0f} points short"
    word = "over" if figure.target.bound is Bound.AT_MOST else "short"
    return f"{format_value(gap, figure.unit)} {word}"


def closing_notes(figures: Sequence[Figure], notes: Sequence[str]) -> str:
    """Each missed or unmeasured figure: by how much and why; then the run's general notes."""
    lines = []
    for f in figures:
        if f.value is None:
            lines.append(f"- {f.section}, {f.subject}: not measured: {f.detail}")
        elif f.met is False:
            lines.append(
                f"- {f.section}, {f.subject}: {format_value(f.value, f.unit)} against "
                f"{format_target(f.target, f.unit)} ({shortfall(f)}). {f.why}".rstrip()
            )
    lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines)


def write_results(
    out: Path, figures: Sequence[Figure], notes: Sequence[str], run: dict[str, Any]
) -> Path:
    """Write the figures as JSON under ``out`` (timestamped, and as ``latest.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "run": run,
        "figures": [f.as_json() for f in figures],
        "notes": list(notes),
    }
    text = json.dumps(document, indent=2, sort_keys=False, default=str)
    stamp = str(run["finished_at"]).replace(":", "").replace("-", "")
    path = out / f"bench-{stamp}.json"
    path.write_text(text)
    (out / "latest.json").write_text(text)
    return path
