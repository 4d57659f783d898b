"""SQS event source mappings are polled by the local runtime, not invoked inline by moto.

moto attaches an SQS event source mapping to its queue and, on every SendMessage, receives a
batch and invokes the function in a Docker container. There is no Docker here, and that inline
receive would also bump receive counts behind the consumers' backs. Lambda's real behaviour is
a poller that long-polls the queue: the local runtime does that (``local.pollers``), reading the
mapping's settings from moto. So the mapping is recorded (and listed, enabled, with its batch
size, window and scaling config) but never attached to the queue for inline delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderflow.emulator.extension import Extension, Patch


def _patches() -> list[Patch]:
    from moto.awslambda.models import LambdaBackend  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    moto_create: Callable[..., Any] = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> Any:
        mapping = moto_create(self, spec)
        if str(mapping.event_source_arn).split(":")[2] == "sqs":
            for queue in sqs_backends[self.account_id][self.region_name].queues.values():
                if queue.queue_arn == mapping.event_source_arn:
                    queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    return [Patch(LambdaBackend, "create_event_source_mapping", create_event_source_mapping)]


_EXTENSION = Extension("lambda-sqs-mappings", _patches)


def install() -> None:
    """Record SQS event source mappings without moto's inline invocation."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's inline invocation."""
    _EXTENSION.uninstall()
