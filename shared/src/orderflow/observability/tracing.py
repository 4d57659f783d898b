"""One order's journey as one X-Ray trace, across SNS and SQS, in every consumer's per-record work.

Lambda's own segment for an SQS-triggered invocation belongs to a trace of its own; the order's
trace arrives per record in the SQS ``AWSTraceHeader`` system attribute. ``traced_work`` opens a
segment in that trace for one record's work (annotated with order_id, event_type and service),
and while it is open, SNS publishes made with a client from ``propagate_trace_header`` carry it
on, so events a consumer publishes stay in the same trace.

This module is the only tracer: the services' Powertools ``Tracer`` records through it
(``orderflow.observability.provider``), so no X-Ray SDK is loaded and nothing patches botocore,
whose patch would stamp every request with the invocation's trace instead of the order's.
``traced_subsegment`` records work beneath the entity in progress: a record's segment, or,
outside one, the invocation's function segment that Lambda names in ``_X_AMZN_TRACE_ID``.

Segments go to the X-Ray daemon over UDP (``AWS_XRAY_DAEMON_ADDRESS``, which Lambda sets when
tracing is active), in the daemon's documented wire format. Without that variable nothing is
sent and the work runs untraced.
"""

from __future__ import annotations

import contextvars
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

DAEMON_ADDRESS_ENV = "AWS_XRAY_DAEMON_ADDRESS"
INVOCATION_TRACE_ENV = "_X_AMZN_TRACE_ID"
TRACE_HEADER = "X-Amzn-Trace-Id"
_DAEMON_HEADER = b'{"format": "json", "version": 1}\n'


@dataclass(frozen=True)
class TraceHeader:
    """``Root=1-...;Parent=...;Sampled=1``: the context X-Ray passes between services."""

    root: str
    parent: str | None = None
    sampled: bool = True

    @classmethod
    def parse(cls, value: str | None) -> TraceHeader | None:
        """The header's fields, or None when absent or without a Root."""
        if not value:
            return None
        fields = dict(part.split("=", 1) for part in value.split(";") if "=" in part)
        root = fields.get("Root")
        if not root:
            return None
        return cls(root=root, parent=fields.get("Parent"), sampled=fields.get("Sampled") != "0")

    def render(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        parts.append(f"Sampled={1 if self.sampled else 0}")
        return ";".join(parts)


def new_trace_id() -> str:
    """A trace id in X-Ray's format: version, epoch seconds in hex, 96 random bits."""
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


@dataclass
class Segment:
    """A segment being recorded; its document is sent when the work ends."""

    name: str
    trace_id: str
    parent_id: str | None
    sampled: bool
    annotations: dict[str, str | int | float | bool]
    subsegment: bool = False
    """Sent on its own beneath ``parent_id`` (X-Ray's independent subsegment)."""
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    start_time: float = field(default_factory=time.time)
    end_time: float | None = None
    error: BaseException | None = None

    def header(self) -> TraceHeader:
        """The header that makes downstream work a child of this segment."""
        return TraceHeader(root=self.trace_id, parent=self.id, sampled=self.sampled)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "id": self.id,
            "trace_id": self.trace_id,
            "start_time": self.start_time,
            "end_time": self.end_time if self.end_time is not None else time.time(),
            "annotations": self.annotations,
        }
        if self.subsegment:
            doc["type"] = "subsegment"
        else:
            doc["origin"] = "AWS::Lambda::Function"
        if self.parent_id:
            doc["parent_id"] = self.parent_id
        if self.metadata:
            doc["metadata"] = self.metadata
        if self.error is not None:
            doc["fault"] = True
            doc["cause"] = {
                "exceptions": [
                    {
                        "id": secrets.token_hex(8),
                        "type": type(self.error).__name__,
                        "message": str(self.error)[:200],
                    }
                ]
            }
        return doc


_CURRENT: contextvars.ContextVar[Segment | None] = contextvars.ContextVar(
    "orderflow_segment", default=None
)


