"""Step Functions SendTaskFailure with its ``cause``, which moto's response handler drops.

The Step Functions API reference for SendTaskFailure
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html) takes
a task token with an ``error`` code and a ``cause`` ("a more detailed explanation of the cause
of the failure"), and the waiting task fails with both: its Catch sees them as ``Error`` and
``Cause``. moto's handler forwards only ``error`` to the interpreter, so a rejected incident
would lose its reason. This extension replaces the handler with one that forwards both.
"""

from __future__ import annotations

from typing import Any

from orderflow.emulator.extension import Extension, Patch


def _send_task_failure(self: Any) -> Any:
    from moto.core.responses import EmptyResult  # noqa: PLC0415

    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"),
        error=self._get_param("error"),
        cause=self._get_param("cause"),
    )
    return EmptyResult()


def _patches() -> list[Patch]:
    from moto.stepfunctions.responses import StepFunctionResponse  # noqa: PLC0415

    return [Patch(StepFunctionResponse, "send_task_failure", _send_task_failure)]


_EXTENSION = Extension("sfn-callbacks", _patches)


def install() -> None:
    """Make moto's SendTaskFailure forward ``cause`` as AWS does."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's SendTaskFailure (``cause`` dropped)."""
    _EXTENSION.uninstall()
