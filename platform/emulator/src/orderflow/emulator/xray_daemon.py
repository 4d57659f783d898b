"""A local X-Ray daemon: segments arrive over UDP, leave as PutTraceSegments calls.

On AWS the daemon (built into Lambda) listens on ``AWS_XRAY_DAEMON_ADDRESS`` for segment
documents (a JSON header line, then the document) and uploads them in batches with
PutTraceSegments. Locally nothing does that, so the functions' segments would be lost; this
daemon does the same job against the embedded AWS.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_xray import XRayClient

MAX_BATCH = 50  # PutTraceSegments takes at most 50 documents per call
FLUSH_SECONDS = 0.2


class XRayDaemon:
    """Listens on a UDP port of 127.0.0.1 and uploads what it receives."""

    def __init__(self, xray: XRayClient, port: int = 0) -> None:
        self._xray = xray
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", port))
        self._socket.settimeout(FLUSH_SECONDS)
        self._stop = threading.Event()
        self._flushes: queue.SimpleQueue[threading.Event] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="xray-daemon", daemon=True)
        self.uploaded = 0
        self.rejected = 0

    @property
    def address(self) -> str:
        """The value for AWS_XRAY_DAEMON_ADDRESS."""
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def start(self) -> XRayDaemon:
        self._thread.start()
        return self

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything received so far is uploaded; False if that took too long."""
        done = threading.Event()
        self._flushes.put(done)
        return done.wait(timeout)

    def stop(self) -> None:
        """Upload what is pending and stop listening."""
        self._stop.set()
        self._thread.join(5)
        self._socket.close()

    def _serve(self) -> None:
        pending: list[str] = []
        while not self._stop.is_set():
            try:
                datagram = self._socket.recv(65536)
            except TimeoutError:
                datagram = b""
            document = _document(datagram)
            if document is not None:
                pending.append(document)
            if pending and (document is None or len(pending) >= MAX_BATCH):
                self._upload(pending)
                pending = []
            if document is None:  # the socket went quiet: all that arrived is uploaded
                while not self._flushes.empty():
                    self._flushes.get().set()
        while True:  # drain what arrived before stop
            try:
                self._socket.settimeout(0)
                document = _document(self._socket.recv(65536))
            except (BlockingIOError, TimeoutError, OSError):
                break
            if document is not None:
                pending.append(document)
        if pending:
            self._upload(pending)

    def _upload(self, documents: list[str]) -> None:
        for start in range(0, len(documents), MAX_BATCH):
            response = self._xray.put_trace_segments(
                TraceSegmentDocuments=documents[start : start + MAX_BATCH]
            )
            rejected = len(response.get("UnprocessedTraceSegments", []))
            self.rejected += rejected
            self.uploaded += len(documents[start : start + MAX_BATCH]) - rejected


def _document(datagram: bytes) -> str | None:
    """The segment document of a daemon datagram, or None if it is not one."""
    header, _, body = datagram.partition(b"\n")
    if not body:
        return None
    try:
        if json.loads(header).get("format") != "json":
            return None
        json.loads(body)
    except (ValueError, AttributeError):
        return None
    return body.decode()
