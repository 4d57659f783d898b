"""The embedded AWS: moto in server mode, every emulator extension installed, in its own process.

``EmbeddedAws`` starts ``python -m orderflow.emulator.server`` on a free local port and
waits for it to say it is ready. The child installs the extensions before it serves, runs the
emulated minute (SQS metrics, then alarm evaluation) on the emulator clock, points moto's Step
Functions interpreter at its own port (``MOTO_PORT``), and exits on SIGTERM or when its parent
goes away, so no process outlives the runtime that started it.

Besides the AWS APIs it answers these read-only paths for tools and tests:

* ``GET /_orderflow/sent-emails``: every email SES accepted (source, destinations, template,
  template data), the emulator's record of what was sent;
* ``GET /_orderflow/alarm-history``: every state change the alarm evaluation made;
* ``GET /_orderflow/iam-decisions``: every IAM decision ``iam_enforcement`` made (``?denied=1``:
  the denials only); ``DELETE`` clears them;
* ``GET /_orderflow/connections``: the TCP connections the server accepted and holds open, and
  the requests it answered and is serving (``http_server``: a client's calls share one
  connection).

IAM enforcement is off unless asked for: ``--iam enforce`` (deny what the caller's role does not
allow), ``--iam record`` (record what would be denied, allow everything), or the environment
variable ``ORDERFLOW_IAM`` with one of those values (``--iam`` wins); ``EmbeddedAws(iam=...)``
passes the option to the child.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qs

from orderflow.emulator import (
    alarm_evaluation,
    cfn_log_group_arn,
    cfn_no_value,
    cfn_parameter_constraints,
    cfn_resources,
    cfn_sam_deploy,
    clock,
    dynamodb_query_index,
    dynamodb_transactions,
    eventbridge_targets,
    iam_enforcement,
    lambda_public_layers,
    lambda_sqs_mappings,
    request_routing,
    sesv2_templates,
    sfn_callbacks,
    sfn_tracing,
    sns_signing,
    sns_tracing,
    sqs_attributes,
    sqs_index,
    sqs_metrics,
    sqs_move_tasks,
    stepfunctions_execution,
    xray_queries,
    xray_sampling,
)
from orderflow.emulator.clock import EmulatorClock

if TYPE_CHECKING:
    from orderflow.emulator.http_server import ConnectionCounts

LOGGER = logging.getLogger(__name__)
READY = "orderflow-embedded-aws-ready"
INSPECTION_PREFIX = "/_orderflow/"
IAM_ENV = "ORDERFLOW_IAM"
IAM_MODES = ("off", "record", "enforce")
"""``off``: moto's own (no) authorization; ``record``: decisions recorded, nothing denied;
``enforce``: every role session's request authorized as IAM does (``iam_enforcement``)."""
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0

EXTENSIONS: tuple[ModuleType, ...] = (
    clock,
    request_routing,
    sqs_index,
    sqs_attributes,
    dynamodb_transactions,
    dynamodb_query_index,
    cfn_no_value,
    cfn_log_group_arn,
    cfn_resources,
    cfn_parameter_constraints,
    cfn_sam_deploy,
    lambda_public_layers,
    lambda_sqs_mappings,
    sqs_metrics,
    sqs_move_tasks,
    alarm_evaluation,
    eventbridge_targets,
    stepfunctions_execution,
    sfn_callbacks,
    sfn_tracing,
    sesv2_templates,
    sns_signing,
    sns_tracing,
    xray_queries,
    xray_sampling,
)
"""Every behaviour the embedded AWS adds to moto, installed in this order."""


class EmbeddedAwsError(RuntimeError):
    """The embedded AWS could not start or stopped unexpectedly."""


WITHOUT_ENV = "ORDERFLOW_EMULATOR_WITHOUT"
"""Extensions to leave out, by module name, comma-separated (``sqs_index,sns_signing``): for
measuring what they save against moto's own behaviour, never for a run that must reconcile."""


