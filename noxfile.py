"""orderflow sessions: one set per package, plus templates, build, deploy, demo, e2e and bench.

Every per-package session installs that package and its declared dependencies only
(``uv sync --package``), so an undeclared dependency fails here instead of hiding behind
another package's environment.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PACKAGES = {
    "shared": "shared",
    "platform": "platform/ops",
    "emulator": "platform/emulator",
    "testing": "platform/testing",
    "local": "platform/local",
    "payment": "services/payment",
    "inventory": "services/inventory",
    "notifications": "services/notifications",
    "analytics": "services/analytics",
}
SERVICES = ("payment", "inventory", "notifications", "analytics")
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "x86_64-manylinux_2_28"
# The Lambda runtime ships boto3 and what it depends on; a zip that carries them only grows.
RUNTIME_PROVIDED = (
    "boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "python_dateutil", "six",
)  # fmt: skip
# The public Powertools layer each function takes (its template's PowertoolsLayerArn, pinned to
# the locked version) provides Powertools. Its other packages (pydantic and the rest of
# Powertools' [all] extras, at whatever versions resolved when the layer was built) stay in the
# zip at our locked versions: Lambda imports a function's own packages before a layer's.
LAYER_PROVIDED = ("aws_lambda_powertools",)


def distribution(package: str) -> str:
    return f"orderflow-{package}"


RUNTIME_PACKAGES = ("shared", *SERVICES)
"""What runs inside Lambda: tested on the runtime's Python, not on the one running nox."""
ARTIFACT_SCRIPT = ROOT / "platform/ops/src/orderflow/platform/artifact.py"


@functools.cache
def lambda_python() -> str:
    """The Lambda runtime's Python (``LAMBDA_PYTHON``), found as on a newcomer's machine.

    In order: ``python3.12`` on PATH (if it runs: a pyenv shim for a version not selected does
    not), pyenv's installed versions, uv's (installing one where uv can download it). Stops the
    run with one line saying what to install when none is found.
    """
    version = f"{LAMBDA_PYTHON}"
    candidates: list[str] = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    if shutil.which("pyenv"):
        prefix = _quiet(["pyenv", "prefix", version])
        if prefix:
            candidates.append(str(Path(prefix.splitlines()[0]) / "bin" / f"python{version}"))
    candidates.append(_quiet(["uv", "python", "find", "--managed-python", version]))
    for candidate in filter(None, candidates):
        if _reports_version(candidate, version):
            return candidate
    installed = _quiet(["uv", "python", "install", version]) is not None
    found = _quiet(["uv", "python", "find", "--managed-python", version]) if installed else None
    if found and _reports_version(found, version):
        return found
    raise SystemExit(
        f"nox: the Lambda runtime's Python {version} is not installed and uv could not download "
        f"it; install it (`uv python install {version}`, `pyenv install {version}`, or your OS "
        f"package) and run again"
    )


def _quiet(command: list[str]) -> str | None:
    """``command``'s stdout, or None if it cannot run or fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _reports_version(interpreter: str, version: str) -> bool:
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    return _quiet([interpreter, "-c", code]) == version


def sync(session: nox.Session, package: str) -> None:
    """Install ``package``, its declared dependencies and the dev tools into the session venv.

    Code that runs inside Lambda (shared and the services) gets the runtime's Python: uv
    recreates the session's environment with it.
    """
    python = ("--python", lambda_python()) if package in RUNTIME_PACKAGES else ()
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--package",
        distribution(package),
        "--group",
        "dev",
        # Every optional feature is tested (payment's Stripe gateway needs its SDK).
        "--all-extras",
        *python,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


def package_params() -> list[object]:
    return [nox.param(p, tags=[p]) for p in PACKAGES]


@nox.session(python=False, tags=["ci"])
def lock(session: nox.Session) -> None:
    """uv.lock matches every pyproject.toml."""
    session.run("uv", "lock", "--check")


@nox.session
@nox.parametrize("package", package_params())
def tests(session: nox.Session, package: str) -> None:
    """Unit and functional tests of one package (e2e excluded)."""
    sync(session, package)
    path = PACKAGES[package]
    session.run(
        "pytest", f"{path}/tests", "-m", "not e2e", "-p", "no:cacheprovider", *session.posargs
    )


@nox.session
@nox.parametrize("package", package_params())
def lint(session: nox.Session, package: str) -> None:
    """ruff check and ruff format --check over one package."""
    sync(session, package)
    path = PACKAGES[package]
    session.run("ruff", "check", path)
    session.run("ruff", "format", "--check", path)


@nox.session
@nox.parametrize("package", package_params())
def typecheck(session: nox.Session, package: str) -> None:
    """mypy --strict over one package's source."""
    sync(session, package)
    path = PACKAGES[package]
    session.run("mypy", f"{path}/src", env={"MYPYPATH": f"{path}/src"})


