"""The embedded AWS's HTTP front: a call over HTTP against the same call in-process, one run.

Each call is made by one botocore client over HTTP (the embedded AWS in its own process, the
way the local runtime's pollers, the functions and the CLI reach it) and by the same kind of
client in-process (moto's ``mock_aws`` in this interpreter, with every extension the embedded
AWS installs): the floor, the same moto work with no HTTP in between. The two are timed in
blocks back to back, the order alternating from run to run:

* GetQueueUrl, a trivial call: what the HTTP front itself costs;
* SendMessage + ReceiveMessage + DeleteMessage: one message's round trip through a queue.

Per call it keeps the CPU seconds (this process's, plus over HTTP the server process's, read
from ``/proc``), which make the figure, and the wall-clock seconds beside them: on a shared
machine elapsed time also counts waiting for a core, and swings with the load by more than the
HTTP front costs. It also counts the TCP connections the server accepted for the client's
calls (``GET /_orderflow/connections``). Run as
``python -m orderflow.bench.http_front``: it prints its JSON, and the bench runs it in its own
interpreter so nothing it installs leaks into other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orderflow.bench.stats import RATIO, BenchError, Figure, Paired, at_most, module_json

SECTION = "HTTP front"
TRIVIAL = "GetQueueUrl"
ROUND_TRIP = "SendMessage + ReceiveMessage + DeleteMessage"
CALLS = (TRIVIAL, ROUND_TRIP)
HTTP_TARGET = at_most(2.0)
CONNECTIONS_TARGET = at_most(1.0)
CONNECTIONS = "connections"
CONNECTIONS_SUBJECT = "TCP connections for one client's calls"
REGION = "us-east-1"
QUEUE = "http-front"
WARM_UP_CALLS = 5
TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class FrontCost:
    """One call's seconds per call in each run, in-process and over HTTP (wall and CPU)."""

    call: str
    calls: int
    """Timed calls per block."""
    in_process: tuple[float, ...]
    over_http: tuple[float, ...]
    in_process_cpu: tuple[float, ...]
    over_http_cpu: tuple[float, ...] | None
    """None where the server's CPU time cannot be read (no ``/proc``)."""

    @property
    def wall(self) -> Paired:
        return Paired(self.in_process, self.over_http)

    @property
    def cpu(self) -> Paired | None:
        if self.over_http_cpu is None:
            return None
        return Paired(self.in_process_cpu, self.over_http_cpu)


@dataclass(frozen=True)
class FrontRun:
    """Every call's cost, and the connections the server accepted for the client's calls."""

    costs: tuple[FrontCost, ...]
    connections: int
    requests: int


# --- measuring -----------------------------------------------------------------------------


def _server_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of process ``pid`` (all its threads), None without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _call(sqs: Any, call: str, url: str) -> Callable[[], object]:
    if call == TRIVIAL:
        return lambda: sqs.get_queue_url(QueueName=QUEUE)

    def round_trip() -> None:
        sqs.send_message(QueueUrl=url, MessageBody='{"order": 1}')
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
        if not messages:
            raise BenchError("a message sent was not received")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])

    return round_trip


def _block(
    call: Callable[[], object], calls: int, server_pid: int | None
) -> tuple[float, float | None]:
    """(wall seconds, CPU seconds) per call over ``calls`` calls after a warm-up."""
    for _ in range(WARM_UP_CALLS):
        call()
    server_before = _server_cpu_seconds(server_pid) if server_pid is not None else 0.0
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if server_pid is not None:
        server_after = _server_cpu_seconds(server_pid)
        if server_before is None or server_after is None:
            return wall / calls, None
        cpu += server_after - server_before
    return wall / calls, cpu / calls


def measure_front(calls: int = 50, runs: int = 5) -> FrontRun:
    """Both calls in ``runs`` runs of ``calls`` timed calls a side; installs every extension
    into this process (there is no going back)."""
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from orderflow.emulator.clock import EmulatorClock  # noqa: PLC0415
    from orderflow.emulator.server import EmbeddedAws, install_extensions  # noqa: PLC0415

    if calls < 1 or runs < 1:
        raise BenchError("calls and runs must be at least 1")
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    install_extensions(EmulatorClock())

    def in_process(call: str) -> tuple[float, float | None]:
        with mock_aws():
            sqs = boto3.client("sqs", region_name=REGION)
            url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
            return _block(_call(sqs, call, url), calls, None)

    with EmbeddedAws() as aws:
        before = aws.connections()
        remote = boto3.client("sqs", region_name=REGION, endpoint_url=aws.endpoint_url)
        url = remote.create_queue(QueueName=QUEUE)["QueueUrl"]
        results: dict[str, dict[str, list[float | None]]] = {
            call: {"in": [], "http": [], "in_cpu": [], "http_cpu": []} for call in CALLS
        }
        server_pid = aws.pid
        if server_pid is None:
            raise BenchError("the embedded AWS is not running")
        for run in range(runs):
            for call in CALLS:
                for side in ("in", "http") if run % 2 == 0 else ("http", "in"):
                    wall, cpu = (
                        in_process(call)
                        if side == "in"
                        else _block(_call(remote, call, url), calls, server_pid)
                    )
                    results[call][side].append(wall)
                    results[call][f"{side}_cpu"].append(cpu)
        after = aws.connections()
    costs = tuple(_front_cost(call, calls, results[call]) for call in CALLS)
    # The second count's own request came on a connection of its own.
    return FrontRun(
        costs,
        connections=after["accepted"] - before["accepted"] - 1,
        requests=after["requests"] - before["requests"] - 1,
    )


