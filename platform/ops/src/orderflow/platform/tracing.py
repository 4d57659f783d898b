"""One order's journey through the fan-out, read back from X-Ray.

Every segment of an order carries the ``order_id`` annotation (the publisher's and each
consumer's per-record work), so a filter expression finds its traces and BatchGetTraces returns
their segments, which ``parent_id`` links into a tree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from orderflow.platform.errors import PlatformError

if TYPE_CHECKING:
    from mypy_boto3_xray import XRayClient

BATCH_GET_LIMIT = 5  # BatchGetTraces takes at most five trace ids per call


class TraceNotFoundError(PlatformError):
    """No trace of the order in the searched window."""


@dataclass
class Span:
    """A segment of the journey with the work it caused beneath it."""

    name: str
    id: str
    trace_id: str
    start: float
    end: float
    annotations: dict[str, Any]
    fault: bool
    children: list[Span] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000

    def to_dict(self, origin: float | None = None) -> dict[str, Any]:
        origin = self.start if origin is None else origin
        return {
            "name": self.name,
            "id": self.id,
            "trace_id": self.trace_id,
            "offset_ms": round((self.start - origin) * 1000, 1),
            "duration_ms": round(self.duration_ms, 1),
            "event_type": self.annotations.get("event_type"),
            "fault": self.fault,
            "children": [c.to_dict(origin) for c in self.children],
        }


def order_journey(xray: XRayClient, order_id: str, *, hours: float = 6) -> list[Span]:
    """The trees of every trace that touched ``order_id`` in the last ``hours``, oldest first."""
    end = datetime.now(UTC) + timedelta(minutes=1)
    summaries = xray.get_trace_summaries(
        StartTime=end - timedelta(hours=hours),
        EndTime=end,
        FilterExpression=f'annotation.order_id = "{order_id}"',
    )["TraceSummaries"]
    trace_ids = [s["Id"] for s in summaries if "Id" in s]
    if not trace_ids:
        raise TraceNotFoundError(f"no trace of order {order_id} in the last {hours:g} hours")
    documents: list[dict[str, Any]] = []
    for start in range(0, len(trace_ids), BATCH_GET_LIMIT):
        response = xray.batch_get_traces(TraceIds=trace_ids[start : start + BATCH_GET_LIMIT])
        for trace in response["Traces"]:
            documents += [json.loads(s["Document"]) for s in trace.get("Segments", [])]
    return build_tree(documents)


def build_tree(documents: list[dict[str, Any]]) -> list[Span]:
    """Link segment documents by ``parent_id``; roots are those whose parent is not present."""
    spans = {
        d["id"]: Span(
            name=d["name"],
            id=d["id"],
            trace_id=d["trace_id"],
            start=float(d["start_time"]),
            end=float(d.get("end_time", d["start_time"])),
            annotations=d.get("annotations") or {},
            fault=bool(d.get("fault") or d.get("error")),
        )
        for d in documents
    }
    roots: list[Span] = []
    for document in documents:
        span = spans[document["id"]]
        parent = spans.get(document.get("parent_id", ""))
        (parent.children if parent else roots).append(span)
    for span in spans.values():
        span.children.sort(key=lambda s: s.start)
    return sorted(roots, key=lambda s: s.start)
