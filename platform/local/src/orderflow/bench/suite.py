"""The five benchmarks, each turned into figures beside their targets.

A benchmark that cannot run (an image not built, the local runtime not starting) yields a
figure marked "not measured" with the reason, and the others still run.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orderflow.bench import callcost, cost, http_front
from orderflow.bench.artifacts import LEFT_OUT, artifact_size
from orderflow.bench.census import ServiceCensus, census_in_subprocess
from orderflow.bench.coldstart import (
    ImportGroup,
    ImportImage,
    import_breakdown,
    measure_cold_start,
)
from orderflow.bench.records import BATCH_SIZE, RecordCost, measure_record_cost
from orderflow.bench.settings import FunctionSettings
from orderflow.bench.stats import (
    MEGABYTES,
    RATIO,
    SHARE,
    USD_PER_MILLION_ORDERS,
    BenchError,
    Figure,
    at_least,
    at_most,
    median,
    module_json,
    ratio,
)
from orderflow.bench.throughput import (
    PlainMoto,
    Throughput,
    measure_plain_moto,
    measure_throughput,
)
from orderflow.bench.traffic import ReferenceTraffic
from orderflow.contracts import SERVICES

COLD_START = "cold start"
RECORD_COST = "per-record cost"
THROUGHPUT = "local throughput"
ARTIFACT = "artifact size"
COST = "cost on AWS"
CALL_COST = "cost per call"
SECTIONS = (COLD_START, RECORD_COST, THROUGHPUT, CALL_COST, http_front.SECTION, ARTIFACT, COST)
"""The order of the table."""

COLD_START_TARGET = at_most(1.5)
RECORD_COST_TARGET = at_most(2.0)
THROUGHPUT_TARGET = at_least(0.70)
ARTIFACT_TARGET = at_most(10.0)
CALL_COST_TARGET = at_most(1.5)
BATCH_PATH_TARGET = at_least(1000.0)
PIPELINE_TARGET = at_least(25.0)
"""Orders per second through all four consumers, on 2 cores."""
LARGE_RUN_TARGET = at_least(0.90)
"""Throughput of the large run as a share of the small runs'."""
PLAIN_MOTO_TARGET = at_least(10.0)
MESSAGES_PER_SECOND = "messages/s"
ORDERS_PER_SECOND = "orders/s"
CALL_COST_TIMEOUT_SECONDS = 1800
WAIT_EXAMPLE_SECONDS = 0.010


BUILD_VARIANTS: dict[str, str] = {"payment-stripe": "payment"}
"""Zips measured besides each service's default build: payment built with its Stripe extra
(`nox -s "build(service='payment')" -- --extra stripe`), by bench name -> service."""


def subjects() -> list[tuple[str, str]]:
    """(bench name, service) for every zip the bench measures: the services, then variants."""
    return [(service, service) for service in SERVICES] + list(BUILD_VARIANTS.items())


@dataclass(frozen=True)
class Options:
    """How much of each benchmark to run."""

    root: Path
    images: Path
    runtime: Path
    python: str
    python_version: str
    artifacts: Path
    state_dir: Path
    orders: int = 100
    seed: int = 2024
    cold_start_runs: int = 11
    record_runs: int = 7
    throughput_orders: int = 200
    throughput_runs: int = 3
    throughput_large_orders: int = 5000
    plain_moto_orders: int = 40
    call_cost_calls: int = 15


@dataclass
class Results:
    """Figures so far, the measurements later benchmarks build on, and general notes."""

    figures: list[Figure] = field(default_factory=list)
    record_costs: dict[str, RecordCost] = field(default_factory=dict)
    censuses: dict[str, ServiceCensus] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def ordered(self) -> list[Figure]:
        return sorted(self.figures, key=lambda f: SECTIONS.index(f.section))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def listing(pairs: Sequence[tuple[str, float]], unit: str, count: int = 6) -> str:
    return ", ".join(f"{name} {value:.1f} {unit}" for name, value in pairs[:count])


def not_measured(section: str, subject: str, unit: str, error: Exception) -> Figure:
    return Figure(section, subject, None, unit, detail=str(error))


# --- 1. cold start --------------------------------------------------------------------------