def _front_cost(call: str, calls: int, sides: dict[str, list[float | None]]) -> FrontCost:
    def seconds(name: str) -> tuple[float, ...]:
        return tuple(value for value in sides[name] if value is not None)

    http_cpu = seconds("http_cpu")
    return FrontCost(
        call,
        calls,
        in_process=seconds("in"),
        over_http=seconds("http"),
        in_process_cpu=seconds("in_cpu"),
        over_http_cpu=http_cpu if len(http_cpu) == len(sides["http_cpu"]) else None,
    )


def to_json(run: FrontRun) -> dict[str, Any]:
    return asdict(run)


def from_json(document: dict[str, Any]) -> FrontRun:
    costs = tuple(
        FrontCost(
            call=entry["call"],
            calls=entry["calls"],
            in_process=tuple(entry["in_process"]),
            over_http=tuple(entry["over_http"]),
            in_process_cpu=tuple(entry["in_process_cpu"]),
            over_http_cpu=None if entry["over_http_cpu"] is None else tuple(entry["over_http_cpu"]),
        )
        for entry in document["costs"]
    )
    return FrontRun(costs, connections=document["connections"], requests=document["requests"])


# --- figures -------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def front_figures(run: FrontRun) -> list[Figure]:
    """HTTP / in-process per call for each call, and the connections one client used.

    A call's figure is its CPU time over HTTP (client and server) against in-process, the
    wall-clock ratio beside it; the wall-clock ratio where the server's CPU time is unreadable.
    """
    figures = []
    for cost in run.costs:
        wall, cpu = cost.wall, cost.cpu
        measured = (
            "wall clock (the server's CPU time is not readable)"
            if cpu is None
            else f"CPU {_ms(cpu.subject)} (client + server) vs {_ms(cpu.floor)} in-process"
        )
        figures.append(
            Figure(
                SECTION,
                cost.call,
                wall.ratio if cpu is None else cpu.ratio,
                RATIO,
                HTTP_TARGET,
                detail=f"{measured}; wall clock {_ms(wall.subject)} vs {_ms(wall.floor)}, "
                f"{wall.ratio:.2f}x; {cost.calls} calls a block, median of {wall.runs}",
                why="Over HTTP a call also pays botocore's HTTP send and parse, the server's "
                "request parsing and Flask's dispatch into moto, on top of the same moto work.",
                data={
                    "in_process_seconds": list(cost.in_process),
                    "over_http_seconds": list(cost.over_http),
                    "in_process_cpu_seconds": list(cost.in_process_cpu),
                    "over_http_cpu_seconds": None
                    if cost.over_http_cpu is None
                    else list(cost.over_http_cpu),
                    "wall_ratio": wall.ratio,
                },
            )
        )
    figures.append(
        Figure(
            SECTION,
            CONNECTIONS_SUBJECT,
            float(run.connections),
            CONNECTIONS,
            CONNECTIONS_TARGET,
            detail=f"{run.requests:,} sequential requests from one botocore client",
            why="A server that closes every connection after its response makes the client "
            "connect again for each call.",
            data={"connections": run.connections, "requests": run.requests},
        )
    )
    return figures


def http_front_figures(root: Path, calls: int = 50, runs: int = 5) -> list[Figure]:
    """The HTTP front's figures, measured in a fresh interpreter; "not measured" figures with
    the reason if that run fails."""
    arguments = ["--calls", str(calls), "--runs", str(runs)]
    try:
        run = from_json(module_json(root, "orderflow.bench.http_front", arguments, TIMEOUT_SECONDS))
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        reason = f"the HTTP front run failed: {exc}"
        subjects: Sequence[tuple[str, str]] = [(call, RATIO) for call in CALLS]
        return [
            Figure(SECTION, subject, None, unit, detail=reason)
            for subject, unit in [*subjects, (CONNECTIONS_SUBJECT, CONNECTIONS)]
        ]
    return front_figures(run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orderflow.bench.http_front")
    parser.add_argument("--calls", type=int, default=50, help="timed calls per block")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.calls < 1 or args.runs < 1:
        parser.error("--calls and --runs must be at least 1")
    print(json.dumps(to_json(measure_front(args.calls, args.runs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
