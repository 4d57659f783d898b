"""Step Functions that really run: moto's execution mode, and stacks that deploy into it.

moto 5 runs state machines (its Amazon States Language interpreter) when its user config has
``stepfunctions.execute_state_machine`` set; the interpreter calls AWS SDK integrations back on
the moto server at ``MOTO_PORT``, which the embedded AWS sets to its own port. The API then
serves a separate backend, so a state machine created by a CloudFormation stack would be
invisible to it: here CloudFormation creates, updates and deletes in whichever backend the API
serves.

CloudFormation's AWS::StepFunctions::StateMachine takes the definition as ``DefinitionString``,
as an object in ``Definition``, or from ``DefinitionS3Location``, with ``${name}`` placeholders
replaced from ``DefinitionSubstitutions`` (moto reads ``DefinitionString`` only), and with its
``TracingConfiguration`` (which moto drops; ``sfn_tracing`` sends a traced machine's X-Ray
traces).

A Wait state's ``Seconds`` / ``SecondsPath`` is a duration AWS defines, so it runs on the
emulator clock like every other one (a visibility timeout, a metric period): a workflow that
waits one visibility timeout of its queue waits as long as that timeout lasts here. A
``Timestamp`` wait names a moment, not a duration, and is left alone.

moto's executing backend takes a StartExecution without a name as the name ``None`` (every such
execution then shares one ARN, and the second is refused as ``ExecutionAlreadyExists``) and does
not check the name at all; AWS generates a UUID and validates the name, as moto's default backend
does. Its worker also builds the execution's environment on the execution's own thread, so a
StopExecution that arrives before that thread ran failed with an internal error; here the
environment exists before the thread starts, a stop that early aborts the execution, and
StopExecution answers with the stop date (moto's answer had none until the thread wound down).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from orderflow.emulator.clock import current_clock
from orderflow.emulator.extension import Extension, Patch

_STOP_CHECK_SECONDS = 0.05
"""How often, at most, a Wait state looks again whether its execution was stopped."""


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


def tracing_configuration(properties: Mapping[str, Any]) -> dict[str, bool] | None:
    """The API's ``tracingConfiguration`` of a resource's ``TracingConfiguration`` (``None``
    when the template sets none)."""
    tracing = properties.get("TracingConfiguration")
    if not isinstance(tracing, Mapping):
        return None
    enabled = tracing.get("Enabled", False)
    return {"enabled": enabled is True or str(enabled).lower() == "true"}


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
            tracingConfiguration=tracing_configuration(properties),
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

    def update_from_cloudformation_json(  # noqa: PLR0917 (moto's signature)
        cls: type[StateMachine],
        /,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> StateMachine:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("StateMachineName", original_resource.name)
        if name != original_resource.name:
            # A new name replaces the machine: create the new one, then delete the old.
            cloudformation_json["Properties"] = original_resource.get_cfn_properties(properties)
            replacement = cls.create_from_cloudformation_json(
                name, cloudformation_json, account_id, region_name
            )
            cls.delete_from_cloudformation_json(
                original_resource.arn, cloudformation_json, account_id, region_name
            )
            return replacement
        backend = get_backend(account_id, region_name)
        try:
            definition: str | None = definition_text(properties, account_id, region_name)
        except DefinitionError:
            definition = None
        machine = backend.update_state_machine(
            original_resource.arn,
            definition=definition,
            role_arn=properties.get("RoleArn"),
            tracing_configuration=tracing_configuration(properties) or {"enabled": False},
        )
        backend.tagger.tag_resource(machine.arn, cfn_to_api_tags(properties.get("Tags", [])))
        return machine

    def wait_on_the_clock(self: Any, env: Any) -> None:
        deadline = time.monotonic() + current_clock().real(self._get_wait_seconds(env=env))
        # The program-state event is set (and at once cleared) when the execution stops; a stop
        # between the check and the wait would be missed, so the wait re-checks in short slices.
        while env.is_running() and (left := deadline - time.monotonic()) > 0:
            env.program_state_event.wait(min(left, _STOP_CHECK_SECONDS))

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
            "update_from_cloudformation_json",
            classmethod(update_from_cloudformation_json),
        ),
        Patch(
            StateMachine,
            "delete_from_cloudformation_json",
            classmethod(delete_from_cloudformation_json),
        ),
        *_execution_patches(),
    ]


def _execution_patches() -> list[Patch]:
    """Unnamed executions get a UUID, names are checked, and a stop is never lost."""
    from moto.stepfunctions.parser.api import ExecutionStatus  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.component.eval_component import (  # noqa: PLC0415
        EvalComponent,
    )
    from moto.stepfunctions.parser.asl.component.program.program import Program  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramRunning  # noqa: PLC0415
    from moto.stepfunctions.parser.backend.execution import (  # noqa: PLC0415
        BaseExecutionWorkerCommunication,
        Execution,
    )
    from moto.stepfunctions.parser.backend.execution_worker import (  # noqa: PLC0415
        ExecutionWorker,
    )
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: PLC0415
    from moto.stepfunctions.parser.utils import TMP_THREADS  # noqa: PLC0415

    def stop_dated(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        # StopExecution answers with the stop date; moto's worker records one only once the
        # execution's thread has wound down, after the answer is sent.
        if self.exec_status == ExecutionStatus.RUNNING and self.stop_date is None:
            self.stop_date = stop_date
        stop_execution(self, stop_date, error, cause)

    def reflect_keeping_stop_date(self: Any) -> None:
        stopped_at = self.execution.stop_date
        reflect_status(self)
        if stopped_at is not None:
            self.execution.stop_date = stopped_at

    start_execution = StepFunctionsParserBackend.start_execution
    stop_execution = Execution.stop
    reflect_status: Callable[[Any], None] = (
        BaseExecutionWorkerCommunication._reflect_execution_status
    )
    start_worker: Callable[[Any], None] = ExecutionWorker.start
    evaluation_environment = ExecutionWorker._get_evaluation_environment

    def start_named_execution(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        if name:
            self._validate_name(name)
        return start_execution(
            self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
        )

    def start_with_environment(self: Any) -> None:
        # Running from the start, so that a stop before the first state is not a no-op.
        self.env = evaluation_environment(self)
        self.env._program_state = ProgramRunning()  # type: ignore[no-untyped-call]
        start_worker(self)

    def eval_unless_stopped(self: Any, env: Any) -> None:
        # moto's Program.eval, except that it leaves an execution already stopped stopped (it
        # set the first state unconditionally, which fails once the program is stopped).
        with env._state_mutex:
            if env.is_running():
                env.next_state_name = self.start_at.start_at_name
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        worker = threading.Thread(target=EvalComponent.eval, args=(self, env), daemon=True)
        TMP_THREADS.append(worker)
        worker.start()
        worker.join(timeout=timeout)
        if worker.is_alive():
            env.set_timed_out()

    def prepared_environment(self: Any) -> Any:
        return self.env if self.env is not None else evaluation_environment(self)

    return [
        Patch(StepFunctionsParserBackend, "start_execution", start_named_execution),
        Patch(ExecutionWorker, "start", start_with_environment),
        Patch(Program, "eval", eval_unless_stopped),
        Patch(ExecutionWorker, "_get_evaluation_environment", prepared_environment),
        Patch(Execution, "stop", stop_dated),
        Patch(
            BaseExecutionWorkerCommunication,
            "_reflect_execution_status",
            reflect_keeping_stop_date,
        ),
    ]


_EXTENSION = Extension("stepfunctions-execution", _patches)


def install() -> None:
    """Run state machines for real, including those CloudFormation deploys."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's default (executions stay RUNNING and do nothing)."""
    _EXTENSION.uninstall()