def extensions_left_out(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The extensions ``ORDERFLOW_EMULATOR_WITHOUT`` names (``ValueError`` for an unknown one)."""
    raw = (os.environ if environ is None else environ).get(WITHOUT_ENV, "")
    names = frozenset(name.strip() for name in raw.split(",") if name.strip())
    unknown = sorted(names - {_module_name(module) for module in EXTENSIONS})
    if unknown:
        raise ValueError(f"{WITHOUT_ENV}: no extension named {', '.join(unknown)}")
    return names


def _module_name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def install_extensions(emulator_clock: EmulatorClock, iam: str = "off") -> None:
    """Install every emulator extension into this process's moto, on ``emulator_clock``
    (except those ``ORDERFLOW_EMULATOR_WITHOUT`` names).

    ``iam`` (one of ``IAM_MODES``) installs ``iam_enforcement`` after them, enforcing or
    recording only.
    """
    clock.set_clock(emulator_clock)
    left_out = extensions_left_out()
    for module in EXTENSIONS:
        if _module_name(module) not in left_out:
            module.install()
    install_iam(iam)


def install_iam(mode: str) -> None:
    """Install ``iam_enforcement`` as ``mode`` asks (``off`` installs nothing)."""
    if mode not in IAM_MODES:
        raise ValueError(f"IAM mode {mode!r} is not one of {', '.join(IAM_MODES)}")
    if mode != "off":
        iam_enforcement.install(enforce=mode == "enforce")


def iam_mode_from_environment() -> str:
    """The IAM mode ``ORDERFLOW_IAM`` asks for (``off`` when unset)."""
    return os.environ.get(IAM_ENV, "").strip().lower() or "off"


# --- the child process ------------------------------------------------------------------------


class EmulatedMinute:
    """Every emulated minute: SQS publishes its metrics, then CloudWatch evaluates alarms.

    Ticks are at fixed nominal times (start + k minutes on the emulator clock) and datapoints
    carry those times, so a period never holds two ticks or none because a thread ran late.
    """

    def __init__(self, emulator_clock: EmulatorClock) -> None:
        self._interval = emulator_clock.real(sqs_metrics.PERIOD_SECONDS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emulated-minute", daemon=True)
        self.changes: list[alarm_evaluation.StateChange] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        start = datetime.now(UTC)
        tick = 0
        while True:
            tick += 1
            nominal = start + timedelta(seconds=tick * self._interval)
            wait = (nominal - datetime.now(UTC)).total_seconds()
            if self._stop.wait(max(wait, 0.0)):
                return
            try:
                sqs_metrics.publish_sqs_metrics(nominal)
                self.changes.extend(
                    alarm_evaluation.evaluate_alarms(nominal + timedelta(milliseconds=1))
                )
            except Exception:
                # One failed tick must not end metrics and alarms for the rest of the run.
                LOGGER.exception("emulated minute %d failed", tick)


def sent_emails() -> list[dict[str, Any]]:
    """Every email moto's SES accepted, in every account and region."""
    from moto.ses.models import ses_backends  # noqa: PLC0415

    emails = []
    for regions in list(ses_backends.values()):
        for backend in list(regions.values()):
            for message in list(backend.sent_messages):
                emails.append(
                    {
                        "id": message.id,
                        "source": getattr(message, "source", None),
                        "destinations": getattr(message, "destinations", None),
                        "template": getattr(message, "template", None),
                        "template_data": getattr(message, "template_data", None),
                        "subject": getattr(message, "subject", None),
                    }
                )
    return emails


def inspection_app(
    moto_app: Callable[..., Iterable[bytes]],
    minute: EmulatedMinute,
    connections: ConnectionCounts | None = None,
) -> Callable[..., Iterable[bytes]]:
    """moto's WSGI app with the read-only ``/_orderflow/`` paths in front of it."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(INSPECTION_PREFIX):
            return moto_app(environ, start_response)
        name = path[len(INSPECTION_PREFIX) :]
        if name == "iam-decisions":
            if environ.get("REQUEST_METHOD") == "DELETE":
                iam_enforcement.clear_decisions()
            query = parse_qs(str(environ.get("QUERY_STRING", "")))
            denied = query.get("denied", ["0"])[0].lower() in ("1", "true", "yes")
            body: Any = iam_enforcement.decisions_json(denied_only=denied)
        elif name == "sent-emails":
            body = sent_emails()
        elif name == "alarm-history":
            body = [
                {**asdict(change), "at": change.at.isoformat()} for change in list(minute.changes)
            ]
        elif name == "connections" and connections is not None:
            body = connections.as_json()
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "unknown path"}']
        payload = json.dumps(body, default=str).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [payload]

    return app


def serve(host: str, port: int, emulator_clock: EmulatorClock, iam: str = "off") -> None:
    """Run the embedded AWS until SIGTERM/SIGINT or until the parent process goes away."""
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        create_backend_app,
    )

    from orderflow.emulator.http_server import ConnectionCounts, make_server  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    install_extensions(emulator_clock, iam)
    minute = EmulatedMinute(emulator_clock)
    moto_app = DomainDispatcherApplication(create_backend_app)
    connections = ConnectionCounts()
    server = make_server(host, port, inspection_app(moto_app, minute, connections), connections)
    bound_port = int(server.server_address[1])
    # moto's Step Functions interpreter calls AWS integrations back on MOTO_PORT.
    os.environ["MOTO_PORT"] = str(bound_port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    parent = os.getppid()
    serving = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    serving.start()
    minute.start()
    print(f"{READY} {bound_port}", flush=True)
    while not stop.wait(0.5):
        if os.getppid() != parent:
            break  # orphaned: the runtime died without stopping us
    minute.stop()
    sqs_move_tasks.stop_all_tasks()
    server.shutdown()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the embedded AWS process."""
    parser = argparse.ArgumentParser(description="orderflow embedded AWS (moto + extensions)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--clock-factor", type=float, default=1.0)
    parser.add_argument(
        "--iam",
        choices=IAM_MODES,
        default=None,
        help=f"IAM enforcement (default: ${IAM_ENV}, else off)",
    )
    args = parser.parse_args(argv)
    iam = args.iam or iam_mode_from_environment()
    if iam not in IAM_MODES:
        parser.error(f"{IAM_ENV}={iam!r} is not one of {', '.join(IAM_MODES)}")
    serve(args.host, args.port, EmulatorClock(args.clock_factor), iam)


# --- the parent's handle ----------------------------------------------------------------------


class EmbeddedAws:
    """Starts and stops the embedded AWS process; ``endpoint_url`` once started."""

    def __init__(
        self,
        *,
        emulator_clock: EmulatorClock | None = None,
        log_path: Path | None = None,
        host: str = "127.0.0.1",
        iam: str | None = None,
    ) -> None:
        if iam is not None and iam not in IAM_MODES:
            raise ValueError(f"IAM mode {iam!r} is not one of {', '.join(IAM_MODES)}")
        self.clock = emulator_clock or EmulatorClock()
        self.iam = iam
        self._log_path = log_path
        self._host = host
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.port: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise EmbeddedAwsError("the embedded AWS is not running")
        return f"http://{self._host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> str:
        """Start the process and wait until it serves; return the endpoint URL."""
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_path.open("a")
        command = [
            sys.executable,
            "-m",
            "orderflow.emulator.server",
            "--host",
            self._host,
            "--clock-factor",
            repr(self.clock.factor),
            *(["--iam", self.iam] if self.iam is not None else []),
        ]
        self._process = subprocess.Popen(  # noqa: S603  (our own module, no shell)
            command,
            stdout=subprocess.PIPE,
            stderr=self._log or subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.port = self._await_ready(self._process)
        self._await_serving()
        return self.endpoint_url

    def _await_ready(self, process: subprocess.Popen[str]) -> int:
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        result: list[int] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith(READY):
                    result.append(int(line.split()[1]))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout=max(0.0, deadline - time.monotonic()))
        if not result:
            self.stop()
            raise EmbeddedAwsError(
                "the embedded AWS did not start"
                + (f"; see {self._log_path}" if self._log_path else "")
            )
        return result[0]

    def _await_serving(self) -> None:
        url = f"{self.endpoint_url}{INSPECTION_PREFIX}alarm-history"
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310  (our own http URL)
                    return
            except OSError:
                time.sleep(0.05)
        raise EmbeddedAwsError("the embedded AWS does not answer")

    def inspect(self, name: str) -> Any:
        """One of the read-only ``/_orderflow/`` documents (``sent-emails``, ``alarm-history``)."""
        url = f"{self.endpoint_url}{INSPECTION_PREFIX}{name}"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def iam_decisions(self, *, denied_only: bool = False) -> list[dict[str, Any]]:
        """The IAM decisions the embedded AWS recorded (``iam_enforcement.Decision`` as JSON)."""
        decisions: list[dict[str, Any]] = self.inspect(
            "iam-decisions?denied=1" if denied_only else "iam-decisions"
        )
        return decisions

    def connections(self) -> dict[str, int]:
        """TCP connections accepted and open, requests answered and in progress, so far."""
        counts: dict[str, int] = self.inspect("connections")
        return counts

    def clear_iam_decisions(self) -> None:
        """Forget the IAM decisions recorded so far."""
        url = f"{self.endpoint_url}{INSPECTION_PREFIX}iam-decisions"
        request = urllib.request.Request(url, method="DELETE")  # noqa: S310  (our own URL)
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after a grace period)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.port = None

    def __enter__(self) -> EmbeddedAws:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