def cold_start(
    options: Options, settings: Mapping[str, FunctionSettings], results: Results
) -> None:
    """Each handler's import from its zip against ``import boto3``, on the runtime's Python."""
    for name, service in subjects():
        image = ImportImage(
            name,
            task_root=options.images / name,
            runtime=options.runtime,
            handler_module=settings[service].handler_module,
            python=options.python,
        )
        try:
            shipped = measure_cold_start(image, options.cold_start_runs)
            beyond = import_breakdown(image)
        except (BenchError, OSError) as exc:
            results.figures.append(not_measured(COLD_START, name, RATIO, exc))
            continue
        sdk = [g.name for g in beyond if g.name.split(".")[0] == "stripe"]
        results.figures.append(
            Figure(
                COLD_START,
                name,
                shipped.ratio,
                RATIO,
                COLD_START_TARGET,
                detail=f"{ms(shipped.subject)} vs `import boto3` {ms(shipped.floor)}; "
                f"the zip as shipped, python{options.python_version}; median of {shipped.runs}",
                why="What it imports beyond boto3 (-X importtime self time, and who imports "
                f"it): {_import_listing(beyond)}."
                + (
                    (" The Stripe SDK is imported at start: " + ", ".join(sdk) + ".")
                    if sdk
                    else " The Stripe SDK is not imported at start (only by the Stripe gateway)."
                    if name in BUILD_VARIANTS
                    else ""
                ),
                data={
                    "python": options.python_version,
                    "floor_seconds": shipped.floors,
                    "handler_seconds": shipped.subjects,
                    "imports_stripe_sdk": bool(sdk),
                    "imports_beyond_floor": [
                        {"group": g.name, "self_ms": g.self_ms, "imported_by": g.imported_by}
                        for g in beyond
                    ],
                },
            )
        )


def _import_listing(groups: Sequence[ImportGroup], count: int = 6) -> str:
    return ", ".join(f"{g.name} {g.self_ms:.0f} ms (by {g.imported_by})" for g in groups[:count])


# --- 2. per-record cost --------------------------------------------------------------------


def record_cost(options: Options, traffic: ReferenceTraffic, results: Results) -> None:
    """Each consumer's record path against json.loads plus contract validation."""
    for service in SERVICES:
        try:
            measured = measure_record_cost(service, traffic.routed_to(service), options.record_runs)
        except BenchError as exc:
            results.figures.append(not_measured(RECORD_COST, service, RATIO, exc))
            continue
        results.record_costs[service] = measured
        paired = measured.paired
        results.figures.append(
            Figure(
                RECORD_COST,
                service,
                paired.ratio,
                RATIO,
                RECORD_COST_TARGET,
                detail=f"{us(paired.subject)} vs floor {us(paired.floor)} per record; "
                f"batches of {BATCH_SIZE}, median of {paired.runs}",
                why=f"The consumer shell alone (a domain that does nothing) takes "
                f"{us(measured.shell_seconds)}, {measured.shell_seconds / paired.floor:.1f}x "
                f"the floor; the domain on in-memory ports adds {us(measured.domain_seconds)}.",
                data={
                    "floor_seconds": paired.floors,
                    "path_seconds": paired.subjects,
                    "shell_seconds": measured.shell,
                    "records": len(traffic.routed_to(service)),
                },
            )
        )


# --- 3. throughput ------------------------------------------------------------------------


def throughput(options: Options, traffic: ReferenceTraffic, results: Results) -> None:
    """Orders per second on the local runtime: against the emulator's ceiling, at the small and
    the large size, and against plain moto."""
    subject = "all four consumers"
    small, large = options.throughput_orders, options.throughput_large_orders
    try:
        measured = measure_throughput(
            options.root,
            options.state_dir,
            orders=small,
            runs=options.throughput_runs,
            large_orders=large,
        )
    except BenchError as exc:
        results.figures.append(not_measured(THROUGHPUT, subject, SHARE, exc))
        for name, unit in (
            (_pipeline_subject(small), ORDERS_PER_SECOND),
            (_pipeline_subject(large), ORDERS_PER_SECOND),
            (_large_subject(small, large), SHARE),
            (PLAIN_MOTO_SUBJECT, RATIO),
        ):
            results.figures.append(not_measured(THROUGHPUT, name, unit, exc))
        return
    pipeline, ceiling = median(measured.pipeline), median(measured.ceiling)
    results.figures.append(
        Figure(
            THROUGHPUT,
            subject,
            measured.share_of_ceiling,
            SHARE,
            THROUGHPUT_TARGET,
            detail=f"{pipeline:.1f} orders/s vs ceiling {ceiling:.1f} orders/s; "
            f"{measured.orders} orders a run, median of {len(measured.pipeline)}"
            + _failed(measured.failed),
            why=_throughput_why(traffic, results.censuses),
            data={
                "pipeline_orders_per_second": measured.pipeline,
                "ceiling_orders_per_second": measured.ceiling,
                "failed_records": measured.failed,
            },
        )
    )
    try:
        plain: PlainMoto | BenchError = measure_plain_moto(
            options.root,
            options.state_dir.with_name(f"{options.state_dir.name}-plain-moto"),
            orders=options.plain_moto_orders,
        )
    except BenchError as exc:
        plain = exc
    results.figures.extend(pipeline_figures(measured, plain))


