"""EventBridge rule targets that start a Step Functions execution (moto delivers to a few only).

Per the EventBridge user guide, a target receives the matched event as JSON unless the target
says otherwise: ``Input`` (a constant JSON text), ``InputPath`` (a JSONPath into the event) or
``InputTransformer`` (paths map and template). A Step Functions target
(``arn:aws:states:...:stateMachine:NAME``) starts one execution of that state machine with that
input. A disabled rule delivers nothing.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from orderflow.emulator.extension import Extension, Patch

LOGGER = logging.getLogger(__name__)


def aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge delivers it: moto's internal fields dropped, ISO 8601 time."""
    public = {k: v for k, v in event.items() if k != "ingestion-time"}
    if isinstance(public.get("time"), int | float):
        # moto stamps a Unix time; EventBridge delivers "2030-01-01T12:00:00Z".
        stamp = datetime.fromtimestamp(float(public["time"]), UTC)
        public["time"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return public


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """The JSON text a target receives for ``event``, per its Input settings."""
    event = aws_event(event)
    if target.get("Input"):
        return str(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext.parser import parse  # noqa: PLC0415  (moto's own dependency)

        matches = parse(target["InputPath"]).find(event)
        return json.dumps(matches[0].value if matches else None, default=str)
    if target.get("InputTransformer"):
        from moto.events.utils import EventTemplateParser  # noqa: PLC0415

        transformer = target["InputTransformer"]
        # moto's parser also fills <aws.events.event.ingestion-time>, a field it keeps apart.
        with_ingestion: Any = {**event, "ingestion-time": 0}
        shaped = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=with_ingestion,
        )
        return json.dumps(shaped, default=str)
    return json.dumps(event, default=str)


def start_state_machine(arn: str, execution_input: str) -> str:
    """Start an execution on the Step Functions backend the API serves; return its ARN."""
    from moto.stepfunctions.responses import get_backend  # noqa: PLC0415

    parts = arn.split(":")
    backend = get_backend(parts[4], parts[3])
    execution = backend.start_execution(
        arn, name=str(uuid.uuid4()), execution_input=execution_input
    )
    return str(execution.execution_arn)


def deliver_to_state_machine(target: dict[str, Any], execution_input: str) -> str:
    """Deliver to one Step Functions target: start its state machine (EventBridge does it with
    the target's ``RoleArn``); return the execution ARN."""
    return start_state_machine(str(target["Arn"]), execution_input)


def is_state_machine(arn: str) -> bool:
    """Whether a target ARN names a Step Functions state machine."""
    parts = arn.split(":")
    return len(parts) >= 7 and parts[2] == "states" and parts[5] == "stateMachine"


def _patches() -> list[Patch]:
    from moto.events.models import Rule  # noqa: PLC0415

    moto_send: Callable[..., None] = Rule.send_to_targets

    def send_to_targets(
        self: Rule, original_event: dict[str, Any], transform_input: bool = True
    ) -> None:
        if self.state != "ENABLED":
            return
        machines = [t for t in self.targets if is_state_machine(str(t["Arn"]))]
        others = [t for t in self.targets if not is_state_machine(str(t["Arn"]))]
        if others:
            # moto raises on a target type it does not know, so it sees the others only: on a
            # copy of the rule, never by swapping the rule's own targets, since a delivery to
            # another event bus runs that bus's rules on this same thread (and the rule may be
            # delivering for another thread meanwhile).
            narrowed = copy.copy(self)
            narrowed.targets = others
            moto_send(narrowed, original_event, transform_input)
        if not machines or not self.event_pattern.matches_event(original_event):  # type: ignore[arg-type]
            return
        for target in machines:
            try:
                deliver_to_state_machine(target, target_input(target, original_event))
            except Exception:
                # EventBridge retries and then drops a failed delivery; one target's
                # failure never stops delivery to the others.
                LOGGER.exception("rule %s: could not start %s", self.name, target["Arn"])

    return [Patch(Rule, "send_to_targets", send_to_targets)]


_EXTENSION = Extension("eventbridge-targets", _patches)


def install() -> None:
    """Deliver matched events to Step Functions targets (and skip disabled rules)."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's targets."""
    _EXTENSION.uninstall()
