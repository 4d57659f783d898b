"""Cold start: a fresh interpreter importing a handler, against one running ``import boto3`` alone.

Each service's import image is its function's code installed for this interpreter (built by
``nox -s bench`` with the same logic as the Lambda artifact, boto3 kept since the runtime has
it). Interpreters run with ``-S`` and the image first on ``sys.path``, so only the image and the
standard library are importable, as in Lambda; the environment carries what Lambda sets
(``LAMBDA_TASK_ROOT`` turns Powertools' Tracer on, which patches botocore at import).

Bytecode lives outside the image (``PYTHONPYCACHEPREFIX``) in two trees, so the image itself is
never changed: one with everything compiled, and one with only what ``import boto3`` loads
compiled, as the runtime ships boto3 but the zip carries no ``.pyc`` and ``/var/task`` is
read-only, so Lambda compiles the rest on every cold start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orderflow.platform.bench.stats import BenchError, Paired, measure_paired

FLOOR_STATEMENT = "import boto3"
LAMBDA_REGION = "us-east-1"
_DEEP_PACKAGES = {"orderflow": 2, "aws_lambda_powertools": 3, "aws_xray_sdk": 3}
"""How many name parts group a module in the import breakdown (others: the top level)."""


@dataclass(frozen=True)
class ImportImage:
    """A service's code installed for this interpreter, and its handler module."""

    service: str
    path: Path
    handler_module: str


@dataclass(frozen=True)
class BytecodeTrees:
    """The two pycache-prefix trees: everything compiled, and only what boto3 loads."""

    compiled: Path
    shipped: Path


def statement_in_image(image: Path, statement: str) -> str:
    """Python code that puts ``image`` first on the path, then runs ``statement``."""
    return f"import sys; sys.path[0:0] = [{str(image)!r}]; {statement}"


def lambda_environment(image: ImportImage, pycache: Path) -> dict[str, str]:
    """What the Lambda runtime sets that imports read, plus where bytecode is read from."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "LAMBDA_TASK_ROOT": str(image.path),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": f"orderflow-bench-{image.service}",
        "AWS_REGION": LAMBDA_REGION,
        "AWS_DEFAULT_REGION": LAMBDA_REGION,
        "POWERTOOLS_SERVICE_NAME": image.service,
        "POWERTOOLS_METRICS_NAMESPACE": "orderflow",
        "PYTHONPYCACHEPREFIX": str(pycache),
        # Fixed trees: a run must not compile into them and so change the next run.
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def run_python(
    code: str, env: Mapping[str, str], *options: str
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter without site-packages; raise naming any failure."""
    result = subprocess.run(  # noqa: S603  (this interpreter, our own code)
        [sys.executable, "-S", *options, "-c", code],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchError(f"python -c {code!r} failed: {last}")
    return result


def timed_import(image: Path, statement: str, env: Mapping[str, str]) -> float:
    """Seconds from starting a fresh interpreter to its exit after ``statement``."""
    code = statement_in_image(image, statement)
    started = time.perf_counter()
    run_python(code, env)
    return time.perf_counter() - started


def prepare_bytecode(image: ImportImage, work: Path) -> BytecodeTrees:
    """Compile the image into both bytecode trees under ``work``."""
    trees = BytecodeTrees(compiled=work / "compiled", shipped=work / "shipped")
    boto3_packages = packages_loaded_by(image, FLOOR_STATEMENT)
    _compile([image.path], trees.compiled)
    _compile([image.path / name for name in boto3_packages], trees.shipped)
    return trees


def packages_loaded_by(image: ImportImage, statement: str) -> list[str]:
    """The image's top-level files and packages that ``statement`` imports."""
    probe = (
        "import sys\n"
        f"root = {str(image.path)!r}\n"
        "sys.path[0:0] = [root]\n"
        f"{statement}\n"
        "names = set()\n"
        "for module in list(sys.modules.values()):\n"
        "    path = getattr(module, '__file__', None) or ''\n"
        "    if path.startswith(root + '/'):\n"
        "        names.add(path[len(root) + 1 :].split('/')[0])\n"
        "print('\\n'.join(sorted(names)))\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    return run_python(probe, env).stdout.split()


def _compile(paths: list[Path], tree: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPYCACHEPREFIX": str(tree)}
    # compileall's command line takes files and directories alike.
    subprocess.run(  # noqa: S603  (this interpreter, the standard library's compileall)
        [sys.executable, "-m", "compileall", "-q", *map(str, paths)],
        env=env,
        check=True,
        capture_output=True,
    )


def measure_cold_start(image: ImportImage, pycache: Path, runs: int) -> Paired:
    """``runs`` paired timings: ``import boto3`` (floor) and the handler module (subject)."""
    env = lambda_environment(image, pycache)
    handler = f"import {image.handler_module}"
    # One throwaway run each: the first start pays for the OS file cache, not for imports.
    timed_import(image.path, FLOOR_STATEMENT, env)
    timed_import(image.path, handler, env)
    return measure_paired(
        lambda: timed_import(image.path, FLOOR_STATEMENT, env),
        lambda: timed_import(image.path, handler, env),
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


def import_breakdown(image: ImportImage, pycache: Path) -> list[ImportGroup]:
    """``-X importtime`` of the handler against the floor: where the extra import time goes."""
    env = lambda_environment(image, pycache)
    floor = run_python(statement_in_image(image.path, FLOOR_STATEMENT), env, "-X", "importtime")
    subject = run_python(
        statement_in_image(image.path, f"import {image.handler_module}"), env, "-X", "importtime"
    )
    return imports_beyond_floor(import_lines(floor.stderr), import_lines(subject.stderr))