PLAIN_MOTO_SUBJECT = "pipeline vs plain moto"


def _pipeline_subject(orders: int) -> str:
    return f"pipeline, {orders:,} orders"


def _large_subject(small: int, large: int) -> str:
    return f"pipeline, {large:,} vs {small:,} orders"


def _failed(failed: Mapping[str, int]) -> str:
    listed = ", ".join(f"{s} {n}" for s, n in sorted(failed.items()))
    return f"; failed records: {listed}" if listed else ""


def pipeline_figures(measured: Throughput, plain: PlainMoto | BenchError) -> list[Figure]:
    """Orders/s at the small and the large size, the large as a share of the small, and the
    small against plain moto."""
    small = median(measured.pipeline)
    figures = [
        Figure(
            THROUGHPUT,
            _pipeline_subject(measured.orders),
            small,
            ORDERS_PER_SECOND,
            PIPELINE_TARGET,
            detail=f"through all four consumers, first publish to last done; median of "
            f"{len(measured.pipeline)} runs" + _failed(measured.failed),
            data={"orders_per_second": measured.pipeline},
        )
    ]
    large_subject = _pipeline_subject(measured.large_orders)
    share_subject = _large_subject(measured.orders, measured.large_orders)
    if measured.large:
        large = median(measured.large)
        figures.append(
            Figure(
                THROUGHPUT,
                large_subject,
                large,
                ORDERS_PER_SECOND,
                PIPELINE_TARGET,
                detail=f"one run, after the {measured.orders:,}-order runs (tables keep "
                "what they stored)",
                data={"orders_per_second": measured.large},
            )
        )
        figures.append(
            Figure(
                THROUGHPUT,
                share_subject,
                measured.large_share,
                SHARE,
                LARGE_RUN_TARGET,
                detail=f"{large:.1f} vs {small:.1f} orders/s",
            )
        )
    else:
        error = BenchError(measured.large_error or "no large run was asked for")
        figures.append(not_measured(THROUGHPUT, large_subject, ORDERS_PER_SECOND, error))
        figures.append(not_measured(THROUGHPUT, share_subject, SHARE, error))
    if isinstance(plain, BenchError):
        figures.append(not_measured(THROUGHPUT, PLAIN_MOTO_SUBJECT, RATIO, plain))
        return figures
    moto = median(plain.pipeline)
    smaller = (
        f"; plain moto at {plain.orders:,} orders, fewer than {measured.orders:,}: it slows as "
        "its queues and tables fill, so this understates the difference"
        if plain.orders < measured.orders
        else ""
    )
    figures.append(
        Figure(
            THROUGHPUT,
            PLAIN_MOTO_SUBJECT,
            ratio(small, moto),
            RATIO,
            PLAIN_MOTO_TARGET,
            detail=f"{small:.1f} vs {moto:.1f} orders/s; plain moto: the embedded AWS without "
            f"{', '.join(plain.left_out)}{smaller}" + _failed(plain.failed),
            data={
                "plain_moto_orders": plain.orders,
                "plain_moto_orders_per_second": plain.pipeline,
                "left_out": list(plain.left_out),
                "plain_moto_failed_records": plain.failed,
            },
        )
    )
    return figures