def current_segment() -> Segment | None:
    """The segment of the work in progress on this thread, if any."""
    return _CURRENT.get()


def daemon_address(environ: Mapping[str, str] | None = None) -> tuple[str, int] | None:
    """The daemon's UDP address from AWS_XRAY_DAEMON_ADDRESS (``host:port`` or ``udp:h:p ...``)."""
    value = (environ if environ is not None else os.environ).get(DAEMON_ADDRESS_ENV, "").strip()
    if not value:
        return None
    for part in value.split():
        if part.startswith("tcp:"):
            continue
        host, _, port = part.removeprefix("udp:").rpartition(":")
        if host and port.isdigit():
            return host, int(port)
    return None


def invocation_header(environ: Mapping[str, str] | None = None) -> TraceHeader | None:
    """The invocation's own trace, which Lambda sets in ``_X_AMZN_TRACE_ID`` per invocation."""
    variables = environ if environ is not None else os.environ
    return TraceHeader.parse(variables.get(INVOCATION_TRACE_ENV))


def emit(segment: Segment) -> bool:
    """Send a finished segment to the daemon; False when tracing is off, unsampled or refused.

    A document the socket refuses (over a datagram's size, say) is dropped: tracing never fails
    the work it records.
    """
    address = daemon_address()
    if address is None or not segment.sampled:
        return False
    document = json.dumps(segment.document(), separators=(",", ":"), default=str)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.sendto(_DAEMON_HEADER + document.encode(), address)
        except OSError:
            return False
    return True


@contextmanager
def traced_work(
    name: str,
    upstream: TraceHeader | None,
    annotations: Mapping[str, str | int | float | bool],
) -> Iterator[Segment | None]:
    """Record ``name``'s work as a segment of ``upstream``'s trace (a new trace when None).

    Without a daemon to send to, nothing is recorded and nothing allocated (yields None): the
    hot path of every record stays as cheap as untraced code.
    """
    if daemon_address() is None:
        yield None
        return
    segment = Segment(
        name=name,
        trace_id=upstream.root if upstream else new_trace_id(),
        parent_id=upstream.parent if upstream else None,
        sampled=upstream.sampled if upstream else True,
        annotations=dict(annotations),
    )
    with _recording(segment):
        yield segment


@contextmanager
def traced_subsegment(name: str) -> Iterator[Segment | None]:
    """Record ``name``'s work beneath the segment in progress, or the invocation's segment.

    Yields None, recording nothing, without a daemon or outside both (no record's work and no
    ``_X_AMZN_TRACE_ID``).
    """
    if daemon_address() is None:
        yield None
        return
    current = _CURRENT.get()
    parent = current.header() if current is not None else invocation_header()
    if parent is None or parent.parent is None:
        yield None
        return
    subsegment = Segment(
        name=name,
        trace_id=parent.root,
        parent_id=parent.parent,
        sampled=parent.sampled,
        annotations={},
        subsegment=True,
    )
    with _recording(subsegment):
        yield subsegment


@contextmanager
def _recording(segment: Segment) -> Iterator[None]:
    """Make ``segment`` the work in progress; send it when the work ends, however it ends."""
    token = _CURRENT.set(segment)
    try:
        yield
    except BaseException as exc:
        segment.error = exc
        raise
    finally:
        _CURRENT.reset(token)
        segment.end_time = time.time()
        emit(segment)


_Client = TypeVar("_Client")


def propagate_trace_header(client: _Client) -> _Client:
    """Make ``client``'s requests carry the current segment's trace header; return the client."""

    def add_header(request: Any, **_: Any) -> None:
        segment = _CURRENT.get()
        if segment is not None:
            request.headers[TRACE_HEADER] = segment.header().render()

    meta = getattr(client, "meta", None)
    if meta is not None:  # a botocore client; test doubles without an event system pass through
        # before-sign: ahead of sending, so the header is part of the signed request
        meta.events.register("before-sign", add_header)
    return client