def templates_paths() -> list[str]:
    """The platform stack's template and every service's."""
    return [str(p.relative_to(ROOT)) for p in (ROOT / "platform" / "template.yaml", *TEMPLATES)]


TEMPLATES = sorted((ROOT / "services").glob("*/template.yaml"))


@nox.session(tags=["templates"])
def templates(session: nox.Session) -> None:
    """cfn-lint, checkov (every skip justified inline) and the project's template rules."""
    sync(session, "testing")
    session.install("cfn-lint>=1.20", "checkov>=3.2")
    paths = templates_paths()
    if not paths:
        session.skip("no template.yaml yet")
    session.run("cfn-lint", *paths)
    for path in paths:
        session.run(
            "checkov",
            "--quiet",
            "--compact",
            "--framework",
            "cloudformation",
            "-f",
            path,
            "--skip-download",
        )
    samconfigs = [str(Path(p).parent / "samconfig.toml") for p in paths]
    session.run("python", "-m", "orderflow.testing.template_rules", *paths, *samconfigs)


def install_function(
    session: nox.Session, service: str, target: Path, extras: Sequence[str] = ()
) -> Path:
    """Install ``service`` and its locked dependencies into ``target`` as its function runs them.

    For Lambda: python3.12, manylinux, without what the runtime and the Powertools layer provide.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    requirements = target.parent / f"{target.name}-requirements.txt"
    session.run(
        "uv",
        "export",
        "--frozen",
        "--no-dev",
        "--no-editable",
        "--no-hashes",
        "--no-header",
        "--package",
        distribution(service),
        *(f"--extra={extra}" for extra in extras),
        "-o",
        str(requirements),
        external=True,
    )
    session.run(
        "uv",
        "pip",
        "install",
        "--quiet",
        # Workspace sources install members editable; an artifact needs them as real files.
        "--no-sources",
        "--target",
        str(target),
        "--python-platform",
        LAMBDA_PLATFORM,
        "--python-version",
        LAMBDA_PYTHON,
        "-r",
        str(requirements),
        external=True,
    )
    # Where each workspace member was installed from: a path of the build machine, needed by
    # nothing at run time, and it would make two checkouts build different zips.
    for record in target.glob("*.dist-info/direct_url.json"):
        record.unlink()
    for name in os.listdir(target):
        if name.split("-")[0].split(".")[0] in (*RUNTIME_PROVIDED, *LAYER_PROVIDED):
            path = target / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return target


def build_artifact(
    session: nox.Session, service: str, out: Path, extras: Sequence[str] = ()
) -> Path:
    """The service's Lambda artifact: ``out/package`` and ``out/<service>.zip``.

    Compiled by the runtime's own Python and zipped reproducibly (``artifact.py``): the zip
    carries the bytecode Lambda's read-only code directory cannot write, and the same lock gives
    the same bytes.
    """
    shutil.rmtree(out, ignore_errors=True)
    package_dir = install_function(session, service, out / "package", extras)
    archive = out / f"{service}.zip"
    session.run(
        lambda_python(), str(ARTIFACT_SCRIPT), str(package_dir), str(archive), external=True
    )
    return archive


MOTO_SUITES = (
    "test_sqs", "test_sns", "test_dynamodb", "test_cloudwatch", "test_cloudformation",
    "test_events", "test_stepfunctions", "test_sesv2", "test_xray",
)  # fmt: skip
"""moto's tests for every service an emulator extension touches."""


