"""The local runtime: the embedded AWS, every stack from its template, and the functions running.

``LocalRuntime.start()`` starts the embedded AWS, deploys the platform stack and every service
stack, subscribes a local pager inbox to the paging topic (standing in for the on-call's email),
runs ``alarms sync``, starts one worker process per function (each with the concurrency its
template's event source mapping gives it, as far as the machine can hold) and writes the
endpoint and every resource name to ``.orderflow/local.json``. Every invocation is appended to
``run/invocations.jsonl`` (batch, outcome, message and order ids, timings). ``stop()`` stops
the workers, then the embedded AWS, and leaves no process behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from orderflow import naming
from orderflow.emulator.clock import EmulatorClock
from orderflow.emulator.server import IAM_ENV, EmbeddedAws
from orderflow.local.faults import FIXES, FaultPlan, FixSwitch, publish_malformed
from orderflow.local.functions import (
    FAKE_CREDENTIALS,
    FunctionSpec,
    discover_functions,
)
from orderflow.local.pollers import MAPPING_REPORT, InvocationReport
from orderflow.local.stacks import (
    DeployedStack,
    deploy_stack,
    stack_templates,
)
from orderflow.platform.deploy import PLATFORM
from orderflow.platform.errors import PlatformError
from orderflow.platform.workspace import workspace_root

if TYPE_CHECKING:
    from orderflow.local.localstripe import LocalStripe

DEFAULT_STATE_DIR = Path(".orderflow")
LOCAL_FILE = "local.json"
INVOCATION_LOG = "invocations.jsonl"
ENVIRONMENT_MEMORY_MB = 160
"""What one execution environment holds: a forked interpreter with boto3 and a handler."""
MIN_CONCURRENCY = 2
"""Lambda's smallest ScalingConfig.MaximumConcurrency: a race needs two environments."""
ENVIRONMENTS_PER_CPU = 2
PAGER_QUEUE = "pager-inbox"
SENDER_ADDRESS = "orders@orderflow.local"
WORKER_STOP_SECONDS = 15.0
DEFAULT_IAM = "enforce"
"""Every local run enforces the roles as AWS does, unless asked otherwise."""

Progress = Callable[[str], None]


class LocalRuntimeError(PlatformError):
    """The local runtime could not start; the message says what failed."""


@dataclass(frozen=True)
class RuntimeOptions:
    """How one local run is set up."""

    stage: str = "local"
    region: str = "us-east-1"
    clock_factor: float = 1.0
    state_dir: Path = DEFAULT_STATE_DIR
    max_concurrency: int | None = None
    """Ceiling on each function's concurrent environments; None: the template's, as far as the
    machine can hold (``machine_concurrency``), never below two."""
    faults: FaultPlan = field(default_factory=FaultPlan)
    stack_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """package name -> template parameters, for parameters the local stage sets differently."""
    sync_alarms: bool = True
    root: Path | None = None
    gateway: str = "simulated"
    """payment's card provider: the simulated gateway, or Stripe played by localstripe."""
    iam: str | None = None
    """IAM in the embedded AWS: ``enforce`` (a role session's request no statement allows is
    denied as AWS denies it; every decision recorded), ``record`` (decided and recorded, never
    denied), ``off``; None: what ``ORDERFLOW_IAM`` says, else ``enforce``. Functions always
    run with their own roles."""


@dataclass(frozen=True)
class ServiceResources:
    """One service as deployed: its stack, queue, DLQ, function and tables."""

    stack: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    function_name: str
    tables: dict[str, str]
    outputs: dict[str, str]


@dataclass(frozen=True)
class LocalResources:
    """What ``.orderflow/local.json`` holds: the endpoint and every resource name."""

    endpoint_url: str
    region: str
    stage: str
    clock_factor: float
    topic_arn: str
    paging_topic_arn: str
    failure_ledger_table: str
    pager_queue_url: str
    services: dict[str, ServiceResources]
    run_dir: str
    gateway_journal: str
    pid: int
    stripe_api_base: str = ""
    """localstripe's address when payment runs on Stripe; empty on the simulated gateway."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LocalResources:
        raw = json.loads(text)
        raw["services"] = {k: ServiceResources(**v) for k, v in raw["services"].items()}
        return cls(**raw)

    def env(self) -> dict[str, str]:
        """What another shell exports to point the orderflow CLI at this run."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "ORDERFLOW_STAGE": self.stage,
            **FAKE_CREDENTIALS,
        }


