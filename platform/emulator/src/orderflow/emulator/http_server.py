"""The embedded AWS's HTTP front: werkzeug's threaded server, with persistent connections.

werkzeug's server (``werkzeug.serving``, which moto's server mode runs on) ends every response
with ``Connection: close``, so every call a client makes opens a new TCP connection: a connect
for botocore, an accept and a new thread for the server, each time. This front keeps what that
server does right for the embedded AWS and answers HTTP/1.1 requests on the connection they
came on instead:

* one thread per connection, as before: no pool to run out of, so any number of long polls
  (ReceiveMessage with WaitTimeSeconds up to 20 s holds its thread) wait at once while other
  requests are served;
* moto's request handler (``MotoRequestHandler``) builds every request's WSGI environ, so S3
  metadata header names with underscores reach moto as they were sent;
* the request body is read through a stream limited to its ``Content-Length`` (or werkzeug's
  dechunking), and what the application left unread is read after it, so the next request on
  the connection starts where it should;
* the response is buffered and sent with its ``Content-Length``, status, headers and body in
  one write on a ``TCP_NODELAY`` socket (no wait for the client's delayed acknowledgement);
* the connection closes when the client asks (``Connection: close``, or HTTP/1.0), when a
  request's body cannot be delimited, and after an error.

``ConnectionCounts`` is what the front has served (connections accepted and open, requests
answered and in progress), for ``GET /_orderflow/connections``.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.exceptions import ClientDisconnected, InternalServerError
from werkzeug.serving import DechunkedInput, ThreadedWSGIServer
from werkzeug.wsgi import LimitedStream

LOGGER = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass
class ConnectionCounts:
    """TCP connections the front accepted and holds open; requests answered and in progress."""

    accepted: int = 0
    open: int = 0
    requests: int = 0
    in_progress: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def connected(self) -> None:
        with self._lock:
            self.accepted += 1
            self.open += 1

    def disconnected(self) -> None:
        with self._lock:
            self.open -= 1

    def started(self) -> None:
        with self._lock:
            self.in_progress += 1

    def answered(self) -> None:
        with self._lock:
            self.in_progress -= 1
            self.requests += 1

    def as_json(self) -> dict[str, int]:
        with self._lock:
            return {
                "accepted": self.accepted,
                "open": self.open,
                "requests": self.requests,
                "in_progress": self.in_progress,
            }


class KeepAliveServer(ThreadedWSGIServer):
    """werkzeug's thread-per-connection server whose connections outlive one request."""

    def __init__(self, host: str, port: int, app: WsgiApp, connections: ConnectionCounts) -> None:
        self.connections = connections
        super().__init__(host, port, app, KeepAliveRequestHandler)


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, answering each request on a connection that stays open."""

    protocol_version = "HTTP/1.1"
    wbufsize = -1
    """Buffered: status, headers and body leave in one write when the request is done."""
    server: KeepAliveServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.connected()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.connections.disconnected()

    def run_wsgi(self) -> None:
        """Serve one request; werkzeug's own would end the connection after it."""
        self.server.connections.started()
        try:
            self._serve()
        finally:
            self.server.connections.answered()

    def _serve(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        if self.request_version != "HTTP/1.1":
            self.close_connection = True
        self.environ = environ = self.make_environ()
        body = self._body(environ)
        if body is None:
            self.close_connection = True
            self.send_error(400, "Bad Content-Length")
            return
        status, headers, payload = self._respond(environ)
        try:
            # Whatever the application did not read would be taken for the next request.
            if isinstance(body, LimitedStream):
                body.exhaust()
            else:
                while body.read(65536):
                    pass
        except (OSError, ClientDisconnected):
            self.close_connection = True
        self._send(status, headers, payload)

    def _body(self, environ: dict[str, Any]) -> LimitedStream | DechunkedInput | None:
        """The request body as the application reads it; None if its length is not valid."""
        stream = environ["wsgi.input"]
        if isinstance(stream, DechunkedInput):
            return stream
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length < 0:
            return None
        # No Content-Length and not chunked: HTTP/1.1 says the body is empty (RFC 9112 6.3).
        limited = LimitedStream(stream, length)
        environ["wsgi.input"] = limited
        return limited

    def _respond(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[tuple[str, list[tuple[str, str]]]] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            started[:] = [(status, headers)]
            return written.append

        try:
            result = self.server.app(environ, start_response)
            try:
                written.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            LOGGER.exception("error on request %s %s", self.command, self.path)
            self.close_connection = True
            written.clear()
            written.extend(InternalServerError()(environ, start_response))
        status, headers = started[0]
        return status, headers, b"".join(written)

    def _send(self, status: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        names = set()
        for name, value in headers:
            self.send_header(name, value)
            names.add(name.lower())
        bodiless = code in _NO_BODY_STATUSES or 100 <= code < 200
        if "content-length" not in names and not bodiless and self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and not bodiless and self.command != "HEAD":
            self.wfile.write(payload)


def make_server(
    host: str, port: int, app: WsgiApp, connections: ConnectionCounts | None = None
) -> KeepAliveServer:
    """The embedded AWS's server for ``app`` on ``host``:``port`` (0: a free port), counting
    into ``connections``."""
    return KeepAliveServer(host, port, app, connections or ConnectionCounts())