def locked_version(name: str) -> str:
    """The version of ``name`` that uv.lock pins."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == name)


@nox.session(tags=["ci"])
def conformance(session: nox.Session) -> None:
    """moto's own tests, from the locked moto's sdist, with every emulator extension installed.

    A test that fails only with the extensions fails the session, unless
    platform/emulator/src/orderflow/emulator/conformance.toml lists it with its AWS reference.
    ``-- --conformance-plain`` runs the same tests on plain moto, for comparison.
    """
    sync(session, "emulator")
    session.install("freezegun>=1.5", "pytest-xdist>=3.6", "pytest-timeout>=2.3")
    version = locked_version("moto")
    cache = Path(session.cache_dir) / "moto-sdist"
    sdist = cache / f"moto-{version}.tar.gz"
    if not sdist.exists():
        session.run(
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
            ":all:", f"moto=={version}", "-d", str(cache), external=True,
        )  # fmt: skip
    suite = Path(session.create_tmp()) / f"moto-{version}"
    shutil.rmtree(suite, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        members = [
            m for m in archive.getmembers()
            if m.name.startswith(f"moto-{version}/tests/") or m.name == f"moto-{version}/setup.cfg"
        ]  # fmt: skip
        archive.extractall(suite.parent, members=members, filter="data")
    session.chdir(suite)
    # Paths among the arguments (tests/test_sqs, a test id) replace the default suites.
    chosen = [arg for arg in session.posargs if arg.startswith("tests/")]
    options = [arg for arg in session.posargs if not arg.startswith("tests/")]
    session.run(
        "pytest", *(chosen or [f"tests/{name}" for name in MOTO_SUITES]),
        "-p", "orderflow.emulator.conformance", "-p", "no:cacheprovider",
        "-m", "not requires_docker and not network", "-n", "2", "-q", "-W", "ignore",
        # A guard, not a measure: a deadlocked test fails instead of holding CI to its limit.
        "--timeout", "300",
        *options,
    )  # fmt: skip


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """The Black Friday demo on the local runtime: nox -s demo [-- --orders 200 --json]."""
    sync(session, "local")
    session.run("orderflow", "demo", *session.posargs)


E2E_WORKERS = "1"
"""pytest-xdist workers of the e2e session (``-- -n 2`` overrides it); tests sharing a runtime stay
on one worker (``--dist loadgroup``). One: on 2 cores, two runtimes at once starved each other's
invocations past their timeouts on a busy machine (emails sent twice, a runtime not up in 120 s),
so the suite runs one runtime at a time until that window is closed."""


@nox.session(tags=["e2e"])
def e2e(session: nox.Session) -> None:
    """End-to-end tests: the local runtime under fault injection, reconciled (small profile).

    The real ``sam deploy`` tests (test_sam_deploy.py) skip here: ``nox -s sam_deploy`` runs them.
    """
    # Every runtime starts a dozen interpreters (the embedded AWS, a worker and a fork server
    # per function, each environment) importing thousands of modules: bytecode compiled once.
    session.env["UV_COMPILE_BYTECODE"] = "1"
    sync(session, "local")
    session.install("pytest-xdist>=3.6")
    session.run(
        "pytest", "platform/local/tests/e2e", "-m", "e2e", "-p", "no:cacheprovider",
        "-n", E2E_WORKERS, "--dist", "loadgroup",
        *session.posargs,
    )  # fmt: skip


@nox.session(default=False)
@nox.parametrize("service", [nox.param(s, tags=[s]) for s in SERVICES])
def build(session: nox.Session, service: str) -> None:
    """The service's Lambda artifact for python3.12: services/<service>/build/package and .zip.

    ``-- --extra NAME`` adds an optional feature's dependencies (payment: ``--extra stripe``).
    """
    options = argparse.ArgumentParser(prog=f"nox -s build(service='{service}') --")
    options.add_argument("--extra", action="append", default=[], help="an optional feature")
    extras = options.parse_args(session.posargs).extra
    build_artifact(session, service, ROOT / PACKAGES[service] / "build", extras)


def install_runtime_provided(session: nox.Session, target: Path) -> None:
    """What Lambda adds to ``sys.path`` beyond the zip, compiled: the runtime's boto3 and its
    dependencies, and the Powertools layer's package (``LAYER_PROVIDED``).

    Locked versions for the runtime's Python; compiled once, as the runtime ships them and as
    the Powertools layer's canary checks its layer does (it fails a layer that compiles source).
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    requirements = target.parent / "runtime-requirements.txt"
    session.run(
        "uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-header", "--no-emit-workspace",
        "--package", distribution(SERVICES[0]), "-o", str(requirements), external=True,
    )  # fmt: skip
    pins = [
        line.split(";")[0].strip()
        for line in requirements.read_text().splitlines()
        if line and line.split("==")[0].replace("-", "_") in (*RUNTIME_PROVIDED, *LAYER_PROVIDED)
    ]
    session.run(
        "uv", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
        "--python-platform", LAMBDA_PLATFORM, "--python-version", LAMBDA_PYTHON, *pins,
        external=True,
    )  # fmt: skip
    session.run(lambda_python(), "-m", "compileall", "-q", str(target), external=True)


