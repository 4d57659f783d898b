"""Committed JSON Schemas match the contracts; a breaking change needs a major version bump."""

from __future__ import annotations

import json

import pytest

from orderflow.contracts import SCHEMA_VERSION
from orderflow.contracts.schema import SCHEMA_DIR, breaking_changes, current_schemas


def committed(event_type: str) -> dict[str, object]:
    path = SCHEMA_DIR / f"{event_type}.v{SCHEMA_VERSION}.json"
    assert path.exists(), f"{path.name} missing: run python -m orderflow.contracts.schema"
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


@pytest.mark.parametrize("event_type", sorted(current_schemas()))
def test_no_breaking_change_within_the_major_version(event_type: str) -> None:
    problems = breaking_changes(committed(event_type), current_schemas()[event_type])

    assert problems == [], f"breaking change without a SCHEMA_VERSION bump: {problems}"


@pytest.mark.parametrize("event_type", sorted(current_schemas()))
def test_committed_schemas_are_current(event_type: str) -> None:
    assert committed(event_type) == current_schemas()[event_type], (
        "schemas are stale: run python -m orderflow.contracts.schema and commit"
    )


def test_breaking_changes_are_detected() -> None:
    old = {
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "string"}},
        "required": ["a"],
    }
    new = {
        "properties": {"a": {"type": "integer"}, "c": {"type": "string"}, "d": {"type": "string"}},
        "required": ["a", "d"],
    }

    problems = breaking_changes(old, new)

    assert [p.split(":")[0] for p in problems] == ["a", "b", "d"]
    assert problems[0].startswith("a: type")
    assert problems[1:] == ["b: removed", "d: newly required"]


def test_adding_an_optional_field_is_not_breaking() -> None:
    old = {"properties": {"a": {"type": "string"}}, "required": ["a"]}
    new = {"properties": {"a": {"type": "string"}, "z": {"type": "string"}}, "required": ["a"]}

    assert breaking_changes(old, new) == []
