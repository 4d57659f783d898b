"""SNS passes the publisher's X-Ray trace header on to SQS subscribers, which moto does not.

On AWS, a Publish (or PublishBatch) request's ``X-Amzn-Trace-Id`` header reaches each SQS
subscription's message as its ``AWSTraceHeader`` system attribute (topic tracing PassThrough
or Active), so the consumer continues the publisher's trace: see "Amazon SNS and AWS X-Ray"
(https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sns.html) and "Active tracing
in Amazon SNS" (https://docs.aws.amazon.com/sns/latest/dg/sns-active-tracing.html). The SQS API
reference for SendMessage names ``AWSTraceHeader`` as the message system attribute that carries
an X-Ray trace header, a String. moto drops the header; this extension carries it from the SNS
request to the messages that request fans out to, and leaves a message that already has an
``AWSTraceHeader`` as it is.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

from orderflow.emulator.extension import Extension, Patch

TRACE_HEADER = "X-Amzn-Trace-Id"
_PUBLISHING: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "orderflow_sns_trace_header", default=None
)


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


def _patches() -> list[Patch]:
    from moto.sns.responses import SNSResponse  # noqa: PLC0415
    from moto.sqs.models import SQSBackend  # noqa: PLC0415

    return [
        Patch(SNSResponse, "publish", _with_trace_header(SNSResponse.publish)),
        Patch(SNSResponse, "publish_batch", _with_trace_header(SNSResponse.publish_batch)),
        Patch(SQSBackend, "send_message", _carrying_trace_header(SQSBackend.send_message)),
    ]


_EXTENSION = Extension("sns-tracing", _patches)


def install() -> None:
    """Carry a publisher's trace header from SNS to the SQS messages it fans out to."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's SNS (trace headers dropped)."""
    _EXTENSION.uninstall()