def read_local_resources(state_dir: Path = DEFAULT_STATE_DIR) -> LocalResources:
    """The resources of the running local runtime (from its local.json)."""
    path = state_dir / LOCAL_FILE
    if not path.is_file():
        raise LocalRuntimeError(f"no {path}: start the local runtime with `orderflow up`")
    return LocalResources.from_json(path.read_text())


@dataclass
class FunctionStats:
    """What one service's function did so far (from its invocation reports)."""

    invocations: Counter[str] = field(default_factory=Counter)
    records_succeeded: int = 0
    records_failed: int = 0
    duplicates: int = 0
    last_success: float | None = None
    recent: deque[InvocationReport] = field(default_factory=lambda: deque(maxlen=200))

    def record(self, report: InvocationReport) -> None:
        self.invocations[report.outcome] += 1
        self.records_succeeded += report.succeeded
        self.records_failed += report.failed
        self.duplicates += report.duplicates
        if report.succeeded:
            self.last_success = report.ended
        self.recent.append(report)


def available_memory_mb() -> int | None:
    """Memory the machine can still give (MemAvailable), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def machine_concurrency(
    functions: int, memory_mb: int | None = None, cpus: int | None = None
) -> int:
    """Environments per function this machine holds with every function at that count (>= 2).

    Memory bounds how many environments can exist; the cores bound how many can start at once
    (each builds its clients on its first record, inside that invocation's timeout): on 2
    cores more than 4 per function timed out while starting.
    """
    available = memory_mb if memory_mb is not None else available_memory_mb()
    by_memory = available // (ENVIRONMENT_MEMORY_MB * max(1, functions)) if available else 0
    by_cpu = ENVIRONMENTS_PER_CPU * (cpus if cpus is not None else (os.cpu_count() or 1))
    return max(MIN_CONCURRENCY, min(by_memory, by_cpu) if available else MIN_CONCURRENCY)


def concurrency_ceiling(
    max_concurrency: int | None,
    functions: int,
    memory_mb: int | None = None,
    cpus: int | None = None,
) -> int:
    """The run's ceiling on each function's environments: the one asked for, else the machine's.

    Under it each function runs with its event source mapping's MaximumConcurrency, so a race
    in a service or in the embedded AWS shows up here before it shows up on AWS.
    """
    return max_concurrency or machine_concurrency(functions, memory_mb, cpus)


class FunctionWorker:
    """The worker process of one function, and the stats read from its reports."""

    def __init__(self, spec: FunctionSpec, run_dir: Path) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self.stats = FunctionStats()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._reader: threading.Thread | None = None
        self.listeners: list[Callable[[InvocationReport], None]] = []
        self.invocation_log = run_dir / INVOCATION_LOG
        self.mapping_state = ""
        """The event source mapping's state as the worker last saw it (``Enabled``,
        ``Disabled``, ...); empty until the worker reported it."""
        self.process_group: int | None = None
        """The worker's own process group (it, its fork server and its environments); kept
        after ``stop`` so that ``kill`` still reaches an environment the stop left behind."""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(
        self,
        endpoint_url: str,
        clock: EmulatorClock,
        faults_path: Path,
        faults_dir: Path,
        max_concurrency: int | None,
        *,
        xray_daemon_address: str | None = None,
    ) -> None:
        spec_path = self.run_dir / f"{self.spec.service}.function.json"
        spec_path.write_text(self.spec.to_json())
        read_fd, write_fd = os.pipe()
        command = [
            sys.executable,
            "-m",
            "orderflow.local.pollers",
            "--spec",
            str(spec_path),
            "--faults",
            str(faults_path),
            "--endpoint-url",
            endpoint_url,
            "--clock-factor",
            repr(clock.factor),
            "--faults-dir",
            str(faults_dir),
            "--events-fd",
            str(write_fd),
        ]
        if max_concurrency:
            command += ["--max-concurrency", str(max_concurrency)]
        if xray_daemon_address:
            command += ["--xray-daemon-address", xray_daemon_address]
        self._log = (self.run_dir / f"{self.spec.service}.log").open("ab")
        self._process = subprocess.Popen(  # noqa: S603  (our own module, no shell)
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            # Its own session: Ctrl-C reaches the runtime, which stops workers in order.
            start_new_session=True,
        )
        os.close(write_fd)
        self.process_group = self._process.pid
        self._reader = threading.Thread(
            target=self._read, args=(read_fd,), name=f"{self.spec.service}-reports", daemon=True
        )
        self._reader.start()

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "r") as reports, self.invocation_log.open("a") as log:
            for line in reports:
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if raw.get("type") == MAPPING_REPORT:
                    self.mapping_state = str(raw.get("state", ""))
                    continue
                log.write(line if line.endswith("\n") else line + "\n")
                log.flush()
                raw.pop("type", None)
                report = InvocationReport(**raw)
                with self._lock:
                    self.stats.record(report)
                for listener in list(self.listeners):
                    listener(report)

    def snapshot(self) -> FunctionStats:
        with self._lock:
            return FunctionStats(
                invocations=Counter(self.stats.invocations),
                records_succeeded=self.stats.records_succeeded,
                records_failed=self.stats.records_failed,
                duplicates=self.stats.duplicates,
                last_success=self.stats.last_success,
                recent=deque(self.stats.recent, maxlen=200),
            )

    def kill(self) -> None:
        """SIGKILL the worker's whole process group at once (no in-flight invocation ends)."""
        if self.process_group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process_group, signal.SIGKILL)
        process = self._process
        if process is not None:
            process.wait()

    def stop(self, timeout: float = WORKER_STOP_SECONDS) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None


