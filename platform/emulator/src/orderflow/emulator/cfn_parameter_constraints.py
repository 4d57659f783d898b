"""CloudFormation refuses parameter values that break the template's constraints; moto takes them.

The template's Parameters section
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html)
declares each parameter's ``Type`` and constraints: ``AllowedValues``, ``AllowedPattern`` (it
"must match the entire parameter value"), ``MinLength`` / ``MaxLength`` (``String`` types),
``MinValue`` / ``MaxValue`` (``Number`` types); a ``Number`` is "an integer or float" that
CloudFormation "validates ... as a number", a ``List<Number>`` validates every member as one,
and a ``CommaDelimitedList`` applies ``AllowedValues`` and ``AllowedPattern`` to each of its
(space-trimmed) members. "Each parameter must be assigned a value at runtime", and a
``Default`` "must adhere to those constraints" too. CreateStack, UpdateStack and
CreateChangeSet check the value each parameter gets (the one supplied, the previous one for
``UsePreviousValue``, or the default) before anything is created or changed, and refuse the
call with a ``ValidationError`` (HTTP 400) that names the parameter:

* ``Parameters: [A, B] must have values`` (every parameter with no value and no default);
* ``Parameter 'P' must be a number.``;
* ``Parameter 'P' must be one of AllowedValues``;
* ``Parameter 'P' must match pattern <AllowedPattern>``;
* ``Parameter 'P' must contain at least <MinLength> characters`` / ``at most <MaxLength>``;
* ``Parameter 'P' must be a number not less than <MinValue>`` / ``not greater than <MaxValue>``;
* with a ``ConstraintDescription``, a broken constraint reads ``Parameter P failed to satisfy
  constraint: <ConstraintDescription>`` instead ("A string that explains a constraint when the
  constraint is violated").

Those are CloudFormation's words as its responses carry them; the ``MaxLength`` one is the
``MinLength`` form with "at most" (not seen in a response). moto checks none of this (a
non-numeric ``Number`` even fails with an internal error), refuses a missing value as ``Missing
parameter P`` on CreateStack and UpdateStack only, and on CreateChangeSet not before the change
set executes.

An SSM-typed parameter's value is the Systems Manager parameter's name, and CloudFormation "can
perform validation on Systems Manager parameter keys, but not on their corresponding values":
its constraints apply to the name, as a string. Lists of AWS-specific types
(``List<AWS::EC2::Subnet::Id>``) are validated by AWS against the account, not here.

The embedded AWS installs this before ``cfn_sam_deploy``, so a SAM template's parameters are
checked on the template the transform produced (its Parameters section, which the transform
keeps as it is).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from orderflow.emulator.extension import Extension, Patch

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NUMBER_LIST = "List<Number>"
_STRING_LIST = "CommaDelimitedList"


class ParameterValueError(ValueError):
    """A parameter value CloudFormation refuses; the message is CloudFormation's."""


