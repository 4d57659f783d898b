"""Step Functions SendTaskFailure with its ``cause``, which moto's response handler drops.

The AWS API passes both ``error`` and ``cause`` to the waiting task's Catch (as ``Error`` and
``Cause``); moto forwards only ``error``, so a rejected incident would lose its reason. This
replaces moto's handler with one that forwards both. Call :func:`install` once; it is idempotent.
"""

from __future__ import annotations

from typing import Any

_INSTALLED = False


def install() -> None:
    """Make moto's SendTaskFailure forward ``cause`` as AWS does."""
    global _INSTALLED  # noqa: PLW0603  (one patch per process)
    if _INSTALLED:
        return
    from moto.stepfunctions.responses import StepFunctionResponse  # noqa: PLC0415

    StepFunctionResponse.send_task_failure = _send_task_failure  # type: ignore[method-assign]
    _INSTALLED = True


def _send_task_failure(self: Any) -> Any:
    from moto.core.responses import EmptyResult  # noqa: PLC0415

    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"),
        error=self._get_param("error"),
        cause=self._get_param("cause"),
    )
    return EmptyResult()