def _throughput_why(traffic: ReferenceTraffic, censuses: Mapping[str, ServiceCensus]) -> str:
    """Both runs share one embedded AWS process: compare what each asks of it per order."""
    if len(censuses) != len(SERVICES):
        return ""
    work = sum(
        n / census.orders
        for census in censuses.values()
        for call, n in census.calls.items()
        if not call.startswith("sns.")
    )
    publishes = len(traffic.events) / traffic.orders
    deliveries = traffic.deliveries() / traffic.orders
    return (
        f"Per order the consumers add {work:.1f} DynamoDB and SES requests (request census) to "
        f"the ceiling's {publishes:.1f} publishes and {deliveries:.1f} queue deliveries (plus "
        "receives and deletes), all served by the one embedded AWS process on the same cores."
    )


# --- 3b. cost per call -------------------------------------------------------------------


def call_cost(options: Options, results: Results) -> None:
    """Each call's cost at 100,000 queued / stored against at 0, extensions on vs plain moto."""
    arguments = ["--calls", str(options.call_cost_calls)]
    try:
        output = module_json(
            options.root, "orderflow.bench.callcost", arguments, CALL_COST_TIMEOUT_SECONDS
        )
        costs = callcost.from_json(output)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        error = BenchError(f"the cost-per-call run failed: {exc}")
        for call in callcost.CALLS:
            results.figures.append(not_measured(CALL_COST, call, RATIO, error))
        return
    results.figures.extend(call_cost_figures(costs))


def call_cost_figures(costs: Sequence[callcost.CallCost]) -> list[Figure]:
    """One growth figure per call and the SQS batch path's rate at the largest size."""
    figures = []
    for call in callcost.CALLS:
        figures.append(
            Figure(
                CALL_COST,
                call,
                callcost.growth(costs, call, callcost.SIDES[0]),
                RATIO,
                CALL_COST_TARGET,
                detail="CPU time per call at the largest size / at 0; "
                + "; ".join(
                    f"{side}: {_sizes_listing(callcost.per_size(costs, call, side))}"
                    for side in callcost.SIDES
                ),
                data={
                    **{
                        side: {str(k): v for k, v in callcost.per_size(costs, call, side).items()}
                        for side in callcost.SIDES
                    },
                    "wall_seconds": {
                        side: {
                            str(k): v for k, v in callcost.per_size_wall(costs, call, side).items()
                        }
                        for side in callcost.SIDES
                    },
                },
            )
        )
    largest = max(c.size for c in costs)
    rates = {side: callcost.batch_path_rate(costs, side, largest) for side in callcost.SIDES}
    plain = rates[callcost.SIDES[1]]
    figures.append(
        Figure(
            CALL_COST,
            f"SQS batch path at {largest:,} queued",
            rates[callcost.SIDES[0]],
            MESSAGES_PER_SECOND,
            BATCH_PATH_TARGET,
            detail="send 10 + receive 10 + delete 10, in-process, per CPU second; plain moto "
            + ("not reached" if plain is None else f"{plain:,.0f} messages/s"),
            data=dict(rates),
        )
    )
    return figures


def _sizes_listing(sizes: Mapping[int, float | None]) -> str:
    return ", ".join(
        f"{size:,} {'not reached' if seconds is None else ms_precise(seconds)}"
        for size, seconds in sorted(sizes.items())
    )