BENCH_ARTIFACTS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{service: (service, ()) for service in SERVICES},
    # Payment built for the Stripe gateway (`-- --extra stripe`): the bench's `payment-stripe`.
    "payment-stripe": ("payment", ("stripe",)),
}
"""The zips the bench measures: each service as built by default, and payment with Stripe."""


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: cold start, per-record cost, local throughput, artifact size, cost on AWS.

    Prints one table and writes the same figures to bench-results/. Not a test: a missed target
    does not fail the session (a figure that could not be measured does). Arguments after --
    go to ``python -m orderflow.bench`` (e.g. ``-- --skip throughput``).
    """
    sync(session, "local")
    out = ROOT / "bench-results"
    for name, (service, extras) in BENCH_ARTIFACTS.items():
        archive = build_artifact(session, service, out / "artifacts" / name, extras)
        # The zip unpacked as Lambda unpacks it into /var/task: the cold start imports from it.
        image = out / "images" / name
        shutil.rmtree(image, ignore_errors=True)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(image)  # noqa: S202  (the zip this session just built)
    install_runtime_provided(session, out / "runtime")
    session.run(
        "python",
        "-m",
        "orderflow.bench",
        "--root",
        str(ROOT),
        "--out",
        str(out),
        "--python",
        lambda_python(),
        *session.posargs,
    )


SAM_CLI = "aws-sam-cli==1.170.0"


def install_sam_cli(session: nox.Session) -> Path:
    """The sam executable, from aws-sam-cli in an environment of its own under .nox.

    sam pins its own boto3 and SAM translator, which must not replace the locked ones the
    embedded AWS runs with. Installed once and reused; bytecode compiled at install, since
    every sam command imports a few thousand modules.
    """
    venv = Path(session.virtualenv.location).parent / "aws-sam-cli"
    if not (venv / "bin" / "python").exists():
        session.run("uv", "venv", "--quiet", "--python", sys.executable, str(venv), external=True)
    session.run(
        "uv", "pip", "install", "--quiet", "--compile-bytecode",
        "--python", str(venv / "bin" / "python"), SAM_CLI,
        external=True,
    )  # fmt: skip
    return venv / "bin" / "sam"


@nox.session(default=False)
@nox.parametrize("service", [nox.param(s) for s in (*SERVICES, "platform")])
def deploy(session: nox.Session, service: str) -> None:
    """sam deploy one package: nox -s "deploy(service='payment')" -- --stage prod."""
    sync(session, "platform")
    sam = install_sam_cli(session)
    path = os.pathsep.join((str(sam.parent), session.bin, os.environ.get("PATH", "")))
    session.run("orderflow", "deploy", service, *session.posargs, env={"PATH": path})


@nox.session(tags=["e2e"])
def sam_deploy(session: nox.Session) -> None:
    """The real sam deploy of the platform and every service on the embedded AWS, then traffic."""
    sync(session, "local")
    sam = install_sam_cli(session)
    session.run(
        "pytest", "platform/local/tests/e2e/test_sam_deploy.py",
        "-m", "e2e", "-p", "no:cacheprovider",
        *session.posargs,
        env={"ORDERFLOW_SAM_CLI": str(sam)},
    )  # fmt: skip