def as_text(value: object) -> str:
    """A template or stack value as the string CloudFormation sees (YAML ``true`` is ``true``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(as_text(v) for v in value)
    return str(value)


def check_parameters(template: Mapping[str, Any], values: Mapping[str, object]) -> None:
    """Raise ``ParameterValueError`` unless every declared parameter gets a value that keeps its
    constraints: the one in ``values`` (supplied or previous), else its ``Default``."""
    slots = template.get("Parameters") or {}
    if not isinstance(slots, Mapping):
        return
    effective: dict[str, str] = {}
    missing = []
    for name, slot in slots.items():
        value = values.get(name)
        if value is None and isinstance(slot, Mapping):
            value = slot.get("Default")
        if value is None:
            missing.append(str(name))
        else:
            effective[str(name)] = as_text(value)
    if missing:
        raise ParameterValueError(f"Parameters: [{', '.join(missing)}] must have values")
    for name, slot in slots.items():
        if isinstance(slot, Mapping):
            _check_one(str(name), slot, effective[str(name)])


def _check_one(name: str, slot: Mapping[str, Any], value: str) -> None:
    kind = str(slot.get("Type", "String"))
    if kind == _NUMBER_LIST:
        if not all(_NUMBER.fullmatch(member.strip()) for member in value.split(",")):
            raise ParameterValueError(f"Parameter '{name}' must be a number.")
        return
    if kind == _STRING_LIST:
        for member in value.split(","):
            _check_constraint(name, slot, _allowed(name, slot, member.strip()))
        return
    if kind.startswith("List<"):
        return
    if kind == "Number":
        if not _NUMBER.fullmatch(value):
            raise ParameterValueError(f"Parameter '{name}' must be a number.")
        _check_constraint(name, slot, _allowed(name, slot, value) or _bounds(name, slot, value))
        return
    # String, an AWS-specific type or an SSM parameter's name: constraints on the string.
    _check_constraint(name, slot, _allowed(name, slot, value) or _lengths(name, slot, value))


def _check_constraint(name: str, slot: Mapping[str, Any], broken: str | None) -> None:
    """Refuse with ``broken`` (the constraint's own message) or the ConstraintDescription."""
    if broken is None:
        return
    description = slot.get("ConstraintDescription")
    if description is not None:
        raise ParameterValueError(
            f"Parameter {name} failed to satisfy constraint: {as_text(description)}"
        )
    raise ParameterValueError(broken)


def _allowed(name: str, slot: Mapping[str, Any], value: str) -> str | None:
    """The AllowedValues or AllowedPattern message ``value`` breaks, if any."""
    allowed = slot.get("AllowedValues")
    if isinstance(allowed, list) and value not in {as_text(v) for v in allowed}:
        return f"Parameter '{name}' must be one of AllowedValues"
    pattern = slot.get("AllowedPattern")
    if pattern is not None:
        try:
            matched = re.fullmatch(as_text(pattern), value)
        except re.error as exc:
            raise ParameterValueError(
                f"Template error: Parameter '{name}' AllowedPattern is not a valid regular "
                f"expression: {exc}"
            ) from exc
        if matched is None:
            return f"Parameter '{name}' must match pattern {as_text(pattern)}"
    return None


def _lengths(name: str, slot: Mapping[str, Any], value: str) -> str | None:
    shortest = _bound(name, slot, "MinLength")
    if shortest is not None and len(value) < shortest:
        return f"Parameter '{name}' must contain at least {as_text(slot['MinLength'])} characters"
    longest = _bound(name, slot, "MaxLength")
    if longest is not None and len(value) > longest:
        return f"Parameter '{name}' must contain at most {as_text(slot['MaxLength'])} characters"
    return None


def _bounds(name: str, slot: Mapping[str, Any], value: str) -> str | None:
    number = Decimal(value)
    lowest = _bound(name, slot, "MinValue")
    if lowest is not None and number < lowest:
        return f"Parameter '{name}' must be a number not less than {as_text(slot['MinValue'])}"
    highest = _bound(name, slot, "MaxValue")
    if highest is not None and number > highest:
        return f"Parameter '{name}' must be a number not greater than {as_text(slot['MaxValue'])}"
    return None


def _bound(name: str, slot: Mapping[str, Any], key: str) -> Decimal | None:
    """A constraint's number from the template (``5`` or ``"5"``); None when not declared."""
    if key not in slot:
        return None
    try:
        return Decimal(as_text(slot[key]))
    except InvalidOperation as exc:
        raise ParameterValueError(
            f"Template error: Parameter '{name}' {key} must be a number"
        ) from exc


def _previous_values(stack: Any, incoming: list[dict[str, Any]]) -> dict[str, object]:
    """UpdateStack's values: each supplied one, or for ``UsePreviousValue`` the one in effect
    (the value the stack was given, else its template's default)."""
    given: Mapping[str, object] = stack.parameters or {}
    former = (stack.template_dict or {}).get("Parameters") or {}
    values: dict[str, object] = {}
    for parameter in incoming:
        key = parameter["ParameterKey"]
        if "ParameterValue" in parameter:
            values[key] = parameter["ParameterValue"]
        elif parameter.get("UsePreviousValue"):
            previous = given.get(key)
            if previous is None:
                previous = (former.get(key) or {}).get("Default")
            values[key] = previous
    return values


def _checked(template: Any, values: Mapping[str, object]) -> None:
    """Check ``template`` (text, or moto's parsed dict) as CloudFormation would, or refuse."""
    from moto.cloudformation.exceptions import ValidationError  # noqa: PLC0415
    from moto.cloudformation.models import Stack  # noqa: PLC0415

    if not template:
        return
    # A body YAML reads as a scalar is not a template: moto's own parsing refuses it later.
    document: object = template if isinstance(template, Mapping) else Stack.parse_template(template)
    if not isinstance(document, Mapping):
        return
    try:
        check_parameters(document, values)
    except ParameterValueError as exc:
        raise ValidationError(message=str(exc)) from exc


def _patches() -> list[Patch]:
    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415

    moto_create_stack: Callable[..., Any] = CloudFormationBackend.create_stack
    moto_update_stack: Callable[..., Any] = CloudFormationBackend.update_stack
    moto_create_change_set: Callable[..., Any] = CloudFormationBackend.create_change_set

    # moto's responses call these backend methods with keyword arguments only.
    def create_stack(self: CloudFormationBackend, **kw: Any) -> Any:
        _checked(kw["template"], kw["parameters"])
        return moto_create_stack(self, **kw)

    def update_stack(self: CloudFormationBackend, **kw: Any) -> Any:
        stack = self.get_stack(kw["name"])
        _checked(kw["template"], _previous_values(stack, kw["parameters"]))
        return moto_update_stack(self, **kw)

    def create_change_set(self: CloudFormationBackend, **kw: Any) -> Any:
        # moto's response has put each UsePreviousValue's previous value in already.
        _checked(kw["template"], kw["parameters"])
        return moto_create_change_set(self, **kw)

    return [
        Patch(CloudFormationBackend, "create_stack", create_stack),
        Patch(CloudFormationBackend, "update_stack", update_stack),
        Patch(CloudFormationBackend, "create_change_set", create_change_set),
    ]


_EXTENSION = Extension("cfn-parameter-constraints", _patches)


def install() -> None:
    """CreateStack, UpdateStack and CreateChangeSet refuse values that break the constraints."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's parameters (no constraint checked)."""
    _EXTENSION.uninstall()
