"""One Lambda execution environment: a process that imports the handler once and runs invocations.

Like Lambda, an environment handles one invocation at a time, keeps its module state between
invocations (warm starts), and is thrown away when an invocation times out or the process
dies. Its init is its own: it imports the handler module (module-level code included), times
that inside the environment and reports it once, when ready (``INIT_DURATION``), as Lambda
reports ``Init Duration`` for an environment's first invocation. It has Lambda's environment
variables (``functions.lambda_environment``), its own log stream, and each invocation its own
``_X_AMZN_TRACE_ID``, as Lambda sets them. The poller that owns it sends an event and a
deadline, and receives the handler's response (JSON round-tripped, as Lambda serialises it) or
the error it raised. The environment runs with its function's role: the poller hands it the
role session's credentials, set as Lambda sets them before the handler is imported.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderflow.local.credentials import RoleCredentials
from orderflow.local.faults import (
    CRASH_EXIT_CODE,
    CRASHES,
    FIXES,
    CrashDice,
    FaultPlan,
    FixSwitch,
    install_consumer_bugs,
    install_dependency_faults,
)
from orderflow.local.functions import (
    FUNCTION_VERSION,
    FunctionSpec,
    LambdaContext,
    invocation_trace_header,
    log_group_name,
    log_stream_name,
)

LOG_STREAM_ENV = "AWS_LAMBDA_LOG_STREAM_NAME"
TRACE_ENV = "_X_AMZN_TRACE_ID"
INIT_DURATION = "init_duration_ms"
"""What the environment reports when ready: its init, timed inside it, in milliseconds.

As Lambda's ``Init Duration`` (the REPORT line of an environment's first invocation): the
handler module's import, its module-level code included, in a fresh environment.
"""


@dataclass(frozen=True)
class Invocation:
    """What the poller sends: the event and the real-clock deadline (epoch seconds)."""

    request_id: str
    event: dict[str, Any]
    deadline: float


def serve(
    connection: Any,
    spec_json: str,
    plan_json: str,
    faults_dir: str,
    credentials_json: str = "",
) -> None:
    """Run invocations from ``connection`` until it closes (the environment's whole life).

    ``credentials_json`` is the role session (``RoleCredentials``) the environment runs with;
    empty leaves the inherited credentials.
    """
    spec = FunctionSpec.from_json(spec_json)
    plan = FaultPlan.from_json(plan_json)
    if credentials_json:
        os.environ.update(RoleCredentials.from_dict(json.loads(credentials_json)).env())
    os.environ[LOG_STREAM_ENV] = log_stream_name()
    # Each environment rolls its own dice: a shared seed would make every one crash alike.
    rng = random.Random(None if plan.seed is None else plan.seed ^ os.getpid())  # noqa: S311
    install_dependency_faults(plan.dependencies.get(spec.service, {}), rng)
    install_consumer_bugs(spec.service, plan.consumer_bugs, FixSwitch(Path(faults_dir) / FIXES))
    crash = CrashDice(
        spec.service,
        plan.crash_after_side_effects.get(spec.service, 0.0),
        plan.crash_limit,
        Path(faults_dir) / CRASHES,
        rng,
    )
    started = time.perf_counter()
    try:
        module = importlib.import_module(spec.handler_module)
        handler = getattr(module, spec.handler_name)
    except Exception:  # noqa: BLE001  (Lambda reports any init failure, whatever it is)
        connection.send({"init_error": traceback.format_exc(limit=3)})
        return
    init_duration_ms = round((time.perf_counter() - started) * 1000, 2)
    connection.send(
        {"ready": True, INIT_DURATION: init_duration_ms, LOG_STREAM_ENV: os.environ[LOG_STREAM_ENV]}
    )
    while True:
        try:
            invocation: Invocation = connection.recv()
        except EOFError:
            return
        os.environ[TRACE_ENV] = invocation_trace_header(spec)
        context = LambdaContext(
            function_name=spec.function_name,
            function_version=FUNCTION_VERSION,
            invoked_function_arn=spec.function_arn,
            memory_limit_in_mb=spec.memory_mb,
            deadline=invocation.deadline,
            aws_request_id=invocation.request_id,
            log_group_name=log_group_name(spec),
            log_stream_name=os.environ[LOG_STREAM_ENV],
        )
        outcome = _invoke(handler, invocation.event, context)
        if crash.roll():
            # The handler's side effects happened; the batch is never reported back.
            sys.stdout.flush()
            os._exit(CRASH_EXIT_CODE)
        connection.send(outcome)


def _invoke(handler: Any, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        response = handler(event, context)
        return {"ok": True, "response": json.loads(json.dumps(response))}
    except Exception as error:  # noqa: BLE001  (a handler error fails the invocation, as in Lambda)
        traceback.print_exc()
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
