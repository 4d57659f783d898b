"""Powertools' ``Tracer`` recording through ``orderflow.observability.tracing``: one tracer.

With its default provider, a Tracer on Lambda imports the X-Ray SDK and patches botocore, and
that patch writes the invocation's ``X-Amzn-Trace-Id`` on every request after our own header:
the events a consumer publishes would leave their order's trace. This provider keeps the
Tracer's API (``capture_lambda_handler``, ``capture_method``, ``put_annotation``) and records
into the order's segments instead; it patches nothing and loads no X-Ray SDK.
"""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from orderflow.observability.tracing import Segment, current_segment, traced_subsegment

if TYPE_CHECKING:
    import numbers
    import traceback
    from collections.abc import AsyncIterator, Iterator, Sequence


class RecordedSegment(BaseSegment):
    """A Tracer's view of one of our segments; records nothing when tracing is off (None)."""

    def __init__(self, segment: Segment | None) -> None:
        self.segment = segment

    def close(self, end_time: int | None = None) -> None:
        """The context manager that opened the segment ends and sends it."""

    def add_subsegment(self, subsegment: Any) -> None:
        """Subsegments are linked by their ``parent_id`` and sent on their own."""

    def remove_subsegment(self, subsegment: Any) -> None:
        """Subsegments are linked by their ``parent_id`` and sent on their own."""

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        _annotate(self.segment, key, value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        _describe(self.segment, key, value, namespace)

    def add_exception(
        self, exception: BaseException, stack: list[traceback.StackSummary], remote: bool = False
    ) -> None:
        if self.segment is not None:
            self.segment.error = exception


class SegmentProvider(BaseProvider):
    """Tracer provider whose subsegments and annotations go to the segment in progress."""

    def __init__(self) -> None:
        self.recording = True
        """False when the Tracer is disabled (outside Lambda, POWERTOOLS_TRACE_DISABLED)."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        if not self.recording:
            yield RecordedSegment(None)
            return
        with traced_subsegment(name or "subsegment") as subsegment:
            yield RecordedSegment(subsegment)

    @asynccontextmanager
    async def in_subsegment_async(
        self, name: str | None = None, **kwargs: Any
    ) -> AsyncIterator[BaseSegment]:
        with self.in_subsegment(name, **kwargs) as subsegment:
            yield subsegment

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        if self.recording:
            _annotate(current_segment(), key, value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        if self.recording:
            _describe(current_segment(), key, value, namespace)

    def patch(self, modules: Sequence[str]) -> None:
        raise NotImplementedError(
            f"no library is patched (asked for {', '.join(modules)}): clients carry the trace "
            "through orderflow.observability.propagate_trace_header"
        )

    def patch_all(self) -> None:
        self.patch(["all"])


def _annotate(segment: Segment | None, key: str, value: str | numbers.Number | bool) -> None:
    if segment is not None:
        # X-Ray indexes strings, numbers and booleans; any other number is kept as its text.
        segment.annotations[key] = value if isinstance(value, str | int | float) else str(value)


def _describe(segment: Segment | None, key: str, value: Any, namespace: str) -> None:
    if segment is not None:
        segment.metadata.setdefault(namespace, {})[key] = value


class SegmentTracer(Tracer):
    """Powertools' Tracer, switched off (outside Lambda) without the X-Ray SDK.

    Off, Powertools' own Tracer flips the X-Ray SDK's global switch, importing the SDK; with
    our provider, off means the provider records nothing, so the SDK need not be installed.
    """

    @staticmethod
    def _disable_tracer_provider() -> None:
        """Nothing to switch off beyond ``SegmentProvider.recording``."""
