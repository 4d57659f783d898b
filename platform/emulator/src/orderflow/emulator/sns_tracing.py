"""SNS passes the publisher's X-Ray trace header on to SQS subscribers, which moto does not.

On AWS, a Publish (or PublishBatch) request's ``X-Amzn-Trace-Id`` header reaches each SQS
subscription's message as its ``AWSTraceHeader`` system attribute (topic tracing PassThrough
or Active), so the consumer continues the publisher's trace. moto drops the header; this module
carries it from the SNS request to the messages that request fans out to. Call :func:`install`
once; it is idempotent.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

TRACE_HEADER = "X-Amzn-Trace-Id"
_PUBLISHING: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "orderflow_sns_trace_header", default=None
)
_INSTALLED = False


def install() -> None:
    """Patch moto's SNS publish handlers and SQS send so trace headers travel."""
    global _INSTALLED  # noqa: PLW0603  (one patch per process)
    if _INSTALLED:
        return
    from moto.sns.responses import SNSResponse  # noqa: PLC0415
    from moto.sqs.models import SQSBackend  # noqa: PLC0415

    SNSResponse.publish = _with_trace_header(SNSResponse.publish)  # type: ignore[method-assign]
    SNSResponse.publish_batch = _with_trace_header(SNSResponse.publish_batch)  # type: ignore[method-assign]
    SQSBackend.send_message = _carrying_trace_header(SQSBackend.send_message)  # type: ignore[method-assign]
    _INSTALLED = True


def _with_trace_header(handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def publish(self: Any) -> Any:
        header = self.headers.get(TRACE_HEADER) if self.headers else None
        if isinstance(header, bytes):
            header = header.decode()
        token = _PUBLISHING.set(header or None)
        try:
            return handler(self)
        finally:
            _PUBLISHING.reset(token)

    return publish


def _carrying_trace_header(send: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(send)
    def send_message(
        backend: Any, queue_name: str, message_body: str, *args: Any, **kwargs: Any
    ) -> Any:
        header = _PUBLISHING.get()
        system_attributes = dict(kwargs.get("system_attributes") or {})
        if header and "AWSTraceHeader" not in system_attributes:
            system_attributes["AWSTraceHeader"] = {"DataType": "String", "StringValue": header}
            kwargs["system_attributes"] = system_attributes
        return send(backend, queue_name, message_body, *args, **kwargs)

    return send_message