class LocalRuntime:
    """The whole pipeline on this machine; a context manager that always cleans up."""

    def __init__(self, options: RuntimeOptions | None = None) -> None:
        self.options = options or RuntimeOptions()
        self.clock = EmulatorClock(self.options.clock_factor)
        self.run_dir = self.options.state_dir.resolve() / "run"
        self.faults_dir = self.run_dir / "faults"
        self.fixes = FixSwitch(self.faults_dir / FIXES)
        self.iam = self.options.iam or os.environ.get(IAM_ENV) or DEFAULT_IAM
        self.aws = EmbeddedAws(
            emulator_clock=self.clock, log_path=self.run_dir / "aws.log", iam=self.iam
        )
        self.workers: dict[str, FunctionWorker] = {}
        self.stacks: dict[str, DeployedStack] = {}
        self.resources: LocalResources | None = None
        self.xray_daemon: Any = None
        self.localstripe: LocalStripe | None = None
        self.malformed: list[str] = []
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._pids: list[int] = []
        """The embedded AWS's and localstripe's processes, for ``kill``."""

    # --- clients ---------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client of the embedded AWS, built once per service and endpoint (clients are
        thread safe; building one costs more than most calls it makes)."""
        key = (service, self.aws.endpoint_url)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self.new_client(service)
        return client

    def new_client(self, service: str) -> Any:
        """A boto3 client of the embedded AWS of its own (its own connection pool)."""
        if self._session is None:
            import boto3  # noqa: PLC0415

            self._session = boto3.session.Session(
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                region_name=self.options.region,
            )
        return self._session.client(service, endpoint_url=self.aws.endpoint_url)

    # --- start and stop --------------------------------------------------------------------

    def start(self, progress: Progress | None = None) -> LocalResources:
        """Start everything; on any failure stop what started and raise LocalRuntimeError."""
        say = progress or (lambda _: None)
        try:
            return self._start(say)
        except BaseException:
            self.stop()
            raise

    def _start(self, say: Progress) -> LocalResources:
        options = self.options
        root = options.root or workspace_root()
        self._refuse_a_second_runtime()
        self._reset_run_dir()
        say(f"starting the embedded AWS (clock x{self.clock.factor:g})")
        self.aws.start()
        self._pids.extend(pid for pid in (self.aws.pid,) if pid is not None)
        say(f"embedded AWS at {self.aws.endpoint_url}")
        from orderflow.emulator.xray_daemon import XRayDaemon  # noqa: PLC0415

        # What Lambda's built-in daemon does: segments over UDP, uploaded to X-Ray.
        self.xray_daemon = XRayDaemon(self.client("xray")).start()
        cloudformation, s3 = self.client("cloudformation"), self.client("s3")
        journal = (self.run_dir / "gateway-journal.sqlite").resolve()
        stripe_parameters = self._start_stripe(say)
        for template in stack_templates(root):
            overrides = dict(self._local_parameters(journal))
            overrides.update(stripe_parameters)
            overrides.update(options.stack_overrides.get(template.name, {}))
            say(f"deploying {template.stack_name(options.stage)} from {template.template.name}")
            self.stacks[template.name] = deploy_stack(
                cloudformation,
                s3,
                template,
                stage=options.stage,
                overrides=overrides,
                region=options.region,
            )
        resources = self._resources(journal)
        if self.localstripe is not None:
            resources = replace(resources, stripe_api_base=self.localstripe.url)
        if options.sync_alarms:
            say("alarms sync")
            self._sync_alarms(resources)
        self._start_workers(resources, say)
        self.resources = resources
        self._write_local_file(resources)
        if options.faults.malformed_messages:
            self.malformed = publish_malformed(
                self.client("sns"), resources.topic_arn, options.faults.malformed_messages
            )
            say(f"published {len(self.malformed)} malformed messages to the topic")
        return resources

    def _local_parameters(self, journal: Path) -> dict[str, str]:
        plan = self.options.faults
        return {
            "SenderAddress": SENDER_ADDRESS,
            "ManageSenderIdentity": "true",
            # The incident workflow's waits run on the emulator clock: poll every emulated second.
            "RedrivePollSeconds": "1",
            "DrainChecks": "120",
            **plan.gateway.stack_parameters(journal, plan.seed),
        }

    def _start_stripe(self, say: Progress) -> dict[str, str]:
        """With ``gateway="stripe"``: localstripe, the key's secret, payment's parameters."""
        if self.options.gateway == "simulated":
            return {}
        if self.options.gateway != "stripe":
            raise LocalRuntimeError(
                f"gateway must be simulated or stripe, got {self.options.gateway!r}"
            )
        from orderflow.local.localstripe import (  # noqa: PLC0415
            LocalStripe,
            LocalStripeError,
            store_api_key,
        )

        try:
            self.localstripe = LocalStripe(self.run_dir).start()
        except LocalStripeError as error:
            raise LocalRuntimeError(str(error)) from None
        self._pids.extend(pid for pid in (self.localstripe.pid,) if pid is not None)
        say(f"localstripe at {self.localstripe.url}")
        secret = store_api_key(self.client("secretsmanager"), self.options.stage)
        return {
            "Gateway": "stripe",
            "StripeApiKeySecretName": secret,
            "StripeApiBase": self.localstripe.url,
        }

    def _refuse_a_second_runtime(self) -> None:
        """One runtime per state directory: a second would wipe the first one's run."""
        path = self.options.state_dir / LOCAL_FILE
        if not path.is_file():
            return
        try:
            pid = LocalResources.from_json(path.read_text()).pid
        except (ValueError, KeyError, TypeError):
            return  # a file we cannot read belongs to no running runtime
        if pid != os.getpid() and _running(pid):
            raise LocalRuntimeError(
                f"a local runtime is already running from {self.options.state_dir} (pid {pid}); "
                "stop it or use another --state-dir"
            )

    def _reset_run_dir(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for path in self.run_dir.rglob("*"):
            if path.is_file():
                path.unlink()
        (self.run_dir / "faults.json").write_text(self.options.faults.to_json())

    def _resources(self, journal: Path) -> LocalResources:
        platform = self.stacks[PLATFORM].outputs
        sqs, sns = self.client("sqs"), self.client("sns")
        pager_url = sqs.create_queue(QueueName=naming.resource(self.options.stage, PAGER_QUEUE))[
            "QueueUrl"
        ]
        pager_arn = sqs.get_queue_attributes(QueueUrl=pager_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        # As every SNS-to-SQS subscription on AWS: the queue's policy lets the topic deliver
        # ("Subscribing an Amazon SQS queue to an Amazon SNS topic", step 2:
        # https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html).
        sqs.set_queue_attributes(
            QueueUrl=pager_url,
            Attributes={"Policy": topic_delivery_policy(pager_arn, platform["PagingTopicArn"])},
        )
        sns.subscribe(
            TopicArn=platform["PagingTopicArn"],
            Protocol="sqs",
            Endpoint=pager_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        services = {}
        for name, stack in self.stacks.items():
            if name == PLATFORM:
                continue
            services[name] = _service_resources(sqs, stack)
        return LocalResources(
            endpoint_url=self.aws.endpoint_url,
            region=self.options.region,
            stage=self.options.stage,
            clock_factor=self.clock.factor,
            topic_arn=platform["OrderEventsTopicArn"],
            paging_topic_arn=platform["PagingTopicArn"],
            failure_ledger_table=platform["FailureLedgerTableName"],
            pager_queue_url=pager_url,
            services=services,
            run_dir=str(self.run_dir.resolve()),
            gateway_journal=str(journal),
            pid=os.getpid(),
        )

    def _sync_alarms(self, resources: LocalResources) -> Any:
        from orderflow.platform.alarms import sync_alarms  # noqa: PLC0415
        from orderflow.platform.stage import discover_queues  # noqa: PLC0415

        return sync_alarms(
            self.client("cloudwatch"),
            self.options.stage,
            discover_queues(self.client("sqs"), self.options.stage),
            resources.paging_topic_arn,
            self.options.region,
        )

    def _start_workers(self, resources: LocalResources, say: Progress) -> None:
        functions = {name: [svc.function_name] for name, svc in resources.services.items()}
        specs = discover_functions(self.client("lambda"), self.client("sqs"), functions)
        ceiling = concurrency_ceiling(self.options.max_concurrency, len(specs))
        faults_path = self.run_dir / "faults.json"
        for spec in specs:
            worker = FunctionWorker(spec, self.run_dir)
            worker.start(
                resources.endpoint_url,
                self.clock,
                faults_path,
                self.faults_dir,
                ceiling,
                xray_daemon_address=self.xray_daemon.address if self.xray_daemon else None,
            )
            self.workers[spec.service] = worker
            say(
                f"running {spec.function_name}: batch {spec.batch_size}, window "
                f"{spec.batching_window_seconds}s, concurrency "
                f"{spec.concurrency(ceiling)}, timeout {spec.timeout_seconds}s"
            )

    def _write_local_file(self, resources: LocalResources) -> None:
        path = self.options.state_dir / LOCAL_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(resources.to_json())
        temporary.replace(path)

    def stop(self) -> None:
        """Stop every worker, then the embedded AWS; remove local.json."""
        for worker in self.workers.values():
            threading.Thread(target=worker.stop, daemon=True).start()
        deadline = time.monotonic() + WORKER_STOP_SECONDS + 5
        for worker in self.workers.values():
            while worker.alive and time.monotonic() < deadline:
                time.sleep(0.1)
            worker.stop(timeout=0.1)
        if self.xray_daemon is not None:
            self.xray_daemon.stop()
            self.xray_daemon = None
        self.aws.stop()
        if self.localstripe is not None:
            self.localstripe.stop()
            self.localstripe = None
        self._remove_local_file()

    def kill(self) -> None:
        """Stop at once, for when a clean stop is not waited for (a forced Ctrl-C).

        SIGKILL every process the runtime started: each worker's whole process group (its fork
        server and environments with it), the embedded AWS and localstripe; then remove
        local.json. Safe while ``stop`` runs, and after it.
        """
        for worker in self.workers.values():
            worker.kill()
        for pid in self._pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in self._pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self._remove_local_file()

    def _remove_local_file(self) -> None:
        path = self.options.state_dir / LOCAL_FILE
        if self.resources is not None and path.is_file():
            try:
                if LocalResources.from_json(path.read_text()).pid == os.getpid():
                    path.unlink(missing_ok=True)
            except (ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)

    # --- helpers for runs, demos and tests ---------------------------------------------------

    def seed_stock(self, stock: Mapping[str, tuple[int, int]], seed_id: str = "local") -> None:
        """Set each sku's (available, reorder threshold) through inventory's own operator tool."""
        from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger  # noqa: PLC0415
        from orderflow.inventory.admin import seed_stock  # noqa: PLC0415
        from orderflow.inventory.domain import StockSetting  # noqa: PLC0415

        if self.resources is None:
            raise LocalRuntimeError("the local runtime is not running")
        outputs = self.resources.services["inventory"].outputs
        ledger = DynamoDBStockLedger(
            self.client("dynamodb"),
            stock_table=outputs["StockTableName"],
            movements_table=outputs["MovementsTableName"],
        )
        settings = [StockSetting(sku, n, threshold) for sku, (n, threshold) in stock.items()]
        seed_stock(ledger, settings, seed_id=seed_id)

    def set_event_source(self, service: str, *, enabled: bool) -> str:
        """Enable or disable ``service``'s SQS event source mapping, as an operator does
        (``aws lambda update-event-source-mapping --uuid ... --[no-]enabled``); return the
        state Lambda answers with. The service's worker follows the state within a second."""
        if self.resources is None:
            raise LocalRuntimeError("the local runtime is not running")
        uuid = self.workers[service].spec.mapping_uuid
        answer = self.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=enabled)
        return str(answer["State"])

    def backlog(self) -> dict[str, int]:
        """Messages visible or in flight on each service's source queue."""
        from orderflow.platform.backlog import queue_depths  # noqa: PLC0415

        if self.resources is None:
            raise LocalRuntimeError("the local runtime is not running")
        sqs = self.client("sqs")
        return {
            name: sum(queue_depths(sqs, service.queue_url))
            for name, service in self.resources.services.items()
        }

    def wait_until_quiet(self, timeout: float, settle_checks: int = 3) -> bool:
        """True once every source queue stayed empty for a few checks in a row."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            quiet = quiet + 1 if not any(self.backlog().values()) else 0
            if quiet >= settle_checks:
                return True
            time.sleep(1)
        return False

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def topic_delivery_policy(queue_arn: str, topic_arn: str) -> str:
    """A queue policy that lets ``topic_arn`` (and only it) deliver to the queue."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TopicDelivers",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _service_resources(sqs: Any, stack: DeployedStack) -> ServiceResources:
    queues = stack.physical_ids("AWS::SQS::Queue")
    queue_url, dlq_url = "", ""
    for url in queues.values():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
        if "RedrivePolicy" in attributes.get("Attributes", {}):
            queue_url = url
        else:
            dlq_url = url
    if not queue_url or not dlq_url:
        raise LocalRuntimeError(f"stack {stack.stack_name} has no queue with a DLQ")
    functions = list(stack.physical_ids("AWS::Lambda::Function").values())
    if len(functions) != 1:
        raise LocalRuntimeError(f"stack {stack.stack_name} must hold exactly one function")
    return ServiceResources(
        stack=stack.stack_name,
        queue_url=queue_url,
        queue_arn=_arn_of(sqs, queue_url),
        dlq_url=dlq_url,
        dlq_arn=_arn_of(sqs, dlq_url),
        function_name=functions[0],
        tables=stack.physical_ids("AWS::DynamoDB::Table"),
        outputs=stack.outputs,
    )


def _arn_of(sqs: Any, url: str) -> str:
    return str(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    )
