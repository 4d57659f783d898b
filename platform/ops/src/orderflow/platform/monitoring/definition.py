"""The monitoring workflow's Amazon States Language definition: load, render, validate.

The definition lives in ``workflow.asl.json`` beside this module. Deploy-time settings are
``${Name}`` placeholders, filled by CloudFormation's DefinitionSubstitutions on AWS and by
``render`` locally, so the same text runs on AWS and on the local emulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DEFINITION_PATH = Path(__file__).with_name("workflow.asl.json")
SUBSTITUTIONS = (
    "Stage",
    "PagingTopicArn",
    "FailureLedgerTable",
    "DecisionTimeoutSeconds",
    "PollSeconds",
    "DrainChecks",
    "MaxEscalations",
    "RedriveRate",
)
DEFAULT_SETTINGS = {
    "DecisionTimeoutSeconds": "3600",
    "PollSeconds": "10",
    "DrainChecks": "30",
    "MaxEscalations": "3",
    "RedriveRate": "50",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
_TERMINAL = {"Succeed", "Fail"}


class DefinitionError(ValueError):
    """The definition is malformed: a missing target, an unreachable state, a missing setting."""


def definition_text() -> str:
    """The raw definition with its ``${...}`` placeholders."""
    return DEFINITION_PATH.read_text()


def render(settings: Mapping[str, str]) -> str:
    """The definition with every placeholder replaced, as CloudFormation would."""
    values = {**DEFAULT_SETTINGS, **settings}
    missing = sorted(set(SUBSTITUTIONS) - set(values))
    if missing:
        raise DefinitionError(f"missing settings: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: _value(values, m.group(1)), definition_text())


def _value(values: Mapping[str, str], name: str) -> str:
    if name not in values:
        raise DefinitionError(f"unknown placeholder ${{{name}}}")
    return str(values[name])


def validate(definition: Mapping[str, Any]) -> list[str]:
    """Structural problems: undefined targets, unreachable states, states that never end."""
    return list(_validate_machine(definition, "root"))


def _validate_machine(machine: Mapping[str, Any], where: str) -> Iterator[str]:
    states: Mapping[str, Any] = machine.get("States", {})
    start = str(machine.get("StartAt"))
    if start not in states:
        yield f"{where}: StartAt {start!r} is not a state"
        return
    for name, state in states.items():
        for target in _targets(state):
            if target not in states:
                yield f"{where}.{name}: goes to undefined state {target!r}"
        if state.get("Type") not in _TERMINAL | {"Choice"} and not (
            state.get("End") or state.get("Next")
        ):
            yield f"{where}.{name}: neither Next nor End"
        for index, branch in enumerate(state.get("Branches", [])):
            yield from _validate_machine(branch, f"{where}.{name}[{index}]")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _validate_machine(processor, f"{where}.{name}")
    reachable = _reachable(states, start)
    for name in states:
        if name not in reachable:
            yield f"{where}.{name}: unreachable from {start}"


def _targets(state: Mapping[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [catch["Next"] for catch in state.get("Catch", [])]
    if "Default" in state:
        targets.append(state["Default"])
    return targets


def _reachable(states: Mapping[str, Any], start: str) -> set[str]:
    seen, frontier = set(), [start]
    while frontier:
        name = frontier.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        frontier.extend(_targets(states[name]))
    return seen


def load(settings: Mapping[str, str]) -> dict[str, Any]:
    """The rendered definition as a dict, validated; raises DefinitionError if malformed."""
    definition: dict[str, Any] = json.loads(render(settings))
    problems = validate(definition)
    if problems:
        raise DefinitionError("; ".join(problems))
    return definition
