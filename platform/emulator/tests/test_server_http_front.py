"""The embedded AWS's HTTP front: persistent connections, long polls side by side, a clean stop.

A client's calls share one TCP connection (HTTP/1.1 persistent connections, RFC 9112 section 9:
https://www.rfc-editor.org/rfc/rfc9112#section-9), each request framed by its own body, so
nothing of one request is read as the next. Long polls wait as SQS's do, each until a message
arrives (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html:
long polling "returns messages as soon as they become available"), however many wait at once.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from orderflow.emulator import http_server
from orderflow.emulator.server import READY, STOP_TIMEOUT_SECONDS, EmbeddedAws

REGION = "us-east-1"
LONG_POLLS = 32
"""More long polls at once than a server with a pool of worker threads (waitress: 4, cheroot:
10, by default) could hold while it answers the send that ends them."""
GUARD_SECONDS = 60.0


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as embedded:
        yield embedded


def sqs(aws: EmbeddedAws) -> Any:
    return boto3.client("sqs", region_name=REGION, endpoint_url=aws.endpoint_url)


# --- one connection per client ----------------------------------------------------------------


def test_a_clients_sequential_calls_share_one_connection(aws: EmbeddedAws) -> None:
    # GIVEN a queue, and one botocore client that has not called yet
    url = sqs(aws).create_queue(QueueName="one-connection")["QueueUrl"]
    client = sqs(aws)
    before = aws.connections()

    # WHEN it makes 20 calls, one after the other, with and without request bodies
    for number in range(10):
        client.get_queue_url(QueueName="one-connection")
        client.send_message(QueueUrl=url, MessageBody=f"order {number}")
    received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]

    # THEN the server accepted one connection for all of them (the second count's own request
    # came on a connection of its own, which urllib closes)
    after = aws.connections()
    assert after["accepted"] - before["accepted"] - 1 == 1
    assert after["requests"] - before["requests"] == 21 + 1
    assert sorted(m["Body"] for m in received) == sorted(f"order {n}" for n in range(10))


def test_an_s3_upload_and_metadata_with_underscores_arrive_as_sent_on_a_shared_connection(
    aws: EmbeddedAws,
) -> None:
    # User-defined metadata keys are kept as sent, underscores too (moto's request handler
    # keeps their names; https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html);
    # botocore sends a body this large after "Expect: 100-continue".
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=aws.endpoint_url)
    body = os.urandom(3_000_000)
    before = aws.connections()

    s3.create_bucket(Bucket="http-front")
    s3.put_object(Bucket="http-front", Key="a/b c", Body=body, Metadata={"my_key": "one"})
    head = s3.head_object(Bucket="http-front", Key="a/b c")
    fetched = s3.get_object(Bucket="http-front", Key="a/b c")["Body"].read()

    assert head["Metadata"] == {"my_key": "one"}
    assert fetched == body
    assert aws.connections()["accepted"] - before["accepted"] - 1 == 1


# --- long polls -------------------------------------------------------------------------------


def test_many_long_polls_wait_at_once_and_each_gets_the_message_sent_to_it(
    aws: EmbeddedAws,
) -> None:
    # GIVEN one queue per poller and as many pollers, each on a client (a connection) of its own
    admin = sqs(aws)
    urls = [admin.create_queue(QueueName=f"poll-{n}")["QueueUrl"] for n in range(LONG_POLLS)]
    clients = [sqs(aws) for _ in urls]
    for client in clients:
        client.list_queues(QueueNamePrefix="poll-")  # each opens its connection first
    received: dict[int, list[str]] = {}

    def poll(number: int) -> None:
        answer = clients[number].receive_message(
            QueueUrl=urls[number], WaitTimeSeconds=20, MaxNumberOfMessages=1
        )
        received[number] = [m["Body"] for m in answer.get("Messages", [])]

    pollers = [threading.Thread(target=poll, args=(n,)) for n in range(LONG_POLLS)]
    for poller in pollers:
        poller.start()

    # WHEN every long poll is being served (this count's own request is one more)
    _wait_for(lambda: aws.connections()["in_progress"] >= LONG_POLLS + 1)
    # ... and a message is sent to each queue while they wait
    for number, url in enumerate(urls):
        admin.send_message(QueueUrl=url, MessageBody=f"for poller {number}")

    # THEN every long poll returns with the message sent to its queue
    for poller in pollers:
        poller.join(timeout=GUARD_SECONDS)
    assert received == {n: [f"for poller {n}"] for n in range(LONG_POLLS)}


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GUARD_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the state never came"
        time.sleep(0.05)


# --- framing: what one request leaves unread is not the next request ---------------------------


def _unread_body_app(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """Answers without reading the body, except on /echo, which returns it."""
    if environ["PATH_INFO"] == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    if environ["PATH_INFO"] == "/fail":
        raise RuntimeError("the application failed")
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such path"]


@pytest.fixture
def front() -> Iterator[tuple[str, int, http_server.ConnectionCounts]]:
    counts = http_server.ConnectionCounts()
    server = http_server.make_server("127.0.0.1", 0, _unread_body_app, counts)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    yield "127.0.0.1", int(server.server_address[1]), counts
    server.shutdown()
    serving.join(timeout=GUARD_SECONDS)


def test_a_body_the_application_did_not_read_is_not_taken_for_the_next_request(
    front: tuple[str, int, http_server.ConnectionCounts],
) -> None:
    host, port, counts = front
    connection = http.client.HTTPConnection(host, port, timeout=GUARD_SECONDS)
    # GIVEN a request whose body (100 kB) the application answers without reading
    connection.request("POST", "/unknown", body=b"x" * 100_000)
    first = connection.getresponse()
    assert (first.status, first.read()) == (404, b"no such path")
    # ... and a chunked one, likewise unread
    connection.request("POST", "/unknown", body=iter([b"a" * 5000, b"b" * 5000]))
    second = connection.getresponse()
    assert (second.status, second.read()) == (404, b"no such path")

    # WHEN the next request comes on the same connection
    connection.request("POST", "/echo", body=b"the next request")
    third = connection.getresponse()

    # THEN it is read as sent, and all three came on one connection
    assert (third.status, third.read()) == (200, b"the next request")
    assert counts.as_json()["accepted"] == 1
    assert counts.as_json()["requests"] == 3
    connection.close()


def test_the_connection_closes_when_the_client_asks_and_after_an_error(
    front: tuple[str, int, http_server.ConnectionCounts],
) -> None:
    host, port, _ = front
    for headers, path, status in (
        ({"Connection": "close"}, "/echo", 200),
        ({}, "/fail", 500),
    ):
        with socket.create_connection((host, port), timeout=GUARD_SECONDS) as raw:
            lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            raw.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n{lines}\r\nhi".encode()
            )
            answer = _read_until_closed(raw)
        head = answer.split(b"\r\n\r\n", 1)[0].decode()
        assert head.startswith(f"HTTP/1.1 {status} ")
        assert "Connection: close" in head.split("\r\n")


def _read_until_closed(raw: socket.socket) -> bytes:
    """Everything the server sends until it closes (a server that kept the connection open
    would leave this waiting until the guard timeout)."""
    chunks = []
    while chunk := raw.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


# --- stopping ---------------------------------------------------------------------------------


def test_sigterm_stops_the_server_with_connections_open_and_releases_its_port(
    tmp_path: Path,
) -> None:
    # GIVEN the embedded AWS in a session of its own, with an idle kept-alive connection
    # and a long poll waiting
    process = subprocess.Popen(
        [sys.executable, "-m", "orderflow.emulator.server"],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "aws.log").open("w"),
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline().removeprefix(READY).strip())
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
    url = client.create_queue(QueueName="stopping")["QueueUrl"]
    poller = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
    outcome: list[object] = []

    def poll() -> None:
        try:
            outcome.append(poller.receive_message(QueueUrl=url, WaitTimeSeconds=20))
        except Exception as exc:  # the server goes away under it: that is the outcome
            outcome.append(exc)

    waiting = threading.Thread(target=poll)
    waiting.start()
    _wait_for(lambda: _in_progress(endpoint) >= 2)

    # WHEN it gets SIGTERM
    process.send_signal(signal.SIGTERM)

    # THEN it exits by itself, leaves no process behind, and its port is free to bind again
    assert process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0
    assert _session_members(process.pid) == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=GUARD_SECONDS).close()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
    waiting.join(timeout=GUARD_SECONDS)
    assert len(outcome) == 1
    process.stdout.close()


def _in_progress(endpoint: str) -> int:
    with socket.create_connection(("127.0.0.1", int(endpoint.rsplit(":", 1)[1]))) as raw:
        raw.sendall(b"GET /_orderflow/connections HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = _read_until_closed(raw)
    counts: dict[str, int] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return counts["in_progress"]


def _session_members(session: int) -> list[int]:
    """Processes still in the session the server led."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[3]) == session:
            members.append(int(entry.name))
    return members
