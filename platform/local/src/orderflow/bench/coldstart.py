"""Cold start: the runtime's Python importing a handler from its zip, against ``import boto3``.

Each service's import image is its Lambda zip unpacked as Lambda unpacks it (the task root,
bytecode and all, exactly as shipped), beside a runtime directory holding what the Lambda
runtime provides (boto3 and its dependencies, compiled, as the runtime ships them). A fresh
interpreter of the runtime's Python (``python3.12``) runs with ``-S``, the task root then the
runtime directory first on ``sys.path`` and nothing else beyond the standard library, as in
Lambda; the environment carries what Lambda sets (``LAMBDA_TASK_ROOT`` turns Powertools'
Tracer on, as on AWS). Nothing may write bytecode, as ``/var/task`` is
read-only: a module the zip carries no ``.pyc`` for is compiled on every start, and that shows.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orderflow.bench.stats import BenchError, Paired, measure_paired

FLOOR_STATEMENT = "import boto3"
LAMBDA_REGION = "us-east-1"
_DEEP_PACKAGES = {"orderflow": 2, "aws_lambda_powertools": 3, "aws_xray_sdk": 3}
"""How many name parts group a module in the import breakdown (others: the top level)."""


@dataclass(frozen=True)
class ImportImage:
    """A service's unpacked zip, the runtime's own packages, and the interpreter that runs both."""

    service: str
    task_root: Path
    runtime: Path
    handler_module: str
    python: str

    def statement(self, statement: str) -> str:
        """Python code that puts the task root, then the runtime, first on the path."""
        paths = [str(self.task_root), str(self.runtime)]
        return f"import sys; sys.path[0:0] = {paths!r}; {statement}"


def lambda_environment(image: ImportImage) -> dict[str, str]:
    """What the Lambda runtime sets that imports read; bytecode is read, never written."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(image.task_root),
        "LAMBDA_RUNTIME_DIR": str(image.runtime),
        "_HANDLER": f"{image.handler_module}.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": f"orderflow-bench-{image.service}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": LAMBDA_REGION,
        "AWS_DEFAULT_REGION": LAMBDA_REGION,
        "POWERTOOLS_SERVICE_NAME": image.service,
        "POWERTOOLS_METRICS_NAMESPACE": "orderflow",
        # /var/task is read-only: what the zip lacks is compiled again on every start.
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def run_python(
    python: str, code: str, env: Mapping[str, str], *options: str
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh ``python`` without site-packages; raise naming any failure."""
    result = subprocess.run(  # noqa: S603  (the runtime's interpreter, our own code)
        [python, "-S", *options, "-c", code],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchError(f"{python} -c {code!r} failed: {last}")
    return result


def timed_import(image: ImportImage, statement: str, env: Mapping[str, str]) -> float:
    """Seconds from starting a fresh interpreter to its exit after ``statement``."""
    code = image.statement(statement)
    started = time.perf_counter()
    run_python(image.python, code, env)
    return time.perf_counter() - started


def check_image(image: ImportImage) -> None:
    """Raise naming what is missing before anything is timed."""
    for what, path in (("unpacked zip", image.task_root), ("runtime directory", image.runtime)):
        if not path.is_dir():
            raise BenchError(f"no {what} for {image.service} at {path}; `nox -s bench` makes it")


def measure_cold_start(image: ImportImage, runs: int) -> Paired:
    """``runs`` paired timings: ``import boto3`` (floor) and the handler module (subject)."""
    check_image(image)
    env = lambda_environment(image)
    handler = f"import {image.handler_module}"
    # One throwaway run each: the first start pays for the OS file cache, not for imports.
    timed_import(image, FLOOR_STATEMENT, env)
    timed_import(image, handler, env)
    return measure_paired(
        lambda: timed_import(image, FLOOR_STATEMENT, env),
        lambda: timed_import(image, handler, env),
        runs,
    )


@dataclass(frozen=True)
class ImportLine:
    """One line of ``-X importtime``: a module, its self time, how deep in the import tree."""

    module: str
    self_us: int
    depth: int


@dataclass(frozen=True)
class ImportGroup:
    """Import time of a group of modules, and the module that first pulled the group in."""

    name: str
    self_ms: float
    imported_by: str


def import_lines(stderr: str) -> list[ImportLine]:
    """The module lines of ``python -X importtime`` output, in the order printed."""
    lines = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        name = fields[2].rstrip()
        # One space after the bar, then two per level of nesting.
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        lines.append(ImportLine(name.strip(), int(fields[0]), depth))
    return lines


def importers(lines: Sequence[ImportLine]) -> dict[str, str]:
    """Module -> the module whose import ran it (children print before their parent)."""
    parents: dict[str, str] = {}
    waiting: dict[int, list[str]] = {}
    for line in lines:
        for child in waiting.pop(line.depth + 1, []):
            parents[child] = line.module
        waiting.setdefault(line.depth, []).append(line.module)
    return parents


def module_group(module: str) -> str:
    """The name a module is reported under: its package, a level deeper for the big ones."""
    parts = module.split(".")
    return ".".join(parts[: _DEEP_PACKAGES.get(parts[0], 1)])


def imports_beyond_floor(
    floor: Sequence[ImportLine], subject: Sequence[ImportLine]
) -> list[ImportGroup]:
    """Self time of what ``subject`` imports beyond the floor, by group, largest first."""
    floor_modules = {line.module for line in floor}
    parents = importers(subject)
    totals: Counter[str] = Counter()
    entry: dict[str, ImportLine] = {}
    for line in subject:
        if line.module in floor_modules:
            continue
        group = module_group(line.module)
        totals[group] += line.self_us
        if group not in entry or line.depth < entry[group].depth:
            entry[group] = line
    return [
        ImportGroup(group, micros / 1000, parents.get(entry[group].module, "<main>"))
        for group, micros in totals.most_common()
    ]


def import_breakdown(image: ImportImage) -> list[ImportGroup]:
    """``-X importtime`` of the handler against the floor: where the extra import time goes."""
    env = lambda_environment(image)
    floor = run_python(image.python, image.statement(FLOOR_STATEMENT), env, "-X", "importtime")
    subject = run_python(
        image.python, image.statement(f"import {image.handler_module}"), env, "-X", "importtime"
    )
    return imports_beyond_floor(import_lines(floor.stderr), import_lines(subject.stderr))
