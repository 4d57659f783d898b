"""EventBridge rule targets that start a Step Functions execution (moto delivers to a few only).

Per the EventBridge user guide, a target receives the matched event as JSON unless the target
says otherwise: ``Input`` (a constant JSON text), ``InputPath`` (a JSONPath into the event) or
``InputTransformer`` (paths map and template). A Step Functions target
(``arn:aws:states:...:stateMachine:NAME``) starts one execution of that state machine with that
input. A disabled rule delivers nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from orderflow.platform.emulator.extension import Extension, Patch

LOGGER = logging.getLogger(__name__)


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """The JSON text a target receives for ``event``, per its Input settings."""
    if target.get("Input"):
        return str(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext.parser import parse  # noqa: PLC0415  (moto's own dependency)

        matches = parse(target["InputPath"]).find(event)
        return json.dumps(matches[0].value if matches else None, default=str)
    if target.get("InputTransformer"):
        from moto.events.utils import EventTemplateParser  # noqa: PLC0415

        transformer = target["InputTransformer"]
        shaped = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,  # type: ignore[arg-type]
        )
        return json.dumps(shaped, default=str)
    public = {k: v for k, v in event.items() if k != "ingestion-time"}
    return json.dumps(public, default=str)


def start_state_machine(arn: str, execution_input: str) -> str:
    """Start an execution on the Step Functions backend the API serves; return its ARN."""
    from moto.stepfunctions.responses import get_backend  # noqa: PLC0415

    parts = arn.split(":")
    backend = get_backend(parts[4], parts[3])
    execution = backend.start_execution(
        arn, name=str(uuid.uuid4()), execution_input=execution_input
    )
    return str(execution.execution_arn)


def _patches() -> list[Patch]:
    from moto.events.models import Rule  # noqa: PLC0415

    moto_send: Callable[..., None] = Rule.send_to_targets

    def send_to_targets(
        self: Rule, original_event: dict[str, Any], transform_input: bool = True
    ) -> None:
        if self.state != "ENABLED":
            return
        moto_send(self, original_event, transform_input)
        if not self.event_pattern.matches_event(original_event):  # type: ignore[arg-type]
            return
        for target in self.targets:
            parts = str(target["Arn"]).split(":")
            if len(parts) < 7 or parts[2] != "states" or parts[5] != "stateMachine":
                continue
            try:
                start_state_machine(target["Arn"], target_input(target, original_event))
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
