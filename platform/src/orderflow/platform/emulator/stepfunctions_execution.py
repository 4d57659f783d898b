"""Step Functions that really run: moto's execution mode, and stacks that deploy into it.

moto 5 runs state machines (its Amazon States Language interpreter) when its user config has
``stepfunctions.execute_state_machine`` set; the interpreter calls AWS SDK integrations back on
the moto server at ``MOTO_PORT``, which the embedded AWS sets to its own port. The API then
serves a separate backend, so a state machine created by a CloudFormation stack would be
invisible to it: here CloudFormation creates into whichever backend the API serves.

CloudFormation's AWS::StepFunctions::StateMachine takes the definition as ``DefinitionString``,
as an object in ``Definition``, or from ``DefinitionS3Location``, with ``${name}`` placeholders
replaced from ``DefinitionSubstitutions`` (moto reads ``DefinitionString`` only).

A Wait state's ``Seconds`` / ``SecondsPath`` is a duration AWS defines, so it runs on the
emulator clock like every other one (a visibility timeout, a metric period): a workflow that
waits one visibility timeout of its queue waits as long as that timeout lasts here. A
``Timestamp`` wait names a moment, not a duration, and is left alone.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

from orderflow.platform.emulator.clock import current_clock
from orderflow.platform.emulator.extension import Extension, Patch


class DefinitionError(ValueError):
    """A state machine resource has no definition this emulation can read."""


def definition_text(properties: Mapping[str, Any], account_id: str, region_name: str) -> str:
    """The state machine definition of a CloudFormation resource, substitutions applied."""
    if "DefinitionString" in properties:
        text = str(properties["DefinitionString"])
    elif "Definition" in properties:
        text = json.dumps(properties["Definition"])
    elif "DefinitionS3Location" in properties:
        from moto.s3.models import s3_backends  # noqa: PLC0415

        location = properties["DefinitionS3Location"]
        key = s3_backends[account_id]["aws"].get_object(location["Bucket"], location["Key"])
        if key is None:
            raise DefinitionError(f"no object s3://{location['Bucket']}/{location['Key']}")
        text = key.value.decode()
    else:
        raise DefinitionError("state machine has no Definition, DefinitionString or S3 location")
    substitutions = {k: str(v) for k, v in properties.get("DefinitionSubstitutions", {}).items()}
    return re.sub(r"\$\{([^}]+)\}", lambda m: substitutions.get(m.group(1), m.group(0)), text)


def _patches() -> list[Patch]:
    from moto.core.config import default_user_config  # noqa: PLC0415
    from moto.stepfunctions.models import StateMachine  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.seconds import (  # noqa: PLC0415
        Seconds,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.seconds_path import (  # noqa: PLC0415
        SecondsPath,
    )
    from moto.stepfunctions.responses import get_backend  # noqa: PLC0415
    from moto.stepfunctions.utils import cfn_to_api_tags  # noqa: PLC0415

    def create_from_cloudformation_json(
        cls: type[StateMachine],
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> StateMachine:
        properties = cloudformation_json["Properties"]
        name = properties.get("StateMachineName", resource_name)
        tags = cfn_to_api_tags(properties.get("Tags", []))
        return get_backend(account_id, region_name).create_state_machine(
            name,
            definition_text(properties, account_id, region_name),
            properties.get("RoleArn", ""),
            tags=tags,
        )

    def delete_from_cloudformation_json(
        cls: type[StateMachine],
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> None:
        get_backend(account_id, region_name).delete_state_machine(resource_name)

    def wait_on_the_clock(self: Any, env: Any) -> None:
        deadline = time.monotonic() + current_clock().real(self._get_wait_seconds(env=env))
        # The program-state event is set when the execution stops; anything else that wakes
        # the wait early (as in moto's own loop) just waits for the rest.
        while env.is_running() and (left := deadline - time.monotonic()) > 0:
            env.program_state_event.wait(left)

    sfn_config = dict(default_user_config.get("stepfunctions", {}))
    sfn_config["execute_state_machine"] = True
    return [
        Patch(default_user_config, "stepfunctions", sfn_config),
        Patch(Seconds, "_eval_body", wait_on_the_clock),
        Patch(SecondsPath, "_eval_body", wait_on_the_clock),
        Patch(
            StateMachine,
            "create_from_cloudformation_json",
            classmethod(create_from_cloudformation_json),
        ),
        Patch(
            StateMachine,
            "delete_from_cloudformation_json",
            classmethod(delete_from_cloudformation_json),
        ),
    ]


_EXTENSION = Extension("stepfunctions-execution", _patches)


def install() -> None:
    """Run state machines for real, including those CloudFormation deploys."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's default (executions stay RUNNING and do nothing)."""
    _EXTENSION.uninstall()