def ms_precise(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def http_front_cost(options: Options, results: Results) -> None:
    """A call over the embedded AWS's HTTP front against the same call in-process."""
    results.figures.extend(http_front.http_front_figures(options.root))


# --- 4. artifact size --------------------------------------------------------------------


def artifacts(options: Options, results: Results) -> None:
    """Each function's zip: MB zipped and unzipped, and what makes it up."""
    for name, service in subjects():
        try:
            size = artifact_size(options.artifacts / name / f"{service}.zip")
        except BenchError as exc:
            results.figures.append(not_measured(ARTIFACT, name, MEGABYTES, exc))
            continue
        results.figures.append(
            Figure(
                ARTIFACT,
                name,
                size.unzipped_mb,
                MEGABYTES,
                ARTIFACT_TARGET,
                detail=(
                    f"unzipped; {size.zipped_mb:.1f} MB zipped; "
                    f"{', '.join(n for n, _ in LEFT_OUT if not size.carries(n)) or 'nothing'} "
                    "left out"
                ),
                why=(
                    f"Left out: {'; '.join(size.left_out()) or 'nothing'}. "
                    f"Largest entries unzipped: {listing(size.largest(6), 'MB')}."
                ),
                data={
                    "zipped_bytes": size.zipped_bytes,
                    "unzipped_bytes": size.unzipped_bytes,
                    "by_entry_bytes": dict(size.by_entry),
                },
            )
        )


# --- 5. cost per million orders --------------------------------------------------------


def take_censuses(options: Options, results: Results) -> None:
    """Every service's request census, each in a fresh interpreter."""
    with tempfile.TemporaryDirectory(prefix="orderflow-census-") as work:
        for service in SERVICES:
            try:
                results.censuses[service] = census_in_subprocess(
                    options.root, service, options.orders, options.seed, Path(work) / service
                )
            except BenchError as exc:
                results.notes.append(str(exc))


def aws_cost(
    settings: Mapping[str, FunctionSettings], traffic: ReferenceTraffic, results: Results
) -> None:
    """USD per million orders, per service and in total."""
    missing = [s for s in SERVICES if s not in results.censuses or s not in results.record_costs]
    if missing:
        error = BenchError(f"needs the request census and per-record cost of {', '.join(missing)}")
        results.figures.append(not_measured(COST, "total", USD_PER_MILLION_ORDERS, error))
        return
    usages = [_usage(settings[s], results.censuses[s], results.record_costs[s]) for s in SERVICES]
    total = cost.Cost()
    for usage in usages:
        line = cost.service_cost(usage)
        total += line
        results.figures.append(_cost_figure(usage.service, line, _per_record(usage)))
    publishes = traffic.publishes_by()[cost.ORDER_API]
    api = cost.publisher_cost(traffic.orders, publishes, traffic.deliveries())
    total += api
    results.figures.append(
        _cost_figure(
            "order API publishes",
            api,
            f"{publishes / traffic.orders:.2f} publishes, "
            f"{traffic.deliveries() / traffic.orders:.2f} SQS deliveries per order (free)",
        )
    )
    results.figures.append(_cost_figure("total", total, "reference traffic, list prices"))
    wait = cost.lambda_wait_cost(usages, WAIT_EXAMPLE_SECONDS)
    results.notes.append(
        "Cost: Lambda duration is the measured compute per batch on the function's CPU share "
        "(memory / 1,769 MB of a vCPU), billed per ms; time waiting on DynamoDB, SNS and SES is "
        f"not in it: each {WAIT_EXAMPLE_SECONDS * 1000:.0f} ms of waiting per batch adds "
        f"${wait:,.2f} per million orders. Full batches assumed; idle long polls, CloudWatch "
        "Logs, X-Ray and storage are not counted."
    )


def _usage(
    settings: FunctionSettings, census: ServiceCensus, measured: RecordCost
) -> cost.ServiceUsage:
    return cost.ServiceUsage(
        service=settings.service,
        orders=census.orders,
        records=census.records,
        batch_size=settings.batch_size,
        memory_mb=settings.memory_mb,
        architecture=settings.architecture,
        seconds_per_record=measured.paired.subject,
        dynamodb=census.dynamodb,
        sns_publishes=census.sns_publishes,
        emails=census.emails,
    )


def _per_record(usage: cost.ServiceUsage) -> str:
    per = 1 / usage.records
    return (
        f"{usage.records / usage.orders:.2f} records/order; per record "
        f"{usage.dynamodb.write * per:.1f} WRU, {usage.dynamodb.read * per:.1f} RRU, "
        f"{usage.sns_publishes * per:.2f} publishes, {usage.emails * per:.2f} emails; "
        f"{usage.memory_mb} MB, batch {usage.batch_size}, "
        f"{cost.batch_seconds(usage) * 1000:.0f} ms billed per batch"
    )


def _cost_figure(subject: str, line: cost.Cost, detail: str) -> Figure:
    parts = (
        ("Lambda", line.lambda_),
        ("SQS", line.sqs),
        ("SNS", line.sns),
        ("DynamoDB", line.dynamodb),
        ("SES", line.ses),
    )
    spent = " + ".join(f"{name} ${value:,.2f}" for name, value in parts if value)
    return Figure(
        COST,
        subject,
        line.total,
        USD_PER_MILLION_ORDERS,
        detail=f"{spent or '$0'}; {detail}",
        data=line.as_json(),
    )
